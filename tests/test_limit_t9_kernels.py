"""The kernels of the T9 system on grids (numerics.limits.t9_kernels): each numba kernel against
its pure numpy twin (the same bits), the matrices against mpmath at 40 digits, the top mass
against a direct sum of the masses, and the T9 map in one pass (``T9System.grid_map``) against
the residuals of ``T9System.state``.

Tolerances: an entry ``e^{E}`` of a matrix carries the rounding of its exponent ``E`` (a sum of
terms up to ``|u s|``): ``4 eps (1 + |E| + |u s|)`` relative; the gap kernel the same, its
``expm1`` form relative to the entry itself at every depth (down to ``1e-18``, where the two
terms ``e^{-u}`` and ``s e^{-us}`` agree to 18 digits)."""

import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, strategies as st

from numerics.limits import finite_k, t9_kernels as tk

from _profiles import examples
from _references import benchmark_grid

SETTINGS = examples(60)
EPS = np.finfo(float).eps


def _system(K=3.0, lam=0.4, n=96):
    from numerics.engine import CurationEngine
    mass, reward, _ = benchmark_grid(n)
    eng = CurationEngine(reward.ravel(), (mass / mass.sum()).ravel(), None, K, lam)
    law = eng.law()
    order = np.argsort(-law.log_s, kind="stable")
    return finite_k.T9System(-law.log_s[order], np.exp(law.log_p[order]), K, lam)


def _random_system(seed, deep=False):
    """Atoms at depths from 1e-18 (the gap's cancellation) to 30 (or 700: exponents far below
    the underflow of ``exp``), masses over 30 decades."""
    rng = np.random.default_rng(seed)
    top = 700.0 if deep else 30.0
    depth = np.concatenate([[0.0], np.sort(np.concatenate([
        10.0 ** rng.uniform(-18, -6, 5), rng.uniform(1e-3, top, 40)]))])
    d = 10.0 ** rng.uniform(-30, 0, depth.size)
    return finite_k.T9System(depth, d, 3.0, 0.4)


def _inputs(system):
    a = system._log_w + system.v + math.log(system.K)
    return a, system.log_s, system.s, system.u


@pytest.mark.parametrize("make", [lambda: _system(), lambda: _random_system(1),
                                  lambda: _random_system(2, deep=True)])
def test_matrices_equal_their_numpy_twins(make):
    system = make()
    a, log_s, s, u = _inputs(system)
    kern = tk.l2_kernel(a, log_s, s, u)
    assert np.array_equal(kern, tk.l2_kernel_numpy(a, log_s, s, u))
    sup = system.d > 0
    W, ref = tk.scaled_data(np.log(system.d[sup]), s[sup], u)
    W2, ref2 = tk.scaled_data_numpy(np.log(system.d[sup]), s[sup], u)
    assert np.array_equal(W, W2) and np.array_equal(ref, ref2)
    assert np.all(W.max(axis=1) == 1.0)
    G = tk.gap_kernel(-log_s, u, a, kern)
    assert np.array_equal(G, tk.gap_kernel_numpy(-log_s, u, a, kern))


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.booleans())
def test_top_mass_and_grid_masses_equal_their_numpy_twins(seed, deep):
    system = _random_system(seed, deep)
    rng = np.random.default_rng(seed)
    y = system.start() + rng.normal(0, 0.1, system.v.size)
    gap = system.gap(y)[system._rest_at]
    d = system._d_rest
    for lam in (0.4, 5.0):
        for x in (math.log(system.top), -40.0, -1e-3):
            c = tk.top_mass(gap, lam, d, system.top, x)
            c2 = tk.top_mass_numpy(gap, lam, d, system.top, x)
            assert c == c2 or (math.isnan(c) and math.isnan(c2))
            g, g2 = np.empty(d.size), np.empty(d.size)
            got = tk.grid_masses(gap, lam, d, system.top, x, g)
            got2 = tk.grid_masses_numpy(gap, lam, d, system.top, x, g2)
            assert got == got2 or (math.isnan(got[0]) and math.isnan(got2[0]))
            if not math.isnan(got[0]):
                assert np.array_equal(g, g2)


def test_kernels_against_mpmath():
    """Every entry of the three matrices, on a random system with atoms from depth 1e-18 to
    700, against 40-digit mpmath from the same floats."""
    system = _random_system(5, deep=True)
    a, log_s, s, u = _inputs(system)
    kern = tk.l2_kernel(a, log_s, s, u)
    G = tk.gap_kernel(-log_s, u, a, kern)
    rng = np.random.default_rng(0)
    worst_k = worst_g = 0.0
    with mp.workdps(40):
        for k in range(s.size):
            for i in rng.choice(u.size, 40, replace=False):
                us = mp.mpf(u[i]) * mp.exp(-mp.mpf(-log_s[k]))
                ea = mp.exp(mp.mpf(a[i]))
                ref_k = ea * mp.exp(-mp.mpf(-log_s[k])) * mp.exp(-us)
                ref_g = ea * (mp.exp(-mp.mpf(u[i])) - mp.exp(-mp.mpf(-log_s[k])) * mp.exp(-us))
                size = 4 * EPS * (1 + abs(a[i]) + abs(log_s[k]) + float(us))
                for got, ref, name in ((kern[k, i], ref_k, "k"), (G[k, i], ref_g, "g")):
                    if abs(ref) < 1e-300:      # below the normal range: 0 or subnormal
                        assert abs(got) <= 1e-300
                        continue
                    err = float(abs(mp.mpf(got) - ref) / abs(ref)) / size
                    if name == "k":
                        worst_k = max(worst_k, err)
                    else:
                        worst_g = max(worst_g, err)
    assert worst_k <= 1.0 and worst_g <= 1.0


def test_gap_kernel_fails_without_its_expm1_form():
    """The checker can fail: the gap kernel with the far form everywhere (``e^{-u} - s
    e^{-us}``, no ``expm1``) loses every digit at the small depths."""
    system = _random_system(5, deep=True)
    a, log_s, s, u = _inputs(system)
    kern = tk.l2_kernel(a, log_s, s, u)
    naive = np.exp(a - u)[None, :] - kern
    good = tk.gap_kernel(-log_s, u, a, kern)
    k = 1                                       # the shallowest atom below the top, ~1e-18
    assert -log_s[k] < 1e-6
    with mp.workdps(40):
        i = int(np.argmin(np.abs(u - 1.0)))
        ref = mp.exp(mp.mpf(a[i])) * (mp.exp(-mp.mpf(u[i])) - mp.exp(mp.mpf(log_s[k])) * mp.exp(
            -mp.mpf(u[i]) * mp.exp(mp.mpf(log_s[k]))))
        assert float(abs(mp.mpf(good[k, i]) - ref) / abs(ref)) <= 1e-14
        assert float(abs(mp.mpf(naive[k, i]) - ref) / abs(ref)) > 1e-3


@pytest.mark.parametrize("K,lam", [(3.0, 0.4), (4.0, 0.5), (2.0, 50.0)])
def test_grid_map_matches_the_state_residuals(K, lam):
    """``grid_map`` (one product for ``H`` and the gap, the masses in one kernel) against
    ``gap`` + ``normalized_top_mass`` + ``state``: the same top mass to ``4 (1 + |log c|)``
    ulps (``grid_map`` gives ``log c``), residuals to ``8 (1 + |y_j|)`` ulps (``F_j = log M_j -
    y_j``: the rounding of ``log M_j``; the sums are taken in another order)."""
    system = _system(K, lam)
    y, c0 = system.iterate(lam, 2)
    for yy in (y, system.start()):
        z, R = system.grid_map(yy, lam, c0)
        gap = system.gap(yy)
        c = system.normalized_top_mass(yy, lam, c0, gap)
        st_ = system.state(np.append(yy, math.log(c)), "grid", lam, gap)
        assert abs(math.exp(z[-1]) / c - 1.0) <= 4 * (1 + abs(z[-1])) * EPS
        assert np.all(np.abs(R - st_.R) <= 8 * EPS * (1 + np.abs(np.append(yy, [0.0, 0.0]))))
        assert np.array_equal(z[:-1], yy)


def test_grid_map_declines_a_law_without_a_top_atom():
    """A continuous law (``d_top = 0``) has no T9 map on a grid: ``None``, not a traceback."""
    rng = np.random.default_rng(4)
    depth = np.concatenate([[0.0], np.sort(rng.uniform(0.01, 6.0, 30))])
    d = rng.uniform(0.1, 1.0, depth.size)
    d[0] = 0.0
    system = finite_k.T9System(depth, d, 3.0, 0.4)
    assert system.grid_map(system.start(c=0.0), 0.4, 0.1) is None
    grid = _random_system(4)
    assert grid.grid_map(grid.start(), 0.0, 0.1) is None         # lam = 0: no curation


def test_gap_at_given_points_is_the_gap_at_the_atoms_there():
    """``gap(y, log_s)`` forms the same kernels at the points it is given: at the atoms'
    own ``log s`` it is ``gap(y)`` bit for bit, and between two atoms it lies between their
    values (``H(1) - H(s)`` decreases in ``s``; the atoms go down from the top, ``s``
    decreasing)."""
    system = _system()
    y, _ = system.iterate(0.4, 2)
    assert np.array_equal(system.gap(y, system.log_s), system.gap(y))
    mid = 0.5 * (system.log_s[3:-1] + system.log_s[4:])
    g, g_mid = system.gap(y), system.gap(y, mid)
    assert np.all((g[3:-1] <= g_mid) & (g_mid <= g[4:]))
