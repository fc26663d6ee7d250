"""Every checker of `theory` holds on a correct input and FAILS on a deliberately wrong one
(built explicitly below), so that a passing table means something."""

import dataclasses
import math

import numpy as np
import pytest

from numerics import curate, curation_factor, evolve, limit, retrain_step
from theory import curated_checks as cc, mixed_checks as mc, operator_checks as oc

X = np.linspace(-3, 3, 61)
P0 = np.exp(-0.5 * X ** 2) / np.exp(-0.5 * X ** 2).sum()
R = -0.5 * (X - 1.0) ** 2
K = 3.0

# two reward levels: top mass 0.2, gap 1
R2 = np.where(np.arange(10) >= 8, 0.0, -1.0)
P2 = np.where(R2 == 0.0, 0.1, 0.1)


def its(traj):
    return [(int(t), traj.masses[i] / traj.masses[i].sum())
            for i, t in enumerate(traj.recorded_steps)]


def holds_then_fails(good, bad):
    assert good.applicable and good.holds is True, good
    assert bad.applicable and bad.holds is False, bad


@pytest.fixture(scope="module")
def traj():
    return evolve(P0, R, K, 12)


@pytest.fixture(scope="module")
def traj_inf():
    return evolve(P0, R, math.inf, 12)


@pytest.fixture(scope="module")
def mixed():
    lam = 0.4  # lam (K - 1) = 0.8 < 1
    tr = evolve(P0, R, K, 12, lam=lam)
    return lam, tr, limit(P0, R, K, lam)


# --- P1-P6 ------------------------------------------------------------------------------

def test_p1_p2_p3_fail_on_wrong_H():
    H = curation_factor(P0, R, K)
    good = [("p_0", P0, H)]
    holds_then_fails(oc.check_p1(good), oc.check_p1([("p_0", P0, 1.001 * H)]))
    above = H.copy()
    above[-1] = K * (1 + 1e-9)          # above the upper bound K
    below = H.copy()
    below[30] *= 0.5                     # below the Jensen bound
    holds_then_fails(oc.check_p2(good, R, K), oc.check_p2([("p", P0, above)], R, K))
    assert oc.check_p2([("p", P0, below)], R, K).holds is False
    # K = inf: H = s / E[s] is its own lower bound; a 1e-9 dip fails
    Hinf = curation_factor(P0, R, math.inf)
    assert oc.check_p2([("p", P0, Hinf)], R, math.inf).holds is True
    assert oc.check_p2([("p", P0, Hinf * (1 - 1e-9))], R, math.inf).holds is False
    # H of the reversed reward decreases in r
    holds_then_fails(oc.check_p3(good, R),
                     oc.check_p3([("p", P0, curation_factor(P0, -R, K))], R))


def test_p4_p5_p6_fail_on_wrong_input():
    ones = curation_factor(P0, R, 1.0)
    holds_then_fails(oc.check_p4([("K=1", P0, ones)]),
                     oc.check_p4([("K=2 posing as K=1", P0, curation_factor(P0, R, 2.0))]))
    H = curation_factor(P0, R, K)
    tol = oc.p5_tolerance(R, 1000.0)
    holds_then_fails(oc.check_p5([("c", P0, H, curation_factor(P0, R + 1000.0, K), tol)]),
                     oc.check_p5([("c", P0, H, H * (1 + 1e-9), tol)]))
    holds_then_fails(oc.check_p6([("p", P0, curate(P0, R, K))], R),
                     oc.check_p6([("p", P0, curate(P0, -R, K))], R))   # anti-curation


# --- T1-T4 ------------------------------------------------------------------------------

def test_t1_t2_fail_when_expected_reward_drops(traj, traj_inf):
    E = traj.expected_exp_reward.copy()
    E[6] = E[5] - 1e-6                   # a drop at step 5 -> 6
    bad = dataclasses.replace(traj, expected_exp_reward=E)
    holds_then_fails(cc.check_t1(traj), cc.check_t1(bad))
    holds_then_fails(cc.check_t2(traj), cc.check_t2(bad))
    assert "t=5" in cc.check_t1(bad).note
    # K = inf: T1 is an identity; an increment 1e-9 too large fails
    E = traj_inf.expected_exp_reward.copy()
    E[4:] += 1e-9
    holds_then_fails(cc.check_t1(traj_inf),
                     cc.check_t1(dataclasses.replace(traj_inf, expected_exp_reward=E)))


def test_t2_budget_and_tail_fail(traj):
    V = traj.var_exp_reward * 10          # ten times the variance: over the budget
    holds_then_fails(cc.check_t2_budget(traj),
                     cc.check_t2_budget(dataclasses.replace(traj, var_exp_reward=V)))
    eps = cc.tail_eps(R, P0)
    good = its(traj)
    holds_then_fails(cc.check_t2_tail(good, R, eps), cc.check_t2_tail(good[::-1], R, eps))


def test_t3_fails(traj):
    good = its(traj)
    wrong = [(t, P0 * np.exp(-t * R) / (P0 * np.exp(-t * R)).sum()) for t in range(4)]
    holds_then_fails(cc.check_t3_weights(good, R), cc.check_t3_weights(wrong, R))
    # the K = inf TV bound, held against a K = 4 run (slower: rho_4(1) > e^-1) fails
    fast = its(evolve(P2, R2, math.inf, 30))
    slow = its(evolve(P2, R2, 4.0, 30))
    holds_then_fails(cc.check_t3_tv(fast, R2), cc.check_t3_tv(slow, R2))
    # the rate of a K = 4 run, held against rho_3, fails; against rho_4 it holds
    run = its(evolve(P2, R2, 4.0, 40))
    good_rate, dev, _ = cc.check_t3_rate(run, R2, 4.0)
    bad_rate, _, _ = cc.check_t3_rate(run, R2, 3.0)
    assert dev < 1e-6
    holds_then_fails(good_rate, bad_rate)
    # a run too short for the asymptotic statement is reported as such, not checked
    assert cc.check_t3_rate(run[:3], R2, 4.0)[0] is None


def test_t4_fails_on_a_finite_K_run(traj, traj_inf):
    holds_then_fails(cc.check_t4(traj_inf, its(traj_inf), P0, R),
                     cc.check_t4(dataclasses.replace(traj, K=math.inf), its(traj), P0, R))
    params = cc.fit_gaussian_quadratic(X, P0, R)
    assert params == pytest.approx((0.0, 1.0, 1.0, 1.0), abs=1e-9)
    holds_then_fails(cc.check_t4_gauss(its(traj_inf), X, params),
                     cc.check_t4_gauss(its(traj), X, params))
    assert cc.fit_gaussian_quadratic(X, P0, np.abs(X)) is None   # not a quadratic reward


# --- T5-T9 ------------------------------------------------------------------------------

def test_t5_t6_fail(mixed):
    lam, tr, _ = mixed
    good = its(tr)
    top = np.where(R == R.max(), 1.0, 0.0)
    wrong = [(0, P0), (1, top / top.sum())]          # no mass below the top: p_1 < p_d/(1+lam)
    holds_then_fails(mc.check_t5(good, P0, lam), mc.check_t5(wrong, P0, lam))
    # p_1 >= p_d / 20 only: KL(p_d || p_1) close to log 20 > log 1.4
    mostly_top = [(0, P0), (1, 0.05 * P0 + 0.95 * top / top.sum())]
    holds_then_fails(mc.check_t5_kl(good, P0, lam), mc.check_t5_kl(mostly_top, P0, lam))
    holds_then_fails(mc.check_t5_tv(good, P0, lam), mc.check_t5_tv(wrong, P0, lam))
    anti = [(0, P0), (1, curate(P0, -R, K))]          # reward law pushed down
    holds_then_fails(mc.check_t6(good, P0, R, tr.expected_exp_reward),
                     mc.check_t6(anti, P0, R))
    E = tr.expected_exp_reward.copy()
    E[3] = E[0] * (1 - 1e-9)
    assert mc.check_t6(good, P0, R, E).holds is False


def test_t7_fails_on_a_perturbed_limit(mixed):
    lam, tr, lim = mixed
    nxt = retrain_step(lim.mass, R, K, lam, P0)
    kappa = lam * K / (1 + lam)
    err = 0.5 * np.abs(nxt - lim.mass).sum() / (1 - kappa)
    good = mc.check_t7(its(tr), lim.mass, lam, K, err)
    # off by 0.3 TV(p_0, p^lam) > kappa^12 TV(p_0, p^lam) = 0.157 TV(p_0, p^lam)
    bad_mass = 0.7 * lim.mass + 0.3 * P0
    holds_then_fails(good, mc.check_t7(its(tr), bad_mass, lam, K, err))
    assert good.details["measured_factor"] < kappa


def test_t7_coupling_and_kinf_fail(traj, traj_inf):
    p, q = its(traj)[-2][1], its(traj)[-1][1]         # close: the bound is ~ K TV(p, q)
    cp, cq = curate(p, R, K), curate(q, R, K)
    far = curate(P0, -R, K)
    holds_then_fails(mc.check_t7_coupling([("p,q", p, q, cp, cq)], K),
                     mc.check_t7_coupling([("p,q", p, q, cp, far)], K))
    # K = inf on a narrow reward range (factor 2 e^{0.1}): C of nearby laws swapped for far ones
    r = np.linspace(-0.1, 0.0, 20)
    a = np.full(20, 0.05)
    b = a + np.linspace(-1e-4, 1e-4, 20)
    ca, cb = curate(a, r, math.inf), curate(b, r, math.inf)
    holds_then_fails(mc.check_t7_kinf([("a,b", a, b, ca, cb)], r),
                     mc.check_t7_kinf([("a,b", a, b, ca, curate(a, -r * 50, math.inf))], r))


def test_t8_fails_on_a_perturbed_limit():
    lam = 2.0
    lim = limit(P0, R, math.inf, lam)
    eps, Z = lim.info["eps"], lim.info["Z"]
    holds_then_fails(mc.check_t8(P0, R, lam, eps), mc.check_t8(P0, R, lam, eps * 1.001))
    bad = 0.9999 * lim.mass + 0.0001 * P0
    holds_then_fails(mc.check_t8_fixed(lim.mass, P0, R, lam),
                     mc.check_t8_fixed(bad, P0, R, lam))
    holds_then_fails(mc.check_t8_z(lim.mass, R, Z, lim.exp_reward_shift),
                     mc.check_t8_z(bad, R, Z, lim.exp_reward_shift))
    holds_then_fails(mc.check_t8_condensate(0.75, 0.25), mc.check_t8_condensate(0.75 + 1e-8, 0.25))


def test_t8_condensate_mpmath_independent_of_density_types():
    from numerics import ContinuousRewardLaw
    law = ContinuousRewardLaw(lambda r: 3 * r ** 2, -1.0, 0.0)
    I = mc.kingman_I_mpmath(law, 3.0)
    assert abs(I - (1 - 0.4845455716395)) < 1e-12
    # a density that only takes floats (numpy) gives the same value
    law_np = ContinuousRewardLaw(lambda r: 3.0 * np.square(float(r)), -1.0, 0.0)
    assert abs(mc.kingman_I_mpmath(law_np, 3.0) - I) < 1e-12


def test_t9_fails_on_a_perturbed_limit(mixed):
    lam, _, lim = mixed
    H = curation_factor(lim.mass, R, K)
    tol = mc.t9_tolerance(lam, K, float(np.min(1 + lam - lam * H)))
    bad = 0.99999 * lim.mass + 0.00001 * P0
    holds_then_fails(mc.check_t9(lim.mass, retrain_step(lim.mass, R, K, lam, P0), tol),
                     mc.check_t9(bad, retrain_step(bad, R, K, lam, P0), tol))
    H_bad = H.copy()
    H_bad[40] = K + 0.5                                   # H above K: denominator too small
    holds_then_fails(mc.check_t9_denominator(lim.mass, H, lam, K),
                     mc.check_t9_denominator(lim.mass, H_bad, lam, K))
    # a negative denominator makes the tolerance the engine's only
    assert mc.t9_tolerance(lam, K, -0.5) == 1e-12
