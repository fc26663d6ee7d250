"""limit(), limit_continuous(), critical_lam(): T3 (top level set), T8 (K = inf scalar
equation, condensation) and T9 (finite K, condensed or not), against independent routes:
mpmath quadrature of Kingman's I, the pairwise formula of L1 for K = 2
(``H(x) = sum_j p_j 2 s_x / (s_x + s_j)``, exact in two sums), and long iterations."""

import math

import mpmath as mp
import numpy as np
import pytest

from numerics import (ContinuousRewardLaw, LimitMethod, critical_lam, evolve, limit,
                      limit_continuous, retrain_step)
from numerics.scenarios import get_scenario

from _references import kingman_i, pairwise_k2_step


def _law(b):
    return ContinuousRewardLaw(lambda r, b=b: b * (-r) ** (b - 1), -1.0, 0.0)


def test_t8_condensate_continuous_law():
    lam, b = 3.0, 3.0
    res = limit_continuous(_law(b), K=math.inf, lam=lam)
    expected = 1 - kingman_i(b, lam)
    assert abs(res.condensate - float(expected)) < 1e-10
    assert res.condensed and res.top_mass == res.condensate
    assert res.method is LimitMethod.SCALAR_EQUATION
    assert res.info["Z"] == pytest.approx(lam / (1 + lam), rel=1e-15)
    assert str(expected).startswith("0.4845")


def test_t8_critical_lam_is_where_i_equals_one():
    lam_c = critical_lam(_law(3.0), math.inf)
    assert abs(float(kingman_i(3.0, lam_c)) - 1.0) < 1e-12
    assert critical_lam(_law(0.8), math.inf) == math.inf   # I = inf: never condenses


def test_t8_condensate_on_a_200000_cell_grid():
    """On a grid p_d has an atom at the top and the top cell carries the condensate."""
    n = 200_000
    edges = -np.arange(n + 1)[::-1] / n  # [-1, ..., 0]
    reward = np.concatenate([edges[1:-1], [0.0]])  # right ends; the last cell is r = 0
    mass = np.abs(edges[1:] ** 3 - edges[:-1] ** 3)  # exact cell integrals of 3 r^2
    res = limit(mass, reward, K=math.inf, lam=3.0)
    top = res.mass[reward == 0.0].sum()
    assert abs(top - float(1 - kingman_i(3, 3))) < 1e-4
    assert res.condensate == 0.0 and res.top_mass == top and res.condensed


def test_t8_near_the_threshold_keeps_relative_accuracy():
    """A top atom of mass 1e-200 below a law with I < 1: eps ~ 1e-200; compare with the
    scalar equation solved by mpmath at 60 digits."""
    d = np.array([1e-200, 0.3, 0.7])
    reward = np.array([0.0, -1.0, -2.0])
    lam = 1.0
    res = limit(d, reward, K=math.inf, lam=lam)
    with mp.workdps(60):
        dd = [mp.mpf(1e-200), mp.mpf(0.3), mp.mpf(0.7)]
        tot = sum(dd)
        dd = [x / tot for x in dd]
        oms = [mp.mpf(0), -mp.expm1(-1), -mp.expm1(-2)]
        F = lambda x: sum(di * (1 + mp.e**x) / ((1 + lam) * (mp.e**x + o)) for di, o in zip(dd, oms)) - 1  # noqa: E731
        x = mp.findroot(F, math.log(res.info["eps"]))
        eps = mp.e**x
    assert abs(res.info["eps"] / float(eps) - 1) < 1e-12
    assert res.info["eps"] < 1e-190
    # the top cell carries the condensate 1 - I_below_top
    assert abs(res.mass[0] - (1 - res.info["I_below_top"])) < 1e-12


def test_t3_top_level_set():
    x = np.linspace(-2, 2, 401)
    p0 = np.exp(-x**2)
    reward = np.minimum(0.0, 1.0 - np.abs(x))  # optimal on |x| <= 1
    res = limit(p0, reward, K=4)
    ref = np.where(np.abs(x) <= 1, p0, 0.0)
    assert np.abs(res.mass - ref / ref.sum()).max() < 1e-15
    assert res.expected_exp_reward == 1.0 and res.method is LimitMethod.CLOSED_FORM


@pytest.mark.parametrize("K,lam", [(3.0, 0.4), (4.0, 3.0), (2.5, 1.0)])
def test_t9_fixed_point_matches_long_iteration(K, lam):
    x = np.linspace(-3, 3, 161)
    p0 = np.exp(-0.5 * x**2)
    reward = -0.5 * (x - 1) ** 2
    res = limit(p0, reward, K=K, lam=lam)
    assert res.converged and res.method is LimitMethod.FIXED_POINT
    step = retrain_step(res.mass, reward, K, lam, p0)
    assert 0.5 * np.abs(step - res.mass).sum() < 1e-10  # a fixed point of T
    far = evolve(p0, reward, K, 3000, lam=lam, record_every=3000).masses[-1]
    assert 0.5 * np.abs(far - res.mass).sum() < 1e-9
    assert res.info["max_H"] >= 1.0  # P1 forces max H >= 1
    assert not res.condensed


@pytest.mark.slow
def test_t9_condensed_grid_fixed_point_b3_k2_lam5():
    """THEORY.md T9's example: on the b = 3 law with K = 2, lam = 5 the top cell of a 300-cell
    grid holds 0.36836 at the fixed point.  Checked against 50000 steps of the pairwise K = 2
    iteration (converged there to ~1e-10) and by the pairwise one-step residual."""
    sc = get_scenario("kingman", grid=300, b=3.0)
    res = limit(sc.mass, sc.reward, K=2, lam=5.0)
    d = sc.mass / sc.mass.sum()
    s = np.exp(sc.reward - sc.reward.max())
    assert 0.5 * np.abs(pairwise_k2_step(res.mass, s, 5.0, d) - res.mass).sum() < 1e-14
    p = d.copy()
    for _ in range(50_000):
        p = pairwise_k2_step(p, s, 5.0, d)
    assert abs(res.top_mass - p[-1]) < 1e-8
    assert round(res.top_mass, 5) == 0.36836
    assert res.condensed and res.info["top_gap"] < 1e-5
    assert res.converged and res.info["residual"] < 1e-12


def test_t9_regular_grid_fixed_point_b5_k3_lam15():
    """lam (K-1) >= 1 is not sufficient: b = 5, K = 3, lam = 1.5 has no condensate."""
    sc = get_scenario("kingman", grid=300, b=5.0)
    res = limit(sc.mass, sc.reward, K=3, lam=1.5)
    assert not res.condensed and res.info["top_gap"] > 1e-2 and res.top_mass < 1e-9
    step = retrain_step(res.mass, sc.reward, 3, 1.5, sc.mass)
    assert 0.5 * np.abs(step - res.mass).sum() < 1e-10


def test_t9_continuous_condensate_and_grid_convergence():
    """The continuous law's condensate for b = 3, K = 2, lam = 5 (unknowns c and M), and the
    top cells of refined grids approaching it at rate 1/n (each 4x refinement divides the
    gap by 4 to within 10%)."""
    cont = limit_continuous(_law(3.0), K=2, lam=5.0)
    assert cont.condensed and cont.condensate > 0.37
    assert cont.info["discretization_error"] < 1e-10 and cont.info["residual"] < 1e-12
    assert abs(cont.info["top_gap"]) < 1e-13          # H(r_*) = (1 + lam)/lam
    lam_c = cont.info["lam_c"]
    assert 3 < lam_c < 5 and abs(critical_lam(_law(3.0), 2) - lam_c) < 1e-9
    gaps = []
    for n in (300, 1200, 4800):
        sc = get_scenario("kingman", grid=n, b=3.0)
        gaps.append(cont.condensate - limit(sc.mass, sc.reward, K=2, lam=5.0).top_mass)
    assert all(g > 0 for g in gaps)
    ratios = [gaps[0] / gaps[1], gaps[1] / gaps[2]]
    assert all(3.6 < q < 4.4 for q in ratios), ratios


def test_t9_continuous_law_below_the_critical_lam():
    law = _law(3.0)
    res = limit_continuous(law, K=3, lam=0.4)
    # the limit density integrates to 1 (no condensate when lam (K - 1) < 1)
    total = mp.quad(lambda r: res.density(float(r)), [-1, -0.5, 0])
    assert abs(float(total) - 1) < 1e-10
    assert res.condensate == 0.0 and not res.condensed and res.info["lam_c"] is None


def test_limit_rejects_bad_input():
    with pytest.raises(ValueError, match="support of data"):
        limit(np.array([1.0, 1.0]), np.array([0.0, 1.0]), K=2, lam=1.0,
              data=np.array([1.0, 0.0]))
    with pytest.raises(TypeError, match="limit_continuous"):
        limit(_law(3.0), None, K=2, lam=1.0)
    with pytest.raises(ValueError, match="finite lam > 0"):
        limit_continuous(_law(3.0), K=2, lam=math.inf)
    with pytest.raises(TypeError, match="law must be"):
        critical_lam(np.ones(3), 2)


def test_t9_condensing_2d_grid_stays_compressed():
    """A condensing finite-K limit on a 2-D grid with (almost) every reward distinct: Newton
    starts from a couple of iterates of T, so the solve stays on the compressed law (no
    restart in the per-reward direct mode, which the resolution check of a few dozen
    condensing steps used to force), and the result is a fixed point of T (one step of the
    engine, direct mode, moves it by < 1e-10 in TV)."""
    x = np.linspace(-6, 6, 160)
    X, Y = np.meshgrid(x, x, indexing="ij")
    p0 = np.exp(-((X - 2) ** 2 + Y**2) / 2) + np.exp(-((X + 3) ** 2 + (Y - 1) ** 2))
    reward = -np.hypot(X - 2.0, Y - 1.0) + 0.1 * np.sin(3 * X) * np.cos(2 * Y)
    res = limit(p0, reward, K=3, lam=5.0)
    assert res.converged and res.info["restarts"] == []
    assert res.info["resolution"].startswith("compressed")
    assert res.top_mass > 0.5  # most of the mass on the top cell
    step = evolve(res.mass, reward, 3, 1, lam=5.0, data=p0, method="direct").masses[-1]
    assert 0.5 * np.abs(step - res.mass).sum() < 1e-10
