r"""How the reward axis is cut into panels for the compressed reward law (DESIGN.md, "reward
law").

Positions are *depths* below the top reward of the support, ``d = r_max - r >= 0`` (so
``log s = -d`` exactly, with no rounding of ``r_max - d``).  The panels are

- the **top level set** ``{d = 0}``: a panel of zero width (one node, exact);
- **graded panels** ``[D 2^{-j-1}, D 2^{-j})``, ``j = 0 .. J-1``, with ``D = GRADED_DEPTH``,
  and a deep panel ``(0, D 2^{-J})`` if positive depths remain below the last one.  The
  engine lays out all ``J = MAX_LEVELS`` levels before it knows the support's first positive
  depth (:func:`make_layout` with ``second=None``); only the levels that hold cells become
  panels of the reward law, the same as with ``J`` levels down to that depth;
- **uniform panels** of ``width`` nats for ``d >= D``.

Why graded: with real data the weight ``w_t = p_t / p_d`` tends to ``1 / (1 + lam - lam H)``,
whose pole sits just above ``r_max`` and reaches it when the limit condenses (THEORY.md T8, T9):
``w(d) ~ 1 / (eps + d)`` with ``eps -> 0``.  A panel ``[a, 2a)`` keeps that pole at 3 half-widths
from its centre, so the Chebyshev interpolant of ``log w`` converges like ``(3 + sqrt 8)^{-n}``
whatever ``eps`` is; uniform panels next to the top would not converge at all (the cause of
the drift that uniform 0.25-nat panels showed over long condensing runs).  Panels whose upper
depth edge lies below ``FINE_DEPTH`` get ``FINE_NODES`` nodes (interpolation error below
``1e-12`` for a pole at the top), the others ``nodes``.

The direct mode (``width = 0``) has one panel per distinct reward of the support.

Every kernel here has a pure numpy twin (``*_numpy``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numba
import numpy as np

from .threads import kernel

__all__ = ["PanelLayout", "make_layout", "DEFAULT_PANEL_WIDTH", "DEFAULT_NODES", "FINE_NODES",
           "GRADED_DEPTH", "FINE_DEPTH", "MAX_LEVELS", "CellSummary", "cell_summary",
           "cell_summary_numpy",
           "reward_extremes",
           "count_runs", "count_runs_numpy", "list_runs", "list_runs_numpy", "locate_numpy"]

#: width in nats of the uniform panels (compressed mode)
DEFAULT_PANEL_WIDTH = 0.25
#: Gauss nodes and Chebyshev points per uniform panel (0.25-nat panels: 1e-14 relative against
#: the direct per-atom computation on smooth grids; 6 nodes give 6e-9, 8 give 8e-12)
DEFAULT_NODES = 10
#: nodes per panel near the top (depth below FINE_DEPTH): a pole of the weight at the top is at
#: 3 half-widths of a graded panel's centre, 5 or more of a uniform one's there; 16 Chebyshev
#: points interpolate ``log(eps + d)`` there to ``(3 + sqrt 8)^{-15} ~ 3e-12``
FINE_NODES = 16
#: depth (nats) below which panels are graded geometrically toward the top
GRADED_DEPTH = 0.5
#: uniform panels whose upper edge lies above this depth get FINE_NODES nodes: at depth
#: ``>= 1`` a uniform panel has the top at ``>= 9`` half-widths (10 points: ``< 5e-12``)
FINE_DEPTH = 1.0
#: at most this many graded levels (``D 2^{-50} ~ 4e-16`` nats)
MAX_LEVELS = 50


@dataclass(frozen=True)
class PanelLayout:
    """The panels of one reward law.

    Attributes
    ----------
    r_max : float
        top reward of the support; depths are ``r_max - r``.
    width : float
        uniform panel width (nats); ``0`` means the direct mode (one panel per distinct reward,
        ``values`` holds the distinct depths, increasing).
    levels : int
        ``J``, the number of graded levels below ``graded_depth``.
    graded_depth, fine_depth : float
    nodes, fine_nodes : int
    values : ndarray or None
        direct mode: the distinct depths (increasing; ``values[0] = 0``).
    """

    r_max: float
    width: float
    levels: int = 0
    graded_depth: float = GRADED_DEPTH
    fine_depth: float = FINE_DEPTH
    nodes: int = DEFAULT_NODES
    fine_nodes: int = FINE_NODES
    values: np.ndarray | None = None

    @property
    def direct(self) -> bool:
        return self.width == 0

    def raw_panels(self, max_depth):
        """Number of raw panel ids needed for depths up to ``max_depth``."""
        if self.direct:
            return int(self.values.shape[0])
        if max_depth < self.graded_depth:
            return self.levels + 2
        return self.levels + 3 + int(math.floor((max_depth - self.graded_depth) / self.width))

    def geometry(self, raw):
        """``(lower depth, upper depth, node count)`` of the raw panel ids ``raw`` (arrays)."""
        raw = np.asarray(raw, dtype=np.int64)
        if self.direct:
            d = self.values[raw]
            return d, d.copy(), np.ones(raw.shape, dtype=np.int64)
        D, J, w = self.graded_depth, self.levels, self.width
        lo = np.zeros(raw.shape)
        hi = np.zeros(raw.shape)
        deep = raw == 1
        hi[deep] = math.ldexp(D, -J)
        graded = (raw >= 2) & (raw <= J + 1)
        j = J + 1 - raw[graded]
        hi[graded] = np.ldexp(D, -j)
        lo[graded] = 0.5 * hi[graded]
        uni = raw >= J + 2
        q = raw[uni] - (J + 2)
        lo[uni] = D + q * w
        hi[uni] = lo[uni] + w
        count = np.where(lo < self.fine_depth, self.fine_nodes, self.nodes)
        count = np.where(raw == 0, 1, count)
        return lo, hi, count.astype(np.int64)


def make_layout(r_max, second=None, width=DEFAULT_PANEL_WIDTH, nodes=DEFAULT_NODES,
                fine_nodes=FINE_NODES, graded_depth=GRADED_DEPTH, fine_depth=FINE_DEPTH):
    """The compressed layout for a support whose top reward is ``r_max`` and whose largest
    reward below it is ``second`` (``-inf`` if none): graded levels down to the first
    positive depth ``r_max - second`` (at most :data:`MAX_LEVELS`).

    ``second=None``: all :data:`MAX_LEVELS` levels, for a caller that does not know the
    first positive depth.  A cell falls in the same panel as with the levels ``second``
    gives (the finer levels stay empty; only the raw ids shift, by the number of extra
    levels), except a first positive depth of exactly ``D 2^{-J}``: its cells go to graded
    level ``J`` instead of a deep panel ``(0, D 2^{-J})`` of the same upper edge."""
    first = None if second is None else r_max - second
    if first is None:
        levels = MAX_LEVELS
    elif 0 < first < graded_depth:
        # (log2 of each: graded_depth / first overflows for a subnormal first depth)
        levels = min(MAX_LEVELS, int(math.ceil(math.log2(graded_depth) - math.log2(first))))
    else:  # no positive depth in (0, D): no graded panel is needed
        levels = 0
    return PanelLayout(float(r_max), float(width), int(levels), float(graded_depth),
                       float(fine_depth), int(nodes), int(fine_nodes))


# ----------------------------------------------------------------------------------------
# kernels
# ----------------------------------------------------------------------------------------


@numba.njit(cache=True, inline="always")
def _locate(d, D, J, width):
    """Raw panel id and position ``x in [-1, 1]`` (``x = +1`` at the panel's upper reward
    edge, i.e. its smaller depth) of depth ``d >= 0``."""
    if d <= 0.0:
        return 0, 0.0
    if d < D:
        # depths below the deepest graded panel go to the deep panel before any log2 (D / d
        # overflows for a subnormal d, and int() of inf is undefined in numba)
        j = J if d < math.ldexp(D, -J) else int(math.floor(math.log2(D / d)))
        if j >= J:
            hi = math.ldexp(D, -J)
            c = 0.5 * hi
            hw = 0.5 * hi
            raw = 1
        else:
            hi = math.ldexp(D, -j)
            c = 0.75 * hi
            hw = 0.25 * hi
            raw = J + 1 - j
    else:
        q = int(math.floor((d - D) / width))
        c = D + (q + 0.5) * width
        hw = 0.5 * width
        raw = J + 2 + q
    x = (c - d) / hw
    if x > 1.0:
        x = 1.0
    elif x < -1.0:
        x = -1.0
    return raw, x


@numba.njit(cache=True, inline="always")
def _panel_frame(raw, D, J, width):
    """Centre depth and half-width of raw panel ``raw > 0`` (as :func:`_locate` forms them)."""
    if raw == 1:
        hi = math.ldexp(D, -J)
        return 0.5 * hi, 0.5 * hi
    if raw <= J + 1:
        hi = math.ldexp(D, -(J + 1 - raw))
        return 0.75 * hi, 0.25 * hi
    return D + ((raw - (J + 2)) + 0.5) * width, 0.5 * width


@numba.njit(cache=True, inline="always")
def _panel_inside(raw, D, J, width):
    """Depths ``(lo, hi)`` such that :func:`_locate` puts every ``lo < d < hi`` in raw panel
    ``raw``: the panel less a margin at each edge (``2^-20`` of its half-width plus
    ``2^-40`` of its depth) far above the rounding of ``_locate``'s ``log2`` and division
    (about ``2^-52``), so the count pass locates only the first cell of a run again.  Empty
    (``lo > hi``) for the top level set."""
    if raw == 0:
        return 1.0, 0.0
    c, hw = _panel_frame(raw, D, J, width)
    margin = hw * 2.0**-20 + (c + hw) * 2.0**-40
    return c - hw + margin, c + hw - margin


@numba.njit(cache=True, inline="always")
def _in_frame(d, c, hw):
    """The position ``(c - d) / hw`` of depth ``d`` in the panel of centre ``c`` and half-width
    ``hw``, clipped to ``[-1, 1]`` (:func:`_locate`'s operations)."""
    x = (c - d) / hw
    if x > 1.0:
        x = 1.0
    elif x < -1.0:
        x = -1.0
    return x


def locate_numpy(d, D, J, width):
    """Pure numpy twin of the kernel ``_locate`` (vectorized over ``d``)."""
    d = np.asarray(d, dtype=np.float64)
    raw = np.zeros(d.shape, dtype=np.int64)
    c = np.zeros(d.shape)
    hw = np.ones(d.shape)
    pos = d > 0
    graded = pos & (d < D)
    shallow = graded & (d >= math.ldexp(D, -J))   # below: the deep panel (no log2 of inf)
    with np.errstate(divide="ignore"):
        j = np.where(shallow, np.floor(np.log2(D / np.where(shallow, d, 1.0))), J)
    j = j.astype(np.int64)
    deep = graded & (j >= J)
    mid = graded & ~deep
    hi = math.ldexp(D, -J)
    c[deep], hw[deep], raw[deep] = 0.5 * hi, 0.5 * hi, 1
    him = np.ldexp(D, -j[mid])
    c[mid], hw[mid], raw[mid] = 0.75 * him, 0.25 * him, J + 1 - j[mid]
    uni = pos & ~graded
    q = np.floor((d[uni] - D) / width).astype(np.int64)
    c[uni], hw[uni], raw[uni] = D + (q + 0.5) * width, 0.5 * width, J + 2 + q
    x = np.where(pos, np.clip((c - d) / hw, -1.0, 1.0), 0.0)
    return raw, x


class CellSummary(NamedTuple):
    """What one pass over the cells finds (:func:`cell_summary`): the largest and the smallest
    reward on the support ``{m0 > 0} | {m1 > 0}`` (``-inf, inf`` on an empty support), each
    mass array's total and smallest value, and the sum of the rewards (finite exactly when
    every reward is finite and the sum does not overflow)."""

    top: float
    bottom: float
    totals: tuple
    least: tuple
    reward_sum: float

    def values_ok(self) -> bool:
        """Whether the pass proves the values valid: finite rewards, finite non-negative
        masses of positive total (else the callers look closer, to name the fault)."""
        return (math.isfinite(self.reward_sum) and all(math.isfinite(t) and t > 0.0
                                                       for t in self.totals)
                and all(x >= 0.0 for x in self.least))


#: cells whose sums :func:`cell_summary` takes in vector lanes before adding them to the
#: running sums with Neumaier's compensation: a total of ``n`` non-negative masses is then off
#: by at most about ``128 eps`` relative (the block's 32 lane sums of 128 terms each), where
#: numpy's pairwise sum is off by ``(16 + log2 n) eps``; without the compensation it would be
#: ``(128 + n / 4096) eps``, 2.6e-13 on 2048^2 cells
SUMMARY_BLOCK = 4096


@numba.njit(cache=True, inline="always")
def _add(row, i, x):
    """``row[i] + row[i + 1]`` (a sum and its compensation) ``+= x``, Neumaier's way."""
    s = row[i]
    t = s + x
    if abs(s) >= abs(x):
        row[i + 1] += (s - t) + x
    else:
        row[i + 1] += (x - t) + s
    row[i] = t


@numba.njit(cache=True, fastmath={"reassoc"})
def _block_sums(xs, ys):
    """``(sum xs, sum ys)`` (slices of one length), reassociated: vector lanes."""
    sx = 0.0
    sy = 0.0
    for i in range(xs.shape[0]):
        sx += xs[i]
        sy += ys[i]
    return sx, sy


@numba.njit(cache=True)
def _block_extremes(rs, m0s, m1s, row):
    """Into ``row[:4]`` (the layout of :func:`_cell_summary`): the largest and the smallest
    reward of the block's support cells and the smallest masses, combined with what it holds
    (``m1s`` empty: one mass array).  Explicit selects, no ``max``/``min`` (numba's, which
    handle NaN, run 1.5x slower); a NaN is passed over, and shows in the sums."""
    top = row[0]
    bottom = row[1]
    low0 = row[2]
    low1 = row[3]
    two = m1s.shape[0] > 0
    for i in range(rs.shape[0]):
        r = rs[i]
        a = m0s[i]
        inside = a > 0.0
        low0 = a if a < low0 else low0
        if two:
            b = m1s[i]
            inside = inside or b > 0.0
            low1 = b if b < low1 else low1
        hi = r if inside else -np.inf
        lo = r if inside else np.inf
        top = hi if hi > top else top
        bottom = lo if lo < bottom else bottom
    row[0] = top
    row[1] = bottom
    row[2] = low0
    row[3] = low1


@kernel
def _cell_summary(reward, m0, m1, chunks):
    """Per chunk then overall, the row ``[top, bottom, least m0, least m1, total m0 and its
    compensation, total m1 and its compensation, sum of the rewards]`` (``m1`` empty: one
    mass array, whose figures are repeated for ``m1``)."""
    n = reward.shape[0]
    two = m1.shape[0] > 0
    part = np.zeros((chunks, 9))
    step = (n + chunks - 1) // chunks
    for c in numba.prange(chunks):
        row = part[c]
        row[0] = -np.inf
        row[1] = np.inf
        row[2] = np.inf
        row[3] = np.inf
        hi = min((c + 1) * step, n)
        for a in range(min(c * step, n), hi, SUMMARY_BLOCK):
            e = min(a + SUMMARY_BLOCK, hi)
            _block_extremes(reward[a:e], m0[a:e], m1[a:e] if two else m1, row)
            sm, sr = _block_sums(m0[a:e], reward[a:e])
            _add(row, 4, sm)
            row[8] += sr
            if two:
                sm, _ = _block_sums(m1[a:e], m1[a:0])
                _add(row, 6, sm)
    out = part[0].copy()
    for c in range(1, chunks):
        out[0] = max(out[0], part[c, 0])
        out[1] = min(out[1], part[c, 1])
        out[2] = min(out[2], part[c, 2])
        out[3] = min(out[3], part[c, 3])
        for i in (4, 6):
            _add(out, i, part[c, i])
            _add(out, i, part[c, i + 1])
        out[8] += part[c, 8]
    if not two:
        out[3] = out[2]
        out[6] = out[4]
        out[7] = out[5]
    return out


def cell_summary(reward, m0, m1, chunks=1, use_numba=True):
    """One pass over the cells (``chunks`` fixed blocks, in parallel where it pays: the sums do
    not depend on the threads): the :class:`CellSummary` of ``reward`` and the masses ``m0``,
    ``m1`` (flat arrays of one length; ``m1`` may be ``m0``).  The arguments' checks and the
    engine's reward range and totals in one read of the grid (measured on the 2048^2
    benchmark: 0.22 numpy passes, against 0.43 for the four passes it replaces).  NaN or
    infinite values make ``reward_sum`` or a total non-finite (the extremes are then not
    meaningful).  ``use_numba=False``: the numpy twin (numpy's sums, :func:`cell_summary_numpy`)."""
    if not use_numba:
        return cell_summary_numpy(reward, m0, m1)
    out = _cell_summary.at(reward.shape[0])(reward, m0, np.empty(0) if m1 is m0 else m1,
                                            max(1, int(chunks)))
    return CellSummary(float(out[0]), float(out[1]), (float(out[4] + out[5]),
                                                      float(out[6] + out[7])),
                       (float(out[2]), float(out[3])), float(out[8]))


def cell_summary_numpy(reward, m0, m1, chunks=1):
    """Pure numpy twin of :func:`cell_summary` (numpy's pairwise sums: the totals agree to
    rounding, not bit for bit)."""
    r = reward[(m0 > 0) | (m1 > 0)]
    top, bottom = (float(r.max()), float(r.min())) if r.size else (-math.inf, math.inf)
    with np.errstate(invalid="ignore", over="ignore"):
        return CellSummary(top, bottom, (float(m0.sum()), float(m1.sum())),
                           (float(m0.min()), float(m1.min())), float(reward.sum()))


def reward_extremes(reward, m0, m1):
    """On the support ``{m0 > 0} | {m1 > 0}``: the largest reward, the largest one strictly
    below it (``-inf`` if none) and the smallest (``make_layout``'s ``top, second`` and the
    span; numpy: the engine finds only ``top`` and ``bottom``, :func:`cell_summary`, and the
    pair law both rewards' three in one pass, :func:`numerics.pair_kernels.pair_extremes`)."""
    r = reward[(m0 > 0) | (m1 > 0)]
    if r.size == 0:
        return -np.inf, -np.inf, np.inf
    top = r.max()
    below = r[r < top]
    return top, (below.max() if below.size else -np.inf), r.min()


#: cells that :func:`count_runs` tests together inside a run (measured on the 2048^2
#: benchmark, runs of 65 cells: 8 cells 0.47, 16 cells 0.44, 32 cells 0.54 numpy passes,
#: against 0.50 cell by cell)
COUNT_BLOCK = 16


@numba.njit(cache=True, inline="always", fastmath={"nnan", "nsz"})
def _block_inside(rs, m0s, m1s, r_max, lo, hi):
    """Whether every cell of the block (slices of one length) is in the support
    (``m0 > 0`` or ``m1 > 0``) with ``lo < r_max - r < hi``: the extremes of the block's
    rewards and masses in vector lanes (``r_max - r`` is monotone in ``r``, so its extremes
    are those of ``r``; the rewards and masses are finite: checked by the callers)."""
    r_lo = np.inf
    r_hi = -np.inf
    m_lo = np.inf
    for j in range(rs.shape[0]):
        r_lo = min(r_lo, rs[j])
        r_hi = max(r_hi, rs[j])
        m_lo = min(m_lo, max(m0s[j], m1s[j]))
    return m_lo > 0.0 and lo < r_max - r_hi and r_max - r_lo < hi


@kernel
def count_runs(reward, m0, m1, r_max, D, J, width, n_raw, chunks, ids, outside):
    """One pass over the cells: each support cell's raw panel id into ``ids`` (``outside``,
    the largest value of its unsigned type, for cells outside the support ``{m0 > 0} | {m1 >
    0}``), and per (chunk, raw panel) the number of support cells and of *runs*: maximal
    blocks of consecutive support cells of one panel within one chunk (the cells of a smooth
    reward come in long runs: 65 cells on the 2048^2 benchmark).  Returns ``(cells, runs)``,
    each ``(chunks, n_raw)``; ``chunks`` fixed blocks of cells, in parallel (the counts do
    not depend on the thread count)."""
    n = reward.shape[0]
    cells = np.zeros((chunks, n_raw), dtype=np.int64)
    runs = np.zeros((chunks, n_raw), dtype=np.int64)
    step = (n + chunks - 1) // chunks
    for c in numba.prange(chunks):
        prev = -1   # the panel of the current run (-1: none), and its length so far
        run = 0
        inner_lo = 1.0   # depths strictly inside the last located panel (empty at first)
        inner_hi = 0.0
        cur = 0
        i = min(c * step, n)
        hi_c = min((c + 1) * step, n)
        while i < hi_c:
            e = min(i + COUNT_BLOCK, hi_c)
            if prev >= 0 and _block_inside(reward[i:e], m0[i:e], m1[i:e], r_max, inner_lo,
                                           inner_hi):
                # every cell of the block in the support and inside the run's panel: the
                # cells one by one would each find the run's panel
                ids[i:e] = prev
                run += e - i
                i = e
                continue
            for k in range(i, e):
                if m0[k] > 0.0 or m1[k] > 0.0:
                    d = r_max - reward[k]
                    if inner_lo < d < inner_hi:
                        raw = cur
                    else:
                        raw, _ = _locate(d, D, J, width)
                        cur = raw
                        inner_lo, inner_hi = _panel_inside(raw, D, J, width)
                    ids[k] = raw
                    if raw != prev:   # counted by runs: no chain of increments through memory
                        if prev >= 0:
                            cells[c, prev] += run
                        runs[c, raw] += 1
                        prev = raw
                        run = 0
                    run += 1
                else:
                    ids[k] = outside
                    if prev >= 0:
                        cells[c, prev] += run
                    prev = -1
                    run = 0
            i = e
        if prev >= 0:
            cells[c, prev] += run
    return cells, runs


def count_runs_numpy(reward, m0, m1, r_max, D, J, width, n_raw, chunks, ids, outside):
    """Pure numpy twin of :func:`count_runs`."""
    n = reward.shape[0]
    sup = (m0 > 0) | (m1 > 0)
    raw, _ = locate_numpy(np.where(sup, r_max - reward, 0.0), D, J, width)
    ids[:] = np.where(sup, raw, outside)
    step = (n + chunks - 1) // chunks
    cells = np.zeros((chunks, n_raw), dtype=np.int64)
    runs = np.zeros((chunks, n_raw), dtype=np.int64)
    for c in range(chunks):
        lo, hi = min(c * step, n), min((c + 1) * step, n)
        part, here = raw[lo:hi], sup[lo:hi]
        cells[c] = np.bincount(part[here], minlength=n_raw)
        first = here.copy()   # a run starts where the previous cell is another panel's or none
        first[1:] &= ~(here[:-1] & (part[1:] == part[:-1]))
        runs[c] = np.bincount(part[first], minlength=n_raw)
    return cells, runs


@numba.njit(cache=True, inline="always")
def run_end(ids, j, hi, raw):
    """The first cell ``>= j`` (and ``< hi``) whose id is not ``raw``, or ``hi``: blocks of
    :data:`COUNT_BLOCK` ids compared at once (vector lanes), then one by one (measured on the
    2048^2 benchmark, runs of 65 cells: :func:`list_runs` 0.19 -> 0.10 numpy passes)."""
    while j + COUNT_BLOCK <= hi:
        block = ids[j:j + COUNT_BLOCK]
        same = True
        for t in range(COUNT_BLOCK):
            same &= block[t] == raw
        if not same:
            break
        j += COUNT_BLOCK
    while j < hi and ids[j] == raw:
        j += 1
    return j


@kernel
def list_runs(ids, outside, runs):
    """The runs that :func:`count_runs` counted (``runs``, per (chunk, raw panel); the chunks
    are its fixed blocks of cells), read back from ``ids``: ``(rptr, start, length)``, the
    runs of raw panel ``raw`` at ``rptr[raw]:rptr[raw + 1]`` in increasing cell order, run
    ``k`` the cells ``start[k]:start[k] + length[k]``.  Reads one small integer a cell
    (chunks in parallel)."""
    n = ids.shape[0]
    chunks, n_raw = runs.shape
    pos = np.empty((chunks, n_raw), dtype=np.int64)
    rptr = np.empty(n_raw + 1, dtype=np.int64)
    acc = 0
    for raw in range(n_raw):
        rptr[raw] = acc
        for c in range(chunks):
            pos[c, raw] = acc
            acc += runs[c, raw]
    rptr[n_raw] = acc
    start = np.empty(acc, dtype=np.int64)
    length = np.empty(acc, dtype=np.int64)
    step = (n + chunks - 1) // chunks
    for c in numba.prange(chunks):
        here = pos[c].copy()
        hi = min((c + 1) * step, n)
        i = min(c * step, n)
        while i < hi:
            raw = ids[i]
            if raw == outside:
                i += 1
                continue
            j = run_end(ids, i + 1, hi, raw)
            k = here[raw]
            here[raw] = k + 1
            start[k] = i
            length[k] = j - i
            i = j
    return rptr, start, length


def list_runs_numpy(ids, outside, runs):
    """Pure numpy twin of :func:`list_runs`."""
    n = ids.shape[0]
    chunks, n_raw = runs.shape
    step = max(1, (n + chunks - 1) // chunks)
    sup = ids != outside
    first = sup.copy()   # a run starts after another panel's cell, a gap or a chunk's edge
    first[1:] &= ~(sup[:-1] & (ids[1:] == ids[:-1]))
    first[::step] = sup[::step]
    begins = np.flatnonzero(first)
    stops = np.append(np.flatnonzero(first | ~sup), n)
    ends = stops[np.searchsorted(stops, begins, side="right")]
    raw = ids[begins].astype(np.int64)
    order = np.argsort(raw, kind="stable")   # panel by panel, then in cell order
    rptr = np.concatenate([[0], np.cumsum(np.bincount(raw, minlength=n_raw))]).astype(np.int64)
    return rptr, begins[order].astype(np.int64), (ends - begins)[order].astype(np.int64)
