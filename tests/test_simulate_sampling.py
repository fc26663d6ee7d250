"""The sample-based loop (THEORY.md section 6) against independent references: the exact
rational oracle (numerics.exact, fractions), closed-form multinomial variances, scipy's
gaussian_kde, and the exact engine for the curated law of the fitted model."""

import math
import sys
from fractions import Fraction

import numpy as np
import pytest

from numerics.exact import curate_exact, retrain_step_exact
from numerics.sampling import (simulate, compare_with_exact, gumbel_max_winners, fit_kde,
                               Simulation)
from numerics.sampling_backends import ArrayBackend, NumpyBackend, get_backend
from numerics.scenarios import get_scenario

# P(|N(0,1)| > 5) = 5.7e-7: per-cell 5-sigma bounds, chi-square at the same level
CHI2_2DOF_5SIGMA = -2.0 * math.log(5.733e-7)  # chi2 with 2 dof: P(X > x) = exp(-x/2)

# a small law with rational masses and rational s = e^r (the oracle is exact there)
MASS6 = [Fraction(1, 4), Fraction(1, 8), Fraction(1, 8), Fraction(1, 5), Fraction(1, 10),
         Fraction(1, 5)]
S6 = [Fraction(1), Fraction(2), Fraction(3), Fraction(1, 2), Fraction(5), Fraction(3, 2)]
DATA6 = [Fraction(1, 6)] * 6


def as_float(xs):
    return np.array([float(x) for x in xs])


def max_z(observed, expected, variance):
    return float(np.max(np.abs(observed - expected) / np.sqrt(variance)))


def one_step_z(q1, n, m, curated, data):
    """Per-cell z of the histogram after one generation: ``(n C + m D) / (n + m)`` with
    ``C ~ Mult(n, curated)/n``, ``D ~ Mult(m, data)/m`` independent."""
    expected = (n * curated + m * data) / (n + m)
    var = (n * curated * (1 - curated) + m * data * (1 - data)) / (n + m) ** 2
    return max_z(q1, expected, var)


def chi_square(counts, probs):
    expected = counts.sum() * probs
    return float(((counts - expected) ** 2 / expected).sum())


# ---------------------------------------------------------------- Gumbel-max = Bradley-Terry

@pytest.mark.parametrize("make", [lambda s: NumpyBackend(np.random.default_rng(s)),
                                  lambda s: ArrayBackend(np, np.random.default_rng(s))])
def test_gumbel_max_winner_frequencies_match_bradley_terry(make):
    mass = [Fraction(1, 2), Fraction(1, 3), Fraction(1, 6)]
    s = [Fraction(1), Fraction(2), Fraction(4)]
    K, n = 3, 1_000_000
    be = make(11)
    law = be.set_law(as_float(mass))
    cells = be.draw_cells(law, n * K).reshape(n, K)
    reward = np.log(as_float(s))
    counts = np.bincount(gumbel_max_winners(np, be.rng, cells, reward), minlength=3)
    exact = as_float(curate_exact(mass, s, K))
    assert chi_square(counts, exact) < CHI2_2DOF_5SIGMA
    # the checker fails on wrong laws: K = 2 instead of 3, and no curation at all
    assert chi_square(counts, as_float(curate_exact(mass, s, 2))) > CHI2_2DOF_5SIGMA
    assert chi_square(counts, as_float(mass)) > CHI2_2DOF_5SIGMA


def test_gumbel_max_survives_rewards_of_thousands_of_nats():
    rng = np.random.default_rng(0)
    reward = np.array([-5000.0, 0.0, 3000.0])
    cells = np.array([[0, 1], [1, 2], [0, 2], [0, 0]] * 1000)
    w = gumbel_max_winners(np, rng, cells, reward)
    # e^{-3000} odds: the higher reward always wins, ties pick one of the equal cells
    assert np.array_equal(w, np.array([1, 2, 2, 0] * 1000))


# ---------------------------------------------------------------- one generation in expectation

def test_K1_leaves_the_law_unchanged_in_expectation():
    mass = np.array([0.05, 0.3, 0.15, 0.4, 0.1])
    reward = np.array([0.0, 2.0, -1.0, 1.0, 3.0])
    n = 1_000_000
    var = mass * (1 - mass) / n
    q1 = simulate(mass, reward, 1, 1, n, seed=3).masses[1]
    assert max_z(q1, mass, var) < 5
    # the same checker catches K = 2, which does move the law
    q1_wrong = simulate(mass, reward, 2, 1, n, seed=3).masses[1]
    assert max_z(q1_wrong, mass, var) > 5


@pytest.mark.parametrize("backend", ["numpy", "array"])
def test_histogram_one_step_mean_is_the_exact_retraining_step(backend):
    K, lam, n = 3, 2, 600_000          # n / lam integer: effective lam = lam exactly
    m = n // lam
    curated = as_float(curate_exact(MASS6, S6, K))
    data = as_float(DATA6)
    expected = as_float(retrain_step_exact(MASS6, S6, K, lam, DATA6))
    be = backend if backend == "numpy" else ArrayBackend(np, np.random.default_rng(5))
    sim = simulate(as_float(MASS6), np.log(as_float(S6)), K, 1, n, lam=lam, data=data,
                   seed=5, backend=be)
    assert sim.real_samples == m and sim.effective_lam == lam
    assert np.allclose((n * curated + m * data) / (n + m), expected, rtol=1e-14, atol=0)
    assert one_step_z(sim.masses[1], n, m, curated, data) < 5
    # wrong reference (K = 2 or lam = 1) -> the same checker fails
    assert one_step_z(sim.masses[1], n, m, as_float(curate_exact(MASS6, S6, 2)), data) > 5
    assert one_step_z(sim.masses[1], n, n, curated, data) > 5


def test_tv_to_the_exact_step_shrinks_like_samples_to_the_minus_half():
    K = 3
    exact = as_float(curate_exact(MASS6, S6, K))
    reward = np.log(as_float(S6))
    scaled = {}
    for n in (2_000, 200_000):
        tv = [0.5 * np.abs(simulate(as_float(MASS6), reward, K, 1, n, seed=s).masses[1]
                           - exact).sum() for s in range(40)]
        scaled[n] = np.mean(tv) * math.sqrt(n)
    # E|N(0, v)| = sqrt(2 v / pi): E[TV] ~ (1/2) sum_i sqrt(2 c_i (1 - c_i) / (pi n))
    predicted = 0.5 * np.sum(np.sqrt(2 * exact * (1 - exact) / math.pi))
    for n, value in scaled.items():
        assert abs(value / predicted - 1) < 0.2, (n, value, predicted)


# ---------------------------------------------------------------- determinism and backends

def test_deterministic_for_a_seed():
    sc = get_scenario("gauss1d", grid=201)
    kw = dict(lam=2.0, seed=42)
    a = simulate(sc.mass, sc.reward, 3, 3, 5000, **kw)
    b = simulate(sc.mass, sc.reward, 3, 3, 5000, **kw)
    c = simulate(sc.mass, sc.reward, 3, 3, 5000, lam=2.0, seed=43)
    assert all(np.array_equal(x, y) for x, y in zip(a.masses, b.masses))
    assert np.array_equal(a.sample_mean_reward, b.sample_mean_reward)
    assert not np.array_equal(a.masses[-1], c.masses[-1])
    arr = [simulate(sc.mass, sc.reward, 3, 3, 5000, lam=2.0,
                    backend=ArrayBackend(np, np.random.default_rng(9))) for _ in range(2)]
    assert all(np.array_equal(x, y) for x, y in zip(arr[0].masses, arr[1].masses))


def test_progress_is_called_once_per_generation():
    calls = []
    simulate([1, 2, 3], [0, 1, 2], 2, 4, 100, progress=lambda t, n: calls.append((t, n)))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_cupy_backend_without_cupy_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)   # import cupy -> ImportError
    with pytest.raises(ValueError, match="backend='cupy'"):
        simulate([1, 1], [0, 1], 2, 1, 10, backend="cupy")
    assert get_backend("auto", 0).name == "numpy"


# ---------------------------------------------------------------- parametric refits

def test_gaussian_model_matches_the_curated_moments():
    from numerics import curate
    x = np.linspace(-6, 6, 601)
    mass = np.exp(-x ** 2 / 2)
    reward = -(x - 1) ** 2 / 2
    n = 200_000
    q1 = simulate(mass, reward, 3, 1, n, model="gaussian", coords=(x,), seed=2).masses[1]
    c = curate(mass, reward, 3)                   # the exact law of the curated samples
    mu, var = np.dot(c, x), np.dot(c, (x - np.dot(c, x)) ** 2)
    mu4 = np.dot(c, (x - mu) ** 4)
    got_mu = np.dot(q1, x)
    got_var = np.dot(q1, (x - got_mu) ** 2)
    assert abs(got_mu - mu) < 5 * math.sqrt(var / n)
    assert abs(got_var - var) < 5 * math.sqrt((mu4 - var ** 2) / n)
    # and the refit is a Gaussian: log q1 is an exact quadratic in x
    assert np.allclose(np.polyval(np.polyfit(x, np.log(q1), 2), x), np.log(q1), atol=1e-8)
    # checker fails on the uncurated moments
    assert abs(got_mu - np.dot(mass / mass.sum(), x)) > 5 * math.sqrt(var / n)


def test_gaussian_model_2d_covariance():
    ax = np.linspace(-5, 5, 61)
    X, Y = np.meshgrid(ax, ax, indexing="ij")
    rho = 0.6
    mass = np.exp(-(X ** 2 - 2 * rho * X * Y + Y ** 2) / (2 * (1 - rho ** 2)))
    p = mass / mass.sum()
    n = 200_000
    q1 = simulate(mass, np.zeros_like(mass), 1, 1, n, model="gaussian", coords=(ax, ax),
                  seed=4).masses[1]
    for f in (X * X, X * Y, Y * Y):
        want = (p * f).sum()
        se = math.sqrt(((p * f * f).sum() - want ** 2) / n)
        assert abs((q1 * f).sum() - want) < 5 * se   # K=1: the law is kept in mean


def test_kde_is_scipy_gaussian_kde_on_the_grid():
    from scipy.stats import gaussian_kde
    x = np.linspace(-3, 5, 401)
    rng = np.random.default_rng(0)
    counts = rng.multinomial(3000, np.exp(-x ** 2 / 2) / np.exp(-x ** 2 / 2).sum())
    q, h = fit_kde(NumpyBackend(rng), counts, x.shape, (x,))
    ref = gaussian_kde(np.repeat(x, counts), bw_method="scott")
    assert np.isclose(h[0], math.sqrt(ref.covariance[0, 0]), rtol=1e-12)
    want = ref(x)
    want /= want.sum()
    assert np.max(np.abs(q - want)) < 1e-10 * want.max()
    # a fixed bandwidth is used as given (checked against scipy with the same kernel width)
    q2, _ = fit_kde(NumpyBackend(rng), counts, x.shape, (x,), bandwidth=0.5)
    data = np.repeat(x, counts)
    ref2 = gaussian_kde(data, bw_method=0.5 / data.std(ddof=1))
    want2 = ref2(x) / ref2(x).sum()
    assert np.max(np.abs(q2 - want2)) < 1e-10 * want2.max()
    assert np.max(np.abs(q - want2)) > 1e-3 * want2.max()    # and the check can fail


def test_kde_model_runs_through_the_loop_on_both_code_paths():
    sc = get_scenario("mog8", grid=32, K=4, lam=1.0)
    for be in ("numpy", ArrayBackend(np, np.random.default_rng(1))):
        sim = simulate(sc.mass, sc.reward, 4, 2, 20_000, lam=1.0, model="kde", coords=sc.axes,
                       backend=be)
        assert sim.bandwidths.shape == (2, 2) and np.all(sim.bandwidths > 0)
        assert all(np.isclose(m.sum(), 1.0) and (m >= 0).all() for m in sim.masses)
        assert compare_with_exact(sim).passed


# ---------------------------------------------------------------- against the exact engine

@pytest.mark.parametrize("name,K,lam,steps", [("gauss1d", 3, math.inf, 8),
                                               ("mog8", 4, 1.0, 4)])
def test_scenarios_within_5_se_and_tv_slope_minus_half(name, K, lam, steps):
    sc = get_scenario(name, K=K, lam=lam, grid=301 if name == "gauss1d" else 64)
    ns = (10_000, 100_000, 1_000_000)
    tvs = []
    for n in ns:
        cc = compare_with_exact(simulate(sc.mass, sc.reward, K, steps, n, lam=lam,
                                         data=sc.data, seed=7))
        assert cc.passed and np.max(np.abs(cc.z_conditional)) <= 5
        tvs.append(cc.tv[1:].max())
    slope = np.polyfit(np.log(ns), np.log(tvs), 1)[0]
    assert -0.6 < slope < -0.4, slope


def test_compare_with_exact_fails_on_a_wrong_simulation():
    sc = get_scenario("gauss1d", grid=201)
    sim = simulate(sc.mass, sc.reward, 2, 3, 100_000, seed=1)
    assert compare_with_exact(sim).passed
    sim.K = 3                      # the samples were curated with K = 2, not 3
    cc = compare_with_exact(sim)
    assert not cc.passed and np.max(np.abs(cc.z_conditional)) > 20


# ---------------------------------------------------------------- argument errors

@pytest.mark.parametrize("kwargs,name", [
    (dict(K=2.5), "K"), (dict(K=math.inf), "K"), (dict(K=0), "K"),
    (dict(samples=0), "samples"), (dict(samples=1.5), "samples"), (dict(steps=-1), "steps"),
    (dict(lam=0.0), "lam"), (dict(lam=-1.0), "lam"), (dict(model="ddpm"), "model"),
    (dict(backend="gpu"), "backend"), (dict(seed=-1), "seed"), (dict(seed=1.5), "seed"),
    (dict(reward=[0.0, 1.0]), "reward"), (dict(mass=[1.0, -1.0, 1.0]), "mass"),
    (dict(coords=(np.arange(4.0),)), "coords"), (dict(coords=([0, 2, 1],)), "coords"),
    (dict(model="kde", coords=([0.0, 1.0, 3.0],)), "coords"),
    (dict(model="kde", bandwidth=-1.0), "bandwidth"), (dict(bandwidth=[1.0, 2.0]), "bandwidth"),
    (dict(lam=1.0, data=[1.0, 1.0]), "data"),
])
def test_bad_inputs_name_the_argument(kwargs, name):
    args = dict(mass=[1.0, 2.0, 3.0], reward=[0.0, 1.0, 2.0], K=2, steps=1, samples=10)
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=rf"\b{name}\b"):
        simulate(**args)


def test_compare_with_exact_needs_a_simulation():
    with pytest.raises(TypeError, match="sim"):
        compare_with_exact({"masses": []})
    assert Simulation.__doc__
