"""T11-T14 checks (theory.rule_checks) on runs of curation rules: each holds on the engine's
run and fails on a deliberately wrong trajectory or limit."""

from __future__ import annotations

import math

import numpy as np
import pytest

import theory
from numerics import Trajectory, evolve
from numerics import curators as cur
from theory import rule_checks as rc

RNG = np.random.default_rng(2024)
N = 12
P0 = RNG.random(N) + 0.1
P0 /= P0.sum()
R1, R2 = RNG.normal(size=N), RNG.normal(size=N)
DATA = RNG.random(N) + 0.1
DATA /= DATA.sum()


def _kinf_mix(phi=0.3):
    return cur.mixture([(1 - phi, cur.bradley_terry(R1, math.inf)),
                        (phi, cur.bradley_terry(R2, math.inf))])


def _report(rule, lam=math.inf, data=None, steps=15, traj=None, **kw):
    traj = traj if traj is not None else evolve(P0, rule, steps, lam, data)
    return theory.check_trajectory(traj, rule, data, **kw)


def _from(masses, lam=math.inf, data=None):
    return Trajectory.from_masses(masses, R1, math.inf, lam, data)


def test_t11_t12_hold_on_a_kinf_mixture_and_other_rows_do_not_apply():
    rep = _report(_kinf_mix())
    for i in ("T11", "T12", "T12.kkt", "run.masses"):
        assert rep[i].applicable and rep[i].holds, (i, rep[i])
    for i in ("T1", "P1", "T13", "T14", "T11.bound"):
        assert not rep[i].applicable
    assert "one Bradley-Terry" in rep["T1"].reason


def test_t11_against_a_hand_written_l3_loop_and_fails_for_the_wrong_phi():
    # independent route: the K = inf mixture step p (sum_u pi_u s_u / E_p[s_u]) by hand (L3)
    s = np.exp(np.stack([R1, R2]))
    pi = np.array([0.6, 0.4])
    ps = [P0]
    for _ in range(6):
        p = ps[-1]
        ps.append(p * ((pi / (s @ p)) @ s))
    pis, S = rc.scaled_exp_rewards(cur.mixture([(0.6, cur.bradley_terry(R1, math.inf)),
                                                (0.4, cur.bradley_terry(R2, math.inf))]),
                                   (N,), P0 > 0)
    its = list(enumerate(ps))
    assert rc.check_t11(its, pis, S).holds
    wrong = rc.check_t11(its, np.array([0.7, 0.3]), S)    # the run used phi = 0.4
    assert not wrong.holds and abs(wrong.slack) > 1e6 * wrong.tolerance
    assert rc.check_t12(its, pis, S).holds


def test_t11_bound_finite_K_and_failure():
    rule = cur.mixture([(0.8, cur.bradley_terry(R1, 3)), (0.2, cur.bradley_terry(-R1, 3))])
    rep = _report(rule, steps=8)
    assert rep["T11.bound"].applicable and rep["T11.bound"].holds
    assert rep["T11.bound"].slack > 0
    # a trajectory run backwards: E[e^r] decreases, the bound (> 0 here) fails
    tr = evolve(P0, rule, 8)
    back = _from(list(np.asarray(tr.masses))[::-1])
    bad = theory.check_trajectory(back, rule, ids=["T11.bound"])["T11.bound"]
    assert bad.applicable and not bad.holds


def test_t12_fails_on_a_reversed_run_and_kkt_on_a_wrong_limit():
    rule = _kinf_mix()
    tr = evolve(P0, rule, 10)
    back = _from(list(np.asarray(tr.masses))[::-1])
    rep = theory.check_trajectory(back, rule, ids=["T12"])
    assert not rep["T12"].holds
    from numerics.curator_limits import limit_rule
    good = limit_rule(P0, rule, math.inf, None)
    from dataclasses import replace
    wrong = replace(good, mass=P0.copy())        # p_0 is not the maximizer of Phi
    rep = theory.check_trajectory(tr, rule, ids=["T12.kkt"], limit=wrong)
    assert rep["T12.kkt"].applicable and not rep["T12.kkt"].holds


def test_t13_holds_and_fails_on_wrong_limit_and_diverging_run():
    rule = _kinf_mix()
    rep = _report(rule, lam=1.5, data=DATA, steps=20)
    assert rep["T13"].holds and rep["T13.approach"].holds
    assert rep["T13"].measured <= 1e-13
    assert rep["T13.approach"].details["factor"] < 1
    from dataclasses import replace
    from numerics.curator_limits import limit_rule
    good = limit_rule(P0, rule, 1.5, DATA)
    wrong = replace(good, mass=DATA.copy())
    tr = evolve(P0, rule, 20, 1.5, DATA)
    assert not theory.check_trajectory(tr, rule, DATA, limit=wrong, ids=["T13"])["T13"].holds
    back = _from(list(np.asarray(tr.masses))[::-1], 1.5, DATA)
    assert not theory.check_trajectory(back, rule, DATA, ids=["T13.approach"])[
        "T13.approach"].holds


def test_hilbert_distance_by_hand():
    p, q = np.array([0.5, 0.25, 0.25]), np.array([0.25, 0.25, 0.5])
    assert rc.hilbert_distance(p, q) == pytest.approx(math.log(4.0), abs=1e-15)
    assert rc.hilbert_distance(p, np.array([1.0, 0.0, 0.0])) == math.inf


def test_t14_isometry_holds_and_fails_on_a_power_map():
    rule = cur.bradley_terry(R1, math.inf)
    rep = _report(rule, steps=10)
    assert rep["T14"].applicable and rep["T14"].holds
    # p_{t+1} ∝ p_t^2: d_H doubles at every step
    ps = [P0]
    for _ in range(4):
        q = ps[-1] ** 2
        ps.append(q / q.sum())
    rec = rc.check_t14_isometry(list(enumerate(ps)))
    assert not rec.holds and abs(rec.slack) > 1e6 * rec.tolerance
    # a plain (reward, K) run is a single Bradley-Terry user: T14 applies there too
    tr = evolve(P0, R1, math.inf, 5)
    assert theory.check_trajectory(tr, R1, ids=["T14"])["T14"].holds


def test_t14_contraction_measured_and_fails_backwards():
    rule = cur.bradley_terry(R1, math.inf)
    tr = evolve(P0, rule, 20, 2.0, DATA)
    rec = theory.check_trajectory(tr, rule, DATA, ids=["T14.contraction"])["T14.contraction"]
    assert rec.applicable and rec.holds and rec.measured < 1
    back = _from(list(np.asarray(tr.masses))[::-1], 2.0, DATA)
    bad = theory.check_trajectory(back, rule, DATA, ids=["T14.contraction"])["T14.contraction"]
    assert not bad.holds and bad.measured > 1
    # the same run from the (reward, K) API
    tr2 = evolve(P0, R1, math.inf, 20, 2.0, DATA)
    assert theory.check_trajectory(tr2, R1, DATA, ids=["T14.contraction"])[
        "T14.contraction"].holds
