r"""Passes over the grid for the compressed law of two rewards (:mod:`numerics.pair_law`).

A cell ``i`` lies at depths ``d_a = top_a - r_a(i)`` and ``d_b = top_b - r_b(i)`` below the top
of each reward; each axis is cut into panels (:mod:`numerics.panels`), and a cell belongs to
the *box* (panel of ``d_a``) x (panel of ``d_b``), at the position ``(x_a, x_b)`` in
``[-1, 1]^2`` of that box.  Four passes:

- :func:`pair_extremes`: both rewards' extremes on the support (the panels' layouts);
- :func:`count_boxes`: cells of the support per pair of raw panels (which boxes exist), and
  each cell's raw panel ids, which the two passes below read instead of locating the cell;
- :func:`box_moments`: the tensor Chebyshev moments of each base measure in each box,
  ``M[box, d, e] = sum_i m_i w_i T_d(x_a(i)) T_e(x_b(i))`` for ``d < N_a, e < N_b`` (``w_i = 1``,
  or a tilt ``exp(T(x_a, x_b) - tmax[box])`` given by tensor Chebyshev coefficients);
- :func:`log_weights_at_cells`: a function of ``(r_a, r_b)`` given per box by tensor Chebyshev
  coefficients, ``f(x_a, x_b) = sum_{d, e} C[box, d, e] T_d(x_a) T_e(x_b)``, at every cell with
  mass (the materialization).

and, for each step of :class:`numerics.pair_law.PairEngine`, passes over the state (its values
at the boxes' tensor grids, ``O(boxes x n_a n_b)``), each one scan of every box while it sits
in cache, the exponentials and logarithms left to numpy on whole buffers between them:

- :func:`box_shift`: per box the extremes of ``L - T`` and ``L - T - max`` (then ``W = exp``);
- :func:`point_factor`: ``H_a(x_j) + H_b(y_k)`` at every state point (times ``W F[box]`` for
  the data base's update, then ``log1p``);
- :func:`box_check`: per box the extremes of ``L`` and the tails of its tensor Chebyshev
  coefficients (the resolution check; :func:`unresolved_boxes` the per-box test);
- the small sums between them (:func:`box_log_total`, :func:`signed_expectation`,
  :func:`panel_marginal`), and around the marginals' Gauss rules (:func:`usable_steps`,
  :func:`gauss_from_recurrence`, warm-started by Newton's method, :func:`rule_depths`).

Every kernel has a pure numpy twin (``*_numpy``, or numpy lines of the engine) that the tests
compare it with.  The passes over the grid run in fixed ranges of cells (in parallel; their
sums do not depend on the thread count), the per-step kernels serially.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .panels import _locate, _panel_frame, _panel_inside, locate_numpy
from .threads import kernel

__all__ = ["count_boxes", "count_boxes_numpy", "box_moments", "box_moments_numpy",
           "log_weights_at_cells", "log_weights_at_cells_numpy", "tensor_value", "box_shift",
           "box_shift_numpy", "panel_marginal", "middle_dots", "point_factor",
           "point_factor_numpy", "box_check", "gauss_from_recurrence", "pair_extremes",
           "box_log_total", "signed_expectation", "heaviest_bound", "unresolved_boxes",
           "usable_steps", "rule_depths", "frame_table", "NO_IDS"]


@numba.njit(cache=True, inline="always")
def _inverse_width(width):
    """``1 / width`` where that is a power of two (then ``(d - D) / width == (d - D) *
    inv`` bit for bit: both are the correctly rounded value of the same real number), else 0
    (:func:`_locate_fast` then divides)."""
    mant, _ = math.frexp(width)
    return 1.0 / width if mant == 0.5 else 0.0


@numba.njit(cache=True, inline="always")
def _locate_fast(d, D, J, width, inv_width):
    """:func:`numerics.panels._locate` (the same raw panel and position, bit for bit), its two
    divisions on the uniform panels (the bulk of the cells) by multiplications when
    ``inv_width = 1 / width`` is given (:func:`_inverse_width`, a power of two): measured
    25 -> 18.5 ms for the 2 x 2048^2 depths of the benchmark, one thread."""
    if inv_width == 0.0 or d < D:
        return _locate(d, D, J, width)
    q = int(math.floor((d - D) * inv_width))
    x = (D + (q + 0.5) * width - d) * (2.0 * inv_width)
    if x > 1.0:
        x = 1.0
    elif x < -1.0:
        x = -1.0
    return J + 2 + q, x


#: no per-cell raw panel ids: the passes over the grid locate every cell
NO_IDS = (np.empty(0, dtype=np.uint16), np.empty(0, dtype=np.uint16), np.empty((2, 0)),
          np.empty((2, 0)))
#: the largest raw panel id that the per-cell ids (``uint8`` or ``uint16``) hold
MAX_ID = (1 << 16) - 1


def frame_table(geo, n_raw):
    """``(2, n_raw)``: per raw panel id its centre depth ``c`` and half-width ``hw`` as
    :func:`numerics.panels._locate` forms them (``c = 0, hw = 1`` for the top level set,
    whose depth is 0): the frames that give a located cell its position again,
    ``x = (c - d) / hw`` (:func:`_block_positions`)."""
    D, J, width = float(geo[1]), int(geo[2]), float(geo[3])
    out = np.zeros((2, n_raw))
    out[1, 0] = 1.0
    for raw in range(1, n_raw):
        out[0, raw], out[1, raw] = _panel_frame(raw, D, J, width)
    return out


@numba.njit(cache=True, inline="always")
def _climb(r, top, second, bottom):
    """One reward into the running ``(top, second, bottom)``: the values of
    :func:`numerics.panels.reward_extremes`."""
    if r > top:
        second = top
        top = r
    elif r < top and r > second:
        second = r
    if r < bottom:
        bottom = r
    return top, second, bottom


@kernel
def pair_extremes(ra, rb, m0, m1, chunks):
    """:func:`numerics.panels.reward_extremes` of both rewards in one pass over the cells
    (the masses read once): ``out[u] = (largest, largest strictly below it, smallest)`` of
    reward ``u`` on the support ``{m0 > 0} | {m1 > 0}``; ``chunks`` fixed blocks in parallel,
    combined as there."""
    n = ra.shape[0]
    part = np.empty((chunks, 2, 3))
    step = (n + chunks - 1) // chunks
    for c in numba.prange(chunks):
        ta = sa = tb = sb = -np.inf
        ba = bb = np.inf
        for i in range(min(c * step, n), min((c + 1) * step, n)):
            if m0[i] > 0.0 or m1[i] > 0.0:
                ta, sa, ba = _climb(ra[i], ta, sa, ba)
                tb, sb, bb = _climb(rb[i], tb, sb, bb)
        part[c, 0, 0], part[c, 0, 1], part[c, 0, 2] = ta, sa, ba
        part[c, 1, 0], part[c, 1, 1], part[c, 1, 2] = tb, sb, bb
    out = np.empty((2, 3))
    for u in range(2):
        top = -np.inf
        bottom = np.inf
        for c in range(chunks):
            top = max(top, part[c, u, 0])
            bottom = min(bottom, part[c, u, 2])
        second = -np.inf
        for c in range(chunks):
            for k in range(2):
                v = part[c, u, k]
                if v < top and v > second:
                    second = v
        out[u, 0], out[u, 1], out[u, 2] = top, second, bottom
    return out


@kernel
def count_boxes(ra, rb, m0, m1, geo_a, geo_b, n_raw_a, n_raw_b, chunks, ida, idb):
    """``counts[raw_a, raw_b]``: support cells (``m0 > 0`` or ``m1 > 0``) per pair of raw
    panels.  ``geo_u = (top, graded_depth, levels, width)`` of axis ``u``.  ``chunks`` fixed
    ranges of cells (in parallel), each with its own table, added in order.  Where ``ida``,
    ``idb`` have cells, each support cell's raw panel ids go there (the later passes read
    them instead of locating the cell again: :func:`box_moments`,
    :func:`log_weights_at_cells`).  Each axis locates a cell only where its depth leaves the
    last located panel's interior less a margin (:func:`numerics.panels._panel_inside`, as
    :func:`numerics.panels.count_runs`), and the counts are added by runs of one pair of
    panels (measured on the 2048^2 benchmark, one thread: 21 -> 14 ms)."""
    n = ra.shape[0]
    step = (n + chunks - 1) // chunks
    parts = np.zeros((chunks, n_raw_a, n_raw_b), dtype=np.int64)
    ta, Da, Ja, wa = geo_a[0], geo_a[1], int(geo_a[2]), geo_a[3]
    tb, Db, Jb, wb = geo_b[0], geo_b[1], int(geo_b[2]), geo_b[3]
    ia, ib = _inverse_width(wa), _inverse_width(wb)
    keep = ida.shape[0] > 0
    for c in numba.prange(chunks):
        counts = parts[c]
        # per axis, the last located panel and the depths strictly inside it less a margin
        # (panels._panel_inside: empty at first): a cell there is in that panel
        cur_a = cur_b = 0
        lo_a, hi_a, lo_b, hi_b = 1.0, 0.0, 1.0, 0.0
        prev_a = prev_b = -1   # the pair of the current run of cells, and its length so far
        run = 0
        for i in range(min(c * step, n), min((c + 1) * step, n)):
            if m0[i] > 0.0 or m1[i] > 0.0:
                da = ta - ra[i]
                if not lo_a < da < hi_a:
                    cur_a, _ = _locate_fast(da, Da, Ja, wa, ia)
                    lo_a, hi_a = _panel_inside(cur_a, Da, Ja, wa)
                db = tb - rb[i]
                if not lo_b < db < hi_b:
                    cur_b, _ = _locate_fast(db, Db, Jb, wb, ib)
                    lo_b, hi_b = _panel_inside(cur_b, Db, Jb, wb)
                if cur_a != prev_a or cur_b != prev_b:   # counted by runs: no chain of
                    if prev_a >= 0:                      # increments through memory
                        counts[prev_a, prev_b] += run
                    prev_a, prev_b = cur_a, cur_b
                    run = 0
                run += 1
                if keep:
                    ida[i] = cur_a
                    idb[i] = cur_b
        if prev_a >= 0:
            counts[prev_a, prev_b] += run
    for c in range(1, chunks):
        parts[0] += parts[c]
    return parts[0]


def count_boxes_numpy(ra, rb, m0, m1, geo_a, geo_b, n_raw_a, n_raw_b, chunks=1, ida=None,
                      idb=None):
    """Pure numpy twin of :func:`count_boxes`."""
    sup = (m0 > 0) | (m1 > 0)
    pa, _ = locate_numpy(geo_a[0] - ra[sup], geo_a[1], int(geo_a[2]), geo_a[3])
    pb, _ = locate_numpy(geo_b[0] - rb[sup], geo_b[1], int(geo_b[2]), geo_b[3])
    if ida is not None and ida.shape[0]:
        ida[sup], idb[sup] = pa, pb
    return np.bincount(pa * n_raw_b + pb, minlength=n_raw_a * n_raw_b).reshape(
        n_raw_a, n_raw_b).astype(np.int64)


@numba.njit(cache=True, inline="always")
def _chebyshev_t(x, n, out):
    """``out[d] = T_d(x)`` for ``d < n`` (three-term recurrence)."""
    out[0] = 1.0
    if n > 1:
        out[1] = x
        x2 = 2.0 * x
        for d in range(2, n):
            out[d] = x2 * out[d - 1] - out[d - 2]


@numba.njit(cache=True, inline="always")
def tensor_value(coef, box, na, nb, ta, tb):
    """``sum_{d < na, e < nb} coef[box, d, e] ta[d] tb[e]``."""
    acc = 0.0
    for d in range(na):
        row = 0.0
        for e in range(nb):
            row += coef[box, d, e] * tb[e]
        acc += row * ta[d]
    return acc


#: cells per block of :func:`box_moments` (its buffers: a few arrays of this length; measured
#: on 2048^2, one thread: 1 << 14 to 1 << 16 equally fast, 1 << 20 1.3x slower, its sort
#: leaving the caches)
MOMENT_BLOCK = 1 << 15
#: cells per block of :func:`log_weights_at_cells` (the same measure)
VALUES_BLOCK = 1 << 15


@numba.njit(cache=True)
def _sort_scratch(blk, n_boxes):
    """The arrays :func:`_sort_block` works in for blocks of ``blk`` cells and ``n_boxes``
    boxes: ``(runs, cxa, cxb, ccell, sxa, sxb, cell, count, pos_ab)``, ``count`` zeroed
    (``pos_ab``: both axes' positions of a block's cells, :func:`_block_positions`)."""
    return (np.empty(2 * blk + 2, dtype=np.int64), np.empty(blk), np.empty(blk),
            np.empty(blk, dtype=np.int64), np.empty(blk), np.empty(blk),
            np.empty(blk, dtype=np.int64), np.zeros(n_boxes + 1, dtype=np.int64),
            np.empty((2, blk)))


@numba.njit(cache=True, inline="always")
def _block_positions(r, ids, top, frames, out):
    """``out[j] = (c - (top - r[j])) / hw``, clipped to ``[-1, 1]``, with the frame ``(c, hw)``
    of the raw panel ``ids[j]`` (:func:`frame_table`; an id past the table, a cell outside
    the support whose id was never written, takes the last frame: its value is not read):
    the position :func:`numerics.panels._locate` gives, bit for bit (the same division), for a
    whole block in vector lanes (measured on the 2048^2 benchmark, the two axes' positions
    alone: 1.66 -> 0.83 numpy passes against a loop cell by cell that multiplied by the
    frame's inverse where exact, one thread)."""
    last = frames.shape[1] - 1
    for j in range(r.shape[0]):
        k = min(np.int64(ids[j]), last)
        x = (frames[0, k] - (top - r[j])) / frames[1, k]
        out[j] = min(max(x, -1.0), 1.0)


@numba.njit(cache=True)
def _sort_block(ra, rb, m0, m1, geo_a, geo_b, box_id, lo, hi, count, runs, cxa, cxb, ccell,
                sxa, sxb, cell, pos_ab, ids):
    """Locate the cells ``lo:hi`` with ``m0 > 0`` or ``m1 > 0`` (``m1`` may be empty) and sort
    them by box (a counting sort, keeping their order within a box): afterwards box ``q``'s
    cells are the slots ``count[q]:count[q+1]``, with positions ``sxa, sxb`` and cell
    indices ``cell`` (``count``, of length boxes + 1, is zero on entry; ``runs`` (length
    ``2 (hi - lo) + 2``), ``cxa, cxb, ccell`` and ``pos_ab`` (``(2, hi - lo)`` or more) are
    scratch).  Returns the number of cells.

    The cells are located in grid order, where neighbours mostly share a box (runs of ~40
    cells on a smooth reward at 2048^2): the first pass records the runs of one box, the
    second moves each run to its box's slots as a contiguous copy (no per-cell scatter).
    ``ids = (ida, idb, frames_a, frames_b)``: where ``ida`` has cells, the cells' raw panel
    ids from :func:`count_boxes` and the panels' frames (:func:`frame_table`), read instead
    of locating each cell (the same panels and positions; measured 38 -> 30 ms for the
    2048^2 benchmark's sort, one thread), the positions of the whole block first
    (:func:`_block_positions`); :data:`NO_IDS`: locate."""
    ida, idb, fa, fb = ids
    has_ids = ida.shape[0] > 0
    ta, Da, Ja, wa = geo_a[0], geo_a[1], int(geo_a[2]), geo_a[3]
    tb, Db, Jb, wb = geo_b[0], geo_b[1], int(geo_b[2]), geo_b[3]
    ia, ib = _inverse_width(wa), _inverse_width(wb)
    two = m1.shape[0] > 0
    n_boxes = count.shape[0] - 1
    c = 0
    n_runs = 0
    current = -1
    if has_ids:   # every cell's positions first, in vector lanes
        _block_positions(ra[lo:hi], ida[lo:hi], ta, fa, pos_ab[0, :hi - lo])
        _block_positions(rb[lo:hi], idb[lo:hi], tb, fb, pos_ab[1, :hi - lo])
    for i in range(lo, hi):
        if not (m0[i] > 0.0 or (two and m1[i] > 0.0)):
            continue
        if has_ids:
            pa, pb = np.int64(ida[i]), np.int64(idb[i])
            xa = pos_ab[0, i - lo]
            xb = pos_ab[1, i - lo]
        else:
            pa, xa = _locate_fast(ta - ra[i], Da, Ja, wa, ia)
            pb, xb = _locate_fast(tb - rb[i], Db, Jb, wb, ib)
        box = box_id[pa, pb]
        if box != current:   # counted by runs: no chain of increments through memory
            if current >= 0:
                count[current + 1] += c - runs[2 * n_runs - 1]
            runs[2 * n_runs] = box
            runs[2 * n_runs + 1] = c
            n_runs += 1
            current = box
        cxa[c] = xa
        cxb[c] = xb
        ccell[c] = i
        c += 1
    if current >= 0:
        count[current + 1] += c - runs[2 * n_runs - 1]
    runs[2 * n_runs + 1] = c
    for q in range(n_boxes):
        count[q + 1] += count[q]
    pos = count[:n_boxes].copy()
    for r in range(n_runs):
        box = runs[2 * r]
        a, z = runs[2 * r + 1], runs[2 * r + 3]
        k = pos[box]
        pos[box] = k + (z - a)
        _copy_run(cxa[a:z], cxb[a:z], ccell[a:z], sxa[k:k + (z - a)], sxb[k:k + (z - a)],
                  cell[k:k + (z - a)])
    return c


@numba.njit(cache=True, inline="always")
def _copy_run(xa, xb, ci, to_xa, to_xb, to_ci):
    """Copy one run's positions and cells (slices of one length) to their sorted slots: a
    loop, which costs less than numba's slice assignment for runs of tens of cells."""
    for j in range(xa.shape[0]):
        to_xa[j] = xa[j]
        to_xb[j] = xb[j]
        to_ci[j] = ci[j]


@numba.njit(cache=True, inline="always")
def _chebyshev_columns(x, m, n, out):
    """``out[d, j] = m[j] T_d(x[j])`` for ``d < n`` (``m`` of length 0: ``m = 1``): the
    recurrence run down the rows, each row one pass over the cells (no dependence between
    cells: vectorized)."""
    k = x.shape[0]
    if m.shape[0]:
        out[0, :k] = m
    else:
        out[0, :k] = 1.0
    if n > 1:
        r0 = out[0]
        r1 = out[1]
        for j in range(k):
            r1[j] = r0[j] * x[j]
        for d in range(2, n):
            r2 = out[d]
            r1 = out[d - 1]
            r0 = out[d - 2]
            for j in range(k):
                r2[j] = 2.0 * x[j] * r1[j] - r0[j]


@numba.njit(cache=True)
def _moments_range(ra, rb, m0, m1, geo_a, geo_b, box_id, n_a, n_b, off, out, tilt, tn_a,
                   tn_b, tmax, lo_cell, hi_cell, block, ids):
    """:func:`box_moments` on the cells ``lo_cell:hi_cell`` in blocks of ``block`` cells, into
    ``out`` (bases, slots)."""
    two = m1.shape[0] > 0
    n_bases = 2 if two else 1
    tilted = tilt.shape[0] > 0
    n_boxes = n_a.shape[0]
    Ta = np.empty(max(np.max(n_a), tilt.shape[1]))
    Tb = np.empty(max(np.max(n_b), tilt.shape[2]))
    blk = min(block, max(hi_cell - lo_cell, 1))
    runs, cxa, cxb, ccell, sxa, sxb, cell, count, pos_ab = _sort_scratch(blk, n_boxes)
    # one box's rows at a time, reused: A^T (bases n_a, cells), B^T (n_b, cells), masses
    a_buf = np.empty(blk * n_bases * np.max(n_a))
    b_buf = np.empty(blk * np.max(n_b))
    w_buf = np.empty(blk)
    for lo in range(lo_cell, hi_cell, blk):
        _sort_block(ra, rb, m0, m1, geo_a, geo_b, box_id, lo, min(lo + blk, hi_cell), count,
                    runs, cxa, cxb, ccell, sxa, sxb, cell, pos_ab, ids)
        for q in range(n_boxes):
            a, z = count[q], count[q + 1]
            if z == a:
                continue
            k = z - a
            na, nb = n_a[q], n_b[q]
            At = a_buf[:k * n_bases * na].reshape((n_bases * na, k))
            Bt = b_buf[:k * nb].reshape((nb, k))
            w = w_buf[:k]
            for b in range(n_bases):
                mb = m0 if b == 0 else m1
                for j in range(k):
                    m = mb[cell[a + j]]
                    w[j] = m if m > 0.0 else 0.0
                if tilted:
                    for j in range(k):
                        _chebyshev_t(sxa[a + j], tn_a[q], Ta)
                        _chebyshev_t(sxb[a + j], tn_b[q], Tb)
                        w[j] *= math.exp(tensor_value(tilt, q, tn_a[q], tn_b[q], Ta, Tb)
                                         - tmax[q])
                _chebyshev_columns(sxa[a:z], w, na, At[b * na:(b + 1) * na])
            _chebyshev_columns(sxb[a:z], w_buf[:0], nb, Bt)
            P = np.dot(At, Bt.T)
            for b in range(n_bases):
                for d in range(na):
                    for e in range(nb):
                        out[b, off[q] + d * nb + e] += P[b * na + d, e]
        count[:] = 0


@kernel
def box_moments(ra, rb, m0, m1, geo_a, geo_b, box_id, n_a, n_b, off, out, tilt, tn_a, tn_b,
                tmax, chunks, block, ids):
    r"""``out[k, off[box] + d n_b[box] + e] += sum_i m_k[i] w_i T_d(x_a(i)) T_e(x_b(i))`` for
    ``d < n_a[box]``, ``e < n_b[box]``, over the cells with ``m_k[i] > 0``;
    ``box_id[raw_a, raw_b]`` the box of a pair of raw panels.  ``w_i = exp(f(x_a, x_b) -
    tmax[box])`` with ``f`` given by the tensor coefficients ``tilt[box, :tn_a[box],
    :tn_b[box]]`` when ``tilt`` has boxes (the re-tilted measure), else 1.  ``m1`` of length
    0: one base (``out[0]`` only).

    ``chunks`` fixed ranges of cells (in parallel), each in blocks of ``block`` cells
    (:data:`MOMENT_BLOCK`) sorted by box (a counting sort); each box's cells of a block add
    ``A^T B`` to its moments, ``A = [m_i T_d(x_a(i))]``, ``B = [T_e(x_b(i))]``: one matrix
    product (BLAS) per box and block, the rows of ``A^T`` and ``B^T`` by the recurrence run
    over the box's cells.  The chunks' sums are added in order: the result does not depend on the
    number of threads.  ``ids``: the cells' raw panel ids and the panels' frames, or
    :data:`NO_IDS` (see :func:`_sort_block`)."""
    n = ra.shape[0]
    step = (n + chunks - 1) // chunks
    parts = np.zeros((chunks, out.shape[0], out.shape[1]))
    for c in numba.prange(chunks):
        _moments_range(ra, rb, m0, m1, geo_a, geo_b, box_id, n_a, n_b, off, parts[c], tilt,
                       tn_a, tn_b, tmax, min(c * step, n), min((c + 1) * step, n), block, ids)
    for c in range(chunks):
        out += parts[c]


def _chebyshev_t_numpy(x, n):
    """``T_d(x)`` for ``d < n``, shape ``(len(x), n)`` (``cos(d arccos x)``)."""
    return np.cos(np.arange(n)[None, :] * np.arccos(np.clip(x, -1.0, 1.0))[:, None])


def box_moments_numpy(ra, rb, m0, m1, geo_a, geo_b, box_id, n_a, n_b, off, out, tilt, tn_a,
                      tn_b, tmax, chunks=1, block=None, ids=None):
    """Pure numpy twin of :func:`box_moments` (``T_d`` as ``cos(d arccos x)``; it locates
    every cell)."""
    masses = [m0] if m1.shape[0] == 0 else [m0, m1]
    sup = np.any([m > 0 for m in masses], axis=0)
    idx = np.flatnonzero(sup)
    pa, xa = locate_numpy(geo_a[0] - ra[idx], geo_a[1], int(geo_a[2]), geo_a[3])
    pb, xb = locate_numpy(geo_b[0] - rb[idx], geo_b[1], int(geo_b[2]), geo_b[3])
    box = box_id[pa, pb]
    w = np.ones(idx.size)
    if tilt.shape[0] > 0:
        na, nb = tilt.shape[1], tilt.shape[2]
        ka = (np.arange(na)[None, :] < tn_a[box][:, None])
        kb = (np.arange(nb)[None, :] < tn_b[box][:, None])
        f = np.einsum("ide,id,ie->i", tilt[box], _chebyshev_t_numpy(xa, na) * ka,
                      _chebyshev_t_numpy(xb, nb) * kb)
        w = np.exp(f - tmax[box])
    for q in np.unique(box):
        sel = box == q
        Ta = _chebyshev_t_numpy(xa[sel], n_a[q])
        Tb = _chebyshev_t_numpy(xb[sel], n_b[q])
        for k, mk in enumerate(masses):
            m = mk[idx[sel]] * w[sel]
            out[k, off[q]:off[q] + n_a[q] * n_b[q]] += ((Ta * m[:, None]).T @ Tb).ravel()


@numba.njit(cache=True)
def _values_range(ra, rb, mass, geo_a, geo_b, box_id, coef, n_a, n_b, offset, out, lo_cell,
                  hi_cell, block, ids):
    """:func:`log_weights_at_cells` on the cells ``lo_cell:hi_cell`` in blocks of ``block``
    cells."""
    n_boxes = coef.shape[0]
    blk = min(block, max(hi_cell - lo_cell, 1))
    runs, cxa, cxb, ccell, sxa, sxb, cell, count, pos_ab = _sort_scratch(blk, n_boxes)
    none = np.empty(0)
    a_buf = np.empty(blk * coef.shape[1])
    t_buf = np.empty(3 * blk)
    acc_buf = np.empty(blk)
    for lo in range(lo_cell, hi_cell, blk):
        hi = min(lo + blk, hi_cell)
        out[lo:hi] = -np.inf
        _sort_block(ra, rb, mass, none, geo_a, geo_b, box_id, lo, hi, count, runs, cxa, cxb,
                    ccell, sxa, sxb, cell, pos_ab, ids)
        for q in range(n_boxes):
            a, z = count[q], count[q + 1]
            if z == a:
                continue
            k = z - a
            na, nb = n_a[q], n_b[q]
            At = a_buf[:k * na].reshape((na, k))
            _chebyshev_columns(sxa[a:z], none, na, At)
            Vt = np.dot(np.ascontiguousarray(coef[q, :na, :nb].T), At)    # (nb, cells)
            # sum_e Vt[e] T_e(x_b), the recurrence carried along, row by row over the cells
            x = sxb[a:z]
            acc = acc_buf[:k]
            t0, t1 = t_buf[:k], t_buf[blk:blk + k]
            t0[:] = 1.0
            acc[:] = Vt[0]
            if nb > 1:
                t1[:] = x
                r = Vt[1]
                for j in range(k):
                    acc[j] += r[j] * x[j]
            for e in range(2, nb):
                r = Vt[e]
                for j in range(k):
                    t2 = 2.0 * x[j] * t1[j] - t0[j]
                    acc[j] += r[j] * t2
                    t0[j] = t1[j]
                    t1[j] = t2
            for j in range(k):
                out[cell[a + j]] = acc[j] - offset
        count[:] = 0


@kernel
def log_weights_at_cells(ra, rb, mass, geo_a, geo_b, box_id, coef, n_a, n_b, offset, out,
                         chunks, block, ids):
    """``out[i] = f(x_a(i), x_b(i)) - offset`` at the cells with ``mass > 0`` (``-inf``
    elsewhere), ``f`` given per box by ``coef[box, :n_a[box], :n_b[box]]``.

    ``chunks`` ranges of cells in parallel, each in blocks of ``block`` cells
    (:data:`VALUES_BLOCK`) sorted by box as in :func:`box_moments`; each box's cells of a
    block are evaluated together: ``V = A C`` (one matrix product, ``A = [T_d(x_a(i))]``), then
    ``f_i = sum_e V[i, e] T_e(x_b(i))`` (the recurrence in ``x_b`` run over the cells).
    ``ids``: the cells' raw panel ids and the panels' frames, or :data:`NO_IDS` (see
    :func:`_sort_block`)."""
    n = ra.shape[0]
    step = (n + chunks - 1) // chunks
    for c in numba.prange(chunks):
        _values_range(ra, rb, mass, geo_a, geo_b, box_id, coef, n_a, n_b, offset, out,
                      min(c * step, n), min((c + 1) * step, n), block, ids)


def log_weights_at_cells_numpy(ra, rb, mass, geo_a, geo_b, box_id, coef, n_a, n_b, offset,
                               out, chunks=1, block=None, ids=None):
    """Pure numpy twin of :func:`log_weights_at_cells` (it locates every cell)."""
    out[:] = -np.inf
    idx = np.flatnonzero(mass > 0)
    pa, xa = locate_numpy(geo_a[0] - ra[idx], geo_a[1], int(geo_a[2]), geo_a[3])
    pb, xb = locate_numpy(geo_b[0] - rb[idx], geo_b[1], int(geo_b[2]), geo_b[3])
    box = box_id[pa, pb]
    NA, NB = coef.shape[1], coef.shape[2]
    Ta = _chebyshev_t_numpy(xa, NA) * (np.arange(NA)[None, :] < n_a[box][:, None])
    Tb = _chebyshev_t_numpy(xb, NB) * (np.arange(NB)[None, :] < n_b[box][:, None])
    out[idx] = np.einsum("ide,id,ie->i", coef[box], Ta, Tb) - offset


@numba.njit(cache=True, inline="always")
def _hypot(a, b):
    """``sqrt(a^2 + b^2)``: ``math.hypot``'s value (to an ulp) at a fraction of its cost
    where the squares neither overflow nor underflow, else ``math.hypot``."""
    m = max(abs(a), abs(b))
    if 1e-150 < m < 1e150:
        return math.sqrt(a * a + b * b)
    return math.hypot(a, b)


@numba.njit(cache=True)
def _tridiagonal_ql(d, e, z):
    """Eigenvalues of the symmetric tridiagonal matrix with diagonal ``d`` and off-diagonal
    ``e[:-1]`` (``e[-1] = 0``), in place in ``d``, and the first row of its eigenvector matrix
    in ``z`` (``z = e_1`` on entry): the implicit QL algorithm with Wilkinson shifts (Press et
    al., *Numerical Recipes*, 2007, sec. 11.4, ``tqli``), the rotations applied to that row
    only (Golub and Welsch, 1969)."""
    n = d.shape[0]
    eps = np.finfo(np.float64).eps
    for l in range(n):
        it = 0
        while True:
            m = l
            while m < n - 1:
                dd = abs(d[m]) + abs(d[m + 1])
                if abs(e[m]) <= eps * dd:
                    break
                m += 1
            if m == l:
                break
            it += 1
            if it > 60:
                break
            g = (d[l + 1] - d[l]) / (2.0 * e[l])
            r = _hypot(g, 1.0)
            g = d[m] - d[l] + e[l] / (g + (r if g >= 0.0 else -r))
            s = 1.0
            c = 1.0
            p = 0.0
            i = m - 1
            deflated = False
            while i >= l:
                f = s * e[i]
                b = c * e[i]
                r = _hypot(f, g)
                e[i + 1] = r
                if r == 0.0:
                    d[i + 1] -= p
                    e[m] = 0.0
                    deflated = True
                    break
                s = f / r
                c = g / r
                g = d[i + 1] - p
                r = (d[i] - g) * s + 2.0 * c * b
                p = s * r
                d[i + 1] = g + p
                g = c * r - b
                f = z[i + 1]
                z[i + 1] = s * z[i] + c * f
                z[i] = c * z[i] - s * f
                i -= 1
            if deflated:
                continue
            d[l] -= p
            e[l] = g
            e[m] = 0.0


#: a Newton iteration of :func:`_newton_nodes` has converged when no node moved by more than
#: this (nodes of ``O(1)``): the error left is ``~ C step^2``, ``C = |p''/2p'|`` the inverse of a
#: node gap (``<= 1e3`` for the rules here), below rounding
NEWTON_STEP_TOL = 1e-9
#: half-width of the interval around each Newton node in which the Sturm counts must find
#: exactly one eigenvalue (far above the counts' rounding, ``~n eps``; nodes closer than twice
#: this go to the QL algorithm)
NODE_ISOLATION = 1e-10
#: at most this many Newton iterations from the previous step's nodes (measured on the
#: 2048^2 benchmark: 3-5 from a warm start); beyond, the QL algorithm takes the panel
NEWTON_MAX_ITER = 12


@numba.njit(cache=True, inline="always")
def _sturm_count(alpha, beta, n, y):
    """Number of eigenvalues below ``y`` of the Jacobi matrix with diagonal ``alpha[:n]`` and
    squared off-diagonal ``beta[1:n]`` (the signs of the pivots of ``J - y = L D L^T``; a zero
    pivot replaced by a tiny negative one, as in LAPACK's ``dstebz``)."""
    d = alpha[0] - y
    count = 1 if d < 0.0 else 0
    for k in range(1, n):
        if d == 0.0:
            d = -1e-300
        d = (alpha[k] - y) - beta[k] / d
        if d < 0.0:
            count += 1
    return count


@numba.njit(cache=True)
def _newton_nodes(alpha, beta, n, x, w, p0, p1, d0, d1):
    """The ``n`` zeros of the orthonormal polynomial ``p_n`` of the recurrence ``alpha[:n]``,
    ``beta[:n]`` (the eigenvalues of its Jacobi matrix) by Newton's method from the guesses
    ``x[:n]`` (in place), and their Christoffel weights ``w_i = 1 / sum_{k < n} p_k(x_i)^2``
    (relative to the total mass; the squared first components of the eigenvectors, as
    Golub-Welsch gives them).  The recurrence ``s_{k+1} p_{k+1} = (x - alpha_k) p_k - s_k
    p_{k-1}``, ``s_k = sqrt(beta_k)``, and its derivative run for all nodes at once (the inner
    loops along the nodes).  Returns whether the result is certain: every node converged
    (:data:`NEWTON_STEP_TOL`) and is isolated, ``[x_i - delta, x_i + delta]`` (``delta =``
    :data:`NODE_ISOLATION`, the intervals disjoint) holding exactly the ``i``-th eigenvalue by
    the Sturm counts at its ends (``i`` below, ``i + 1`` above): no two nodes on one
    eigenvalue, none missed.
    ``p0, p1, d0, d1``: scratch of length ``>= n``."""
    converged = False
    for _ in range(NEWTON_MAX_ITER):
        for i in range(n):
            p0[i] = 0.0
            p1[i] = 1.0
            d0[i] = 0.0
            d1[i] = 0.0
        for k in range(n):
            a = alpha[k]
            sk = math.sqrt(beta[k]) if k > 0 else 0.0
            inv = 1.0 / math.sqrt(beta[k + 1]) if k < n - 1 else 1.0
            for i in range(n):
                t = x[i] - a
                p2 = (t * p1[i] - sk * p0[i]) * inv
                g2 = (p1[i] + t * d1[i] - sk * d0[i]) * inv
                p0[i] = p1[i]
                p1[i] = p2
                d0[i] = d1[i]
                d1[i] = g2
        step = 0.0
        for i in range(n):
            dx = p1[i] / d1[i]
            x[i] -= dx
            step = max(step, abs(dx))
        if not step <= 1.0:        # nan, inf, or a jump: not near the roots
            return False
        if step <= NEWTON_STEP_TOL:
            converged = True
            break
    if not converged:
        return False
    for i in range(n):
        if i < n - 1 and not x[i + 1] - x[i] > 2.0 * NODE_ISOLATION:
            return False
        if (_sturm_count(alpha, beta, n, x[i] - NODE_ISOLATION) != i
                or _sturm_count(alpha, beta, n, x[i] + NODE_ISOLATION) != i + 1):
            return False
    # the weights: sum_{k < n} p_k(x_i)^2 at the converged nodes
    for i in range(n):
        p0[i] = 0.0
        p1[i] = 1.0
        w[i] = 1.0
    for k in range(n - 1):
        a = alpha[k]
        sk = math.sqrt(beta[k]) if k > 0 else 0.0
        inv = 1.0 / math.sqrt(beta[k + 1])
        for i in range(n):
            p2 = ((x[i] - a) * p1[i] - sk * p0[i]) * inv
            p0[i] = p1[i]
            p1[i] = p2
            w[i] += p2 * p2
    for i in range(n):
        w[i] = 1.0 / w[i]
        if not w[i] >= 0.0:
            return False
    return True


_NO_WARM = (np.empty((0, 0)), np.empty(0, dtype=np.int64))


def gauss_from_recurrence(alpha, beta, n_used, warm=None, warm_n=None):
    """:func:`_gauss_rules` (``warm``, ``warm_n`` None: no warm start)."""
    if warm is None:
        warm, warm_n = _NO_WARM
    return _gauss_rules(alpha, beta, n_used, warm, warm_n)


@numba.njit(cache=True)
def _gauss_rules(alpha, beta, n_used, warm, warm_n):
    """Gauss rules from recurrence coefficients (Golub-Welsch by :func:`_tridiagonal_ql`),
    panel by panel, nodes *not* clipped to ``[-1, 1]`` (a signed measure's rule may have
    nodes outside).  Returns ``(counts, x, w)`` as
    :func:`numerics.gauss_rules.gauss_from_recurrence`: nodes in increasing order per panel,
    weights relative to the panel mass, nodes of zero weight dropped.

    Warm start (``warm`` with panels): ``warm[q, :warm_n[q]]`` the nodes of a nearby rule
    (the previous step's), in increasing order.  A panel with as many nodes as its guess
    (``n_used[q] == warm_n[q] > 1``) takes them by Newton's method (:func:`_newton_nodes`,
    ``O(n^2)`` against QL's ``O(n^2)`` sequential rotations, each a square root and two
    divisions: measured 4-5x faster), the QL algorithm where that is not certain.  On return
    ``warm[q, :n_used[q]]`` holds panel ``q``'s nodes (zero weights included) and ``warm_n =
    n_used``: the guesses of the next call."""
    n_panels = alpha.shape[0]
    total = 0
    for q in range(n_panels):
        total += n_used[q]
    xs = np.empty(total)
    ws = np.empty(total)
    counts = np.zeros(n_panels, dtype=np.int64)
    m = alpha.shape[1]
    d = np.empty(m)
    e = np.empty(m)
    z = np.empty(m)
    s0, s1, s2, s3 = np.empty(m), np.empty(m), np.empty(m), np.empty(m)
    has_warm = warm.shape[0] > 0
    k = 0
    for q in range(n_panels):
        n = n_used[q]
        if n == 0:
            if has_warm:
                warm_n[q] = 0
            continue
        done = False
        if has_warm and n > 1 and warm_n[q] == n:
            for i in range(n):
                d[i] = warm[q, i]
            done = _newton_nodes(alpha[q], beta[q], n, d, z, s0, s1, s2, s3)
        if not done:
            for i in range(n):
                d[i] = alpha[q, i]
                e[i] = math.sqrt(max(beta[q, i + 1], 0.0)) if i < n - 1 else 0.0
                z[i] = 1.0 if i == 0 else 0.0
            _tridiagonal_ql(d[:n], e[:n], z[:n])
            for i in range(n):
                z[i] = z[i] * z[i]            # the weights
        if has_warm:
            warm_n[q] = n
        for i in range(1, n):              # insertion sort by node (n <= 64)
            di, zi = d[i], z[i]
            j = i - 1
            while j >= 0 and d[j] > di:
                d[j + 1] = d[j]
                z[j + 1] = z[j]
                j -= 1
            d[j + 1] = di
            z[j + 1] = zi
        if has_warm:
            for i in range(n):
                warm[q, i] = d[i]
        for i in range(n):
            w = z[i]
            if w > 0.0:
                xs[k] = d[i]
                ws[k] = w
                k += 1
                counts[q] += 1
    return counts, xs[:k], ws[:k]


@numba.njit(cache=True)
def usable_steps(alpha, beta, n_used, s_panel, breakdown):
    """Per panel, the Stieltjes steps a Gauss rule of a cubature's signed marginal may use:
    none where the panel has no mass (``beta[q, 0] <= 0`` or ``s_panel[q]`` not finite), else
    the steps before the first ``k < n_used[q]`` with ``beta[q, k] < breakdown`` (``k > 0``)
    or ``|alpha[q, k]| > 1``.  Twin: the numpy lines of :meth:`numerics.pair_law.PairEngine.
    _gauss` (:func:`numerics.pair_law._signed_breakdown`)."""
    out = np.empty(n_used.shape[0], dtype=np.int64)
    for q in range(n_used.shape[0]):
        if not (beta[q, 0] > 0.0 and math.isfinite(s_panel[q])):
            out[q] = 0
            continue
        n = n_used[q]
        for k in range(n_used[q]):
            if (k > 0 and beta[q, k] < breakdown) or abs(alpha[q, k]) > 1.0:
                n = k
                break
        out[q] = n
    return out


@numba.njit(cache=True)
def rule_depths(counts, x, w, center, half, excursion, beta, log_scale, s_panel, n_used,
                depth, log_w):
    """The depths ``center - half x`` of the rules' nodes (``counts[q]`` for panel ``q``,
    concatenated) and their log masses ``log w + log beta[q, 0] + log_scale[q] +
    s_panel[q]``.  A panel with a node above the top reward (depth < 0) or farther than
    ``excursion`` half-widths out of its panel loses its last step (``n_used[q] -= 1``).
    Returns the number of such panels.  Twin: the numpy lines of :meth:`numerics.pair_law.
    PairEngine._gauss`."""
    k = 0
    n_bad = 0
    for q in range(counts.shape[0]):
        bad = False
        c, h = center[q], half[q]
        for _ in range(counts[q]):
            d = c - h * x[k]
            depth[k] = d
            if d < 0.0 or abs(x[k]) > 1.0 + excursion:
                bad = True
            log_w[k] = (math.log(w[k]) + math.log(beta[q, 0])) + log_scale[q] + s_panel[q]
            k += 1
        if bad:
            n_used[q] -= 1
            n_bad += 1
    return n_bad


# ---------------------------------------------------------------------------- the state
# A step of :class:`numerics.pair_law.PairEngine` works on the state ``L`` held at the tensor
# grids of the boxes (flat, box after box, each box row-major ``(n_a, n_b)``).  The kernels
# below take one *slot* per box, in that flat order: ``start`` (its first point), ``n_a``,
# ``n_b`` (its state grid), and per kernel the offsets of its small matrices in flat tables.
# Their transcendental functions are left to numpy (whole buffers, SIMD) between them.


@numba.njit(cache=True, inline="always")
def _extremes(v):
    """``(max, min)`` of a 1-d array (four independent chains: not bound by the latency of
    one compare per element)."""
    m0 = m1 = m2 = m3 = -np.inf
    n0 = n1 = n2 = n3 = np.inf
    n = v.shape[0]
    k = n - n % 4
    for p in range(0, k, 4):
        a, b, c, d = v[p], v[p + 1], v[p + 2], v[p + 3]
        m0 = max(m0, a)
        m1 = max(m1, b)
        m2 = max(m2, c)
        m3 = max(m3, d)
        n0 = min(n0, a)
        n1 = min(n1, b)
        n2 = min(n2, c)
        n3 = min(n3, d)
    for p in range(k, n):
        m0 = max(m0, v[p])
        n0 = min(n0, v[p])
    return max(max(m0, m1), max(m2, m3)), min(min(n0, n1), min(n2, n3))


@numba.njit(cache=True)
def box_shift(L, T, start, n_a, n_b, slot_box, g, gmax, gmin):
    """Per box (slot ``s``, box ``slot_box[s]``): ``gmax``, ``gmin`` the largest and smallest
    ``L - T`` over its points, and ``g = L - T - gmax`` there (``T`` of length 0: ``T = 0``).
    Twin: :func:`box_shift_numpy`."""
    tilted = T.shape[0] > 0
    for s in range(start.shape[0]):
        a = start[s]
        z = a + n_a[s] * n_b[s]
        gs = g[a:z]
        ls = L[a:z]
        if tilted:
            ts = T[a:z]
            for p in range(z - a):
                gs[p] = ls[p] - ts[p]
        else:
            gs[:] = ls
        mx, mn = _extremes(gs)
        for p in range(z - a):
            gs[p] -= mx
        q = slot_box[s]
        gmax[q] = mx
        gmin[q] = mn


def box_shift_numpy(L, T, start, n_a, n_b, slot_box, g, gmax, gmin):
    """Pure numpy twin of :func:`box_shift` (``reduceat`` over the boxes)."""
    v = L - T if T.shape[0] else L.copy()
    gmax[slot_box] = np.maximum.reduceat(v, start)
    gmin[slot_box] = np.minimum.reduceat(v, start)
    g[:] = v - np.repeat(gmax[slot_box], n_a * n_b)


@numba.njit(cache=True)
def panel_marginal(gmax, box_q, marg, cub, cub_box, n_panels, n_points, s_panel, w):
    """One axis' signed marginal at its panels' cubature points from the boxes' marginals
    ``marg`` (at the points ``cub``, of the boxes ``cub_box``; box ``q`` scaled by
    ``e^{gmax[q]}``): ``s_panel[p]`` the largest ``gmax`` over the boxes on panel ``p``
    (``box_q``), ``w[cub[i]] += marg[i] e^{gmax - s_panel}`` (a non-finite factor counts 0).
    Twin: the numpy lines of :meth:`numerics.pair_law.PairEngine._marginals`."""
    s_panel[:n_panels] = -np.inf
    for q in range(gmax.shape[0]):
        s_panel[box_q[q]] = max(s_panel[box_q[q]], gmax[q])
    f = np.empty(gmax.shape[0])
    for q in range(gmax.shape[0]):
        v = math.exp(gmax[q] - s_panel[box_q[q]])
        f[q] = v if math.isfinite(v) else 0.0
    w[:n_points] = 0.0
    for i in range(marg.shape[0]):
        w[cub[i]] += marg[i] * f[cub_box[i]]


@numba.njit(cache=True)
def box_log_total(ca, ca_off, n_ca, slot_box, gmax):
    """``log sum_q e^{gmax[q]} sum_j ca[q, j]`` over the boxes with a finite ``gmax`` (box
    ``q``'s ``n_ca[s]`` values from ``ca[ca_off[s]]``, ``q = slot_box[s]``), by the largest
    finite ``gmax``: the log total mass of a base's cubature (``-inf`` for none).  Twin:
    the numpy lines of :meth:`numerics.pair_law.PairEngine._marginals`."""
    top = -np.inf
    for q in range(gmax.shape[0]):
        if math.isfinite(gmax[q]):
            top = max(top, gmax[q])
    if not math.isfinite(top):
        return -np.inf
    box_sum = np.zeros(gmax.shape[0])
    for s in range(slot_box.shape[0]):
        acc = 0.0
        for j in range(ca_off[s], ca_off[s] + n_ca[s]):
            acc += ca[j]
        box_sum[slot_box[s]] = acc
    total = 0.0
    for q in range(gmax.shape[0]):
        if math.isfinite(gmax[q]):
            total += box_sum[q] * math.exp(gmax[q] - top)
    return top + math.log(total)


@numba.njit(cache=True)
def signed_expectation(w, h, ptr, s_panel, log_z):
    """``sum_p e^{s_panel[p] - log_z} sum_{ptr[p] <= j < ptr[p+1]} w[j] h[j]`` over the
    panels with a finite ``s_panel``: ``E[H_u]`` on a base's signed marginal (weights ``w``
    scaled by ``e^{s_panel}`` per panel; ``log_z`` the total mass).  Twin: the numpy lines of
    :meth:`numerics.pair_law.PairEngine.advance`."""
    out = 0.0
    for p in range(s_panel.shape[0]):
        if not math.isfinite(s_panel[p]):
            continue
        acc = 0.0
        for j in range(ptr[p], ptr[p + 1]):
            acc += w[j] * h[j]
        out += acc * math.exp(s_panel[p] - log_z)
    return out


@numba.njit(cache=True)
def heaviest_bound(top, box_log_mass):
    """The largest finite ``top + box_log_mass`` over the boxes (``-inf`` for none): the
    log of the heaviest box's mass bound in the resolution check."""
    out = -np.inf
    for q in range(top.shape[0]):
        v = top[q] + box_log_mass[q]
        if math.isfinite(v):
            out = max(out, v)
    return out


@numba.njit(cache=True)
def unresolved_boxes(top, bottom, err_a, err_b, box_log_mass, cut, resolved, tol, ulps, bad):
    """The resolution check of :meth:`numerics.pair_law.PairEngine._check_resolution` per
    box: ``bad[q]`` where the box has more than 2 points on an axis (``resolved``), may carry
    mass (``top + box_log_mass > cut``) and its tails ``err_a + err_b`` are not within ``tol
    + ulps max(top, -bottom)`` (nan counts as not within).  Returns the number of bad boxes.
    Twin: the numpy lines there."""
    n_bad = 0
    for q in range(top.shape[0]):
        t, nb = top[q], -bottom[q]
        big = t if t >= nb else (nb if nb > t else np.nan)     # np.maximum: nan propagates
        within = err_a[q] + err_b[q] <= tol + ulps * big
        b = resolved[q] and top[q] + box_log_mass[q] > cut and not within
        bad[q] = b
        if b:
            n_bad += 1
    return n_bad


@numba.njit(cache=True)
def middle_dots(X, Y, out):
    """``out[p, k] = sum_i X[p, i, k] Y[p, i, k]`` (3-d arrays, C order; the inner loop along
    ``k``).  Twin: ``np.einsum("pik,pik->pk", X, Y)``."""
    P, I, K = X.shape
    if K == 1:    # four rows at a time: four independent sums (not one chain of additions)
        q = P - P % 4
        for p in range(0, q, 4):
            a0 = a1 = a2 = a3 = 0.0
            for i in range(I):
                a0 += X[p, i, 0] * Y[p, i, 0]
                a1 += X[p + 1, i, 0] * Y[p + 1, i, 0]
                a2 += X[p + 2, i, 0] * Y[p + 2, i, 0]
                a3 += X[p + 3, i, 0] * Y[p + 3, i, 0]
            out[p, 0] = a0
            out[p + 1, 0] = a1
            out[p + 2, 0] = a2
            out[p + 3, 0] = a3
        for p in range(q, P):
            acc = 0.0
            for i in range(I):
                acc += X[p, i, 0] * Y[p, i, 0]
            out[p, 0] = acc
        return
    for p in range(P):
        for k in range(K):
            out[p, k] = 0.0
        for i in range(I):
            for k in range(K):
                out[p, k] += X[p, i, k] * Y[p, i, k]


@numba.njit(cache=True)
def point_factor(ha, hb, start, n_a, n_b, a0, b0, W, F, slot_box, out):
    """``out = ha[a0 + i] + hb[b0 + l]`` at each box's state point ``(i, l)`` (``a0[s]``,
    ``b0[s]`` the box's first state point on each axis); times ``W`` there and ``F[box]`` when
    ``W`` has points.  Twin: :func:`point_factor_numpy`."""
    scaled = W.shape[0] > 0
    for s in range(start.shape[0]):
        na, nb, p = n_a[s], n_b[s], start[s]
        xa = ha[a0[s]:a0[s] + na]
        xb = hb[b0[s]:b0[s] + nb]
        o = out[p:p + na * nb]
        if scaled:
            f = F[slot_box[s]]
            w = W[p:p + na * nb]
            for i in range(na):
                x = xa[i]
                for l in range(nb):
                    o[i * nb + l] = (x + xb[l]) * w[i * nb + l] * f
        else:
            for i in range(na):
                x = xa[i]
                for l in range(nb):
                    o[i * nb + l] = x + xb[l]


def point_factor_numpy(ha, hb, point_pa, point_pb, point_box, W, F, out):
    """Pure numpy twin of :func:`point_factor` (from each point's state points and box)."""
    out[:] = ha[point_pa] + hb[point_pb]
    if W.shape[0]:
        out *= W
        out *= F[point_box]


@numba.njit(cache=True, fastmath={"contract"}, inline="always")
def _two_tails(v, n_red, n_keep, s_red, s_keep, Q_red, QT_keep, R0, R1, C0, C1):
    """``sum |C|`` over the last two rows of ``C = Q_red[-2:] V QT_keep``, ``V[j, k] =
    v[j s_red + k s_keep]`` (``n_red x n_keep``): the two tails of :func:`box_check`, along
    the first axis of a box's values (``s_red = n_b, s_keep = 1``) or the second (``s_red = 1,
    s_keep = n_b``).  The products run as sums of rows (the inner loops along ``k``,
    independent)."""
    R0[:n_keep] = 0.0
    R1[:n_keep] = 0.0
    for j in range(n_red):
        c0 = Q_red[(n_red - 2) * n_red + j]
        c1 = Q_red[(n_red - 1) * n_red + j]
        for k in range(n_keep):
            x = v[j * s_red + k * s_keep]
            R0[k] += c0 * x
            R1[k] += c1 * x
    C0[:n_keep] = 0.0
    C1[:n_keep] = 0.0
    for k in range(n_keep):
        c0 = R0[k]
        c1 = R1[k]
        for e in range(n_keep):
            x = QT_keep[k * n_keep + e]
            C0[e] += c0 * x
            C1[e] += c1 * x
    out = 0.0
    for e in range(n_keep):
        out += abs(C0[e]) + abs(C1[e])
    return out


@numba.njit(cache=True, fastmath={"contract"})
def box_check(L, start, n_a, n_b, Q, QT, qa_off, qb_off, slot_box, top, bottom, err_a, err_b,
              g):
    """Per box (slot ``s``, box ``slot_box[s]``): the largest and smallest ``L`` (``top``,
    ``bottom``) and the tails of the tensor Chebyshev coefficients ``C = Q_a L Q_b^T`` of its
    interpolant (``Q_u`` ``(n_u, n_u)``, values to coefficients, from ``Q[qa_off[s]]``,
    ``Q[qb_off[s]]``; ``QT`` their transposes at the same offsets): ``err_a = sum |C[d, e]|``
    over the last two rows ``d`` (when ``n_a > 2``, else 0), ``err_b`` over the last two
    columns ``e`` (when ``n_b > 2``).  Every product is a sum of rows (the inner loops run
    along rows, independent: no chain of dependent additions).  Where ``g`` has points, also
    ``g = L - top`` per box (what :func:`box_shift` gives the next step of an untilted base).
    Returns the number of finite ``L``.  Twin: :meth:`numerics.pair_law.PairEngine.
    _box_check_numpy`."""
    shift = g.shape[0] > 0
    m = max(1, np.max(n_a), np.max(n_b)) if n_a.shape[0] else 1
    R0, R1, C0, C1 = np.empty(m), np.empty(m), np.empty(m), np.empty(m)
    n_finite = 0
    for s in range(start.shape[0]):
        na, nb, p0 = n_a[s], n_b[s], start[s]
        v = L[p0:p0 + na * nb]        # slices: indices from 0, no wraparound
        Qa = Q[qa_off[s]:qa_off[s] + na * na]
        Qb = Q[qb_off[s]:qb_off[s] + nb * nb]
        QaT = QT[qa_off[s]:qa_off[s] + na * na]
        QbT = QT[qb_off[s]:qb_off[s] + nb * nb]
        mx, mn = _extremes(v)
        if math.isfinite(mx) and math.isfinite(mn):
            n_finite += na * nb
        else:
            for p in range(na * nb):
                if math.isfinite(v[p]):
                    n_finite += 1
        q = slot_box[s]
        top[q] = mx
        bottom[q] = mn
        if shift:
            gs = g[p0:p0 + na * nb]
            for p in range(na * nb):
                gs[p] = v[p] - mx
        ea = 0.0
        if na > 2:     # rows na-2, na-1: R = Q_a[-2:] L (2, nb), then C = R Q_b^T
            ea = _two_tails(v, na, nb, nb, 1, Qa, QbT, R0, R1, C0, C1)
        eb = 0.0
        if nb > 2:     # columns nb-2, nb-1: X = L Q_b[-2:]^T (na, 2), then C = Q_a X
            eb = _two_tails(v, nb, na, 1, nb, Qb, QaT, R0, R1, C0, C1)
        err_a[q] = ea
        err_b[q] = eb
    return n_finite
