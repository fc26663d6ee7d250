"""Property tests of the curation operator (THEORY.md L1-L3, P1-P6) and of the numba kernels
against their numpy twins.

Tolerances (each stated where used) come from the engine's documented accuracy: ``H`` is
computed by the L2 trapezoid rule with relative error below ~1e-13 (laplace.py, measured
against 40-digit mpmath), so identities are checked to 1e-10 (absolute on O(1) quantities,
relative on H) - 1000x that, and far below any real defect.  Against the exact rational
oracle (``numerics.exact``) the engine is held to 1e-12 relative.  The numba kernels and their
numpy twins evaluate the same formulas in a different summation order: 1e-13 relative (the
reward-law kernels are compared in tests/test_engine_kernels.py).

Examples are derandomized (reproducible in CI); 100-200 per property.
"""

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, strategies as st

from numerics import curation_factor, curate
from numerics.exact import curation_factor_exact, curate_exact
from numerics import laplace
from numerics.testing import Ks, discrete_laws, grids, masses, rewards, lams, instances

from _profiles import examples

SETTINGS = examples(150)
FEW = examples(60)

# identities on O(1) quantities: 1000x the engine's ~1e-13 relative accuracy
TOL = 1e-10


def _p(mass):
    return mass / mass.sum()


def _s(mass, reward):
    return np.exp(reward - reward[mass > 0].max())


# ----------------------------------------------------------------------------------------
# P1-P6 on the float engine
# ----------------------------------------------------------------------------------------


@SETTINGS
@given(grids(max_spread=300.0), Ks())
def test_P1_normalization(grid, K):
    mass, reward = grid
    H = curation_factor(mass, reward, K)
    assert H.shape == mass.shape
    assert abs(float(np.sum(_p(mass) * H)) - 1.0) <= TOL


@SETTINGS
@given(discrete_laws(max_spread=300.0), Ks())
def test_P2_bounds(law, K):
    mass, reward = law
    H = curation_factor(mass, reward, K)
    on = mass > 0
    s = _s(mass, reward)[on]
    Es = float(np.dot(_p(mass)[on], s))
    lower = s / Es if math.isinf(K) else K * s / (s + (K - 1) * Es)
    assert np.all(H[on] >= lower * (1 - TOL))           # Jensen (relative rounding)
    if math.isfinite(K):
        assert np.all(H <= K * (1 + TOL))               # every cell, zero-mass ones too


@SETTINGS
@given(st.integers(1, 4), st.floats(710.0, 3000.0), Ks(allow_inf=False))
def test_P2_upper_bound_at_zero_mass_cells_far_above_the_support(n, gap, K):
    # H_p^K(x) <= K for every x (L2 integrand <= K s e^{-us}); a cell of zero mass whose
    # reward lies `gap` nats above the support has H -> K, a finite number: no overflow.
    mass = np.append(np.ones(n), 0.0)
    reward = np.append(np.arange(n, dtype=float), n + gap)
    H = curation_factor(mass, reward, K)
    assert np.all(np.isfinite(H)) and np.all(H <= K * (1 + TOL))


@SETTINGS
@given(grids(max_spread=300.0), Ks())
def test_P3_monotone_in_reward(grid, K):
    mass, reward = grid
    H = curation_factor(mass, reward, K).ravel()
    r = reward.ravel()
    order = np.argsort(r, kind="stable")
    h, rs = H[order], r[order]
    # non-decreasing along increasing r, equal for equal r (relative rounding)
    assert np.all(np.diff(h) >= -TOL * h.max())
    assert np.all(np.abs(np.diff(h))[np.diff(rs) == 0] <= TOL * h.max())


@SETTINGS
@given(grids(), Ks(), st.floats(-3000.0, 3000.0))
def test_P4_trivial_cases(grid, K, c):
    mass, reward = grid
    assert np.all(np.abs(curation_factor(mass, reward, 1.0) - 1.0) <= TOL)     # K = 1
    const = np.full(mass.shape, c)
    assert np.all(np.abs(curation_factor(mass, const, K) - 1.0) <= TOL)        # r constant


@SETTINGS
@given(discrete_laws(max_spread=300.0), Ks(), st.floats(-2000.0, 2000.0))
def test_P5_shift_invariance(law, K, c):
    mass, reward = law
    H = curation_factor(mass, reward, K)
    Hc = curation_factor(mass, reward + c, K)
    # r + c is rounded to float64: |c| * 2^-53 changes s by that much relative, and H is
    # Lipschitz in log s with constant <= 1 (P2): allow TOL + |c| * 2.3e-16 relative
    assert np.all(np.abs(Hc / H - 1.0) <= TOL + abs(c) * 2.3e-16 * 4)


def _tails(p, reward):
    levels, inverse = np.unique(reward, return_inverse=True)
    per = np.bincount(inverse, weights=p.ravel(), minlength=levels.size)
    return np.cumsum(per[::-1])[::-1]


@SETTINGS
@given(grids(max_spread=300.0), Ks())
def test_P6_stochastic_dominance(grid, K):
    mass, reward = grid
    c = curate(mass, reward, K)
    assert abs(c.sum() - 1.0) <= TOL
    # P(r >= level) can only grow: for every threshold (absolute mass, rounding 1e-10)
    assert np.all(_tails(c, reward.ravel()) >= _tails(_p(mass), reward.ravel()) - TOL)


# ----------------------------------------------------------------------------------------
# against the exact rational oracle (L1 enumerated in Fractions)
# ----------------------------------------------------------------------------------------

small_laws = st.integers(1, 4).flatmap(lambda n: st.tuples(
    st.lists(st.integers(0, 9), min_size=n, max_size=n).filter(any),
    st.lists(st.integers(1, 12), min_size=n, max_size=n)))


@FEW
@given(small_laws, st.integers(1, 6))
def test_engine_matches_exact_rationals(law, K):
    mass_i, s_i = law
    H_exact = curation_factor_exact(mass_i, s_i, K)
    mass = np.array(mass_i, float)
    reward = np.log(np.array(s_i, float))
    H = curation_factor(mass, reward, K)
    # the reward log(n) is rounded (2^-53 relative on s); engine accuracy ~1e-13
    assert np.allclose(H, [float(h) for h in H_exact], rtol=1e-12, atol=0)
    # and the exact values satisfy P1 and P2 exactly (with a rational E_p[s])
    p = [Fraction(m, sum(mass_i)) for m in mass_i]
    assert sum(pi * h for pi, h in zip(p, H_exact)) == 1
    Es = sum(pi * si for pi, si in zip(p, s_i))
    for si, h in zip(s_i, H_exact):
        assert Fraction(K * si) / (si + (K - 1) * Es) <= h <= K


@FEW
@given(small_laws, st.integers(1, 5))
def test_curate_matches_exact_rationals(law, K):
    mass_i, s_i = law
    exact = curate_exact(mass_i, s_i, K)
    c = curate(np.array(mass_i, float), np.log(np.array(s_i, float)), K)
    assert np.allclose(c, [float(x) for x in exact], rtol=1e-12, atol=1e-300)


# ----------------------------------------------------------------------------------------
# numba kernels vs their numpy twins (same formulas, different summation order: 1e-13)
# ----------------------------------------------------------------------------------------


def _law_nodes(mass, reward):
    on = mass > 0
    log_p = np.log(mass[on] / mass[on].sum())
    log_s = reward[on] - reward[on].max()
    return log_s, log_p


@SETTINGS
@given(discrete_laws(allow_zero=False, max_spread=300.0), Ks(allow_inf=False))
def test_log_laplace_matches_numpy_twin(law, K):
    log_s, log_p = _law_nodes(*law)
    Es = laplace.log_sum_exp(log_p + log_s)
    grid = laplace.v_grid(float(log_s.min()), Es, max(K, 1.0 + 1e-9))
    a = laplace.log_laplace(grid.v, log_s, log_p)
    b = laplace.log_laplace_numpy(grid.v, log_s, log_p)
    assert np.all(np.isfinite(a)) and np.all(a <= 0)
    assert np.allclose(a, b, rtol=1e-13, atol=1e-13)


@SETTINGS
@given(discrete_laws(allow_zero=False, max_spread=300.0), Ks(allow_inf=False),
       st.lists(st.floats(-50.0, 5.0), min_size=1, max_size=5))
def test_log_curation_integral_matches_numpy_twin(law, K, extra):
    log_s, log_p = _law_nodes(*law)
    K = max(K, 1.0 + 1e-9)
    log_eval = np.concatenate([log_s, extra])
    Es = laplace.log_sum_exp(log_p + log_s)
    grid = laplace.v_grid(float(log_eval.min()), Es, K, log_s_max=max(0.0, max(extra)))
    log_m = laplace.log_laplace_numpy(grid.v, log_s, log_p)
    a = laplace.log_curation_integral(grid.v, grid.h, log_m, K - 1.0, log_eval)
    b = laplace.log_curation_integral_numpy(grid.v, grid.h, log_m, K - 1.0, log_eval)
    assert np.all(np.isfinite(a))
    assert np.allclose(a, b, rtol=1e-13, atol=1e-13)


def _wide_law(seed, n=600, span=40.0):
    """A law whose atoms spread over ``span`` nats, with masses over ~60 nats: windows of
    many atoms, both branches of ``log M`` (``1 - M`` and the log-sum-exp)."""
    rng = np.random.default_rng(seed)
    log_s = -np.sort(rng.random(n)) * span
    log_s[0] = 0.0
    log_p = rng.normal(0.0, 20.0, n)
    return log_s, log_p - laplace.log_sum_exp(log_p)


@pytest.mark.parametrize("seed", range(3))
def test_laplace_kernels_serial_parallel_and_buffer_chunks_agree(seed, monkeypatch):
    """The staged L2 kernels (numba passes around numpy's vectorized ``exp``/``expm1`` over a
    buffer): serial and parallel twins give equal bits, a buffer cut into many chunks gives
    equal bits, and both match the numpy twins (1e-13, as above)."""
    log_s, log_p = _wide_law(seed)
    K = 4.0
    Es = laplace.log_sum_exp(log_p + log_s)
    log_eval = np.concatenate([log_s, [1.5, -45.0]])
    grid = laplace.v_grid(float(log_eval.min()), Es, K, log_s_max=1.5)
    kernels = (laplace._laplace_fill, laplace._laplace_sum, laplace._laplace_finish,
               laplace._laplace_log_fill, laplace._laplace_log_sum,
               laplace._integral_terms, laplace._integral_sums)
    runs = []
    for mode in ("serial", "parallel", "chunks"):
        with monkeypatch.context() as mp:
            for k in kernels:
                twin = k.parallel if mode == "parallel" else k.serial
                mp.setattr(k, "at", lambda work, twin=twin: twin)
            if mode == "chunks":
                mp.setattr(laplace, "_BUFFER", 97)   # ~4 points, ~1 node per chunk
            log_m = laplace.log_laplace(grid.v, log_s, log_p)
            h1, h2 = laplace.log_curation_integral(grid.v, grid.h, log_m, K - 1.0, log_eval)
            runs.append((log_m, h1, h2))
    for other in runs[1:]:
        for a, b in zip(runs[0], other):
            assert np.array_equal(a, b)
    log_m, h1, h2 = runs[0]
    ref_m = laplace.log_laplace_numpy(grid.v, log_s, log_p)
    assert np.allclose(log_m, ref_m, rtol=1e-13, atol=1e-13)
    assert (log_m < math.log(0.5)).any() and (log_m > math.log(0.5)).any()  # both branches
    r1, r2 = laplace.log_curation_integral_numpy(grid.v, grid.h, ref_m, K - 1.0, log_eval)
    assert np.allclose(h1, r1, rtol=1e-13, atol=1e-13)
    assert np.allclose(h2, r2, rtol=1e-13, atol=1e-13)


@FEW
@given(discrete_laws(max_spread=300.0), st.lists(st.floats(-50.0, 5.0), max_size=5))
def test_law_summary_matches_numpy_twin(law, extra):
    """The one-pass summary of a law that L2 starts from (total, E[s], support, range of the
    points): numba and numpy twins to 1e-13."""
    mass, reward = law
    with np.errstate(divide="ignore"):
        log_p = np.log(mass) + 3.0
    log_s = reward - reward[mass > 0].max()
    log_eval = np.concatenate([log_s, extra])
    a = laplace.law_summary(log_s, log_p, log_eval)
    b = laplace.law_summary_numpy(log_s, log_p, log_eval)
    assert a[2] == b[2] and a[3] == b[3] and a[4] == b[4]
    assert np.allclose(a[:2], b[:2], rtol=1e-13, atol=1e-13)


def test_law_summary_sums_a_million_atoms_to_the_last_bits():
    """The total of a million atoms (the direct mode on a 1024^2 grid): compensated, within
    2 ulps of the exact sum (math.fsum), where plain summation in order loses 2.7e-15."""
    rng = np.random.default_rng(11)
    log_p = rng.normal(-14.0, 2.0, 1_000_000)
    log_s = -rng.random(1_000_000) * 10.0
    log_z, log_mean_s, *_ = laplace.law_summary(log_s, log_p, log_s[:3])
    p = np.exp(log_p - log_p.max())
    exact = log_p.max() + math.log(math.fsum(p))
    exact_s = math.log(math.fsum(p * np.exp(log_s))) - math.log(math.fsum(p))
    assert abs(log_z - exact) <= 4e-16 * abs(exact)
    assert abs(log_mean_s - exact_s) <= 4e-16 * abs(exact_s) + 2e-16


def test_ascending_order_sorts_runs_and_anything_else():
    """log M sorts its atoms: ascending runs one below the other (the engine's node order)
    are put in reverse without a sort; any other order falls back to argsort."""
    rng = np.random.default_rng(5)
    runs = [np.sort(rng.normal(size=k)) + 10.0 * (5 - i) for i, k in enumerate([3, 1, 7, 2])]
    cases = [np.concatenate(runs), np.array([0.0]), np.array([2.0, 2.0, 1.0, 1.0]),
             rng.normal(size=40), np.round(rng.normal(size=40), 1)]
    for x in cases:
        order = laplace._ascending_order(x)
        assert np.array_equal(np.sort(order), np.arange(x.size))
        assert np.all(np.diff(x[order]) >= 0)
    assert np.array_equal(laplace._ascending_order(cases[0]),
                          np.concatenate([np.arange(11, 13), np.arange(4, 11), [3],
                                          np.arange(0, 3)]))


# ----------------------------------------------------------------------------------------
# the strategies themselves produce what they advertise
# ----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_strategies_cover_the_edge_cases():
    from hypothesis import find
    from numerics.validation import as_mass
    assert find(masses(), lambda m: (m == 0).any() and (m > 0).any()).sum() > 0
    assert find(masses(), lambda m: (m > 0).all() and m.min() < 1e-299).min() <= 1e-299
    assert find(rewards(), lambda r: r.max() - r.min() > 2000).size >= 2
    assert find(rewards(), lambda r: r.size > 2 and len(set(r.tolist())) < r.size).size > 2
    assert find(rewards(), lambda r: r.min() > 1000).min() > 1000
    assert find(Ks(), math.isinf) == math.inf
    assert find(Ks(), lambda K: K >= 1e5) >= 1e5
    assert find(Ks(integer=False), lambda K: True) % 1 != 0
    assert find(lams(), lambda x: x == 0) == 0.0
    assert find(lams(), math.isinf) == math.inf
    g = find(grids(ndim=2), lambda g: min(g[0].shape) > 1)
    assert g[0].ndim == 2 and g[0].shape == g[1].shape
    inst = find(instances(data="independent"), lambda i: i.data is not None)
    assert inst.data.shape == inst.mass.shape
    as_mass(inst.data)  # valid input for the engine


def test_trapezoid_that_never_agrees_warns_instead_of_staying_silent(monkeypatch):
    """L2's adaptive step: where the sums with steps h and 2h still disagree after
    MAX_HALVINGS halvings, the value comes with an AccuracyWarning stating the disagreement
    (forced here with a check no sum can meet); where they agree nothing is said."""
    import warnings

    from numerics import AccuracyWarning
    log_s = np.log(np.array([0.2, 0.5, 1.0]))
    log_p = np.log(np.array([0.3, 0.3, 0.4]))
    with warnings.catch_warnings():
        warnings.simplefilter("error", AccuracyWarning)
        quiet = laplace.log_curation_factor_nodes(log_s, log_p, 3.0, log_s)
    monkeypatch.setattr(laplace, "TRAPEZOID_CHECK", -1.0)
    with pytest.warns(AccuracyWarning, match="after 5 halvings"):
        loud = laplace.log_curation_factor_nodes(log_s, log_p, 3.0, log_s)
    np.testing.assert_allclose(loud, quiet, rtol=1e-13)  # the finest sum is still returned
