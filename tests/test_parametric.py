"""numerics.parametric and theory.parametric_checks (THEORY.md section 5, S1-S3).

Expected values come from independent routes: S1's lam/(1+lam) (a closed form; the Jacobian
measured by differences of the map in mean parameters, not by the analytic shortcut), the
Gaussian K = inf closed form in mpmath (map, findroot fixed point, mpmath.diff Jacobian).
"""

import doctest
import math

import numpy as np
import pytest

from numerics.parametric import (ExponentialFamily, FitError, Gaussian, RetrainingMap,
                                 evolve, stability)
from numerics.scenarios import get_scenario
from theory.parametric_checks import check_gaussian_kinf, check_s1


@pytest.fixture(scope="module")
def mog8_small():
    return get_scenario("mog8", grid=64)


# ----------------------------------------------------------------------------- S1
@pytest.mark.parametrize("lam", [0.05, 1.0, 20.0])
def test_s1_on_a_2d_grid_to_1e10(mog8_small, lam):
    rec = check_s1(Gaussian(mog8_small.axes), mog8_small.mass, lam)
    assert rec.holds, rec.note
    assert abs(rec.measured - lam / (1 + lam)) <= 1e-10
    assert rec.details["entry_error"] <= 1e-10


def test_s1_check_fails_on_a_curated_map_and_a_wrong_formula(mog8_small):
    g = Gaussian(mog8_small.axes)
    assert not check_s1(g, mog8_small.mass, 1.0, reward=mog8_small.reward, K=2).holds
    assert not check_s1(g, mog8_small.mass, 1.0, predicted=lambda lam: lam / (2 + lam)).holds


def test_s1_for_a_user_family_and_stability_reports_it(mog8_small):
    x, y = np.meshgrid(*mog8_small.axes, indexing="ij")
    fam = ExponentialFamily(np.stack([np.sin(x), np.cos(y), x * y / 10]), names="abc")
    rec = check_s1(fam, mog8_small.mass, 3.0)
    assert rec.holds, rec.note
    st = stability(fam, mog8_small.reward, 1, 3.0, mog8_small.mass)
    assert st.exists and st.stable
    assert abs(st.spectral_radius - 0.75) <= 1e-10
    # S2 for an exponential family: L = 0, so rho = lam/(1+lam), rho_B = lam/(1-lam) (None
    # for lam >= 1)
    assert st.s2["L"] == 0.0 and st.rho == pytest.approx(0.75, abs=1e-15) and st.rho_B is None
    st = stability(fam, mog8_small.reward, 1, 0.25, mog8_small.mass)
    assert st.rho_B == pytest.approx(0.25 / 0.75, rel=1e-14)


# ----------------------------------------------------------------------------- closed form
def test_gaussian_kinf_closed_form_1d():
    x = np.linspace(-16, 16, 3201)            # sigma/h >= 50: aliasing ~ exp(-5e4)
    rec, err = check_gaussian_kinf(Gaussian((x,)), [0.3], [[1.44]], [1.0], [[1.5]], 2.0,
                                   point=([0.1], [[0.8]]))
    assert rec.holds, rec.note
    assert max(err.values()) <= 1e-9


@pytest.mark.slow  # a figure, a sympy proof or an mpmath reference: seconds
def test_gaussian_kinf_closed_form_2d():
    ax = np.linspace(-12, 12, 481)            # smallest sigma ~0.55, h = 0.05
    rec, err = check_gaussian_kinf(Gaussian((ax, ax)), [0.3, -0.2], [[1.44, 0.3], [0.3, 0.8]],
                                   [1.0, 0.5], [[1.5, 0.4], [0.4, 0.7]], 3.0,
                                   point=([0.1, 0.0], [[0.8, 0.1], [0.1, 0.6]]))
    assert rec.holds, rec.note
    assert max(err.values()) <= 1e-9


def test_gaussian_kinf_check_fails_on_a_truncating_grid():
    # a grid of half-width 3 cuts the data Gaussian: the grid map is no longer the closed form
    x = np.linspace(-3, 3, 601)
    rec, err = check_gaussian_kinf(Gaussian((x,)), [0.3], [[1.44]], [1.0], [[1.5]], 2.0)
    assert not rec.holds and err["map"] > 1e-6


# ----------------------------------------------------------------------------- Jacobian routes
def test_richardson_agrees_with_the_analytic_jacobian_within_its_error_estimate():
    sc = get_scenario("gauss1d")
    g = Gaussian(sc.axes)
    G = RetrainingMap(g, sc.reward, math.inf, 2.0, sc.mass)
    theta = g.fit(g.moments(sc.mass))
    analytic = G.jacobian(theta)
    D, err, method = G._richardson(g.to_std(theta), g.probs_std(g.to_std(theta)))
    DF_std, _, _ = G._DF_std(g.to_std(theta))
    assert analytic.error == 0.0 and "analytic" in analytic.method
    assert "Richardson" in method and err < 1e-6
    assert np.max(np.abs(D - DF_std)) <= max(err, 1e-12)


def test_large_K_approaches_K_inf():
    sc = get_scenario("gauss1d")
    g = Gaussian(sc.axes)
    a = stability(g, sc.reward, math.inf, 1.0, sc.mass)
    b = stability(g, sc.reward, 1e6, 1.0, sc.mass)
    # H^K -> H^inf at rate O(1/K) (L2 -> L3)
    assert abs(a.spectral_radius - b.spectral_radius) < 1e-4
    assert np.max(np.abs(a.mean - b.mean)) < 1e-4


# ----------------------------------------------------------------------------- fixed points
def test_fixed_point_solves_G_and_the_trajectory_converges_to_it():
    sc = get_scenario("gauss1d")
    g = Gaussian(sc.axes)
    st = stability(g, sc.reward, 3, 1.0, sc.mass)
    assert st.exists and st.stable and st.residual <= 1e-12
    G = RetrainingMap(g, sc.reward, 3, 1.0, sc.mass)
    assert np.max(np.abs(G.next_mean(st.theta) - st.mean)) < 1e-12
    traj = evolve(g, sc.reward, 3, 60, 1.0, sc.mass)
    # a contraction with factor ~ spectral radius: 60 steps of ~0.43 leave < 1e-20
    assert np.max(np.abs(traj.mean[-1] - st.mean)) < 1e-10
    assert traj.theta.shape == (61, 2) and traj.expected_reward.shape == (61,)


def test_unstable_curated_fixed_point_on_mog8_is_flagged():
    # mog8, lam = 20, K = inf: Newton from the data MLE reaches a fixed point between the two
    # reward discs whose spectral radius exceeds 1 (analytic Jacobian)
    sc = get_scenario("mog8", grid=64)
    st = stability(Gaussian(sc.axes), sc.reward, math.inf, 20.0, sc.mass)
    assert st.exists and st.stable is False and st.spectral_radius > 1.1
    G = RetrainingMap(Gaussian(sc.axes), sc.reward, math.inf, 20.0, sc.mass)
    assert np.max(np.abs(G.next_mean(st.theta) - st.mean)) < 1e-11


def test_no_fixed_point_without_data_is_reported_not_raised():
    sc = get_scenario("gauss1d")
    g = Gaussian(sc.axes)
    st = stability(g, sc.reward, math.inf, math.inf, None, start=g.fit(g.moments(sc.mass)))
    assert not st.exists and st.stable is None and "no fixed point" in st.reason


# ----------------------------------------------------------------------------- errors
def test_bad_arguments_are_named():
    sc = get_scenario("gauss1d")
    g = Gaussian(sc.axes)
    with pytest.raises(ValueError, match="K"):
        stability(g, sc.reward, 0.5, 1.0, sc.mass)
    with pytest.raises(ValueError, match="lam"):
        stability(g, sc.reward, 2, -1.0, sc.mass)
    with pytest.raises(ValueError, match="data"):
        stability(g, sc.reward, 2, 1.0, None)
    with pytest.raises(ValueError, match="reward"):
        stability(g, sc.reward[:-1], 2, 1.0, sc.mass)
    with pytest.raises(TypeError, match="family"):
        stability("gaussian", sc.reward, 2, 1.0, sc.mass)
    with pytest.raises(ValueError, match="axes"):
        Gaussian((np.zeros((3, 3)),))
    with pytest.raises(ValueError, match="constant"):
        ExponentialFamily(np.ones((1, 5)))
    with pytest.raises(ValueError, match="affinely"):
        x = np.linspace(0, 1, 5)
        ExponentialFamily(np.stack([x, 2 * x + 1]))
    with pytest.raises(FitError, match="not attained"):
        g.fit([100.0, 1.0])                   # E[x] outside the grid
    with pytest.raises(ValueError, match="steps"):
        evolve(g, sc.reward, 2, -1, 1.0, sc.mass)


def test_doctests_of_the_package():
    import numerics.parametric as pkg
    import numerics.parametric.families as fam
    for mod in (pkg, fam):
        res = doctest.testmod(mod)
        assert res.attempted > 0 and res.failed == 0


# ----------------------------------------------------------------------------- sympy proof
@pytest.mark.slow  # a figure, a sympy proof or an mpmath reference: seconds
def test_s1_sympy_proof_and_its_failure_on_a_wrong_radius():
    from proofs_check import PROVED, FAILED, run
    assert run("S1").status == PROVED
    assert run("S1", radius=lambda lam: lam / (1 + lam) ** 2).status == FAILED
    assert run("S1", radius=lambda lam: lam / (2 + lam)).status == FAILED
