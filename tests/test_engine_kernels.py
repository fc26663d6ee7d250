"""The numba kernels of the reward law (panels, Gauss rules, Chebyshev interpolation) against
their pure numpy twins, their serial and parallel twins against each other, and the exactness
properties they promise (Gauss rules integrate polynomials of degree 2m - 1; the interpolant
reproduces polynomials of degree n - 1).

Tolerances: the numba kernels and the numpy twins evaluate the same formulas in another
summation order: 1e-13 relative (1e-10 for Stieltjes recurrence coefficients, which lose
digits with the degree).  Serial and parallel twins sum in the same order: equal bits.
"""

import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from numerics import chebyshev as cheb, gauss_rules as gr, panels
from numerics.threads import Kernel

from _profiles import examples

SETTINGS = examples(80)


def _layout_args(reward, m0, m1):
    top, second, bottom = panels.reward_extremes(reward, m0, m1)
    lay = panels.make_layout(top, second)
    return lay, lay.raw_panels(top - bottom)


def _summaries(reward, m0, m1, chunks):
    """The cell summary by the serial and the parallel kernel and the numpy twin."""
    return [panels.cell_summary(reward, m0, m1, chunks),
            _as_summary(panels._cell_summary.parallel(reward, m0, np.empty(0) if m1 is m0
                                                      else m1, chunks)),
            panels.cell_summary_numpy(reward, m0, m1)]


def _as_summary(row):
    return panels.CellSummary(row[0], row[1], (row[4] + row[5], row[6] + row[7]),
                              (row[2], row[3]), row[8])


def test_cell_summary_on_an_empty_support_and_a_lone_cell():
    reward = np.array([3.0, -1.0, 2.0])
    none = np.zeros(3)
    one = np.array([0.0, 0.0, 1e-300])
    for got in _summaries(reward, none, none, 2):
        assert (got.top, got.bottom) == (-np.inf, np.inf) and not got.values_ok()
    for got in _summaries(reward, none, one, 2):
        assert (got.top, got.bottom) == (2.0, 2.0) and got.totals == (0.0, 1e-300)
        assert not got.values_ok()          # the first mass array has zero total
    for got in _summaries(reward, one, one, 2):
        assert got.values_ok() and got.totals == (1e-300, 1e-300) and got.least == (0.0, 0.0)


@pytest.mark.parametrize("where", ["m0", "m1", "reward"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, -1e-300])
def test_cell_summary_values_ok_fails_on_any_bad_value(where, bad):
    """One NaN, infinity or negative mass anywhere (a cell outside the support included)
    makes ``values_ok`` false, whichever kernel twin (a negative reward is fine)."""
    rng = np.random.default_rng(1)
    n = 20_000
    arrays = {"reward": rng.normal(0, 2, n), "m0": rng.random(n) * (rng.random(n) < 0.5),
              "m1": rng.random(n) * (rng.random(n) < 0.5)}
    for got in _summaries(arrays["reward"], arrays["m0"], arrays["m1"], 3):
        assert got.values_ok()
    cell = 13_337 if where != "m0" else int(np.flatnonzero(arrays["m0"] == 0)[7])
    arrays[where][cell] = bad
    for got in _summaries(arrays["reward"], arrays["m0"], arrays["m1"], 3):
        assert got.values_ok() == (where == "reward" and bad == -1e-300)


def test_cell_summary_totals_against_exact_sums():
    """The totals of 2-3 million masses against math.fsum (exact rounding): within 32 eps
    relative on these inputs (documented worst case 128 eps; observed 11, 3 and 0 eps).
    Shown failing with the blocks' sums added without compensation (``_add`` a plain sum:
    39, 51 and 6 eps)."""
    eps = np.finfo(float).eps
    cases = [np.full(2**21, 0.1), np.full(3 * 2**20, 1.0 / 3.0),
             np.random.default_rng(2).random(2**21)]
    for m in cases:
        exact = math.fsum(m)
        got = panels.cell_summary(np.zeros(m.size), m, m, 1).totals[0]
        assert abs(got - exact) <= 32 * eps * exact


@pytest.mark.parametrize("first", [0.3, 1e-3, 0.5 * 2.0**-7, 2.0**-60, 0.7, None])
def test_layout_with_every_level_puts_cells_in_the_same_panels(first):
    """``make_layout(r_max)`` (every graded level, :data:`numerics.panels.MAX_LEVELS`) puts
    each cell in the same panel, at the same position, as the layout of its first positive
    depth, the raw ids shifted by the extra levels; except a first depth of exactly ``D
    2^{-J}`` (here ``0.5 * 2^-7``), which moves from a deep panel ``(0, D 2^{-J})`` to the
    graded level ``[D 2^{-J-1}, D 2^{-J})`` of the same upper edge."""
    rng = np.random.default_rng(3)
    depth = np.concatenate([[0.0, 0.0], np.round(rng.exponential(1.0, 4000), 4),
                            ([] if first is None else [first]) + [3.0]])
    depth = depth[(depth == 0) | (depth >= (first or 0.0))]
    reward = 1.5 - depth
    top, second, bottom = panels.reward_extremes(reward, np.ones_like(depth),
                                                        np.ones_like(depth))
    fitted = panels.make_layout(top, second)
    every = panels.make_layout(top)
    assert every.levels == panels.MAX_LEVELS >= fitted.levels
    d = top - reward
    raw_a, x_a = panels.locate_numpy(d, fitted.graded_depth, fitted.levels, fitted.width)
    raw_b, x_b = panels.locate_numpy(d, every.graded_depth, every.levels, every.width)
    lo_a, hi_a, n_a = fitted.geometry(raw_a)
    lo_b, hi_b, n_b = every.geometry(raw_b)
    edge = (fitted.levels > 0) & (d == math.ldexp(fitted.graded_depth, -fitted.levels))
    assert edge.any() == (first == 0.5 * 2.0**-7)
    same = ~edge
    assert np.array_equal(raw_b[same & (raw_a > 0)] - raw_a[same & (raw_a > 0)],
                          np.full(int((same & (raw_a > 0)).sum()),
                                  every.levels - fitted.levels))
    assert np.array_equal(raw_b[raw_a == 0], raw_a[raw_a == 0])
    for u, v in ((lo_a, lo_b), (hi_a, hi_b), (n_a, n_b), (x_a, x_b)):
        assert np.array_equal(u[same], v[same])
    assert np.array_equal(hi_a[edge], hi_b[edge]) and np.all(lo_a[edge] == 0.0)
    assert np.all(lo_b[edge] == 0.5 * hi_b[edge])


@pytest.mark.parametrize("seed", range(3))
def test_extremes_count_runs_and_gather_match_numpy_twins(seed):
    """cell_summary, count_runs, list_runs and stieltjes_runs (with and without a tilt)
    against their numpy twins; serial and parallel twins give the same bits; the runs cover
    every support cell once, each in its own panel, in increasing order."""
    rng = np.random.default_rng(seed)
    n = 70_000
    reward = np.round(rng.normal(0, 2, n), 3)  # ties and panel edges hit exactly
    reward[:5] = reward.max() - np.array([0.0, 1e-4, 3e-4, 0.25, 0.5])  # graded panels used
    reward[1000:3000] = np.sort(reward[1000:3000])   # long runs of one panel, too
    m0 = rng.random(n) * (rng.random(n) < 0.8)
    m1 = rng.random(n) * (rng.random(n) < 0.3)
    chunks = 3
    c = panels.reward_extremes(reward, m0, m1)
    summaries = _summaries(reward, m0, m1, chunks)
    assert summaries[0] == summaries[1]
    for got in summaries:
        assert (got.top, got.bottom) == (c[0], c[2])
        assert got.least == (m0.min(), m1.min())
        assert np.allclose(got.totals, (math.fsum(m0), math.fsum(m1)), rtol=1e-15, atol=0)
        assert got.reward_sum == pytest.approx(math.fsum(reward), rel=1e-12)
    lay, n_raw = _layout_args(reward, m0, m1)
    args = (reward, m0, m1, lay.r_max, lay.graded_depth, lay.levels, lay.width, n_raw, chunks)
    outside = 255
    got = []
    for f in (panels.count_runs.serial, panels.count_runs.parallel, panels.count_runs_numpy):
        ids = np.zeros(n, dtype=np.uint8)
        got.append((ids, *f(*args, ids, outside)))
    for ids, cells, runs in got[1:]:
        assert np.array_equal(ids, got[0][0])
        assert np.array_equal(cells, got[0][1]) and np.array_equal(runs, got[0][2])
    ids, cells, runs = got[0]
    sup = (m0 > 0) | (m1 > 0)
    assert cells.sum() == int(sup.sum()) and np.all(ids[~sup] == outside)
    raw_ref, _ = panels.locate_numpy(lay.r_max - reward[sup], lay.graded_depth, lay.levels,
                                     lay.width)
    assert np.array_equal(ids[sup], raw_ref)
    lists = [f(ids, outside, runs) for f in (panels.list_runs.serial, panels.list_runs.parallel,
                                            panels.list_runs_numpy)]
    for other in lists[1:]:
        for u, v in zip(lists[0], other):
            assert np.array_equal(u, v)
    rptr, start, length = lists[0]
    covered = np.concatenate([np.arange(s, s + k) for s, k in zip(start, length)])
    assert np.array_equal(np.sort(covered), np.flatnonzero(sup))      # every cell once
    per_raw = np.repeat(np.arange(n_raw), np.diff(rptr))
    assert np.all(ids[start] == per_raw)                             # runs in their panel
    for q in range(n_raw):      # each panel's runs in increasing cell order
        assert np.all(np.diff(start[rptr[q]:rptr[q + 1]]) > 0)
    assert length.max() >= 10                                         # the sorted block
    assert start.size == runs.sum()


@pytest.mark.parametrize("seed,scale", [(0, 1.0), (1, 0.37), (0, 1e-306), (1, 1e290)])
def test_stieltjes_runs_matches_numpy_twin_and_the_sorted_copy(seed, scale):
    """The Gauss recurrences of each panel's cells gathered run by run (untilted and tilted)
    against the numpy twin (1e-10, as :func:`gr.stieltjes`'s twin), serial against parallel
    (same bits), and against :func:`gr.stieltjes` on a panel-sorted copy of the cells (the
    same atoms in the same order, another order of the sums: 1e-12).  Continuous rewards:
    every panel has more distinct atoms than steps (with fewer, the step at which the
    procedure breaks down depends on the last bits of a sum, and two summation orders may
    stop one step apart).  Masses scaled by 1e-306 and 1e290 take the route that scales them
    by their largest first (the unscaled roots serve between 2^-400 and 2^400)."""
    rng = np.random.default_rng(seed)
    n = 60_000
    reward = rng.normal(0, 2, n)
    reward[:3] = reward.max() + np.array([0.0, -3e-4, -0.3])
    reward[500:2500] = np.sort(reward[500:2500])
    mass = rng.random(n) * (rng.random(n) < 0.8)
    mass[:3] = 1.0
    mass *= scale
    lay, n_raw = _layout_args(reward, mass, mass)
    ids = np.zeros(n, dtype=np.uint8)
    cells, runs = panels.count_runs_numpy(reward, mass, mass, lay.r_max, lay.graded_depth,
                                          lay.levels, lay.width, n_raw, 3, ids, 255)
    rptr, start, length = panels.list_runs_numpy(ids, 255, runs)
    used = np.flatnonzero(cells.sum(axis=0))
    lo, hi, nodes = lay.geometry(used)
    cptr, _ = cheb.chebyshev_points(nodes)
    coeffs = rng.normal(0, 0.3, int(cptr[-1]))
    tmax = np.full(used.size, 1.5)
    for tilt in ((np.zeros(0), np.zeros(0)), (coeffs, tmax)):
        st_args = (rptr[used], rptr[used + 1], start, length, used, reward, mass, lay.r_max,
                   lay.graded_depth, lay.levels, lay.width, nodes, int(nodes.max()), cptr,
                   *tilt)
        a1, b1, n1, s1 = gr.stieltjes_runs.serial(*st_args)
        a3, b3, n3, s3 = gr.stieltjes_runs.parallel(*st_args)
        a2, b2, n2, s2 = gr.stieltjes_runs_numpy(*st_args)
        assert np.array_equal(a1, a3) and np.array_equal(b1, b3)
        assert np.array_equal(n1, n3) and np.array_equal(n1, n2)
        assert np.array_equal(n1, np.minimum(nodes, cells.sum(axis=0)[used]))
        ok = np.arange(a1.shape[1])[None, :] < n1[:, None]
        assert np.allclose(a1[ok], a2[ok], rtol=1e-10, atol=1e-12)
        assert np.allclose(b1[ok], b2[ok], rtol=1e-10, atol=1e-12)
        assert np.allclose(s1, s2, rtol=1e-15) and np.array_equal(s1, s3)
        ptr, xs, ws = gr.gather_runs_numpy(*st_args[:11])
        if tilt[1].size:
            cheb.tilt_weights_numpy(ptr, xs, ws, cptr, coeffs, tmax)
        a4, b4, n4, _ = gr.stieltjes.serial(ptr, xs, ws, nodes, int(nodes.max()))
        assert np.array_equal(n4, n1)
        assert np.allclose(a4[ok], a1[ok], rtol=1e-12, atol=1e-14)
        assert np.allclose(b4[ok], b1[ok], rtol=1e-12, atol=1e-14)


def test_locate_puts_each_depth_in_its_panel():
    """The panel of a depth contains it: depth = centre - half_width x, x in [-1, 1]."""
    lay = panels.make_layout(0.0, -1e-6)
    d = np.concatenate([[0.0, 1e-6, 2e-6, 0.1, 0.25, 0.4999, 0.5, 0.5001, 3.3],
                        np.geomspace(1e-6, 10, 500)])
    raw, x = panels.locate_numpy(d, lay.graded_depth, lay.levels, lay.width)
    lo, hi, _ = lay.geometry(raw)
    back = 0.5 * (lo + hi) - 0.5 * (hi - lo) * x
    assert np.allclose(back, d, rtol=1e-14, atol=1e-20)
    assert np.all((d >= lo - 1e-18) & (d <= hi + 1e-18))
    assert raw[0] == 0 and np.all(raw[1:] > 0)
    assert np.all(np.diff(raw[9:]) >= 0)          # raw ids increase with depth


@st.composite
def _panel_atoms(draw):
    n_panels = draw(st.integers(1, 5))
    counts = draw(st.lists(st.integers(1, 30), min_size=n_panels, max_size=n_panels))
    ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    n = int(ptr[-1])
    # atoms at multiples of 1/16 and weights within a factor 8: near-coincident atoms make the
    # last recurrence coefficients ill-conditioned, where two summation orders differ
    xs = np.array(draw(st.lists(st.integers(-16, 16), min_size=n, max_size=n))) / 16.0
    ws = np.array(draw(st.lists(st.integers(1, 8), min_size=n, max_size=n))) / 8.0
    m = np.array(draw(st.lists(st.integers(1, 10), min_size=n_panels, max_size=n_panels)))
    return ptr, xs, ws, m.astype(np.int64)


@SETTINGS
@given(_panel_atoms())
def test_stieltjes_matches_numpy_twin(case):
    ptr, xs, ws, m = case
    m_max = int(m.max())
    a1, b1, n1, s1 = gr.stieltjes.serial(ptr, xs, ws, m, m_max)
    a3, b3, n3, s3 = gr.stieltjes.parallel(ptr, xs, ws, m, m_max)
    a2, b2, n2, s2 = gr.stieltjes_numpy(ptr, xs, ws, m, m_max)
    assert np.array_equal(n1, n2) and np.array_equal(n1, n3)
    assert np.array_equal(a1, a3) and np.array_equal(b1, b3)
    used = np.arange(m_max)[None, :] < n1[:, None]
    assert np.allclose(a1[used], a2[used], rtol=1e-10, atol=1e-12)
    assert np.allclose(b1[used], b2[used], rtol=1e-10, atol=1e-12)
    assert np.allclose(s1, s2, rtol=1e-15)


def test_gauss_rules_integrate_polynomials_exactly():
    """Each panel's rule reproduces the moments of its atoms up to degree 2m - 1 (against the
    atoms summed directly), and a panel with 3 distinct atoms gets 3 exact nodes."""
    rng = np.random.default_rng(1)
    counts = [700, 600, 3, 900]
    ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    xs = rng.uniform(-1, 1, ptr[-1])
    xs[ptr[2]:ptr[3]] = [-0.3, 0.2, 0.9]
    ws = rng.random(ptr[-1]) * np.exp(rng.uniform(-30, 0, ptr[-1]))
    m = np.array([6, 10, 16, 16], dtype=np.int64)
    alpha, beta, n_used, log_scale = gr.stieltjes.serial(ptr, xs, ws, m, 16)
    cnt, node_x, node_w = gr.gauss_from_recurrence(alpha, beta, n_used)
    assert list(cnt) == [6, 10, 3, 16]
    nptr = np.concatenate([[0], np.cumsum(cnt)])
    for q in range(4):
        a, b = ptr[q], ptr[q + 1]
        wq = node_w[nptr[q]:nptr[q + 1]] * beta[q, 0] * math.exp(log_scale[q])
        xq = node_x[nptr[q]:nptr[q + 1]]
        for k in range(2 * int(cnt[q])):
            exact = float(np.sum(ws[a:b] * xs[a:b] ** k))
            assert abs(float(np.dot(wq, xq**k)) - exact) <= 1e-12 * float(ws[a:b].sum())
    assert np.allclose(np.sort(node_x[nptr[2]:nptr[3]]), [-0.3, 0.2, 0.9], atol=1e-14)


@SETTINGS
@given(st.lists(st.sampled_from([1, 2, 5, 10, 16]), min_size=1, max_size=6), st.data())
def test_chebyshev_interpolant_reproduces_polynomials(counts, data):
    """Values of a polynomial of degree < n at the n points of a panel give back the
    polynomial: Clenshaw (numba) and the T_k recurrence (numpy) evaluate it at any x."""
    cptr, x = cheb.chebyshev_points(np.array(counts))
    assert np.all(np.diff(x[cptr[:-1][np.array(counts) > 1]]) <= 0) if len(x) > 1 else True
    coefs = [np.array(data.draw(st.lists(st.floats(-3, 3), min_size=n, max_size=n)))
             for n in counts]
    values = np.concatenate([np.polynomial.chebyshev.chebval(x[cptr[q]:cptr[q + 1]], c)
                             for q, c in enumerate(coefs)])
    got = cheb.to_coefficients(values, cptr)
    for q, c in enumerate(coefs):
        assert np.allclose(got[cptr[q]:cptr[q + 1]], c, atol=1e-13)
    panel = np.array(data.draw(st.lists(st.integers(0, len(counts) - 1), min_size=1,
                                        max_size=20)))
    at = np.array(data.draw(st.lists(st.floats(-1, 1), min_size=panel.size,
                                     max_size=panel.size)))
    exact = np.array([np.polynomial.chebyshev.chebval(a, coefs[q]) for q, a in zip(panel, at)])
    for f in (cheb.evaluate.serial, cheb.evaluate.parallel, cheb.evaluate_numpy):
        assert np.allclose(f(panel, at, cptr, got), exact, rtol=1e-13, atol=1e-12)


@SETTINGS
@given(st.lists(st.sampled_from([1, 2, 5, 16, 32]), min_size=1, max_size=5), st.data())
def test_cardinal_rows_interpolate_polynomials_at_any_point(counts, data):
    """The rows of :func:`cardinal_rows` applied to the values of a polynomial of degree < n at
    a panel's n points give the polynomial at the row's point (against numpy's chebval: 1e-13
    relative to the coefficients' size), at the points themselves exactly (a row of the
    identity), and :func:`interpolate_rows` (numba, serial and parallel) gives the bits of its
    numpy twin."""
    cptr, x = cheb.chebyshev_points(np.array(counts))
    coefs = [np.array(data.draw(st.lists(st.floats(-3, 3), min_size=n, max_size=n)))
             for n in counts]
    values = np.concatenate([np.polynomial.chebyshev.chebval(x[cptr[q]:cptr[q + 1]], c)
                             for q, c in enumerate(coefs)])
    per = [int(data.draw(st.integers(0, 7))) for _ in counts]   # points per panel (0: none)
    ptr = np.concatenate([[0], np.cumsum(per)]).astype(np.int64)
    at = np.array(data.draw(st.lists(st.floats(-1, 1), min_size=int(ptr[-1]),
                                     max_size=int(ptr[-1]))))
    panel = np.repeat(np.arange(len(counts)), per)
    hits = []
    if at.size:     # one point on a Chebyshev point of its panel
        k = int(data.draw(st.integers(0, at.size - 1)))
        j = int(data.draw(st.integers(0, counts[panel[k]] - 1)))
        at[k] = x[cptr[panel[k]] + j]
        hits = [(k, j)]
    rows = cheb.cardinal_rows(cptr, ptr, at)
    assert rows.shape == (max(counts), at.size)
    for k, j in hits:
        assert np.array_equal(rows[:counts[panel[k]], k], np.eye(counts[panel[k]])[j])
    exact = np.array([np.polynomial.chebyshev.chebval(a, coefs[q]) for q, a in zip(panel, at)])
    want = cheb.interpolate_rows_numpy(values, cptr, ptr, rows)
    scale = np.array([np.abs(coefs[q]).sum() for q in panel])
    assert np.all(np.abs(want - exact) <= 1e-13 * np.maximum(scale, 1.0))
    for f in (cheb.interpolate_rows.serial, cheb.interpolate_rows.parallel):
        assert np.array_equal(f(values, cptr, ptr, rows), want)


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(1, 40)), min_size=1, max_size=12),
       st.data())
def test_run_end_finds_the_first_other_id_as_one_by_one(runs, data):
    """:func:`panels.run_end` (blocks of COUNT_BLOCK ids, then one by one) against a plain
    scan, for runs of every length around the block size, from any cell, before any end."""
    ids = np.concatenate([np.full(length, v, dtype=np.uint8) for v, length in runs])
    j = int(data.draw(st.integers(0, ids.size - 1)))
    hi = int(data.draw(st.integers(j, ids.size)))
    raw = ids[j] if data.draw(st.booleans()) else np.uint8(9)
    want = j
    while want < hi and ids[want] == raw:
        want += 1
    assert panels.run_end(ids, j, hi, raw) == want


def test_run_end_stops_at_the_first_other_id_for_every_run_length():
    """Runs of 1..47 ids then another id then the first id again, from each of the first
    three cells, with and without an end just past the run."""
    for length in range(1, 48):
        ids = np.array([1] * length + [2] + [1] * 40, dtype=np.uint8)
        for j in range(min(3, length)):
            for hi in (ids.size, length + 1, length):
                assert panels.run_end(ids, j, hi, np.uint8(1)) == min(length, hi)


def test_tail_error_sees_a_pole_near_the_panel():
    """log(eps + d) interpolated on [a, 2a]: the tail estimate is small with the pole at
    distance >= a (as graded panels keep it) and large when it sits inside the panel."""
    cptr, x = cheb.chebyshev_points(np.array([16, 16]))
    a = 1e-3
    depth = np.concatenate([1.5 * a - 0.5 * a * x[:16], 1.5 * a - 0.5 * a * x[16:]])
    g = np.concatenate([np.log(1e-9 + depth[:16]), np.log(np.abs(depth[16:] - 1.2 * a) + 1e-9)])
    err = cheb.tail_error(cheb.to_coefficients(g, cptr), cptr)
    assert err[0] < 1e-11 and err[1] > 1e-3


@pytest.mark.parametrize("seed", range(3))
def test_tail_error_and_size_match_the_numpy_twin(seed):
    """The engine's per-step check forms only the last two coefficients of each panel (numba,
    one pass): the same estimate as all coefficients then :func:`tail_error` (the numpy
    twin; 1e-13 relative, another order of the products), 0 on panels of one or two points,
    not finite where a value is not finite (the check then fails there, as before); the
    largest finite |value| per panel exactly."""
    rng = np.random.default_rng(seed)
    counts = np.array([1, 2, 5, 10, 16, 32, 16, 10, 1])
    cptr, x = cheb.chebyshev_points(counts)
    g = np.exp(rng.normal(0, 3, x.size)) * np.cos(7 * x)
    g[cptr[6] + 3] = np.inf
    g[cptr[1]] = -np.inf
    want, want_big = cheb.tail_error_and_size_numpy(g, cptr)
    got, got_big = cheb.tail_error_and_size(g, cptr)
    ok = np.isfinite(want)
    assert np.array_equal(ok, np.isfinite(got)) and not ok[6]
    assert np.allclose(got[ok], want[ok], rtol=1e-13, atol=1e-300)
    assert np.all(got[counts <= 2] == 0) and np.all(got[ok][counts[ok] > 2] > 0)
    assert np.array_equal(got_big, want_big) and got_big[1] == abs(g[cptr[1] + 1])


def test_tilt_and_accumulate_match_numpy_twins():
    rng = np.random.default_rng(5)
    n = 50_000
    reward = -np.abs(rng.normal(0, 1.5, n))
    reward[:3] = [0.0, -1e-5, -0.2]
    mass = rng.random(n) * (rng.random(n) < 0.9)
    mass[:3] = 1.0
    top, second, bottom = panels.reward_extremes(reward, mass, mass)
    lay = panels.make_layout(top, second)
    n_raw = lay.raw_panels(top - bottom)
    counts, _ = panels.count_runs_numpy(reward, mass, mass, lay.r_max, lay.graded_depth,
                                        lay.levels, lay.width, n_raw, 2,
                                        np.zeros(n, dtype=np.uint16), 65535)
    raw_used = np.flatnonzero(counts.sum(axis=0))
    compact = np.full(n_raw, -1, dtype=np.int64)
    compact[raw_used] = np.arange(raw_used.size)
    lo, hi, nodes = lay.geometry(raw_used)
    cptr, x = cheb.chebyshev_points(nodes)
    rows = np.repeat(np.arange(raw_used.size), nodes)
    depth = 0.5 * (lo + hi)[rows] - 0.5 * (hi - lo)[rows] * x
    coeffs = cheb.to_coefficients(-3.0 * depth + 0.5 * depth**2, cptr)  # degree 2: exact
    exact = mass * np.exp(-3.0 * (top - reward) + 0.5 * (top - reward) ** 2)
    logs = []
    for f in (cheb.log_weights_at_cells.serial, cheb.log_weights_at_cells.parallel,
              cheb.log_weights_at_cells_numpy):
        out = np.full(n, np.nan)
        f(reward, mass, lay.r_max, lay.graded_depth, lay.levels, lay.width, compact, cptr,
          coeffs, 0.25, out, 4)
        logs.append(out)
    has = mass > 0
    for out in logs:
        assert np.all(out[~has] == -np.inf)
        assert np.allclose(np.exp(out[has] + 0.25) * mass[has], exact[has], rtol=1e-13, atol=0)
    assert np.array_equal(logs[0], logs[1])  # the thread count changes nothing
    for use_numba in (True, False):
        out = np.full(n, np.nan)
        t1 = cheb.accumulate_masses(reward, mass, lay.r_max, lay.graded_depth, lay.levels,
                                    lay.width, compact, cptr, coeffs, 0.0, out, True,
                                    use_numba=use_numba)
        assert np.allclose(out, exact, rtol=1e-13, atol=0)
        assert t1 == pytest.approx(exact.sum(), rel=1e-14)
        t2 = cheb.accumulate_masses(reward, mass, lay.r_max, lay.graded_depth, lay.levels,
                                    lay.width, compact, cptr, coeffs, 0.0, out, False,
                                    use_numba=use_numba)
        assert np.allclose(out, 2 * exact, rtol=1e-13, atol=0)
        assert t2 == pytest.approx(2 * exact.sum(), rel=1e-14)
    ptr = np.array([0, 4, 9], dtype=np.int64)
    xs = np.linspace(-1, 1, 9)
    tmax = np.array([0.5, 0.25])
    small = np.array([0, 2, 4], dtype=np.int64)
    sc = cheb.to_coefficients(np.cos(np.arange(4.0)), small)
    ws = np.ones(9)
    ws[3] = 0.0                                   # atoms without mass stay at 0
    cheb.tilt_weights_numpy(ptr, xs, ws, small, sc, tmax)
    q = np.repeat([0, 1], [4, 5])
    want = np.exp(cheb.evaluate.serial(q, xs, small, sc) - tmax[q])   # Clenshaw, not T_k
    want[3] = 0.0
    assert np.allclose(ws, want, rtol=1e-14, atol=0)


def _smooth_cells(n, span, power, keep, seed, first=8):
    """``n`` cells of a smooth reward ``-linspace(0, span)^power`` (plus 1e-9 noise), masses
    with a fraction ``1 - keep`` of zeros (the first ``first`` cells 1), the standard layout,
    the count pass's ids, and random Chebyshev coefficients per used panel: ``(reward, mass,
    lay, ids, compact, cptr, coeffs)``."""
    rng = np.random.default_rng(seed)
    reward = -np.linspace(0.0, span, n) ** power + 1e-9 * rng.random(n)
    mass = rng.random(n) * (rng.random(n) < keep)
    mass[:first] = 1.0
    top, second, bottom = panels.reward_extremes(reward, mass, mass)
    lay = panels.make_layout(top, second)
    n_raw = lay.raw_panels(top - bottom)
    ids = np.zeros(n, dtype=np.uint8)      # the panel ids of the count pass
    counts, _ = panels.count_runs.serial(reward, mass, mass, lay.r_max, lay.graded_depth,
                                         lay.levels, lay.width, n_raw, 1, ids, 255)
    raw_used = np.flatnonzero(counts.sum(axis=0))
    compact = np.full(n_raw, -1, dtype=np.int64)
    compact[raw_used] = np.arange(raw_used.size)
    _, _, nodes = lay.geometry(raw_used)
    cptr, _ = cheb.chebyshev_points(nodes)
    coeffs = rng.normal(0, 1, cptr[-1]) / (1.0 + np.arange(cptr[-1]) % 7)
    return reward, mass, lay, ids, compact, cptr, coeffs


def test_accumulate_masses_in_blocks_and_halves_gives_the_bits_of_one_pass(monkeypatch):
    """The blocked materialization (numerics.chebyshev.MASS_BLOCK cells at a time, the two
    halves of the grid on two threads where parallel pays: forced here, with blocks of 1000
    cells that do not divide the grid) writes the bits of log weights, exp and product taken
    over the whole grid at once, overwriting and adding; its returned total equals the sum
    of the result to rounding."""
    from numerics import threads
    n = 25_013
    reward, mass, lay, ids, compact, cptr, coeffs = _smooth_cells(n, 4.0, 1.3, 0.95, 3, 4)
    args = (reward, mass, lay.r_max, lay.graded_depth, lay.levels, lay.width, compact, cptr,
            coeffs, 0.5)
    logs = np.empty(n)
    cheb.log_weights_at_cells.serial(*args, logs, 1, ids)
    one = mass * np.exp(logs)
    monkeypatch.setattr(cheb, "MASS_BLOCK", 1000)
    monkeypatch.setattr(threads, "parallel_pays", lambda work: True)
    out = np.full(n, np.nan)
    total = cheb.accumulate_masses(*args, out, True, ids=ids)
    assert np.array_equal(out, one)
    assert total == pytest.approx(one.sum(), rel=1e-15)
    total = cheb.accumulate_masses(*args, out, False, ids=ids)
    assert np.array_equal(out, one + one)
    assert total == pytest.approx(2 * one.sum(), rel=1e-15)


@pytest.mark.parametrize("K,lam", [(3.5, 0.7), (1.5, math.inf)])
def test_step_interpolates_log_h_to_the_nodes_as_to_the_cells(K, lam):
    """A compressed step evaluates ``log H`` (L2) at the Chebyshev points only; at each base's
    Gauss nodes it takes the panels' interpolants, the values the cells get.  Held against
    ``log H`` evaluated at the nodes themselves (the L2 quadrature at each node, the route of
    the previous releases): 1e-13 relative, after 30 steps with real data, on a reward whose
    panels carry thousands of distinct values; the step's weights at the nodes are the
    interpolant's (against Clenshaw on the DCT coefficients: 1e-14)."""
    from numerics.engine import CurationEngine
    x = np.linspace(-3, 3, 6000)
    mass = np.exp(-0.5 * x**2)
    reward = -0.8 * np.abs(x - 1) + 0.2 * np.sin(7 * x)
    data = np.ones_like(mass)
    eng = CurationEngine(reward, mass / mass.sum(), None if math.isinf(lam) else data / 6000,
                         K, lam, method="compressed")
    for _ in range(30):
        eng.advance()
    assert eng.method == "compressed" and len(eng.bases) == (1 if math.isinf(lam) else 2)
    law = eng.law()
    at_cheb = eng.log_factor(eng.points(), law)
    for b, both in zip(eng.bases, eng._at_points(at_cheb)):
        assert np.array_equal(both[:eng.n_cheb], at_cheb)
        at_nodes = both[eng.n_cheb:]
        direct = eng.log_factor(-b.rules.depth, law)
        assert np.all(np.abs(at_nodes - direct) <= 1e-13 * np.maximum(1.0, np.abs(direct)))
        clenshaw = cheb.evaluate(b.node_panel, b.rules.x, eng.cptr,
                                 cheb.to_coefficients(at_cheb, eng.cptr))
        assert np.allclose(at_nodes, clenshaw, rtol=0, atol=1e-14)


@pytest.mark.parametrize("seed", range(3))
def test_step_checks_give_the_bits_of_the_separate_kernels_and_their_verdict(seed):
    """The engine's per-step checks in one pass per base (numerics.step_check) against the
    separate kernels they replace (tail_error_and_size, panel_log_mass, the spreads by
    reduceat): the same bits, numba and numpy twins; the verdict names the first base with a
    panel above its tolerance (its worst; a NaN tail counts as infinite), only among panels
    within NEGLIGIBLE_PANEL of the heaviest; a base with a value of L - T that is not finite
    has a NaN spread."""
    from numerics import step_check as sc
    rng = np.random.default_rng(seed)
    counts = np.array([1, 2, 5, 16, 32, 16, 10])
    cptr, x = cheb.chebyshev_points(counts)
    rows = cheb._tail_rows(cptr.tobytes())
    nodes = np.array([1, 2, 4, 8, 0, 8, 5])
    ptr = np.concatenate([[0], np.cumsum(nodes)]).astype(np.int64)
    n_cheb = int(cptr[-1])
    bases = []
    for b in range(2):
        L = np.concatenate([0.3 + b + 0.2 * x - 0.1 * x**2 + rng.normal(0, 1e-13, x.size),
                            rng.normal(0, 2, int(ptr[-1]))])
        T = rng.normal(0, 0.5, L.size)
        log_w = rng.normal(-3, 1, int(ptr[-1]))
        bases.append((L, T, log_w))
    bases[1][0][n_cheb + 3] = -np.inf           # a node without mass
    bases[1][0][cptr[5] + 2] = -np.inf          # a Chebyshev point: the panel's spread NaN
    stats = np.empty((2, 4, counts.size))
    twin = np.empty_like(stats)
    for i, (L, T, log_w) in enumerate(bases):
        sc.panel_checks(L, T, log_w, n_cheb, cptr, ptr, rows, stats[i])
        sc.panel_checks_numpy(L, T, log_w, n_cheb, cptr, ptr, rows, twin[i])
        err, big = cheb.tail_error_and_size(L[:n_cheb], cptr)
        g = (L - T)[:n_cheb]
        with np.errstate(invalid="ignore"):
            spread = np.maximum.reduceat(g, cptr[:-1]) - np.minimum.reduceat(g, cptr[:-1])
        spread[np.logical_or.reduceat(~np.isfinite(g), cptr[:-1])] = np.nan
        mass = gr.panel_log_mass(log_w + (L - T)[n_cheb:], ptr)
        assert np.array_equal(stats[i], np.array([err, big, spread, mass]), equal_nan=True)
        assert np.isnan(stats[i, 2, 5]) == (i == 1)
    # the twin's tails come from all coefficients (another order of the products): they
    # agree to rounding of the values, 64 eps of the largest |L| (tails of 1e-13 here)
    assert np.array_equal(stats[:, 1:3], twin[:, 1:3], equal_nan=True)
    ok = np.isfinite(stats[:, 0])
    assert np.array_equal(ok, np.isfinite(twin[:, 0])) and not ok[1, 5]
    assert np.all(np.abs(stats[:, 0][ok] - twin[:, 0][ok])
                  <= 64 * np.finfo(float).eps * stats[:, 1][ok])
    assert np.allclose(stats[:, 3], twin[:, 3], rtol=1e-13, atol=0)
    log_neg = math.log(1e-20)
    stats[1, 0, 5] = 0.0        # (the verdict on the tails: below)
    for judge in (sc.verdict, sc.verdict_numpy):
        i, q, spreads = judge(stats, log_neg, 1e-10, 64 * np.finfo(float).eps)
        assert (i, q) == (-1, -1) and spreads[0] == stats[0, 2].max() and np.isnan(spreads[1])
    bad = stats.copy()
    bad[1, 0, 3] = 1.0          # base 1, panel 3 fails ...
    bad[1, 0, 5] = 2.0          # ... panel 5 worse
    bad[0, 0, 6] = 1e-9         # base 0 fails by less, but comes first
    bad[0, 0, 2] = 1.0
    bad[0, 3, 2] = bad[:, 3].max() + 2 * log_neg    # a negligible panel is not held to it
    bad[0, 2, 1] = np.nan       # base 0: a value of L - T not finite
    for judge in (sc.verdict, sc.verdict_numpy):
        i, q, spreads = judge(bad, log_neg, 1e-10, 64 * np.finfo(float).eps)
        assert (i, q) == (0, 6) and np.isnan(spreads).all()
    bad[0, 0, 6] = 0.0
    bad[1, 0, 4] = np.nan       # a panel without nodes carries no mass: not held
    for judge in (sc.verdict, sc.verdict_numpy):
        assert judge(bad, log_neg, 1e-10, 64 * np.finfo(float).eps)[:2] == (1, 5)
    bad[1, 0, 6] = np.nan       # a NaN tail fails before any finite one
    for judge in (sc.verdict, sc.verdict_numpy):
        assert judge(bad, log_neg, 1e-10, 64 * np.finfo(float).eps)[:2] == (1, 6)


def test_materialize_divides_by_the_rules_total_and_again_only_when_it_is_off(monkeypatch):
    """The density is written divided by its total as the Gauss rules give it: its cells then
    sum to 1 within NORMALIZED_ULPS ulps (math.fsum), the same bits at every call.  A total
    off by 1e-9 (forced) is caught by the sum, and the cells are divided by it: the same
    density to 8 ulps a cell (the exponents, shifted by 1e-9, round differently).  Shown
    failing with the check of the sum removed (the density then sums to 1 - 1e-9)."""
    from numerics import engine as E
    x = np.linspace(-3, 3, 6000)
    mass = np.exp(-0.5 * x**2)
    reward = -0.8 * np.abs(x - 1) + 0.2 * np.sin(7 * x)
    eng = E.CurationEngine(reward, mass / mass.sum(), np.ones_like(mass) / 6000, 3.5, 0.7,
                           method="compressed")
    for _ in range(30):
        eng.advance()
    weights = [b.L[:eng.n_cheb] for b in eng.bases]
    eps = np.finfo(float).eps
    out = eng.materialize(weights)
    assert abs(math.fsum(out) - 1.0) <= E.NORMALIZED_ULPS * eps
    ref = eng.materialize(weights)
    assert np.array_equal(out, ref)
    true_log_total = eng._log_total_on_nodes
    monkeypatch.setattr(eng, "_log_total_on_nodes", lambda *a: true_log_total(*a) + 1e-9)
    off = eng.materialize(weights)
    assert abs(math.fsum(off) - 1.0) <= 4 * eps
    assert np.allclose(off, out, rtol=8 * eps, atol=0)   # (observed 4 eps)


def test_kernel_twins_have_their_own_cache_names():
    k = panels._cell_summary
    assert isinstance(k, Kernel)
    assert k.serial.py_func.__qualname__ != k.parallel.py_func.__qualname__
    assert k.at(10) is k.serial


def test_pooled_law_is_kept_per_state_and_formed_again_after_any_change():
    """The engine keeps the pooled law of a state (the moments after a step, then the next
    step, read it once): the same object while the state is unchanged, formed again after a
    step and after set_log_weights (new arrays, even of equal values); and a run whose cache
    is dropped before every read gives the same bits."""
    from numerics.engine import CurationEngine
    x = np.linspace(-3, 3, 6000)
    mass = np.exp(-0.5 * x**2)
    reward = -0.8 * np.abs(x - 1) + 0.2 * np.sin(7 * x)
    data = np.ones_like(mass)
    runs = []
    for drop in (False, True):
        eng = CurationEngine(reward, mass, data, 3.5, 0.7, method="compressed")
        got = []
        for _ in range(12):
            if drop:
                eng._pooled_for = None
            eng.advance()
            if drop:
                eng._pooled_for = None
            got.append(eng.moments())
        runs.append((got, eng.snapshot().materialize()))
        first = eng._pooled()
        assert eng._pooled() is first
        eng.set_log_weights(eng.log_weights())
        again = eng._pooled()
        assert again is not first and all(np.array_equal(a, b) for a, b in zip(first, again))
        eng.advance()
        assert eng._pooled() is not again
    assert runs[0][0] == runs[1][0]
    assert np.array_equal(runs[0][1], runs[1][1])


@pytest.mark.parametrize("lam", [float("inf"), 0.7])
def test_engine_with_numpy_twins_matches_numba(lam):
    """The whole compressed engine run with every numba kernel replaced by its numpy twin
    (build, steps, re-tilts, materialization) gives the same masses."""
    from numerics.engine import CurationEngine
    x = np.linspace(-3, 3, 6000)
    mass = np.exp(-0.5 * x**2)
    mass /= mass.sum()
    reward = -0.8 * np.abs(x - 1) + 0.2 * np.sin(7 * x)
    data = np.ones_like(mass) / mass.size
    outs = []
    for use_numba in (True, False):
        eng = CurationEngine(reward, mass, None if lam == float("inf") else data, 3.5, lam,
                             method="compressed", use_numba=use_numba)
        for _ in range(25):
            eng.advance()
        outs.append((eng.snapshot().materialize(), eng.rebuilds))
    assert outs[0][1] == outs[1][1]
    assert np.allclose(outs[0][0], outs[1][0], rtol=1e-11, atol=0)


@pytest.mark.parametrize("seed", range(3))
def test_panel_log_mass_matches_numpy_twin(seed):
    """Per-panel log-sum-exp of node log masses (the engine's step check): numba and numpy
    twins to 1e-13; empty panels and panels of zero mass give -inf, as does the direct sum."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 6, 40)
    ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    lm = rng.normal(0, 30, ptr[-1]) - 500.0 * (rng.random(ptr[-1]) < 0.2)
    full = np.flatnonzero(counts > 1)[0]
    lm[ptr[full]:ptr[full + 1]] = -np.inf
    a = gr.panel_log_mass(lm, ptr)
    b = gr.panel_log_mass_numpy(lm, ptr)
    with np.errstate(divide="ignore"):
        direct = np.array([np.log(np.sum(np.exp(np.longdouble(lm[ptr[q]:ptr[q + 1]]))))
                           for q in range(counts.size)], dtype=float)
    fin = np.isfinite(direct)
    assert np.array_equal(np.isfinite(a), fin) and np.array_equal(np.isfinite(b), fin)
    assert np.all(a[~fin] == -np.inf) and np.all(b[~fin] == -np.inf)
    assert np.allclose(a[fin], b[fin], rtol=1e-13, atol=1e-13)
    big = fin & (direct > -700)      # where long double exp does not underflow
    assert np.allclose(a[big], direct[big], rtol=1e-13, atol=1e-13)


def test_log_weights_at_cells_in_runs_of_one_panel_match_cell_by_cell():
    """A smooth reward puts runs of neighbouring cells in one panel (evaluated together by
    :func:`numerics.chebyshev.log_weights_at_cells`), mixed with cells without mass, panel
    edges and runs longer than :data:`numerics.chebyshev.RUN_CELLS`: the same bits as
    Clenshaw cell by cell (:func:`numerics.chebyshev.evaluate` at the located cells), serial
    and parallel, located or given the panel ids of the count pass, and the numpy twin (T_k
    recurrence) to 1e-13."""
    n = 40_003
    reward, mass, lay, ids, compact, cptr, coeffs = _smooth_cells(n, 3.0, 1.5, 0.97, 11)
    has = mass > 0
    raw, x = panels.locate_numpy(np.where(has, lay.r_max - reward, 0.0), lay.graded_depth,
                                 lay.levels, lay.width)
    want = np.full(n, -np.inf)
    want[has] = cheb.evaluate.serial(compact[raw[has]], x[has], cptr, coeffs) - 0.5
    q = compact[raw]
    runs = sum(bool(has[i:i + 8].all() and np.all(q[i:i + 8] == q[i]))
               for i in range(0, n - 7, 8))
    assert runs > 0.5 * (n // 8)       # runs of one panel carry most of the cells
    for panel_ids in (None, ids, ids.astype(np.uint16)):
        outs = []
        for f, chunks in ((cheb.log_weights_at_cells.serial, 3),
                          (cheb.log_weights_at_cells.parallel, 3),
                          (cheb.log_weights_at_cells_numpy, 1)):
            out = np.full(n, np.nan)
            f(reward, mass, lay.r_max, lay.graded_depth, lay.levels, lay.width, compact, cptr,
              coeffs, 0.5, out, chunks, panel_ids)
            outs.append(out)
        assert np.array_equal(outs[0], want) and np.array_equal(outs[1], want)
        assert np.all(outs[2][~has] == -np.inf)
        assert np.allclose(outs[2][has], want[has], rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.uint32])
def test_count_runs_ids_and_gathered_positions_match_locating_again(dtype):
    """The ids of the count pass (serial, parallel, numpy) are the panels
    :func:`numerics.panels.locate_numpy` finds (ties, panel edges, graded panels and a
    subnormal depth included), cells outside the support marked ``outside``; and the Gauss
    recurrences of the cells gathered run by run (positions from each panel's frame) have the
    same positions, bit for bit, as a panel-sorted copy located cell by cell, the roots of the
    same masses, and the copy's numbers of steps and scales (the first pass's sums are added
    run by run: the coefficients agree to rounding, not bit for bit)."""
    rng = np.random.default_rng(7)
    n = 60_000
    reward = np.round(rng.normal(0, 2, n), 3)
    reward[:6] = reward.max() - np.array([0.0, 1e-4, 3e-4, 0.25, 0.5, 5e-324])
    m0 = rng.random(n) * (rng.random(n) < 0.8)
    m1 = rng.random(n) * (rng.random(n) < 0.3)
    m0[:6] = 1.0
    lay, n_raw = _layout_args(reward, m0, m1)
    outside = int(np.iinfo(dtype).max)
    assert n_raw <= outside
    args = (reward, m0, m1, lay.r_max, lay.graded_depth, lay.levels, lay.width, n_raw, 3)
    sup = (m0 > 0) | (m1 > 0)
    raw, _ = panels.locate_numpy(np.where(sup, lay.r_max - reward, 0.0), lay.graded_depth,
                                 lay.levels, lay.width)
    for count in (panels.count_runs.serial, panels.count_runs.parallel,
                  panels.count_runs_numpy):
        ids = np.zeros(n, dtype=dtype)
        cells, runs = count(*args, ids, outside)
        assert np.array_equal(ids[sup], raw[sup]) and np.all(ids[~sup] == outside)
        assert np.array_equal(cells.sum(axis=0), np.bincount(raw[sup], minlength=n_raw))
    rptr, start, length = panels.list_runs.serial(ids, outside, runs)
    used = np.flatnonzero(cells.sum(axis=0))
    _, _, nodes = lay.geometry(used)
    cptr, _ = cheb.chebyshev_points(nodes)
    st_args = (rptr[used], rptr[used + 1], start, length, used, reward, m0, lay.r_max,
               lay.graded_depth, lay.levels, lay.width, nodes, int(nodes.max()), cptr,
               np.zeros(0), np.zeros(0))
    got = gr.stieltjes_runs.serial(*st_args)
    ptr, xs, ws = gr.gather_runs_numpy(*st_args[:11])
    want = gr.stieltjes.serial(ptr, xs, ws, nodes, int(nodes.max()))
    # the steps and scales agree; the coefficients agree to rounding only where they are
    # well determined (tested on continuous rewards above: with these ties some panels have
    # barely more distinct atoms than steps, whose last coefficients are rounding noise)
    assert np.array_equal(got[2], want[2]) and np.array_equal(got[3], want[3])
    for q, raw_q in enumerate(used):
        n_q = int(ptr[q + 1] - ptr[q])
        x, w = np.empty(n_q), np.empty(n_q)
        c, hw = panels._panel_frame(int(raw_q), lay.graded_depth, lay.levels,
                                    lay.width) if raw_q > 0 else (0.0, 1.0)
        n_got, den, _, top = gr._gather_roots(rptr[raw_q], rptr[raw_q + 1], start, length,
                                              reward, m0, int(raw_q), lay.r_max, c, hw, x, w)
        assert n_got == n_q and top == ws[ptr[q]:ptr[q + 1]].max()
        assert np.array_equal(x, xs[ptr[q]:ptr[q + 1]])
        assert np.array_equal(w, np.sqrt(ws[ptr[q]:ptr[q + 1]]))
        assert den == pytest.approx(math.fsum(ws[ptr[q]:ptr[q + 1]]), rel=1e-14)


@SETTINGS
@given(top=st.floats(-50.0, 50.0), width=st.sampled_from([0.25, 0.3, 0.1, 1.0 / 3.0]),
       ulps=st.integers(0, 4), seed=st.integers(0, 2**31 - 1))
def test_count_runs_ids_at_panel_edges_match_locating_each_cell(top, width, ulps, seed):
    """The count pass locates only a run's first cell and takes the next cells of the run
    whose depth lies inside the panel less a margin (:func:`numerics.panels._panel_inside`);
    with runs that walk across every panel edge, graded and uniform, cell by cell up to a
    few ulps on each side, its ids are still the panels each cell's own location gives."""
    rng = np.random.default_rng(seed)
    lay = panels.make_layout(top, None, width)
    D = lay.graded_depth
    edges = np.concatenate([np.ldexp(D, -np.arange(12)), D + width * np.arange(1, 40)])
    rewards = [top]
    for e in edges:
        r = top - e
        for k in range(-ulps - 1, ulps + 2):   # the reward k ulps from the edge's
            rewards.append(r + k * np.spacing(r))
    rewards = np.array(rewards + list(top - rng.uniform(0, edges.max(), 500)))
    reward = np.sort(rewards)[::-1].copy()   # runs walk down the panels, edge after edge
    mass = np.ones_like(reward)
    n_raw = lay.raw_panels(top - reward.min())
    outside = 65535
    raw, _ = panels.locate_numpy(lay.r_max - reward, D, lay.levels, lay.width)
    for count in (panels.count_runs.serial, panels.count_runs.parallel):
        ids = np.zeros(reward.size, dtype=np.uint16)
        count(reward, mass, mass, lay.r_max, D, lay.levels, lay.width, n_raw, 2, ids, outside)
        assert np.array_equal(ids, raw)


@pytest.mark.parametrize("seed", range(4))
def test_count_runs_blocks_inside_a_run_match_cell_by_cell(seed):
    """Inside a run the count pass takes a block of numerics.panels.COUNT_BLOCK cells at once
    when all are in the support and inside the run's panel: with hundreds of cells a panel
    (most blocks taken at once), cells a few ulps around every edge, cells without mass
    (also the one that ends a block) and 1, 2 and 3 chunks, the ids and the counts of cells
    and runs are the numpy twin's, which locates every cell."""
    rng = np.random.default_rng(seed)
    top = float(rng.uniform(-5, 5))
    lay = panels.make_layout(top, None, 0.25)
    D = lay.graded_depth
    edges = np.concatenate([np.ldexp(D, -np.arange(8)), D + 0.25 * np.arange(1, 12)])
    rewards = [top] + list(top - rng.uniform(0, edges.max(), 6000))
    for e in edges:
        r = top - e
        rewards += [r + k * np.spacing(r) for k in range(-3, 4)]
    reward = np.sort(np.array(rewards))[::-1].copy()
    mass = np.where(rng.random(reward.size) < 0.02, 0.0, rng.random(reward.size) + 0.1)
    mass[panels.COUNT_BLOCK * 7 - 1] = 0.0
    m1 = np.where(rng.random(reward.size) < 0.5, mass, 0.0)   # the support: mass > 0
    n_raw = lay.raw_panels(top - reward.min())
    want_ids = np.zeros(reward.size, dtype=np.uint16)
    for chunks in (1, 2, 3):
        want = panels.count_runs_numpy(reward, m1, mass, lay.r_max, D, lay.levels, lay.width,
                                       n_raw, chunks, want_ids, 65535)
        for count in (panels.count_runs.serial, panels.count_runs.parallel):
            ids = np.zeros(reward.size, dtype=np.uint16)
            got = count(reward, m1, mass, lay.r_max, D, lay.levels, lay.width, n_raw, chunks,
                        ids, 65535)
            assert np.array_equal(ids, want_ids)
            assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


def test_prefetch_hint_compiles_and_changes_nothing():
    """numerics.prefetch.prefetch inside a kernel (float and small-integer arrays, any
    integer index type, including the last element): a hint only, the kernel's values are
    those of the same kernel without it; pure Python calls of the kernel's loop are not
    affected either (the intrinsic is only typed inside numba)."""
    import numba
    from numerics.prefetch import prefetch

    @numba.njit
    def summed(a, b, ahead):
        acc = 0.0
        for i in range(a.shape[0]):
            if ahead and i + 8 < a.shape[0]:
                prefetch(a, i + 8)
                prefetch(b, np.int32(i + 8))
            acc += a[i] * b[i]
        prefetch(a, a.shape[0] - 1)
        return acc

    a = np.linspace(0.0, 1.0, 1001)
    b = (np.arange(1001) % 7).astype(np.uint8)
    assert summed(a, b, True) == summed(a, b, False) == summed.py_func(a, b, True)


@pytest.mark.slow
@pytest.mark.parametrize("preset", [None, "ACTIVE"])
def test_importing_numerics_makes_openmp_workers_sleep_unless_told_otherwise(preset):
    """``import numerics`` sets ``OMP_WAIT_POLICY=PASSIVE`` (numba's OpenMP workers sleep
    between parallel calls instead of spinning on cores other work needs), and leaves a
    policy the caller set before alone (fresh interpreters: the variable only acts when
    libgomp is first loaded)."""
    import os
    import subprocess
    import sys
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if preset is not None:
        env["OMP_WAIT_POLICY"] = preset
    out = subprocess.run([sys.executable, "-c", "import os, numerics; "
                          "print(os.environ['OMP_WAIT_POLICY'])"], env=env,
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out == (preset or "PASSIVE")
