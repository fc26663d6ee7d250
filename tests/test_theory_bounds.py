"""The paper's remaining statements and their sharper forms (P3.strict, T3.kl, T6.increment,
T6.sharp, T10, T7.uniform): each holds on gauss1d (K = 3, lam = 0.4; T3.kl needs lam = inf)
and fails on a deliberately wrong trajectory or input.  Expected values by independent
routes (math.fsum on the masses, exact rationals)."""

import math
from fractions import Fraction

import numpy as np
import pytest

import theory
from numerics import Trajectory, curate, evolve, retrain_step
from numerics.scenarios import get_scenario
from theory import bound_checks as bc

NEW = ["P3.strict", "T3.kl", "T6.increment", "T6.sharp", "T10", "T7.uniform"]


@pytest.fixture(scope="module")
def mixed():
    sc = get_scenario("gauss1d", K=3, lam=0.4, steps=12)
    return sc, theory.check(sc, ids=NEW)


@pytest.fixture(scope="module")
def curated():
    sc = get_scenario("gauss1d", K=3, steps=12)
    return sc, theory.check(sc, ids=NEW)


def moments(p, r):
    """``E_p[e^r]``, ``Var_p[e^r]`` by math.fsum (not the engine's moments)."""
    p = p / math.fsum(p)
    e = np.exp(r)
    E = math.fsum(p * e)
    return E, math.fsum(p * (e - E) ** 2)


def test_new_checks_hold_on_gauss1d_mixed(mixed):
    sc, rep = mixed
    for i in ("P3.strict", "T6.increment", "T6.sharp", "T10", "T7.uniform"):
        assert rep[i].applicable and rep[i].holds is True, (i, rep[i])
        assert rep[i].slack > 0, i   # a margin, not roundoff
    assert rep["T3.kl"].applicable is False and "lam = inf" in rep["T3.kl"].reason
    # T6: the binding step is t = 1; its bound from the data's own moments
    E_d, V_d = moments(sc.mass, sc.reward)
    e_star = math.exp(sc.reward.max())
    lam, f = 0.4, 2.0 / 3.0
    for i, c in (("T6.increment", lam / (1 + lam) ** 3), ("T6.sharp", lam / (1 + lam))):
        assert rep[i].note.startswith("worst at t=1")
        assert rep[i].predicted == pytest.approx(E_d + c * f * V_d / e_star, rel=1e-13)
    # the measured E_1 = (E_d + lam E_{C(p_d)})/(1 + lam), C by the one-step map
    E_c, _ = moments(curate(sc.mass, sc.reward, 3), sc.reward)
    assert rep["T6.sharp"].measured == pytest.approx((E_d + lam * E_c) / (1 + lam), rel=1e-12)
    # T10: B = 1/(1 - 0.4 * 2) = 5 exactly
    assert Fraction(1) / (1 - Fraction(2, 5) * 2) == 5 and "B = 5" in rep["T10"].note


def test_new_checks_hold_on_gauss1d_curated(curated):
    sc, rep = curated
    for i in ("P3.strict", "T3.kl", "T7.uniform"):
        assert rep[i].applicable and rep[i].holds is True, (i, rep[i])
    # KL(p_* || p_0) = -log m_*, m_* the top cell's mass
    m_star = sc.mass[sc.reward == sc.reward.max()].sum() / sc.mass.sum()
    assert f"KL_0 = {-math.log(m_star):.6g}" in rep["T3.kl"].note or rep["T3.kl"].relation == "="


def test_t3_kl_fails_on_anti_curation():
    sc = get_scenario("gauss1d", K=3, steps=6, grid=201)
    wrong = evolve(sc.mass, -sc.reward, 3, 6)   # curation toward LOW reward
    traj = Trajectory.from_masses(list(wrong.masses), sc.reward, K=3)
    rep = theory.check(traj, sc.reward, ids=["T3.kl", "run.step"])
    assert rep["T3.kl"].applicable and rep["T3.kl"].holds is False
    assert rep["run.step"].holds is False
    good = evolve(sc.mass, sc.reward, 3, 6)
    its = [(int(t), good.masses[i]) for i, t in enumerate(good.recorded_steps)]
    assert bc.check_t3_kl(its, sc.reward).holds is True


def test_t3_kl_identity_fails_when_not_a_reward_reweighting():
    # two cells on the top level: moving mass between them keeps p_t(r = r_*) but breaks
    # KL(p_* || p_t) = -log p_t(r = r_*)
    r = np.array([0.0, 1.0, 1.0])
    p0 = np.array([0.5, 0.25, 0.25])
    p1 = np.array([0.2, 0.6, 0.2])
    rec = bc.check_t3_kl([(0, p0), (1, p1)], r)
    assert rec.holds is False
    kl = 0.5 * math.log(0.5 / 0.6) + 0.5 * math.log(0.5 / 0.2)   # exact KL(p_* || p_1)
    assert rec.measured == pytest.approx(kl, rel=1e-14)
    assert rec.predicted == pytest.approx(-math.log(0.8), rel=1e-14)


def test_t6_rows_fail_on_wrong_trajectories(mixed):
    sc, _ = mixed
    d = sc.mass / sc.mass.sum()
    lam = 0.4
    # a loop that never moves: E_t = E_d, below both bounds
    stuck = Trajectory.from_masses([d] * 5, sc.reward, K=3, lam=lam)
    rep = theory.check(stuck, sc.reward, ids=["T6.increment", "T6.sharp", "T6"])
    assert rep["T6.increment"].holds is False and rep["T6.sharp"].holds is False
    assert rep["T6"].holds is True          # the floor alone does not see it
    # a first step that moves only part of the way: between the paper's and the sharp bound
    p1 = retrain_step(d, sc.reward, 3, lam, d)
    E_d, V_d = moments(d, sc.reward)
    E_1, _ = moments(p1, sc.reward)
    e_star = math.exp(sc.reward.max())
    lo = (lam / (1 + lam) ** 3) * (2 / 3) * V_d / e_star
    hi = (lam / (1 + lam)) * (2 / 3) * V_d / e_star
    w = 0.5 * (lo + hi) / (E_1 - E_d)
    part = Trajectory.from_masses([d, (1 - w) * d + w * p1], sc.reward, K=3, lam=lam)
    rep = theory.check(part, sc.reward, ids=["T6.increment", "T6.sharp"])
    assert rep["T6.increment"].holds is True and rep["T6.sharp"].holds is False
    assert rep["T6.sharp"].slack == pytest.approx(-0.5 * (hi - lo), rel=1e-9)


def test_t10_fails_on_a_drifting_trajectory(mixed):
    sc, _ = mixed
    d = sc.mass / sc.mass.sum()
    drift = [d] + [np.roll(d, 50 * k) for k in range(1, 4)]
    rep = theory.check(Trajectory.from_masses(drift, sc.reward, K=3, lam=0.4), sc.reward,
                       ids=["T10"])
    assert rep["T10"].applicable and rep["T10"].holds is False
    # not applicable beyond lam (K-1) < 1
    rep = theory.check(get_scenario("gauss1d", K=3, lam=0.5, steps=2, grid=101), ids=["T10"])
    assert rep["T10"].applicable is False and "lam (K-1) < 1" in rep["T10"].reason


def test_t7_uniform_fails_on_a_wrong_curation():
    r = np.array([0.0, 0.05, 0.1])          # Delta = 0.1: L = 2 e^0.1 (2 + e^0.1) = 6.86
    p = np.array([0.3, 0.3, 0.4])
    q = np.array([0.31, 0.29, 0.4])         # TV(p, q) = 0.01
    good = bc.check_t7_uniform([("p, q", p, q, curate(p, r, 3), curate(q, r, 3))], r)
    assert good.holds is True
    L = 2 * math.exp(0.1) * (2 + math.exp(0.1))
    assert good.predicted == pytest.approx(L * 0.01, rel=1e-12)
    bad = bc.check_t7_uniform([("p, q", p, q, curate(p, r, 3), np.array([1.0, 0, 0]))], r)
    assert bad.holds is False


def test_p3_strict_fails_on_a_flat_H():
    sc = get_scenario("gauss1d", K=3, steps=1, grid=101)
    p = sc.mass / sc.mass.sum()
    from numerics import curation_factor
    H = curation_factor(p, sc.reward, 3)
    assert bc.check_p3_strict([("p_0", p, H)], sc.reward, 3).holds is True
    flat = H.copy()
    top = np.argmax(sc.reward)
    nxt = np.argsort(sc.reward)[-2]          # a cell one reward level below the top
    flat[top] = flat[nxt]                    # H no longer increases at the top: non-strict
    rec = bc.check_p3_strict([("p_0", p, flat)], sc.reward, 3)
    assert rec.holds is False
    # P3 (non-strict) accepts the flat H at that pair; P3.strict is what catches it
    from theory.operator_checks import check_p3
    assert check_p3([("p_0", p, flat)], sc.reward).holds is True
    # exact margin: K = 2, S = s(X) with two atoms, H difference by rationals
    s = [Fraction(1, 2), Fraction(1)]
    q = [Fraction(1, 3), Fraction(2, 3)]
    Hx = [sum(qj * 2 * si / (si + sj) for qj, sj in zip(q, s)) for si in s]
    from theory.formulas import p3_strict_lower_bound
    margin = p3_strict_lower_bound(0.5, 1.0, 0.5, [0.5, 1.0], [1.0, 2 / 3], 2)
    assert float(Hx[1] - Hx[0]) >= margin > 0
    # the margin with c = 1/2 (S >= 1/2 surely): 2 (1/2) (1/2)/((1/2 + 1/2)(1 + 1/2)) = 1/3
    assert margin == pytest.approx(1 / 3, rel=1e-15)


def test_p3_strict_on_levels_thousands_of_nats_apart_is_finite_and_quiet():
    """Rewards 1000 and 2000 nats below the top: s underflows to 0 there and expm1 of the gap
    overflows; the check still returns finite numbers, no warning, and holds (the bound of
    an unresolvable pair falls to 0: a smaller lower bound, never a NaN).  Its first pair
    (levels -1000 and -1, exact difference H(s2) - H(s1) with K = 2: 2 E[s2/(s2 + s) -
    s1/(s1 + s)], s1 = e^{-1000} ~ 0) is held to the closed form."""
    import warnings
    from numerics import curation_factor
    p = np.array([0.5, 0.3, 0.2])
    for r in (np.array([-1000.0, -1.0, 0.0]), np.array([-2000.0, -1200.0, 0.0])):
        H = curation_factor(p, r, 2)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            rec = bc.check_p3_strict([("p_0", p, H)], r, 2)
        assert rec.holds is True and math.isfinite(rec.predicted) and math.isfinite(rec.measured)
    import mpmath as mp
    r = np.array([-1000.0, -1.0, 0.0])
    with mp.workdps(30):   # s_i / (s_i + s_j) = 1 / (1 + e^{r_j - r_i}), in 30 digits
        exact = [float(mp.fsum(2 * mp.mpf(pj) / (1 + mp.exp(mp.mpf(rj) - mp.mpf(ri)))
                               for pj, rj in zip(p, r))) for ri in r]
    H = curation_factor(p, r, 2)
    assert math.isclose(H[1] - H[0], exact[1] - exact[0], rel_tol=1e-12)
