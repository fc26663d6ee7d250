"""Built-in scenarios (numerics/scenarios.py): shapes, normalization, the documented
structure of each, checked against independent routes (exact rationals, mpmath)."""

import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest

from numerics import evolve, limit, limit_continuous
from numerics.scenarios import get_scenario, list_scenarios, scenario_parameters

from _references import kingman_i

NAMES = ["gauss1d", "two-level", "kingman", "mog8", "two-moons", "classes", "mog8-two-users",
         "adversarial"]
mpmath.mp.dps = 30


@pytest.fixture(scope="module")
def defaults():
    return {name: get_scenario(name) for name in NAMES}


def test_registry_lists_the_six_with_one_line_descriptions():
    listed = list_scenarios()
    assert [name for name, _ in listed] == NAMES
    for name, desc in listed:
        assert desc and "\n" not in desc and len(desc) < 100


@pytest.mark.parametrize("name", NAMES)
def test_shapes_normalization_non_negativity(defaults, name):
    sc = defaults[name]
    assert sc.name == name
    assert sc.mass.shape == sc.reward.shape
    assert sc.mass.dtype == np.float64 and sc.reward.dtype == np.float64
    assert np.all(np.isfinite(sc.mass)) and np.all(sc.mass >= 0)
    assert np.all(np.isfinite(sc.reward))
    assert math.fsum(sc.mass.ravel()) == pytest.approx(1, abs=1e-14)
    assert sc.data is None or sc.data.shape == sc.mass.shape
    assert tuple(len(a) for a in sc.axes) == sc.mass.shape
    assert sc.K >= 1 and sc.lam >= 0 and sc.steps >= 1


@pytest.mark.parametrize("name", NAMES)
def test_overrides(name):
    sc = get_scenario(name, K=2.5, lam=1.0, steps=7, grid=16)
    assert (sc.K, sc.lam, sc.steps) == (2.5, 1.0, 7)
    assert sc.mass.shape[-1] == 16
    with pytest.raises(ValueError, match="unknown parameter.*'bogus'"):
        get_scenario(name, bogus=1)


@pytest.mark.parametrize("name, params, word", [
    ("gauss1d", dict(sd=0), "sd"), ("two-level", dict(delta=-1), "delta"),
    ("two-level", dict(m_star=1.0), "m_star"), ("kingman", dict(b=0), "b"),
    ("mog8", dict(reward_centres=(0, 8)), "reward_centres"), ("mog8", dict(sd=-1), "sd"),
    ("two-moons", dict(noise=0), "noise"), ("classes", dict(alpha=(1, 2)), "alpha"),
    ("classes", dict(gamma=math.nan), "gamma")])
def test_bad_parameters_are_named(name, params, word):
    with pytest.raises((ValueError, TypeError), match=word):
        get_scenario(name, **params)


def test_unknown_scenario_and_bad_grid():
    with pytest.raises(ValueError, match="unknown scenario 'nope'"):
        get_scenario("nope")
    with pytest.raises(ValueError, match="grid"):
        get_scenario("mog8", grid=1)


# ---------------------------------------------------------------- two-level (T3 rate)
def test_two_level_has_exactly_two_levels_and_top_mass():
    sc = get_scenario("two-level", delta=1.5, m_star=0.3, grid=37)
    assert sorted(set(sc.reward.tolist())) == [-1.5, 0.0]
    assert math.fsum(sc.mass[sc.reward == 0]) == pytest.approx(0.3, abs=1e-15)
    assert scenario_parameters("two-level") == dict(delta=1.0, m_star=0.2)


@pytest.mark.parametrize("K, delta", [(4, 1.0), (2, 0.5), (math.inf, 1.0)])
def test_two_level_low_mass_shrinks_by_rho_K(K, delta):
    sc = get_scenario("two-level", K=K, delta=delta)
    traj = evolve(sc.mass, sc.reward, sc.K, sc.steps)
    low = np.array([m[sc.reward < 0].sum() for m in traj.masses[-3:]])
    # independent: rho_K(delta) = K e^{-delta} / (e^{-delta} + K - 1) at 30 digits
    q = mpmath.exp(-mpmath.mpf(delta))
    rho = float(q if math.isinf(K) else K * q / (q + K - 1))
    assert low[-1] / low[-2] == pytest.approx(rho, rel=1e-9)
    # the measurement discriminates: the rate for another gap is far off
    q2 = math.exp(-1.1 * delta)
    wrong = q2 if math.isinf(K) else K * q2 / (q2 + K - 1)
    assert abs(low[-1] / low[-2] - wrong) > 1e-3


# ---------------------------------------------------------------- kingman (T8)
def test_kingman_grid_masses_are_the_exact_cell_integrals():
    n = 50
    sc = get_scenario("kingman", grid=n)
    edges = [Fraction(-1) + Fraction(i, n) for i in range(n + 1)]
    exact = [(-a) ** 3 - (-b) ** 3 for a, b in zip(edges[:-1], edges[1:])]  # b=3: 1-(-r)^3
    assert sum(exact) == 1
    np.testing.assert_allclose(sc.mass, [float(e) for e in exact], rtol=2e-15, atol=0)
    mids = [float((a + b) / 2) for a, b in zip(edges[:-1], edges[1:])]
    np.testing.assert_array_equal(sc.reward, mids)
    assert (sc.K, sc.lam) == (math.inf, 3.0)


def test_kingman_non_integer_b_against_mpmath():
    n, b = 64, 2.5
    sc = get_scenario("kingman", grid=n, b=b)
    h = mpmath.mpf(1) / n
    exact = [mpmath.quad(lambda r: b * (-r) ** (b - 1), [-1 + i * h, -1 + (i + 1) * h])
             for i in range(n)]
    np.testing.assert_allclose(sc.mass, [float(e) for e in exact], rtol=1e-14, atol=0)
    assert math.fsum(sc.mass) == pytest.approx(1, abs=1e-15)


def test_kingman_continuous_law_condensate():
    sc = get_scenario("kingman")
    # independent: 1 - I, I = E[1/((1+lam)(1 - e^r))], r ~ 3 r^2 dr on [-1, 0]
    I = kingman_i(3, 3.0)
    lim = limit_continuous(sc.continuous, K=math.inf, lam=sc.lam)
    assert lim.condensate == pytest.approx(float(1 - I), rel=1e-10)
    assert sc.continuous.expectation(lambda r: 1.0) == pytest.approx(1, rel=1e-13)


# ---------------------------------------------------------------- mog8
def _mp_cell(lo, hi, mean, sd):
    return mpmath.ncdf((hi - mean) / sd) - mpmath.ncdf((lo - mean) / sd)


def test_mog8_cells_are_exact_mixture_integrals():
    n, L, sd, R = 32, 6, mpmath.mpf("0.5"), 4
    sc = get_scenario("mog8", grid=n)
    cs = [(R * mpmath.cos(2 * mpmath.pi * k / 8), R * mpmath.sin(2 * mpmath.pi * k / 8))
          for k in range(8)]
    h = mpmath.mpf(2 * L) / n
    box = sum(_mp_cell(-L, L, cx, sd) * _mp_cell(-L, L, cy, sd) for cx, cy in cs)
    for i, j in [(16, 16), (26, 16), (21, 21), (0, 0), (16, 30), (3, 29)]:
        xs, ys = -L + i * h, -L + j * h
        p = sum(_mp_cell(xs, xs + h, cx, sd) * _mp_cell(ys, ys + h, cy, sd) for cx, cy in cs)
        assert sc.mass[i, j] == pytest.approx(float(p / box), rel=1e-11), (i, j)


def test_mog8_optimal_discs_are_exactly_the_top_level_set():
    sc = get_scenario("mog8")
    X, Y = np.meshgrid(*sc.axes, indexing="ij")
    ang = [0.0, 3 * math.pi / 4]  # reward centres 0 and 3 on the circle of radius 4
    d = np.min([np.hypot(X - 4 * math.cos(a), Y - 4 * math.sin(a)) for a in ang], axis=0)
    top = sc.reward == sc.reward.max()
    assert sc.reward.max() == 0
    np.testing.assert_array_equal(top, d <= 1.0)
    # d <= 17 here, so its rounding error (and that of d - 1) is below 1e-14 in absolute terms
    np.testing.assert_allclose(sc.reward[~top], -(d[~top] - 1.0), rtol=0, atol=1e-14)
    assert sc.mass[top].sum() > 0.15                       # two of eight components, mostly
    assert np.isinf(sc.lam) and sc.K == 4


# ---------------------------------------------------------------- two-moons
@pytest.mark.slow  # a figure, a sympy proof or an mpmath reference: seconds
def test_two_moons_symmetry_and_cells_against_mpmath():
    n = 24
    sc = get_scenario("two-moons", grid=n)
    # the law is symmetric under (x, y) -> (1 - x, 1/2 - y), which maps the grid onto itself
    np.testing.assert_allclose(sc.mass, sc.mass[::-1, ::-1], rtol=1e-12)
    s, hx, hy = mpmath.mpf("0.1"), mpmath.mpf(4) / n, mpmath.mpf(3) / n

    def cell_prob(x0, x1, y0, y1):
        up = mpmath.quad(lambda t: _mp_cell(x0, x1, mpmath.cos(t), s)
                         * _mp_cell(y0, y1, mpmath.sin(t), s), [0, mpmath.pi / 2, mpmath.pi])
        lo = mpmath.quad(lambda t: _mp_cell(x0, x1, 1 - mpmath.cos(t), s)
                         * _mp_cell(y0, y1, mpmath.mpf(1) / 2 - mpmath.sin(t), s),
                         [0, mpmath.pi / 2, mpmath.pi])
        return (up + lo) / (2 * mpmath.pi)

    box = cell_prob(-1.5, 2.5, -1.25, 1.75)
    for i, j in [(3, 10), (12, 17), (18, 6), (9, 9)]:
        x0, y0 = -1.5 + i * hx, -1.25 + j * hy
        p = cell_prob(x0, x0 + hx, y0, y0 + hy) / box
        assert sc.mass[i, j] == pytest.approx(float(p), rel=1e-10), (i, j)


def _lower_moon(sc):
    X, Y = np.meshgrid(*sc.axes, indexing="ij")
    t = np.linspace(0, np.pi, 721)
    du = np.min(np.hypot(X[..., None] - np.cos(t), Y[..., None] - np.sin(t)), -1)
    dl = np.min(np.hypot(X[..., None] - 1 + np.cos(t), Y[..., None] - 0.5 + np.sin(t)), -1)
    return dl < du


def test_two_moons_collapse_without_real_data_and_both_kept_with():
    sc = get_scenario("two-moons", grid=64)
    low = _lower_moon(sc)
    assert sc.mass[low].sum() == pytest.approx(0.5, abs=1e-12)
    curated = evolve(sc.mass, sc.reward, sc.K, 30).masses[-1]
    mixed = evolve(sc.mass, sc.reward, sc.K, 30, lam=1.0).masses[-1]
    assert curated[low].sum() < 1e-10
    assert mixed[low].sum() >= 0.5 / (1 + 1.0) - 1e-12      # T5: p_t >= p_d / (1 + lam)
    i, j = np.unravel_index(np.argmax(sc.reward), sc.reward.shape)
    assert abs(sc.axes[0][i] + 1) <= 2 / 64 and abs(sc.axes[1][j]) <= 1.5 / 64


# ---------------------------------------------------------------- classes
def test_classes_marginals_and_beta_cells():
    n = 20
    sc = get_scenario("classes", grid=n)
    assert sc.mass.shape == (10, n) and sc.labels.shape == (10, n)
    np.testing.assert_array_equal(sc.labels, np.repeat(np.arange(10)[:, None], n, axis=1))
    assert len(sc.label_names) == 10 and len(set(sc.label_names)) == 10
    np.testing.assert_allclose(sc.mass.sum(axis=1), 0.1, rtol=1e-14)
    alphas = sc.params["alpha"]
    for c in (0, 4, 9):
        exact = [mpmath.betainc(alphas[c], 2, mpmath.mpf(k) / n, mpmath.mpf(k + 1) / n,
                                regularized=True) / 10 for k in range(n)]
        np.testing.assert_allclose(sc.mass[c], [float(e) for e in exact], rtol=1e-12)
    np.testing.assert_allclose(sc.reward, np.broadcast_to(5 * (np.arange(n) + 0.5) / n,
                                                          (10, n)), rtol=1e-15)


def test_classes_bias_amplification_and_stability_with_real_data():
    sc = get_scenario("classes")
    curated = evolve(sc.mass, sc.reward, sc.K, 30).masses[-1].sum(axis=1)
    mixed = evolve(sc.mass, sc.reward, sc.K, 30, lam=1.0).masses[-1].sum(axis=1)
    assert np.all(np.diff(curated) > 0)                  # classes with higher confidence win
    assert curated[-1] > 0.18 and curated[0] < 0.03
    assert np.all(mixed >= 0.1 / 2 - 1e-12)              # T5 per class
