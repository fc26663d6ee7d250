r"""How the reward axis is cut into panels for the compressed reward law (DESIGN.md, "reward
law").

Positions are *depths* below the top reward of the support, ``d = r_max - r >= 0`` (so
``log s = -d`` exactly, with no rounding of ``r_max - d``).  The panels are

- the **top level set** ``{d = 0}``: a panel of zero width (one node, exact);
- **graded panels** ``[D 2^{-j-1}, D 2^{-j})``, ``j = 0 .. J-1``, with ``D = GRADED_DEPTH``,
  down to the first positive depth of the support (``J`` levels, at most ``MAX_LEVELS``), and
  a deep panel ``(0, D 2^{-J})`` if positive depths remain below that;
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

import numba
import numpy as np

from .threads import kernel

__all__ = ["PanelLayout", "make_layout", "DEFAULT_PANEL_WIDTH", "DEFAULT_NODES", "FINE_NODES",
           "GRADED_DEPTH", "FINE_DEPTH", "MAX_LEVELS", "reward_extremes", "reward_extremes_numpy",
           "count_cells", "count_cells_numpy", "scatter_cells", "scatter_cells_numpy",
           "count_cells_ids", "count_cells_ids_numpy", "scatter_cells_ids",
           "scatter_cells_ids_numpy", "locate_numpy"]

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


def make_layout(r_max, second, width=DEFAULT_PANEL_WIDTH, nodes=DEFAULT_NODES,
                fine_nodes=FINE_NODES, graded_depth=GRADED_DEPTH, fine_depth=FINE_DEPTH):
    """The compressed layout for a support whose top reward is ``r_max`` and whose largest
    reward below it is ``second`` (``-inf`` if none): graded levels down to the first
    positive depth ``r_max - second`` (at most :data:`MAX_LEVELS`)."""
    first = r_max - second
    if 0 < first < graded_depth:
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
def _position(d, raw, D, J, width):
    """The position ``x`` of depth ``d`` in its raw panel ``raw`` (as :func:`_locate` finds
    both: the same operations, the same bits), without finding the panel again."""
    if raw == 0:
        return 0.0
    if raw == 1:
        hi = math.ldexp(D, -J)
        c = 0.5 * hi
        hw = 0.5 * hi
    elif raw <= J + 1:
        hi = math.ldexp(D, -(J + 1 - raw))
        c = 0.75 * hi
        hw = 0.25 * hi
    else:
        c = D + ((raw - (J + 2)) + 0.5) * width
        hw = 0.5 * width
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


@numba.njit(cache=True)
def _extremes_chunk(reward, m0, m1, lo, hi):
    top = -np.inf
    second = -np.inf
    bottom = np.inf
    for i in range(lo, hi):
        if m0[i] > 0.0 or m1[i] > 0.0:
            r = reward[i]
            if r > top:
                second = top
                top = r
            elif r < top and r > second:
                second = r
            if r < bottom:
                bottom = r
    return top, second, bottom


@kernel
def reward_extremes(reward, m0, m1, chunks):
    """On the support ``{m0 > 0} | {m1 > 0}``: the largest reward, the largest one strictly
    below it (``-inf`` if none) and the smallest, in one pass (``chunks`` blocks, in
    parallel)."""
    n = reward.shape[0]
    part = np.empty((chunks, 3))
    step = (n + chunks - 1) // chunks
    for c in numba.prange(chunks):
        a, b, d = _extremes_chunk(reward, m0, m1, min(c * step, n), min((c + 1) * step, n))
        part[c, 0] = a
        part[c, 1] = b
        part[c, 2] = d
    top = -np.inf
    bottom = np.inf
    for c in range(chunks):
        top = max(top, part[c, 0])
        bottom = min(bottom, part[c, 2])
    second = -np.inf
    for c in range(chunks):
        for k in range(2):
            v = part[c, k]
            if v < top and v > second:
                second = v
    return top, second, bottom


def reward_extremes_numpy(reward, m0, m1, chunks=1):
    """Pure numpy twin of :func:`reward_extremes`."""
    r = reward[(m0 > 0) | (m1 > 0)]
    if r.size == 0:
        return -np.inf, -np.inf, np.inf
    top = r.max()
    below = r[r < top]
    return top, (below.max() if below.size else -np.inf), r.min()


@kernel
def count_cells(reward, m0, m1, r_max, D, J, width, n_raw, chunks):
    """Cells of the support per (chunk, raw panel): ``counts[c, q]`` (chunks in parallel).

    The chunks are fixed blocks of consecutive cells, so a scatter through the prefix sums
    of ``counts`` keeps every panel's cells in increasing index order whatever the number of
    threads (results do not depend on it)."""
    n = reward.shape[0]
    counts = np.zeros((chunks, n_raw), dtype=np.int64)
    step = (n + chunks - 1) // chunks
    for c in numba.prange(chunks):
        for i in range(min(c * step, n), min((c + 1) * step, n)):
            if m0[i] > 0.0 or m1[i] > 0.0:
                raw, _ = _locate(r_max - reward[i], D, J, width)
                counts[c, raw] += 1
    return counts


def count_cells_numpy(reward, m0, m1, r_max, D, J, width, n_raw, chunks):
    """Pure numpy twin of :func:`count_cells`."""
    n = reward.shape[0]
    step = (n + chunks - 1) // chunks
    counts = np.zeros((chunks, n_raw), dtype=np.int64)
    sup = (m0 > 0) | (m1 > 0)
    raw, _ = locate_numpy(np.where(sup, r_max - reward, 0.0), D, J, width)
    for c in range(chunks):
        sl = slice(min(c * step, n), min((c + 1) * step, n))
        counts[c] = np.bincount(raw[sl][sup[sl]], minlength=n_raw)
    return counts


@kernel
def scatter_cells(reward, m0, m1, r_max, D, J, width, start, xs, w0, w1):
    """Write each support cell's position ``x`` and masses ``m0, m1`` at its slot: the cells
    of raw panel ``raw`` in chunk ``c`` go to ``start[c, raw], start[c, raw] + 1, ...`` in index
    order (chunks in parallel), so each panel's cells end up contiguous.  Fills ``xs, w0,
    w1`` (``w1`` of length 0: only ``xs, w0``)."""
    n = reward.shape[0]
    chunks = start.shape[0]
    two = w1.shape[0] > 0
    step = (n + chunks - 1) // chunks
    for c in numba.prange(chunks):
        pos = start[c].copy()
        for i in range(min(c * step, n), min((c + 1) * step, n)):
            if m0[i] > 0.0 or m1[i] > 0.0:
                raw, x = _locate(r_max - reward[i], D, J, width)
                k = pos[raw]
                pos[raw] = k + 1
                xs[k] = x
                w0[k] = m0[i]
                if two:
                    w1[k] = m1[i]


def scatter_cells_numpy(reward, m0, m1, r_max, D, J, width, start, xs, w0, w1):
    """Pure numpy twin of :func:`scatter_cells`."""
    n = reward.shape[0]
    chunks = start.shape[0]
    step = (n + chunks - 1) // chunks
    sup = (m0 > 0) | (m1 > 0)
    raw, x = locate_numpy(np.where(sup, r_max - reward, 0.0), D, J, width)
    for c in range(chunks):
        idx = np.arange(min(c * step, n), min((c + 1) * step, n))
        idx = idx[sup[idx]]
        order = idx[np.argsort(raw[idx], kind="stable")]
        rr = raw[order]
        first = np.searchsorted(rr, rr, side="left")
        slot = start[c, rr] + (np.arange(rr.size) - first)
        xs[slot] = x[order]
        w0[slot] = m0[order]
        if w1.shape[0] > 0:
            w1[slot] = m1[order]


@kernel
def count_cells_ids(reward, m0, m1, r_max, D, J, width, n_raw, chunks, ids):
    """:func:`count_cells`, also writing each support cell's raw panel id into ``ids``
    (an unsigned integer array wide enough for ``n_raw``; cells outside the support are not
    written), for :func:`scatter_cells_ids` (which then does not locate the cells again).
    Its loop (and :func:`scatter_cells_ids`') repeats the locating kernel's rather than share
    one with a branch per cell: the shared loops measured 3-4% slower on the 2048^2 build
    (best of 7, twice)."""
    n = reward.shape[0]
    counts = np.zeros((chunks, n_raw), dtype=np.int64)
    step = (n + chunks - 1) // chunks
    for c in numba.prange(chunks):
        for i in range(min(c * step, n), min((c + 1) * step, n)):
            if m0[i] > 0.0 or m1[i] > 0.0:
                raw, _ = _locate(r_max - reward[i], D, J, width)
                counts[c, raw] += 1
                ids[i] = raw
    return counts


def count_cells_ids_numpy(reward, m0, m1, r_max, D, J, width, n_raw, chunks, ids):
    """Pure numpy twin of :func:`count_cells_ids`."""
    sup = (m0 > 0) | (m1 > 0)
    raw, _ = locate_numpy(np.where(sup, r_max - reward, 0.0), D, J, width)
    ids[sup] = raw[sup]
    return count_cells_numpy(reward, m0, m1, r_max, D, J, width, n_raw, chunks)


@kernel
def scatter_cells_ids(reward, m0, m1, r_max, D, J, width, ids, start, xs, w0, w1):
    """:func:`scatter_cells` with the raw panel ids that :func:`count_cells_ids` wrote: each
    cell's position from its panel (:func:`_position`; the same bits as :func:`_locate`'s)."""
    n = reward.shape[0]
    chunks = start.shape[0]
    two = w1.shape[0] > 0
    step = (n + chunks - 1) // chunks
    for c in numba.prange(chunks):
        pos = start[c].copy()
        for i in range(min(c * step, n), min((c + 1) * step, n)):
            if m0[i] > 0.0 or m1[i] > 0.0:
                raw = np.int64(ids[i])
                k = pos[raw]
                pos[raw] = k + 1
                xs[k] = _position(r_max - reward[i], raw, D, J, width)
                w0[k] = m0[i]
                if two:
                    w1[k] = m1[i]


def scatter_cells_ids_numpy(reward, m0, m1, r_max, D, J, width, ids, start, xs, w0, w1):
    """Pure numpy twin of :func:`scatter_cells_ids` (the positions from
    :func:`locate_numpy`, whose panels are ``ids``)."""
    scatter_cells_numpy(reward, m0, m1, r_max, D, J, width, start, xs, w0, w1)
