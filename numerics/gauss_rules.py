r"""Gauss rules of a discrete measure, panel by panel (DESIGN.md, "reward law").

In each panel the measure ``mu`` restricted to the panel (atoms at positions ``x in [-1, 1]``
with masses ``w``) is replaced by its ``m``-point Gauss rule: nodes ``x_k`` and positive weights
``W_k`` with ``sum_k W_k f(x_k) = int f dmu`` for every polynomial ``f`` of degree ``<= 2m - 1``.
The recurrence coefficients of the monic orthogonal polynomials come from the discretized
Stieltjes procedure on the atoms (Gautschi, *Orthogonal Polynomials*, 2004, sec. 2.2.3.1), the
rule from the eigen-decomposition of the Jacobi matrix (Golub and Welsch, 1969).  A panel with
``n <= m`` distinct atoms is reproduced exactly: the procedure breaks down after ``n`` steps.

The atoms arrive panel-contiguous (:func:`stieltjes`: panel ``q`` holds slots
``ptr[q]:ptr[q+1]``), or are gathered from the grid by runs of cells of one panel
(:func:`stieltjes_runs`, :func:`numerics.panels.list_runs`); each panel runs its steps on its
own atoms (in cache), panels in parallel.  Masses are scaled per panel by their largest value,
so masses spanning thousands of nats across panels are fine.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .chebyshev import _clenshaw
from .panels import _in_frame, _panel_frame, locate_numpy
from .prefetch import prefetch
from .threads import kernel

__all__ = ["PanelRules", "stieltjes", "stieltjes_numpy", "stieltjes_runs", "stieltjes_runs_numpy",
           "gather_runs_numpy", "gauss_from_recurrence",
           "panel_log_mass", "panel_log_mass_numpy"]

#: blocks of panels in :func:`stieltjes`, each with its own scratch (a constant: the kernel is
#: cached on disk, which ``numba.get_num_threads()`` inside it would prevent)
_SCRATCH_BLOCKS = 4
#: :func:`stieltjes_runs` prefetches the cells of the run this many runs ahead
PREFETCH_RUNS = 2
#: float64 values per cache line
_LINE = 8
#: relative size of ``||pi_k||^2`` below which the Stieltjes procedure has broken down (the
#: panel has fewer distinct atoms than steps)
BREAKDOWN = 1e-26


class PanelRules:
    """Gauss rules of one measure, panel by panel.

    Attributes
    ----------
    ptr : int array (P + 1,)
        the nodes of panel ``q`` are ``ptr[q]:ptr[q+1]`` (an empty panel has none).
    x : float array (n,)
        node positions in their panel, in ``[-1, 1]``.
    depth : float array (n,)
        node depths below the top reward, ``r_max - r >= 0`` (so ``log s = -depth``).
    log_w : float array (n,)
        log of the positive quadrature weights.
    """

    __slots__ = ("ptr", "x", "depth", "log_w")

    def __init__(self, ptr, x, depth, log_w):
        self.ptr, self.x, self.depth, self.log_w = ptr, x, depth, log_w

    @property
    def size(self) -> int:
        return int(self.depth.shape[0])

    def panel_of_nodes(self):
        """The panel of each node."""
        return np.repeat(np.arange(self.ptr.shape[0] - 1), np.diff(self.ptr))


@numba.njit(cache=True)
def panel_log_mass(log_mass, ptr):
    """Per panel, ``log sum exp(log_mass)`` over its nodes (``ptr``, as
    :attr:`PanelRules.ptr`; ``-inf`` for a panel without nodes), relative to the panel's
    largest term (:func:`panel_log_mass_numpy`: the numpy twin)."""
    n_panels = ptr.shape[0] - 1
    out = np.full(n_panels, -np.inf)
    for q in range(n_panels):
        a, b = ptr[q], ptr[q + 1]
        if b == a:
            continue
        top = log_mass[a]
        for k in range(a + 1, b):
            top = max(top, log_mass[k])
        if not abs(top) < np.inf:
            out[q] = top
            continue
        acc = 0.0
        for k in range(a, b):
            acc += math.exp(log_mass[k] - top)
        out[q] = top + math.log(acc)
    return out


def panel_log_mass_numpy(log_mass, ptr):
    """Pure numpy twin of :func:`panel_log_mass`."""
    out = np.full(ptr.shape[0] - 1, -np.inf)
    has = np.flatnonzero(np.diff(ptr) > 0)
    if has.size:
        first = ptr[has]
        top = np.maximum.reduceat(log_mass, first)
        safe = np.where(np.isfinite(top), top, 0.0)
        node_panel = np.repeat(np.arange(has.size), np.diff(np.append(first, log_mass.size)))
        with np.errstate(divide="ignore"):
            out[has] = safe + np.log(np.add.reduceat(np.exp(log_mass - safe[node_panel]), first))
    return out


@numba.njit(cache=True, fastmath={"reassoc"})
def _scaled_roots(x, w, top):
    """``w <- sqrt(w / top)`` in place, returning ``(sum w / top, sum w x / top)`` of the
    masses before the root (the sums reassociated: vector lanes)."""
    den = 0.0
    num = 0.0
    for c in range(x.shape[0]):
        wc = w[c] / top
        w[c] = math.sqrt(wc)
        den += wc
        num += wc * x[c]
    return den, num


@numba.njit(cache=True, fastmath={"reassoc"})
def _first_orthogonal(x, q_0, q_1, a0):
    """The first Stieltjes pass on root-weighted polynomials: ``q_1 = (x - a_0) q_0`` into
    ``q_1`` (``q_0 = sqrt(w)``); returns ``(sum q_1^2, sum x q_1^2)`` (reassociated, as
    :func:`_next_orthogonal`)."""
    den = 0.0
    num = 0.0
    for c in range(x.shape[0]):
        nxt = (x[c] - a0) * q_0[c]
        q_1[c] = nxt
        wp = nxt * nxt
        den += wp
        num += wp * x[c]
    return den, num


@numba.njit(cache=True, fastmath={"reassoc"})
def _next_orthogonal(x, q_prev, q_cur, ak, bk):
    """One Stieltjes pass on the root-weighted polynomials ``q_k = sqrt(w) pi_k``, which obey
    ``pi_k``'s recurrence: ``q_{k+1} = (x - a_k) q_k - b_k q_{k-1}`` written over ``q_{k-1}``
    in ``q_prev`` (the caller then swaps the two arrays: one store a value, not two),
    returning ``(sum q_{k+1}^2, sum x q_{k+1}^2) = (sum w pi_{k+1}^2, sum w x pi_{k+1}^2)``.
    Carrying ``sqrt(w)`` in the polynomials leaves three arrays for a pass to read instead of
    four (measured: passes over 10^5 atoms 1.3x faster, over 4 10^5 atoms 2.8x).  The two
    sums may be reassociated (``fastmath={"reassoc"}``: vector lanes); nothing else is."""
    den = 0.0
    num = 0.0
    for c in range(x.shape[0]):
        nxt = (x[c] - ak) * q_cur[c] - bk * q_prev[c]
        q_prev[c] = nxt
        wp = nxt * nxt
        den += wp
        num += wp * x[c]
    return den, num


@numba.njit(cache=True, fastmath={"reassoc"})
def _scaled_moments(x, w, top):
    """``w /= top`` in place, returning ``(sum w, sum w x)`` (a signed measure's first pass;
    the sums reassociated)."""
    den = 0.0
    num = 0.0
    for c in range(x.shape[0]):
        wc = w[c] / top
        w[c] = wc
        den += wc
        num += wc * x[c]
    return den, num


@numba.njit(cache=True, fastmath={"reassoc"})
def _first_signed(x, w, pi_0, pi_1, a0):
    """:func:`_first_orthogonal` for a signed measure (no root of ``w``): ``pi_0 = 1``,
    ``pi_1 = x - a_0``; returns ``(sum w pi_1^2, sum w x pi_1^2)``."""
    den = 0.0
    num = 0.0
    for c in range(x.shape[0]):
        nxt = x[c] - a0
        pi_0[c] = 1.0
        pi_1[c] = nxt
        wp = w[c] * nxt * nxt
        den += wp
        num += wp * x[c]
    return den, num


@numba.njit(cache=True, fastmath={"reassoc"})
def _next_signed(x, w, pi_prev, pi_cur, ak, bk):
    """:func:`_next_orthogonal` for a signed measure: ``pi_{k+1}`` over ``pi_{k-1}``,
    returning ``(sum w pi_{k+1}^2, sum w x pi_{k+1}^2)``."""
    den = 0.0
    num = 0.0
    for c in range(x.shape[0]):
        nxt = (x[c] - ak) * pi_cur[c] - bk * pi_prev[c]
        pi_prev[c] = nxt
        wp = w[c] * nxt * nxt
        den += wp
        num += wp * x[c]
    return den, num


@numba.njit(cache=True)
def _stieltjes_atoms(q, x, w, top, signed, pi_a, pi_b, m_panel, alpha, beta, n_used,
                     log_scale):
    """:func:`stieltjes` on the atoms ``x`` with masses ``w`` (largest ``top``) of panel ``q``
    (rows ``q`` of the outputs).  Non-negative masses (``signed`` false): ``w`` is replaced
    in place by ``sqrt(w / top)``, the root-weighted ``q_0``; it and ``pi_a`` (as long as
    ``x``) then hold the last two root-weighted polynomials (:func:`_next_orthogonal`;
    ``pi_b`` is not used).  A signed measure (``signed``; the pair law's marginals): ``w`` is
    divided by ``top`` and ``pi_a, pi_b`` hold the last two polynomials (:func:`_next_signed`)."""
    if not top > 0.0:
        return
    log_scale[q] = math.log(top)
    if signed:
        den, num = _scaled_moments(x, w, top)
        q_prev, q_cur = pi_a, pi_b
    else:
        den, num = _scaled_roots(x, w, top)
        q_prev, q_cur = w, pi_a
    _stieltjes_steps(q, x, w, q_prev, q_cur, den, num, 1.0, signed, m_panel, alpha, beta,
                     n_used)


@numba.njit(cache=True)
def _stieltjes_steps(q, x, w, q_prev, q_cur, den, num, unit, signed, m_panel, alpha, beta,
                     n_used):
    """The steps of :func:`_stieltjes_atoms` from the first pass's sums ``den = sum w``, ``num
    = sum w x`` over panel ``q``'s atoms, with the masses in units of ``unit`` (``beta[q, 0]``
    is ``den / unit``; the breakdown floor ``1e-300 unit``): ``unit = 1`` for masses scaled by
    their largest, ``unit = top`` for the unscaled roots of :func:`stieltjes_runs`, whose
    steps are then those of the scaled ones up to rounding.  ``q_prev`` holds ``q_0`` (root
    weighted) or, for a signed measure, ``w`` is the weight and ``q_prev, q_cur`` scratch."""
    norm_prev = 1.0
    m = min(m_panel[q], x.shape[0])  # n atoms: at most n steps before breakdown
    n_used[q] = m
    floor = 1e-300 * unit
    for k in range(m):
        # den = sum w pi_k^2 and num = sum w x pi_k^2 (pi_k formed in the previous pass)
        if k == 0:
            beta[q, 0] = den / unit
        elif den <= BREAKDOWN * norm_prev or den <= floor:
            n_used[q] = k
            break
        else:
            beta[q, k] = den / norm_prev
        alpha[q, k] = num / den
        norm_prev = den
        if k == m - 1:
            break
        if signed:
            if k == 0:
                den, num = _first_signed(x, w, q_prev, q_cur, alpha[q, 0])
            else:
                den, num = _next_signed(x, w, q_prev, q_cur, alpha[q, k], beta[q, k])
                q_prev, q_cur = q_cur, q_prev
        elif k == 0:
            den, num = _first_orthogonal(x, q_prev, q_cur, alpha[q, 0])
        else:
            den, num = _next_orthogonal(x, q_prev, q_cur, alpha[q, k], beta[q, k])
            q_prev, q_cur = q_cur, q_prev


@numba.njit(cache=True)
def _outputs(n_panels, m_max):
    """``alpha, beta, n_used, log_scale`` of :func:`stieltjes`, before any step."""
    return (np.zeros((n_panels, m_max)), np.zeros((n_panels, m_max)),
            np.zeros(n_panels, dtype=np.int64), np.full(n_panels, -np.inf))


@kernel
def stieltjes(ptr, xs, ws, m_panel, m_max):
    r"""Recurrence coefficients of each panel's discrete measure.

    Parameters
    ----------
    ptr : int array (P + 1,)
        panel ``q``'s atoms are ``xs[ptr[q]:ptr[q+1]]`` with masses ``ws[...]``: non-negative
        (the passes carry ``sqrt(w)`` in the polynomials, :func:`_next_orthogonal`) or, in a
        panel with a negative mass, signed (the passes weight by ``w``, :func:`_next_signed`).
    m_panel : int array (P,)
        steps per panel (at most ``m_max``).

    Returns
    -------
    alpha, beta : (P, m_max) arrays
        ``pi_{k+1}(x) = (x - alpha_k) pi_k(x) - beta_k pi_{k-1}(x)``; ``beta[:, 0]`` is the
        panel mass divided by ``scale``.
    n_used : (P,) int array
        steps before breakdown (a panel with ``n`` distinct atoms breaks down after ``n``).
    log_scale : (P,) array
        log of the largest mass of each panel (``-inf`` for a panel without mass).
    """
    n_panels = ptr.shape[0] - 1
    alpha, beta, n_used, log_scale = _outputs(n_panels, m_max)
    # scratch for (w, pi_prev, pi_cur), allocated once per block of panels and reused panel
    # after panel: per-panel arrays were fresh pages each time (measured: half the time of
    # the 2048^2 build's Stieltjes passes went to their page faults).  The blocks only
    # schedule the panels; each panel's values do not depend on them.
    big = 0
    for q in range(n_panels):
        big = max(big, ptr[q + 1] - ptr[q])
    blocks = max(1, min(n_panels, _SCRATCH_BLOCKS))
    scratch = np.empty((blocks, 3, big))
    for blk in numba.prange(blocks):
        for q in range(blk, n_panels, blocks):
            a, n = ptr[q], ptr[q + 1] - ptr[q]
            w = scratch[blk, 0, :n]
            top = 0.0
            lowest = 0.0
            for c in range(n):
                w[c] = ws[a + c]
                top = max(top, w[c])
                lowest = min(lowest, w[c])
            _stieltjes_atoms(q, xs[a:a + n], w, top, lowest < 0.0, scratch[blk, 1, :n],
                             scratch[blk, 2, :n], m_panel, alpha, beta, n_used, log_scale)
    return alpha, beta, n_used, log_scale


@numba.njit(cache=True, inline="always")
def _frame_copy(rs, ms, r_max, c, hw, xs, ws):
    """``xs[j] = _in_frame(r_max - rs[j], c, hw)`` and ``ws[j] = ms[j]`` (slices of one
    length: LLVM runs the loop in vector lanes, which ``x[n + j]`` indexing prevented;
    measured, the gather of the 2048^2 benchmark: 0.75 -> 0.63 numpy passes)."""
    for j in range(rs.shape[0]):
        xs[j] = _in_frame(r_max - rs[j], c, hw)
        ws[j] = ms[j]


@numba.njit(cache=True, inline="always", fastmath={"nnan", "nsz"})
def _largest(w):
    """``max(0, max(w))`` in vector lanes (the masses are finite: checked by the callers)."""
    top = 0.0
    for j in range(w.shape[0]):
        top = max(top, w[j])
    return top


@numba.njit(cache=True, inline="always")
def _frame_roots(rs, ms, r_max, c, hw, xs, qs):
    """``xs[j] = _in_frame(r_max - rs[j], c, hw)`` and ``qs[j] = sqrt(ms[j])`` (slices of one
    length), as :func:`_frame_copy`."""
    for j in range(rs.shape[0]):
        xs[j] = _in_frame(r_max - rs[j], c, hw)
        qs[j] = math.sqrt(ms[j])


@numba.njit(cache=True, inline="always")
def _roots(ms, qs):
    """``qs[j] = sqrt(ms[j])`` (slices of one length)."""
    for j in range(ms.shape[0]):
        qs[j] = math.sqrt(ms[j])


@numba.njit(cache=True, fastmath={"reassoc"})
def _run_moments(ms, xs):
    """``(sum ms, sum ms xs, max(0, max ms))`` of a run (slices of one length; the sums
    reassociated: vector lanes; the masses are finite and non-negative)."""
    den = 0.0
    num = 0.0
    top = 0.0
    for j in range(ms.shape[0]):
        m = ms[j]
        den += m
        num += m * xs[j]
        top = m if m > top else top
    return den, num, top


#: :func:`stieltjes_runs` keeps a panel's roots unscaled when its largest mass lies between
#: these (``2^-400, 2^400``): the passes' sums then neither underflow nor overflow
#: (``sum_k w_k pi_k(x_k)^2 >= top 1e-60`` for 16 steps on panels of the benchmarks' widths)
_UNSCALED = (2.0**-400, 2.0**400)


@numba.njit(cache=True, inline="always")
def _gather_roots(lo, hi, start, length, reward, mass, raw, r_max, c, hw, x, w):
    """The runs ``lo:hi`` of raw panel ``raw`` (frame ``c, hw``; the top level set ``raw = 0``
    at ``x = 0``) into ``x`` (positions) and ``w`` (roots of the masses), prefetching the run
    after next: ``(cells, sum w^2, sum w^2 x, largest w^2)``."""
    n = 0
    den = 0.0
    num = 0.0
    top = 0.0
    for k in range(lo, hi):
        ahead = k + PREFETCH_RUNS
        if ahead < hi:   # the run after next: its start is elsewhere in memory
            for e in range(start[ahead], start[ahead] + length[ahead], _LINE):
                prefetch(reward, e)
                prefetch(mass, e)
        a, e, f = start[k], start[k] + length[k], n + length[k]
        if raw > 0:
            _frame_roots(reward[a:e], mass[a:e], r_max, c, hw, x[n:f], w[n:f])
        else:
            x[n:f] = 0.0
            _roots(mass[a:e], w[n:f])
        d, u, t = _run_moments(mass[a:e], x[n:f])
        den += d
        num += u
        top = max(top, t)
        n = f
    return n, den, num, top


@kernel
def stieltjes_runs(run_lo, run_hi, start, length, panel_raw, reward, mass, r_max, D, J, width,
                   m_panel, m_max, cptr, coeffs, tmax):
    r""":func:`stieltjes` of the grid's cells, panel by panel, gathered from the grid run by
    run (no panel-sorted copy of the grid is made).

    Panel ``q`` (raw panel id ``panel_raw[q]``) holds the cells of the runs
    ``run_lo[q]:run_hi[q]`` (:func:`numerics.panels.list_runs`: run ``k`` is the cells
    ``start[k]:start[k] + length[k]``), at the positions ``x`` of their depths
    ``r_max - reward`` (:func:`numerics.panels._locate`'s operations), with the masses
    ``mass`` times, where ``tmax`` is not empty (a re-tilt), ``exp(T_q(x) - tmax[q])``, ``T_q``
    the Chebyshev series ``coeffs[cptr[q]:cptr[q + 1]]``.  Each panel's cells are copied once
    into a scratch reused panel after panel (in cache), then its steps run there: the values
    are those of :func:`stieltjes` on the same atoms in the same order, up to the order of
    the sums.  Without a tilt the copy writes the roots of the masses, unscaled, and adds up
    the first pass's sums run by run (:func:`_gather_roots`; the passes are scale-free, the
    mass and the breakdown floor taken in units of the largest mass), where that mass lies
    in :data:`_UNSCALED`: no pass of its own finds the largest mass and takes the roots
    (measured on the 2048^2 benchmark: 34.5 -> 33 ms, one thread).  Returns as
    :func:`stieltjes`."""
    n_panels = run_lo.shape[0]
    alpha, beta, n_used, log_scale = _outputs(n_panels, m_max)
    big = 0
    for q in range(n_panels):
        size = 0
        for k in range(run_lo[q], run_hi[q]):
            size += length[k]
        big = max(big, size)
    blocks = max(1, min(n_panels, _SCRATCH_BLOCKS))
    scratch = np.empty((blocks, 3, big))
    tilted = tmax.shape[0] > 0
    for blk in numba.prange(blocks):
        for q in range(blk, n_panels, blocks):
            x = scratch[blk, 2]
            w = scratch[blk, 0]
            raw = np.int64(panel_raw[q])
            c, hw = _panel_frame(raw, D, J, width) if raw > 0 else (0.0, 1.0)
            if not tilted:
                # the cells' positions and roots of their masses, and the first pass's sums,
                # as the runs are gathered (no pass of its own over the panel)
                n, den, num, top = _gather_roots(run_lo[q], run_hi[q], start, length, reward,
                                                 mass, raw, r_max, c, hw, x, w)
                if not top > 0.0:
                    continue
                if _UNSCALED[0] < top < _UNSCALED[1]:
                    log_scale[q] = math.log(top)
                    _stieltjes_steps(q, x[:n], w[:n], w[:n], scratch[blk, 1, :n], den, num,
                                     top, False, m_panel, alpha, beta, n_used)
                    continue
            n = 0
            for k in range(run_lo[q], run_hi[q]):
                ahead = k + PREFETCH_RUNS
                if ahead < run_hi[q]:   # the run after next: its start is elsewhere in memory
                    for e in range(start[ahead], start[ahead] + length[ahead], _LINE):
                        prefetch(reward, e)
                        prefetch(mass, e)
                a, e, f = start[k], start[k] + length[k], n + length[k]
                if raw > 0:   # _locate's operations, the panel's frame once
                    _frame_copy(reward[a:e], mass[a:e], r_max, c, hw, x[n:f], w[n:f])
                else:
                    x[n:f] = 0.0
                    w[n:f] = mass[a:e]
                n = f
            top = _largest(w[:n])
            if tilted:
                a, b = cptr[q], cptr[q + 1]
                top = 0.0
                for c in range(n):
                    if w[c] > 0.0:
                        w[c] *= math.exp(_clenshaw(coeffs, a, b, x[c]) - tmax[q])
                        top = max(top, w[c])
            _stieltjes_atoms(q, x[:n], w[:n], top, False, scratch[blk, 1, :n],
                             scratch[blk, 1, :0], m_panel, alpha, beta, n_used, log_scale)
    return alpha, beta, n_used, log_scale


def gather_runs_numpy(run_lo, run_hi, start, length, panel_raw, reward, mass, r_max, D, J,
                      width):
    """The cells of :func:`stieltjes_runs`'s panels, panel-contiguous: ``(ptr, x, w)``
    (numpy; positions by :func:`numerics.panels.locate_numpy`)."""
    counts = np.array([int(length[a:b].sum()) for a, b in zip(run_lo, run_hi)], dtype=np.int64)
    ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    runs = np.concatenate([np.arange(a, b) for a, b in zip(run_lo, run_hi)]
                          + [np.zeros(0, dtype=np.int64)]).astype(np.int64)
    lens = length[runs]
    offsets = np.repeat(start[runs] - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens)
    cells = np.arange(int(lens.sum())) + offsets
    _, x = locate_numpy(r_max - reward[cells], D, J, width)
    return ptr, x, mass[cells].astype(np.float64)


def stieltjes_runs_numpy(run_lo, run_hi, start, length, panel_raw, reward, mass, r_max, D, J,
                         width, m_panel, m_max, cptr, coeffs, tmax):
    """Pure numpy twin of :func:`stieltjes_runs` (gather, tilt, then :func:`stieltjes_numpy`)."""
    from .chebyshev import tilt_weights_numpy
    ptr, x, w = gather_runs_numpy(run_lo, run_hi, start, length, panel_raw, reward, mass,
                                  r_max, D, J, width)
    if tmax.shape[0] > 0:
        tilt_weights_numpy(ptr, x, w, cptr, coeffs, tmax)
    return stieltjes_numpy(ptr, x, w, m_panel, m_max)


def stieltjes_numpy(ptr, xs, ws, m_panel, m_max):
    """Pure numpy twin of :func:`stieltjes` (all panels at once, step by step)."""
    n_panels = ptr.shape[0] - 1
    q = np.repeat(np.arange(n_panels), np.diff(ptr))
    top = np.zeros(n_panels)
    np.maximum.at(top, q, ws)
    has = top > 0
    with np.errstate(divide="ignore"):
        log_scale = np.where(has, np.log(np.where(has, top, 1.0)), -np.inf)
    w = ws / np.where(has, top, 1.0)[q]
    alpha = np.zeros((n_panels, m_max))
    beta = np.zeros((n_panels, m_max))
    m_panel = np.minimum(m_panel, np.diff(ptr))  # n atoms: at most n steps before breakdown
    n_used = np.where(has, m_panel, 0).astype(np.int64)
    active = has.copy()
    pi_prev = np.zeros_like(xs)
    pi_cur = np.ones_like(xs)
    norm_prev = np.ones(n_panels)
    for k in range(m_max):
        active &= k < m_panel
        wp = w * pi_cur**2
        den = np.bincount(q, weights=wp, minlength=n_panels)
        num = np.bincount(q, weights=wp * xs, minlength=n_panels)
        if k == 0:
            beta[active, 0] = den[active]
        else:
            broken = active & ((den <= BREAKDOWN * norm_prev) | (den <= 1e-300))
            n_used[broken] = k
            active &= ~broken
            beta[active, k] = den[active] / norm_prev[active]
        alpha[active, k] = num[active] / den[active]
        norm_prev = np.where(active, den, norm_prev)
        live = active[q] & (k < m_panel[q] - 1)
        nxt = (xs - alpha[q, k]) * pi_cur - (beta[q, k] * pi_prev if k > 0 else 0.0)
        pi_prev = np.where(live, pi_cur, pi_prev)
        pi_cur = np.where(live, nxt, pi_cur)
    return alpha, beta, n_used, log_scale


def gauss_from_recurrence(alpha, beta, n_used, clip=True):
    """Golub-Welsch, batched over the panels with the same number of nodes.

    Returns ``(counts, x, w)``: ``counts[q]`` nodes for panel ``q`` (its ``n_used``), their
    positions ``x`` and weights relative to the panel mass ``beta[q, 0]``, concatenated in
    panel order.  Nodes of zero weight (underflow) are dropped.  ``clip``: clip the positions
    to ``[-1, 1]`` (where a positive measure's nodes are; rounding may put them a few ulps
    out); ``False`` keeps them as they are (the rule of a signed measure, exact for its
    polynomials, may have nodes outside)."""
    n_panels, m_max = alpha.shape
    node_x = np.zeros((n_panels, max(m_max, 1)))
    node_w = np.zeros((n_panels, max(m_max, 1)))
    for u in np.unique(n_used):
        if u == 0:
            continue
        sel = np.flatnonzero(n_used == u)
        k = np.arange(u)
        jac = np.zeros((sel.size, u, u))
        jac[:, k, k] = alpha[sel, :u]
        off = np.sqrt(np.maximum(beta[sel, 1:u], 0.0))
        jac[:, k[:-1], k[:-1] + 1] = off
        jac[:, k[:-1] + 1, k[:-1]] = off
        vals, vecs = np.linalg.eigh(jac)
        node_x[sel, :u] = np.clip(vals, -1.0, 1.0) if clip else vals
        node_w[sel, :u] = vecs[:, 0, :] ** 2
    keep = node_w > 0
    return keep.sum(axis=1).astype(np.int64), node_x[keep], node_w[keep]
