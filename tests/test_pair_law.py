"""The compressed joint law of two rewards (numerics.pair_law): its kernels against their
numpy twins, its dynamics against the exact joint-atom engine (numerics.joint, one state per
distinct pair of rewards; itself held to exact rationals in test_curators_rules.py), the
dispatch of ``evolve``, and the restart ladder down to the exact engine."""

from __future__ import annotations

import math

import numpy as np
import pytest

from numerics import curators as cur
from numerics import evolve, gauss_rules, pair_law
from numerics import pair_kernels as pk
from numerics.engine import REFINED, ResolutionLost
from numerics.joint import JointEngine
from numerics.panels import locate_numpy
from numerics.pair_law import (PairEngine, PairLayout, compressed_pair_engine, pair_rewards,
                               tensor_coefficients)

from _references import benchmark_grid


def _grid(n, shift=0.0):
    """The benchmark grid, its mass normalized."""
    mass, r1, r2 = benchmark_grid(n, shift)
    return mass / mass.sum(), r1, r2


def _rule(r1, r2, K=4.0):
    return cur.mixture([(0.6, cur.bradley_terry(r1, K)), (0.4, cur.bradley_terry(r2, K))])


def _max_rel(a, b, floor=1e-12):
    """Largest relative difference on the cells holding more than ``floor`` of the largest."""
    sig = b > floor * b.max()
    return float(np.max(np.abs(a[sig] / b[sig] - 1.0)))


# ------------------------------------------------------------------------- which rules
def _random_recurrences(seed):
    """Ten panels' recurrence coefficients (sizes 0 to 16), LAPACK's rules of them
    (:func:`numerics.gauss_rules.gauss_from_recurrence`, nodes not clipped) and the generator
    for further draws."""
    rng = np.random.default_rng(seed)
    n_used = np.array([0, 1, 2, 3, 16, 4, 6, 10, 16, 9])
    alpha = rng.uniform(-0.9, 0.9, size=(10, 16))
    beta = rng.uniform(0.05, 0.4, size=(10, 16))
    beta[:, 0] = 1.0
    want = gauss_rules.gauss_from_recurrence(alpha, beta, n_used, clip=False)
    return n_used, alpha, beta, want, rng


def test_golub_welsch_kernel_and_padded_twin_equal_lapack_per_size():
    """The QL kernel and its numpy twin (one padded eigen-decomposition) give the rules of
    gauss_rules (LAPACK, grouped by size; sizes 0 to 16), nodes outside [-1, 1] included."""
    n_used, alpha, beta, want, _ = _random_recurrences(11)
    assert np.abs(want[1]).max() > 1.0
    for got in (pair_law._golub_welsch(alpha, beta, n_used),
                pk.gauss_from_recurrence(alpha, beta, n_used)):
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_allclose(got[1], want[1], rtol=0, atol=1e-13)
        np.testing.assert_allclose(got[2], want[2], rtol=0, atol=1e-13)


def test_golub_welsch_warm_start_equals_lapack_and_falls_back():
    """Warm-started from nearby nodes (Newton's method on the three-term recurrence, checked
    by Sturm counts), from the previous rules' own nodes, and from guesses that are wrong
    (collapsed, or of another count: the QL algorithm then takes the panel), the kernel gives
    LAPACK's rules to the tolerance of the cold kernel, and leaves each panel's nodes as the
    next guesses."""
    n_used, alpha, beta, want, rng = _random_recurrences(12)
    rows = np.repeat(np.arange(10), want[0])
    near = np.zeros((10, 16))
    near[rows, np.arange(rows.size) - np.repeat(np.cumsum(want[0]) - want[0], want[0])] = (
        want[1] * (1 + 1e-3 * rng.uniform(-1, 1, rows.size)))
    collapsed = np.full((10, 16), 0.1)
    doubled = near.copy()       # two guesses by the first node: both converge onto it
    doubled[:, 1] = doubled[:, 0] + 1e-4
    for guess, counts in [(near, n_used), (near, n_used + 1), (collapsed, n_used),
                          (doubled, n_used)]:
        warm, warm_n = guess.copy(), counts.copy()
        got = pk.gauss_from_recurrence(alpha, beta, n_used, warm, warm_n)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_allclose(got[1], want[1], rtol=0, atol=1e-13)
        np.testing.assert_allclose(got[2], want[2], rtol=0, atol=1e-13)
        np.testing.assert_array_equal(warm_n, n_used)
        for q in range(10):
            np.testing.assert_array_equal(warm[q, :n_used[q]], got[1][rows == q])
    # which route: Newton from near guesses is certain, from collapsed ones it is not
    q = 7
    scratch = [np.empty(16) for _ in range(4)]
    x, w = near[q, :10].copy(), np.empty(16)
    assert pk._newton_nodes(alpha[q], beta[q], 10, x, w, *scratch)
    np.testing.assert_allclose(x, want[1][rows == q], rtol=0, atol=1e-13)
    np.testing.assert_allclose(w[:10], want[2][rows == q], rtol=0, atol=1e-13)
    for bad in (collapsed, doubled):
        x = bad[q, :10].copy()
        assert not pk._newton_nodes(alpha[q], beta[q], 10, x, w, *scratch)


def test_usable_steps_and_rule_depths_match_numpy_lines():
    """The two kernels around the Gauss rules of a marginal against the numpy lines they
    replace: the usable steps (no mass, breakdown, ``|alpha| > 1``), and the nodes' depths,
    log masses and the panels that lose a step (a node above the top or too far out)."""
    rng = np.random.default_rng(3)
    P, m = 40, 16
    alpha = rng.uniform(-1.05, 1.05, size=(P, m))
    beta = rng.uniform(0.05, 0.4, size=(P, m))
    beta[:, 0] = rng.uniform(0.5, 2.0, P)
    beta[3, 0] = 0.0
    beta[5, 4] = 1e-14
    beta[6, 0] = np.nan
    s_panel = rng.normal(size=P)
    s_panel[7] = -np.inf
    n_used = rng.integers(0, m + 1, P)
    n_used[[3, 5, 6, 7]] = m
    want = pair_law._signed_breakdown(
        alpha, beta, np.where((beta[:, 0] > 0) & np.isfinite(s_panel), n_used, 0))
    got = pk.usable_steps(alpha, beta, n_used, s_panel, pair_law.SIGNED_BREAKDOWN)
    np.testing.assert_array_equal(got, want)
    assert got[3] == got[6] == got[7] == 0 and got[5] <= 4 and got.sum() > 0

    alpha = rng.uniform(-0.9, 0.9, size=(P, m))
    counts = rng.integers(0, m + 1, P)
    x = rng.uniform(-1.6, 1.6, counts.sum())
    w = rng.uniform(0.01, 1, counts.sum())
    center, half = rng.uniform(0.05, 5, P), rng.uniform(0.1, 0.3, P)
    log_scale = rng.normal(size=P)
    s_panel = rng.normal(size=P)
    n0 = counts + 2
    n_got, depth, log_w = n0.copy(), np.empty(x.size), np.empty(x.size)
    n_bad = pk.rule_depths(counts, x, w, center, half, pair_law.NODE_EXCURSION, beta,
                           log_scale, s_panel, n_got, depth, log_w)
    rows = np.repeat(np.arange(P), counts)
    want_depth = center[rows] - half[rows] * x
    out = (want_depth < 0) | (np.abs(x) > 1.0 + pair_law.NODE_EXCURSION)
    n_want = n0.copy()
    n_want[np.unique(rows[out])] -= 1
    np.testing.assert_array_equal(depth, want_depth)
    np.testing.assert_array_equal(n_got, n_want)
    assert n_bad == np.unique(rows[out]).size > 0
    with np.errstate(divide="ignore"):      # beta[3, 0] = 0: -inf, as the kernel's
        want_log_w = np.log(w) + np.log(beta[rows, 0]) + log_scale[rows] + s_panel[rows]
    np.testing.assert_allclose(log_w, want_log_w, rtol=1e-15, atol=1e-15)


def test_pair_rewards_accepts_two_static_smooth_rewards_only():
    _, r1, r2 = _grid(8)
    got = pair_rewards(_rule(r1, r2), r1.shape)
    assert got is not None and got[2] == [0, 1]
    pl = cur.mixture([(1, cur.bradley_terry(r1, 2)), (1, cur.plackett_luce(r2, 4, 2)),
                      (1, cur.bradley_terry(r1.copy(), 5))])
    assert pair_rewards(pl, r1.shape)[2] == [0, 1, 0]          # equal arrays: one axis
    assert pair_rewards(cur.mixture([(1, cur.bradley_terry(r1, 2)),
                                     (1, cur.bradley_terry(r1, 3))]), r1.shape) is None
    assert pair_rewards(cur.mixture([(1, cur.bradley_terry(r1, 2)),
                                     (1, cur.top_k(r2, 3, 1))]), r1.shape) is None
    assert pair_rewards(cur.mixture([(1, cur.bradley_terry(r1, 2)), (1, cur.bradley_terry(r2, 2)),
                                     (1, cur.bradley_terry(r1 + r2, 2))]), r1.shape) is None
    assert pair_rewards(cur.mixture([(1, cur.bradley_terry(r1, 2)),
                                     (1, cur.bradley_terry(lambda t: r2 * t, 2))]),
                        r1.shape) is None


# ------------------------------------------------------------------------- kernels
def _layout_and_masses(n=40, data=True):
    mass, r1, r2 = _grid(n)
    m0 = mass.ravel()
    m1 = np.roll(m0, 5) if data else np.empty(0)
    lay = PairLayout(_rule(r1, r2), m0, m1 if data else None, 1.0, mass.shape)
    return lay, m0, m1


@pytest.mark.parametrize("width", [0.25, 0.5, 0.3])
def test_fast_locate_equals_panels_locate_bit_for_bit(width):
    """The pair kernels' locate (multiplications by ``1 / width`` where that is a power of
    two) gives panels._locate's raw panels and positions exactly, at random depths, on the
    panel edges and a few ulps around them, at 0 and below; a width that is not a power of
    two takes the divisions.  So do the positions from a located cell's raw panel and its
    frame (pair_kernels.frame_table, pair_kernels._block_positions: what the passes after the
    count read) at the depths ``>= 0`` of a support, ids past the table taking the last
    frame."""
    import numba

    from numerics.panels import _locate

    @numba.njit
    def both(d, D, J, width, inv, frames):
        out = np.empty((d.size, 5))
        ids = np.empty(d.size, dtype=np.uint16)
        for i in range(d.size):
            r0, x0 = _locate(d[i], D, J, width)
            r1, x1 = pk._locate_fast(d[i], D, J, width, inv)
            out[i, 0], out[i, 1], out[i, 2], out[i, 3] = r0, x0, r1, x1
            ids[i] = r0
        x = np.empty(d.size)
        pk._block_positions(-d, ids, 0.0, frames, x)
        out[:, 4] = x
        return out

    inv = pk._inverse_width.py_func(width)
    assert (inv > 0) == (width != 0.3)
    rng = np.random.default_rng(5)
    D, J = 0.5, 6
    edges = D + width * np.arange(200)
    d = np.concatenate([rng.uniform(0, 60, 20000), rng.exponential(0.1, 2000), edges,
                        np.nextafter(edges, 0), np.nextafter(edges, 100),
                        edges + 3e-16, edges - 3e-16, [0.0, -1.0, 5e-324, D]])
    frames = pk.frame_table(np.array([0.0, D, J, width]), 300)
    got = both(d, D, J, width, inv, frames)
    np.testing.assert_array_equal(got[:, 2], got[:, 0])
    np.testing.assert_array_equal(got[:, 3], got[:, 1])
    support = d >= 0
    np.testing.assert_array_equal(got[support, 4], got[support, 1])
    assert got[d == 0, 4].size and np.all(got[d == 0, 4] == 0.0)
    # an id past the table (a cell outside the support, never written) reads the last frame
    x = np.empty(2)
    pk._block_positions(np.array([-1.0, -1.0]), np.array([299, 65535], dtype=np.uint16), 0.0,
                        frames, x)
    assert x[0] == x[1]


def test_pair_extremes_equal_each_reward_extremes():
    """Both rewards' (top, second, bottom) in one pass equal panels.reward_extremes (numpy)
    of each: ties at the top, cells outside the support, 1 and 3 chunks,
    serial and parallel."""
    from numerics import panels
    rng = np.random.default_rng(9)
    n = 5000
    ra = np.round(rng.normal(size=n), 2)
    rb = rng.normal(size=n)
    ra[[10, 4000]] = 9.0          # the top twice
    rb[77] = 50.0                 # the largest value is outside the support
    m0 = rng.uniform(size=n) * (rng.uniform(size=n) > 0.3)
    m1 = np.zeros(n)
    m1[77 + 1:200] = 1.0
    m0[77] = 0.0
    for f, chunks in ((pk.pair_extremes.serial, 1), (pk.pair_extremes.serial, 3),
                      (pk.pair_extremes.parallel, 3)):
        got = f(ra, rb, m0, m1, chunks)
        for u, r in enumerate((ra, rb)):
            np.testing.assert_array_equal(got[u], panels.reward_extremes(r, m0, m1))
    assert got[0, 0] == 9.0 and got[0, 1] < 9.0 and got[1, 0] < 50.0


def test_count_boxes_matches_numpy_twin():
    """The counts, and the cells' raw panel ids kept for the later passes: those that
    panels.locate_numpy finds (serial, and parallel over 3 ranges of cells)."""
    lay, m0, m1 = _layout_and_masses()
    args = (lay.ra, lay.rb, m0, m1, lay.axes[0].geo, lay.axes[1].geo,
            lay.box_id.shape[0], lay.box_id.shape[1])
    want = pk.count_boxes_numpy(*args)
    ids = [lay.axes[u].geo[0] - r for u, r in enumerate((lay.ra, lay.rb))]
    ids = [locate_numpy(d, g[1], int(g[2]), g[3])[0] for d, g in
           zip(ids, (lay.axes[0].geo, lay.axes[1].geo))]
    for f, chunks in ((pk.count_boxes.serial, 1), (pk.count_boxes.serial, 3),
                      (pk.count_boxes.parallel, 3)):
        np.testing.assert_array_equal(f(*args, chunks, *pk.NO_IDS[:2]), want)
        got = np.zeros(m0.size, np.uint16), np.zeros(m0.size, np.uint16)
        np.testing.assert_array_equal(f(*args, chunks, *got), want)
        for g, w in zip(got, ids):
            np.testing.assert_array_equal(g, w)
    assert int(want.sum()) == lay.n_cells == m0.size


@pytest.mark.parametrize("width, ulps, seed", [(0.25, 0, 0), (0.25, 3, 1), (0.3, 2, 2),
                                               (1.0 / 3.0, 4, 3)])
def test_count_boxes_runs_across_panel_edges_match_locating_each_cell(width, ulps, seed):
    """count_boxes locates a cell on an axis only where its depth leaves the last located
    panel's interior less a margin: with both rewards walking across every graded and
    uniform edge, cell by cell up to a few ulps on each side (the second reward out of step
    with the first), cells without mass between, 1 and 3 ranges of cells, its ids are the
    panels each cell's own location gives and its counts the numpy twin's."""
    rng = np.random.default_rng(seed)
    D, J = 0.5, 6

    def walk(top):
        edges = np.concatenate([np.ldexp(D, -np.arange(J + 1)), D + width * np.arange(1, 30)])
        r = [top]
        for e in edges:
            x = top - e
            r += [x + k * np.spacing(x) for k in range(-ulps - 1, ulps + 2)]
        r += list(top - rng.uniform(0, edges.max(), 400))
        return np.sort(np.array(r))[::-1]

    ra, rb = walk(1.5), walk(-2.0)
    n = min(ra.size, rb.size)
    ra, rb = ra[:n].copy(), np.roll(rb[:n], 17)   # the edges of the two axes out of step
    m0 = np.where(rng.random(n) < 0.05, 0.0, 1.0)
    m0[0] = 1.0
    m1 = np.zeros(n)
    geo = [np.array([r.max(), D, J, width]) for r in (ra, rb)]
    n_raw = [int(locate_numpy(g[0] - r, D, J, width)[0].max()) + 1 for g, r in zip(geo, (ra, rb))]
    want = pk.count_boxes_numpy(ra, rb, m0, m1, geo[0], geo[1], n_raw[0], n_raw[1])
    ids_want = [locate_numpy(g[0] - r, D, J, width)[0] for g, r in zip(geo, (ra, rb))]
    sup = m0 > 0
    for f, chunks in ((pk.count_boxes.serial, 1), (pk.count_boxes.serial, 3),
                      (pk.count_boxes.parallel, 3)):
        got_ids = np.zeros(n, np.uint16), np.zeros(n, np.uint16)
        np.testing.assert_array_equal(f(ra, rb, m0, m1, geo[0], geo[1], n_raw[0], n_raw[1],
                                        chunks, *got_ids), want)
        for g, w in zip(got_ids, ids_want):
            np.testing.assert_array_equal(g[sup], w[sup])


def _moments_with(f, lay, m0, m1, coef, tmax, *extra):
    out = np.zeros((2, lay.box_slots))
    f(lay.ra, lay.rb, m0, m1, lay.axes[0].geo, lay.axes[1].geo, lay.box_id, lay.box_Na,
      lay.box_Nb, lay.box_off, out, coef, lay.box_na, lay.box_nb, tmax, *extra)
    return out


@pytest.mark.parametrize("tilted", [False, True])
def test_box_moments_match_numpy_twin(tilted):
    """The blocked matrix-product moments (serial, and parallel over 3 ranges of cells)
    against ``sum m cos(d acos x_a) cos(e acos x_b)`` box by box, two bases, with and
    without a tilt."""
    lay, m0, m1 = _layout_and_masses()
    if tilted:
        rng = np.random.default_rng(3)
        coef = rng.normal(scale=0.3, size=(lay.n_boxes, int(lay.box_na.max()),
                                           int(lay.box_nb.max())))
        tmax = rng.normal(size=lay.n_boxes)
    else:
        coef, tmax = np.zeros((0, 1, 1)), np.zeros(0)
    want = _moments_with(pk.box_moments_numpy, lay, m0, m1, coef, tmax)
    scale = np.max(np.abs(want))
    got = [_moments_with(f, lay, m0, m1, coef, tmax, chunks, pk.MOMENT_BLOCK, lay.cell_ids)
           for f, chunks in ((pk.box_moments.serial, 1), (pk.box_moments.serial, 3),
                             (pk.box_moments.parallel, 3))]
    for g in got:
        assert np.max(np.abs(g - want)) <= 1e-13 * scale
    np.testing.assert_array_equal(got[1], got[2])      # threads do not change the sums
    # the cells' kept panel ids give the positions that locating them gives, bit for bit
    assert lay.cell_ids[0].size == m0.size
    np.testing.assert_array_equal(
        _moments_with(pk.box_moments.serial, lay, m0, m1, coef, tmax, 3, pk.MOMENT_BLOCK,
                      pk.NO_IDS), got[1])
    got = got[0]
    if not tilted:   # the zeroth moments are the boxes' masses
        assert abs(got[0, lay.box_off].sum() - m0.sum()) <= 1e-13


def test_box_moments_blocks_do_not_change_the_sums():
    """Sums over blocks of 64 cells (several blocks, each box's cells split) equal those over
    one block (to rounding), one base and two, with and without a tilt."""
    lay, m0, m1 = _layout_and_masses(24)
    assert m0.size > 8 * 64
    rng = np.random.default_rng(3)
    tilt = (rng.normal(scale=0.3, size=(lay.n_boxes, int(lay.box_na.max()),
                                        int(lay.box_nb.max()))), rng.normal(size=lay.n_boxes))
    for masses in ((m0, m1), (m0, np.empty(0))):
        for t in ((np.zeros((0, 1, 1)), np.zeros(0)), tilt):
            one = _moments_with(pk.box_moments.serial, lay, *masses, *t, 1, m0.size,
                                lay.cell_ids)
            small = _moments_with(pk.box_moments.serial, lay, *masses, *t, 1, 64, pk.NO_IDS)
            assert np.max(np.abs(small - one)) <= 1e-15 * max(1.0, np.max(np.abs(one)))


def test_log_weights_at_cells_matches_numpy_twin_and_interpolates():
    """The materialization kernel against its twin (serial and parallel identical for the
    same ranges of cells), and a function that is a tensor polynomial of the box degrees
    comes back exactly (to rounding) at every cell."""
    lay, m0, _ = _layout_and_masses()
    na, nb = int(lay.box_na.max()), int(lay.box_nb.max())
    rng = np.random.default_rng(7)
    coef = rng.normal(size=(lay.n_boxes, na, nb))
    outs = []
    ids = lay.cell_ids
    for f, chunks, block, i in ((pk.log_weights_at_cells.serial, 3, pk.VALUES_BLOCK, ids),
                                (pk.log_weights_at_cells.parallel, 3, pk.VALUES_BLOCK, ids),
                                (pk.log_weights_at_cells_numpy, 1, None, None),
                                (pk.log_weights_at_cells.serial, 1, 64, ids),   # many blocks
                                (pk.log_weights_at_cells.serial, 3, pk.VALUES_BLOCK,
                                 pk.NO_IDS)):                                  # located
        out = np.empty(m0.size)
        f(lay.ra, lay.rb, m0, lay.axes[0].geo, lay.axes[1].geo, lay.box_id, coef, lay.box_na,
          lay.box_nb, 0.5, out, chunks, block, i)
        outs.append(out)
    np.testing.assert_array_equal(outs[0], outs[1])
    np.testing.assert_array_equal(outs[0], outs[4])
    np.testing.assert_allclose(outs[0], outs[2], rtol=0, atol=1e-12)
    np.testing.assert_allclose(outs[3], outs[2], rtol=0, atol=1e-12)
    # f = d_a^2 - 3 d_a d_b (depths below the tops): a polynomial of degree 2 in each box
    da, db = lay.axes[0].geo[0] - lay.ra, lay.axes[1].geo[0] - lay.rb
    values = np.zeros((lay.n_boxes, na, nb))
    for c in lay.classes:
        xa = lay.axes[0].sdepth[c.sa][:, :, None]
        xb = lay.axes[1].sdepth[c.sb][:, None, :]
        values[c.boxes, :c.na, :c.nb] = xa ** 2 - 3 * xa * xb
    coef = np.zeros_like(values)
    for c in lay.classes:
        coef[c.boxes, :c.na, :c.nb] = tensor_coefficients(values[c.boxes, :c.na, :c.nb])
    out = np.empty(m0.size)
    pk.log_weights_at_cells(lay.ra, lay.rb, m0, lay.axes[0].geo, lay.axes[1].geo, lay.box_id,
                            coef, lay.box_na, lay.box_nb, 0.0, out, 1, pk.VALUES_BLOCK, ids)
    np.testing.assert_allclose(out, da ** 2 - 3 * da * db, rtol=0, atol=1e-11)


def _state(lay, seed=5):
    """A smooth state at the layout's state points with a box of ``-inf`` and a box partly
    ``-inf`` (a base without mass there)."""
    rng = np.random.default_rng(seed)
    L = np.empty(lay.points)
    for c in lay.classes:
        xa = lay.axes[0].sdepth[c.sa][:, :, None]
        xb = lay.axes[1].sdepth[c.sb][:, None, :]
        L[c.sl] = (np.sin(0.7 * xa) * xb - 0.3 * xb ** 2 + rng.normal(size=(c.boxes.size, 1, 1))
                   ).ravel()
    s = lay.slot_start
    L[s[1]:s[2]] = -np.inf
    L[s[3]:s[3] + 2] = -np.inf
    return L


@pytest.mark.parametrize("tilted", [False, True])
def test_box_shift_matches_numpy_twin(tilted):
    """Per-box extremes of ``L - T`` and ``L - T - max``: the same operations, the same bits."""
    lay, _, _ = _layout_and_masses()
    L = _state(lay)
    T = np.cos(np.arange(lay.points)) if tilted else np.empty(0)
    outs = []
    for f in (pk.box_shift, pk.box_shift_numpy):
        g, gmax, gmin = np.empty(lay.points), np.empty(lay.n_boxes), np.empty(lay.n_boxes)
        with np.errstate(invalid="ignore"):
            f(L, T, lay.slot_start, lay.slot_na, lay.slot_nb, lay.slot_box, g, gmax, gmin)
        outs.append((g, gmax, gmin))
    for got, want in zip(*outs):
        np.testing.assert_array_equal(got, want)
    assert np.isneginf(outs[0][1]).sum() == 1 and np.isnan(outs[0][0]).sum() > 0


def test_panel_marginal_matches_numpy_lines():
    """The kernel against the scatter-max, exp and bincount it replaces (a box without mass,
    ``gmax = -inf``, contributes nothing)."""
    lay, _, _ = _layout_and_masses()
    rng = np.random.default_rng(8)
    gmax = rng.normal(scale=5.0, size=lay.n_boxes)
    gmax[3] = -np.inf
    for u, (ax, box_q) in enumerate(zip(lay.axes, (lay.box_qa, lay.box_qb))):
        marg = rng.normal(size=lay.slot_cub[u].size)
        s_panel, w = np.empty(ax.size), np.empty(int(ax.nptr[-1]))
        pk.panel_marginal(gmax, box_q, marg, lay.slot_cub[u], lay.slot_cub_box[u], ax.size,
                          w.size, s_panel, w)
        want_s = np.full(ax.size, -np.inf)
        np.maximum.at(want_s, box_q, gmax)
        f = np.exp(gmax - want_s[box_q])
        f[~np.isfinite(f)] = 0.0
        want_w = np.bincount(lay.slot_cub[u], weights=marg * f[lay.slot_cub_box[u]],
                             minlength=w.size)
        np.testing.assert_array_equal(s_panel, want_s)
        np.testing.assert_allclose(w, want_w, rtol=1e-15, atol=1e-15 * np.abs(want_w).max())


def test_step_sums_and_check_kernels_match_numpy_lines():
    """box_log_total, signed_expectation, heaviest_bound and unresolved_boxes against the
    numpy lines of PairEngine they replace on the numba route (boxes without mass,
    panels without mass, nan tails, boxes too small to be checked)."""
    rng = np.random.default_rng(21)
    nbox = 50
    n_ca = rng.integers(1, 19, nbox)
    ca_off = np.concatenate([[0], np.cumsum(n_ca)[:-1]]).astype(np.int64)
    slot_box = rng.permutation(nbox).astype(np.int64)
    ca = rng.uniform(0, 1, n_ca.sum())
    gmax = rng.normal(scale=30, size=nbox)
    gmax[[3, 9]] = -np.inf
    box_sum = np.empty(nbox)
    box_sum[slot_box] = np.add.reduceat(ca, ca_off)
    fin = np.isfinite(gmax)
    top = float(np.max(gmax[fin]))
    want = top + math.log(float(np.sum(box_sum[fin] * np.exp(gmax[fin] - top))))
    got = pk.box_log_total(ca, ca_off, n_ca, slot_box, gmax)
    assert abs(got - want) <= 1e-14 * abs(want)
    assert pk.box_log_total(ca, ca_off, n_ca, slot_box, np.full(nbox, -np.inf)) == -np.inf

    ptr = np.concatenate([[0], np.cumsum(rng.integers(0, 19, 30))]).astype(np.int64)
    w = rng.normal(size=ptr[-1])
    h = rng.uniform(0.1, 2, ptr[-1])
    s_panel = rng.normal(size=30)
    s_panel[[0, 7]] = -np.inf
    per_panel = np.add.reduceat(w * h, ptr[:-1])
    per_panel[np.diff(ptr) == 0] = 0.0         # reduceat's value at an empty panel
    ok = np.isfinite(s_panel)
    want = float(np.sum(per_panel[ok] * np.exp(s_panel[ok] - 1.5)))
    got = pk.signed_expectation(w, h, ptr, s_panel, 1.5)
    assert abs(got - want) <= 1e-14 * np.sum(np.abs(per_panel[ok]) * np.exp(s_panel[ok] - 1.5))

    top = rng.normal(scale=5, size=nbox)
    bottom = top - rng.uniform(0, 40, nbox)
    box_log_mass = rng.normal(scale=10, size=nbox)
    box_log_mass[2] = -np.inf
    top[4] = np.nan
    err_a, err_b = 10 ** rng.uniform(-16, -8, nbox), 10 ** rng.uniform(-16, -8, nbox)
    err_a[5] = np.nan
    resolved = rng.uniform(size=nbox) > 0.2
    bound = top + box_log_mass
    with np.errstate(invalid="ignore"):
        heaviest = float(np.max(np.where(np.isfinite(bound), bound, -np.inf)))
    assert pk.heaviest_bound(top, box_log_mass) == heaviest
    from numerics.engine import INTERPOLATION_TOL
    ulps = 64 * np.finfo(float).eps
    for cut in (heaviest - 23.0, heaviest - 5.0, -np.inf):
        with np.errstate(invalid="ignore"):
            tol = INTERPOLATION_TOL + ulps * np.maximum(top, -bottom)
            want = resolved & (bound > cut) & ~(err_a + err_b <= tol)
        bad = np.empty(nbox, dtype=np.bool_)
        n = pk.unresolved_boxes(top, bottom, err_a, err_b, box_log_mass, cut, resolved,
                                INTERPOLATION_TOL, ulps, bad)
        np.testing.assert_array_equal(bad, want)
        assert n == want.sum() > 0


@pytest.mark.parametrize("shape", [(5, 7, 1), (3, 10, 12), (0, 4, 4)])
def test_middle_dots_match_einsum(shape):
    rng = np.random.default_rng(4)
    X, Y = rng.normal(size=shape), rng.normal(size=shape)
    got = np.full((shape[0], shape[2]), np.nan)
    pk.middle_dots(X, Y, got)
    np.testing.assert_allclose(got, np.einsum("pik,pik->pk", X, Y), rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("scaled", [False, True])
def test_point_factor_matches_numpy_twin(scaled):
    """``H_a + H_b`` at the state points (times ``W F[box]``): the same bits as the gather
    through each point's axis points and box."""
    lay, _, _ = _layout_and_masses()
    rng = np.random.default_rng(2)
    ha = rng.uniform(size=lay.axes[0].sdepth.size)
    hb = rng.uniform(size=lay.axes[1].sdepth.size)
    W = rng.uniform(size=lay.points) if scaled else np.empty(0)
    F = rng.uniform(size=lay.n_boxes) if scaled else np.empty(0)
    got, want = np.empty(lay.points), np.empty(lay.points)
    pk.point_factor(ha, hb, lay.slot_start, lay.slot_na, lay.slot_nb, lay.slot_a0, lay.slot_b0,
                    W, F, lay.slot_box, got)
    pk.point_factor_numpy(ha, hb, lay.point_pa, lay.point_pb, lay.point_box, W, F, want)
    np.testing.assert_array_equal(got, want)


def test_box_check_matches_numpy_twin():
    """Per-box extremes (exact), the tails of the tensor Chebyshev coefficients (to
    rounding: other sums) and the count of finite values, against the class-wise matrix
    products of ``PairEngine._box_check_numpy``."""
    mass, r1, r2 = _grid(64)
    eng = PairEngine(_rule(r1, r2), mass.ravel(), None, 0.5, mass.shape)
    assert {(c.na > 2, c.nb > 2) for c in eng.classes} >= {(True, True)}
    L = _state(eng)
    g = np.empty(eng.points)
    with np.errstate(invalid="ignore"):
        got, want = eng._box_check(L, g), eng._box_check_numpy(L)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    shifted = np.empty(eng.points)       # the shift of the next step: box_shift's bits
    with np.errstate(invalid="ignore"):
        pk.box_shift_numpy(L, np.empty(0), eng.slot_start, eng.slot_na, eng.slot_nb,
                           eng.slot_box, shifted, np.empty(eng.n_boxes), np.empty(eng.n_boxes))
    np.testing.assert_array_equal(g, shifted)
    ok = np.isfinite(want[2]) & np.isfinite(want[3])
    assert ok.sum() == eng.n_boxes - 2
    for k in (2, 3):
        np.testing.assert_allclose(got[k][ok], want[k][ok], rtol=1e-12, atol=1e-15)
    assert got[4] == want[4] == eng.points - eng.slot_na[1] * eng.slot_nb[1] - 2


@pytest.mark.parametrize("lam, data", [(0.5, False), (0.5, True), (math.inf, False)])
def test_pair_engine_kernels_match_numpy_twins_over_steps(lam, data):
    """The engine on its numba kernels (per-box scans, the data base's update from the
    step's weights) against its numpy twins (``use_numba=False``), state by state."""
    mass, r1, r2 = _grid(64)
    m = mass.ravel()
    d = np.roll(m, 37) if data else None
    engines = [PairEngine(_rule(r1, r2), m, d, lam, mass.shape, use_numba=u)
               for u in (True, False)]
    for _ in range(30):
        for e in engines:
            e.advance()
    for a, b in zip(*(e.log_weights() for e in engines)):
        fin = np.isfinite(b)
        np.testing.assert_array_equal(np.isfinite(a), fin)
        # measured: 1e-15 to 9e-14 on |L| up to 139 (lam = inf, the data base re-tilted)
        assert np.max(np.abs(a[fin] - b[fin])) <= 1e-14 * max(1.0, np.max(np.abs(b[fin])))
    assert engines[0].rebuilds == engines[1].rebuilds


# ------------------------------------------------------------------------- dynamics
@pytest.mark.parametrize("lam, data, steps, tol", [
    (math.inf, False, 120, 1e-11),   # w_t ~ e^{t r}: re-tilted several times
    (0.5, False, 60, 1e-12),         # p_d = p_0: one base
    (0.3, True, 60, 1e-12),          # p_d != p_0: two bases
])
def test_pair_engine_matches_exact_joint_engine(lam, data, steps, tol):
    """Per cell, relative to the exact joint-atom engine, on a 96^2 grid whose pairs of
    rewards are all distinct; the expected rewards of both user types too."""
    mass, r1, r2 = _grid(96)
    rule = _rule(r1, r2)
    m0 = mass.ravel()
    d = (_grid(96, shift=0.3)[0].ravel()) if data else None
    pe = PairEngine(rule, m0, d, lam, mass.shape)
    je = JointEngine(rule, m0, d, lam, mass.shape)
    for _ in range(steps):
        pe.advance()
        je.advance()
    assert _max_rel(pe.materialize(), je.materialize()) <= tol
    np.testing.assert_allclose(pe.expected_rewards(), je.expected_rewards(), rtol=0,
                               atol=tol)
    if lam == math.inf:
        assert pe.rebuilds >= 2


def test_pair_engine_plackett_luce_and_shared_axis():
    """Three user types on two rewards (two on the same one), Plackett-Luce among them; with
    real data and K = inf (a condensing fixed point, T13) on the finer layout."""
    mass, r1, r2 = _grid(80)
    rule = cur.mixture([(0.5, cur.bradley_terry(r1, 3)), (0.3, cur.plackett_luce(r2, 5, 2)),
                        (0.2, cur.bradley_terry(r1, math.inf))])
    pe = PairEngine(rule, mass.ravel(), None, 2.0, mass.shape, resolution=REFINED)
    je = JointEngine(rule, mass.ravel(), None, 2.0, mass.shape)
    for _ in range(30):
        pe.advance()
        je.advance()
    assert _max_rel(pe.materialize(), je.materialize()) <= 1e-11


def test_marginal_gauss_rules_reproduce_the_cubature(monkeypatch):
    """The expected rewards read off the marginals' Gauss rules equal those of the engine's
    own density on the grid to 1e-12 at every step (measured 3.7e-13).  Clipping the rules'
    nodes to their panel (as for a positive measure) fails this (measured 2.5e-6): a marginal
    of a cubature is signed, its Jacobi matrix may have an eigenvalue just outside [-1, 1]."""
    mass, r1, r2 = _grid(128)
    rule = _rule(r1, r2)

    def worst(steps):
        pe = PairEngine(rule, mass.ravel(), None, math.inf, mass.shape)
        out = 0.0
        for _ in range(steps):
            pe.advance()
            p = pe.materialize()
            own = np.array([p @ r1.ravel(), p @ r2.ravel()])
            out = max(out, float(np.max(np.abs(pe.expected_rewards() - own))))
        return out

    assert worst(50) <= 1e-12
    unclipped = pk.gauss_from_recurrence

    def clipped(alpha, beta, n_used, *warm):
        counts, x, w = unclipped(alpha, beta, n_used, *warm)
        return counts, np.clip(x, -1.0, 1.0), w

    monkeypatch.setattr(pk, "gauss_from_recurrence", clipped)
    assert worst(50) > 1e-9


@pytest.mark.parametrize("lam, data", [(1.0, False), (0.5, True), (math.inf, False)])
def test_state_round_trip_and_snapshot(lam, data):
    """A snapshot (which holds the state arrays, not copies) materializes the state of its
    step after 15 more steps (one base, two, and lam = inf), as does the state set back."""
    mass, r1, r2 = _grid(64)
    d = np.roll(mass.ravel(), 37) if data else None
    pe = PairEngine(_rule(r1, r2), mass.ravel(), d, lam, mass.shape)
    for _ in range(3):
        pe.advance()
    snap = pe.snapshot()
    state = pe.log_weights()
    p3 = pe.materialize()
    for _ in range(15):
        pe.advance()
    np.testing.assert_array_equal(snap(), p3)
    pe.set_log_weights(state)
    np.testing.assert_array_equal(pe.materialize(), p3)
    np.testing.assert_array_equal(snap(), p3)
    with pytest.raises(ValueError, match="set_log_weights"):
        pe.set_log_weights((state[0][:-1],))


def test_resolution_loss_is_raised_where_the_layout_fails():
    """A condensing run (lam (K-1) = 6) on the standard layout loses the front near the top
    within a few steps: the check raises, naming the step and the depth."""
    mass, r1, r2 = _grid(96)
    lost = []
    for use_numba in (True, False):    # the check's kernel and its numpy twin agree
        pe = PairEngine(_rule(r1, r2), mass.ravel(), None, 2.0, mass.shape,
                        use_numba=use_numba)
        with pytest.raises(ResolutionLost, match="step") as info:
            for _ in range(200):
                pe.advance()
        lost.append(info.value)
    assert lost[0].step == lost[1].step and lost[0].panel_depth == lost[1].panel_depth
    assert lost[0].tolerance == pytest.approx(lost[1].tolerance, rel=1e-12)
    assert lost[0].error == pytest.approx(lost[1].error, rel=1e-6)


# ------------------------------------------------------------------------- evolve
def test_compressed_pair_engine_dispatch():
    mass, r1, r2 = _grid(40)                    # 1600 cells: the exact engine pays
    rule = _rule(r1, r2)
    assert compressed_pair_engine(rule, mass.ravel(), None, 1.0, mass.shape) is None
    assert isinstance(compressed_pair_engine(rule, mass.ravel(), None, 1.0, mass.shape,
                                             method="compressed"), PairEngine)
    assert compressed_pair_engine(rule, mass.ravel(), None, 1.0, mass.shape,
                                  method="direct") is None
    assert compressed_pair_engine(rule, mass.ravel(), None, 1.0, mass.shape,
                                  resolution=REFINED.refined(None).refined(None)) is None


@pytest.mark.slow
def test_evolve_two_users_on_the_compressed_law_matches_direct():
    """``evolve`` on mog8-two-users at 512^2 takes the compressed joint law by itself, and
    agrees with the exact engine per cell and in every user type's expected reward."""
    from numerics.scenarios import get_scenario
    sc = get_scenario("mog8-two-users", grid=512)
    for lam in (math.inf, 1.0):
        a = evolve(sc.mass, sc.rule, steps=20, lam=lam)
        b = evolve(sc.mass, sc.rule, steps=20, lam=lam, method="direct")
        assert a.method == "compressed" and "two rewards" in a.info["resolution"]
        assert b.info["resolution"] == "joint atoms (exact)"
        assert _max_rel(a.masses[-1], b.masses[-1]) <= 1e-10
        np.testing.assert_allclose(a.info["expected_reward_by_user"],
                                   b.info["expected_reward_by_user"], rtol=0, atol=1e-12)
        np.testing.assert_allclose(a.expected_reward, b.expected_reward, rtol=0, atol=1e-12)
        np.testing.assert_allclose(a.expected_exp_reward, b.expected_exp_reward, rtol=1e-11)


@pytest.mark.slow
def test_evolve_restarts_down_the_ladder_and_stays_exact():
    """A condensing two-user run forced onto the compressed law restarts on finer layouts
    (reported in info["restarts"]) and ends equal to the exact engine."""
    mass, r1, r2 = _grid(96)
    rule = _rule(r1, r2)
    a = evolve(mass, rule, steps=40, lam=2.0, method="compressed")
    b = evolve(mass, rule, steps=40, lam=2.0, method="direct")
    assert a.info["restarts"], a.info
    assert _max_rel(a.masses[-1], b.masses[-1]) <= 1e-10


def test_limit_of_a_two_user_mixture_on_the_compressed_law(monkeypatch):
    """``limit`` of two Bradley-Terry user types with real data (T's fixed point by the
    accelerated iteration) on the compressed joint law equals the one on the exact joint
    atoms, and has T's form ``p = p_d / (1 + lam - lam H)`` with ``H`` from the one-reward
    curation factors of each user type."""
    from numerics import curation_factor, limit, pair_law as pl
    mass, r1, r2 = _grid(96)
    rule = _rule(r1, r2, K=3.0)
    lam = 0.3
    original = pl.compressed_pair_engine
    monkeypatch.setattr(pl, "compressed_pair_engine",
                        lambda *a, **k: original(*a, **dict(k, method="compressed")))
    got = limit(mass, rule, lam)
    assert "two rewards" in got.info["resolution"] and got.converged
    monkeypatch.setattr(pl, "compressed_pair_engine", lambda *a, **k: None)
    exact = limit(mass, rule, lam)
    assert exact.info["resolution"] == "joint atoms (exact)"
    assert 0.5 * np.abs(got.mass - exact.mass).sum() < 1e-11
    H = 0.6 * curation_factor(got.mass, r1, 3) + 0.4 * curation_factor(got.mass, r2, 3)
    np.testing.assert_allclose(got.mass, mass / (1 + lam - lam * H), rtol=1e-10)


def test_in_halves_runs_both_halves_and_reraises(monkeypatch):
    """The materialization's split over the cells (numerics.threads.in_halves): both halves,
    in order, on two threads where parallel pays (forced here), one call otherwise; an error
    in the helper thread's half reaches the caller."""
    from numerics import threads
    monkeypatch.setattr(threads, "parallel_pays", lambda n: True)
    seen = []
    assert threads.in_halves(lambda lo, hi: seen.append((lo, hi)) or hi - lo, 11) == [5, 6]
    assert sorted(seen) == [(0, 5), (5, 11)]

    def fail_first(lo, hi):
        if lo == 0:
            raise RuntimeError("first half")
        return hi

    with pytest.raises(RuntimeError, match="first half"):
        threads.in_halves(fail_first, 8)
    monkeypatch.setattr(threads, "parallel_pays", lambda n: False)
    assert threads.in_halves(lambda lo, hi: (lo, hi), 11) == [(0, 11)]
    # the materialization on two threads equals the one-thread sums to rounding
    mass, r1, r2 = _grid(64)
    pe = PairEngine(_rule(r1, r2), mass.ravel(), np.roll(mass.ravel(), 37), 0.5, mass.shape)
    for _ in range(5):
        pe.advance()
    one = pe.materialize()
    monkeypatch.setattr(threads, "parallel_pays", lambda n: True)
    two = pe.materialize()
    np.testing.assert_allclose(two, one, rtol=1e-15, atol=0)
    assert abs(two.sum() - 1.0) <= 1e-14
