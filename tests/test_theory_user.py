"""Checking a trajectory of your own (``Trajectory.from_masses``): the rows ``run.masses``
(the masses are a run: finite, non-negative, normalized; never repaired silently) and
``run.step`` (every step is the retraining map, engine vs the user's iterates).  Expected
values come from independent routes: exact rationals (L1 by enumeration) and closed forms."""

import json
import math
from fractions import Fraction

import numpy as np
import pytest

import theory
from numerics import Trajectory, retrain_step
from numerics.exact import curate_exact
from numerics.scenarios import get_scenario
from theory.user_checks import normalization_tolerance, step_tolerance


@pytest.fixture(scope="module")
def gauss():
    return get_scenario("gauss1d", K=3, lam=0.4, steps=10)


def tilt_loop(p0, reward, steps, beta=0.5):
    """The wrong loop of the issue: ``p_{t+1} ∝ p_t e^{beta r}`` instead of curation."""
    out = [p0 / p0.sum()]
    for _ in range(steps):
        q = out[-1] * np.exp(beta * reward)
        out.append(q / q.sum())
    return out


def kinf_loop(p0, reward, steps, lam=math.inf, data=None):
    """The K = inf loop written by hand: ``p e^r / E_p[e^r]`` (mixed with ``p_d``)."""
    out = [p0 / p0.sum()]
    s = np.exp(reward - reward.max())
    for _ in range(steps):
        c = out[-1] * s / (out[-1] @ s)
        out.append(c if math.isinf(lam) else (data + lam * c) / (1 + lam))
    return out


def test_tilt_loop_fails_step_consistency(gauss):
    sc = gauss
    masses = tilt_loop(sc.mass, sc.reward, 10)
    report = theory.check(Trajectory.from_masses(masses, sc.reward, K=3), sc.reward)
    step = report["run.step"]
    assert report["run.masses"].holds is True
    assert step.applicable and step.holds is False
    # the measured TV is the first step's, far above the stated tolerance
    assert step.tolerance == pytest.approx(step_tolerance(sc.mass.size), rel=0)
    assert step.measured > 1e9 * step.tolerance
    assert not report.all_hold and "run.step" in [r.id for r in report.failures()]


def test_tilt_step_tv_matches_exact_rationals():
    # 4 atoms with rational masses and s = e^r: C_3 exactly by enumeration (L1), the tilt
    # e^{r/2} with s^(1/2) = t exactly (s = t^2), and TV between them in rationals
    t = [Fraction(1, 4), Fraction(1, 2), Fraction(3, 4), Fraction(1)]
    s = [x * x for x in t]
    p = [Fraction(1, 10), Fraction(2, 10), Fraction(3, 10), Fraction(4, 10)]
    cur = curate_exact(p, s, 3)
    z = sum(pi * ti for pi, ti in zip(p, t))
    tilted = [pi * ti / z for pi, ti in zip(p, t)]
    tv_exact = sum(abs(a - b) for a, b in zip(cur, tilted)) / 2
    reward = np.log(np.array([float(x) for x in s]))
    masses = [np.array([float(x) for x in p]), np.array([float(x) for x in tilted])]
    rec = theory.check(Trajectory.from_masses(masses, reward, K=3), reward,
                       ids=["run.step"])["run.step"]
    assert rec.holds is False
    assert abs(rec.measured - float(tv_exact)) <= 1e-12
    # and the exact curation step itself passes
    good = [masses[0], np.array([float(x) for x in cur])]
    ok = theory.check(Trajectory.from_masses(good, reward, K=3), reward,
                      ids=["run.step"])["run.step"]
    assert ok.holds is True and ok.measured <= ok.tolerance


def test_hand_written_kinf_loop_passes(gauss):
    sc = gauss
    masses = kinf_loop(sc.mass, sc.reward, 8)
    report = theory.check(Trajectory.from_masses(masses, sc.reward, K=math.inf), sc.reward,
                          axes=sc.axes)
    assert report.all_hold, report.to_table()
    assert report["run.step"].applicable and report["run.step"].measured <= 1e-12
    assert report["T4"].holds is True


def test_engine_loop_with_real_data_passes(gauss):
    sc = gauss  # K = 3, lam = 0.4, p_0 = p_d
    d = sc.mass / sc.mass.sum()
    masses = [d]
    for _ in range(6):
        masses.append(retrain_step(masses[-1], sc.reward, 3, 0.4, d))
    traj = Trajectory.from_masses(masses, sc.reward, K=3, lam=0.4, data=d)
    report = theory.check(traj, sc.reward, ids=["run.masses", "run.step", "T5", "T6", "T7"])
    assert report.all_hold, report.to_table()
    # the hand-written K = inf mixture loop is NOT the K = 3 map
    wrong = kinf_loop(d, sc.reward, 6, lam=0.4, data=d)
    bad = theory.check(Trajectory.from_masses(wrong, sc.reward, K=3, lam=0.4, data=d),
                       sc.reward, ids=["run.step", "T5", "T6"])
    assert bad["run.step"].holds is False
    assert bad["T5"].holds is True and bad["T6"].holds is True  # the theorems alone miss it


def test_unnormalized_loop_fails_masses_row(gauss):
    sc = gauss
    masses = kinf_loop(sc.mass, sc.reward, 10)
    masses[7] = masses[7] * (1 - 2e-5)  # a loop that drifts by 2e-5 at step 7
    report = theory.check(Trajectory.from_masses(masses, sc.reward, K=math.inf), sc.reward)
    rec = report["run.masses"]
    assert rec.applicable and rec.holds is False
    assert rec.note.startswith("masses at step 7 sum to 0.99998")
    assert "not normalized" in rec.note
    assert rec.measured == pytest.approx(1 - 2e-5, abs=1e-15)
    assert rec.tolerance == normalization_tolerance(sc.mass.size)
    assert not report.all_hold
    # never renormalized silently: the table and the JSON say it
    assert "run.masses: masses at step 7 sum to 0.99998" in report.to_table()
    assert json.loads(report.to_json())["all_hold"] is False


@pytest.mark.parametrize("spoil, words", [
    (lambda m: np.where(np.arange(m.size) == 5, np.nan, m), "contain NaN (cell 5"),
    (lambda m: np.zeros_like(m), "sum to 0"),
    (lambda m: m - 2 * m.max() * (np.arange(m.size) == 600), "negative entry"),
    (lambda m: np.where(np.arange(m.size) == 3, np.inf, m), "contain inf (cell 3"),
])
def test_invalid_masses_are_a_failed_row_not_a_traceback(gauss, spoil, words):
    sc = gauss
    masses = kinf_loop(sc.mass, sc.reward, 5)
    masses[3] = spoil(masses[3])
    report = theory.check(Trajectory.from_masses(masses, sc.reward, K=math.inf), sc.reward)
    rec = report["run.masses"]
    assert rec.applicable and rec.holds is False
    assert rec.note.startswith("masses at step 3 ") and words in rec.note
    others = [r for r in report.results if r.id != "run.masses"]
    assert all(not r.applicable and "needs valid masses" in r.reason for r in others)
    assert not report.all_hold
    report.to_table()
    json.loads(report.to_json())


def test_zero_start_and_bad_data_do_not_crash(gauss):
    sc = gauss
    z = np.zeros_like(sc.mass)
    report = theory.check(Trajectory.from_masses([z, z], sc.reward, K=3), sc.reward)
    assert report["run.masses"].holds is False and "step 0 sum to 0" in report["run.masses"].note
    d = sc.mass / sc.mass.sum() * 1.001
    masses = [sc.mass / sc.mass.sum()]
    report = theory.check(Trajectory.from_masses(masses, sc.reward, K=3, lam=0.4, data=d),
                          sc.reward, ids=["run.masses"])
    assert report["run.masses"].holds is False
    assert report["run.masses"].note.startswith("data (p_d) sum to 1.001")


def test_from_masses_bad_usage():
    r = np.zeros(3)
    with pytest.raises(ValueError, match="shape"):
        Trajectory.from_masses([np.ones(3) / 3, np.ones(4) / 4], r, K=2)
    with pytest.raises(ValueError, match="at least p_0"):
        Trajectory.from_masses([], r, K=2)
    with pytest.raises(ValueError, match="K must be >= 1"):
        Trajectory.from_masses([np.ones(3) / 3], r, K=0.5)


def test_engine_trajectory_step_row_not_applicable(gauss):
    report = theory.check(get_scenario("gauss1d", K=3, steps=3), ids=["run.masses", "run.step"])
    assert report["run.masses"].holds is True
    assert report["run.step"].applicable is False and "engine" in report["run.step"].reason
