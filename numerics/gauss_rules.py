r"""Gauss rules of a discrete measure, panel by panel (DESIGN.md, "reward law").

In each panel the measure ``mu`` restricted to the panel (atoms at positions ``x in [-1, 1]``
with masses ``w``) is replaced by its ``m``-point Gauss rule: nodes ``x_k`` and positive weights
``W_k`` with ``sum_k W_k f(x_k) = int f dmu`` for every polynomial ``f`` of degree ``<= 2m - 1``.
The recurrence coefficients of the monic orthogonal polynomials come from the discretized
Stieltjes procedure on the atoms (Gautschi, *Orthogonal Polynomials*, 2004, sec. 2.2.3.1), the
rule from the eigen-decomposition of the Jacobi matrix (Golub and Welsch, 1969).  A panel with
``n <= m`` distinct atoms is reproduced exactly: the procedure breaks down after ``n`` steps.

The atoms arrive panel-contiguous (:func:`numerics.panels.scatter_cells`): panel ``q`` holds
slots ``ptr[q]:ptr[q+1]``, and each panel runs its steps on its own slots (in cache), panels in
parallel.  Masses are scaled per panel by their largest value, so masses spanning thousands of
nats across panels are fine.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .threads import kernel

__all__ = ["PanelRules", "stieltjes", "stieltjes_numpy", "gauss_from_recurrence",
           "panel_log_mass", "panel_log_mass_numpy"]

#: blocks of panels in :func:`stieltjes`, each with its own scratch (a constant: the kernel is
#: cached on disk, which ``numba.get_num_threads()`` inside it would prevent)
_SCRATCH_BLOCKS = 4
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
def _next_orthogonal(x, w, pi_prev, pi_cur, ak, bk):
    """One Stieltjes pass, in place: ``pi_{k+1} = (x - a_k) pi_k - b_k pi_{k-1}`` into
    ``pi_cur`` (``pi_k`` into ``pi_prev``), returning ``(sum w pi_{k+1}^2, sum w x
    pi_{k+1}^2)``.  The two sums may be reassociated (``fastmath={"reassoc"}``: vector
    lanes); nothing else is."""
    den = 0.0
    num = 0.0
    for c in range(x.shape[0]):
        nxt = (x[c] - ak) * pi_cur[c] - bk * pi_prev[c]
        pi_prev[c] = pi_cur[c]
        pi_cur[c] = nxt
        wp = w[c] * nxt * nxt
        den += wp
        num += wp * x[c]
    return den, num


@numba.njit(cache=True)
def _stieltjes_panel(q, ptr, xs, ws, m_panel, alpha, beta, n_used, log_scale, scratch):
    """:func:`stieltjes` on panel ``q`` (rows ``q`` of the outputs), with ``scratch`` (3, >= n)
    for the scaled masses and the last two orthogonal polynomials at the atoms."""
    a = ptr[q]
    n = ptr[q + 1] - a
    top = 0.0
    for c in range(n):
        if ws[a + c] > top:
            top = ws[a + c]
    if not top > 0.0:
        return
    log_scale[q] = math.log(top)
    w = scratch[0, :n]
    x = xs[a:a + n]
    pi_prev = scratch[1, :n]
    pi_cur = scratch[2, :n]
    den = 0.0
    num = 0.0
    for c in range(n):
        w[c] = ws[a + c] / top
        pi_prev[c] = 0.0
        pi_cur[c] = 1.0
        den += w[c]
        num += w[c] * x[c]
    norm_prev = 1.0
    m = min(m_panel[q], n)  # n atoms: at most n steps before breakdown
    n_used[q] = m
    for k in range(m):
        # den = sum w pi_k^2 and num = sum w x pi_k^2 (pi_k formed in the previous pass)
        if k == 0:
            beta[q, 0] = den
        elif den <= BREAKDOWN * norm_prev or den <= 1e-300:
            n_used[q] = k
            break
        else:
            beta[q, k] = den / norm_prev
        alpha[q, k] = num / den
        norm_prev = den
        if k == m - 1:
            break
        ak = alpha[q, k]
        bk = beta[q, k] if k > 0 else 0.0
        den, num = _next_orthogonal(x, w, pi_prev, pi_cur, ak, bk)


@kernel
def stieltjes(ptr, xs, ws, m_panel, m_max):
    r"""Recurrence coefficients of each panel's discrete measure.

    Parameters
    ----------
    ptr : int array (P + 1,)
        panel ``q``'s atoms are ``xs[ptr[q]:ptr[q+1]]`` with masses ``ws[...]`` (>= 0).
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
    alpha = np.zeros((n_panels, m_max))
    beta = np.zeros((n_panels, m_max))
    n_used = np.zeros(n_panels, dtype=np.int64)
    log_scale = np.full(n_panels, -np.inf)
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
            _stieltjes_panel(q, ptr, xs, ws, m_panel, alpha, beta, n_used, log_scale,
                             scratch[blk])
    return alpha, beta, n_used, log_scale


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
