"""Compression of a reward law into Gauss rules per reward panel (DESIGN.md, "reward law").

The curation operator only sees a measure through its reward law ``mu = r_# p``.  Split the
reward axis into panels of width ``panel_width`` (nats).  In each panel the discrete measure
``mu`` restricted to the panel is replaced by its ``m``-point Gauss rule (nodes ``rho_k``,
positive weights ``W_k``), obtained by the discretized Stieltjes procedure on the atoms and the
eigen-decomposition of the Jacobi matrix (Golub-Welsch).  The rule integrates polynomials of
degree ``2m - 1`` in ``r`` exactly; a panel with at most ``m`` distinct atoms is reproduced
exactly (the procedure stops at its breakdown).  The integrands met here
(``w(r) exp(-u e^r)``, ``w`` a smooth weight) vary by a few nats over a panel, so the rule is
exact to ~1e-13 (measured against the direct per-atom computation in the tests).

Functions of ``r`` (the weights ``w_t(r)``, the curation factor) are tracked at ``n``
Chebyshev points of each panel and carried to the atoms by barycentric interpolation.

Cost: building is O(N m) (one numba pass per Stieltjes step); interpolation is O(N m).
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = [
    "PanelRules",
    "panel_index",
    "build_rules",
    "stieltjes",
    "stieltjes_numpy",
    "chebyshev_points",
    "interpolate",
    "interpolate_numpy",
    "interpolate_log_mass",
    "exp_normalize",
]

#: a cell this close to a node (panel coordinates in [-1, 1]) takes the node's value: the
#: interpolant there equals it to double precision, and ``bary / d`` would overflow
_HIT = 1e-290
#: sentinel diagonal entry used to decouple the unused part of a Jacobi matrix
_SENTINEL = 1e3


class PanelRules:
    """Gauss rules of one base measure, panel by panel.

    Attributes
    ----------
    ptr : int array (P + 1,)
        nodes of panel ``q`` are ``ptr[q]:ptr[q+1]``.
    r : float array (n,)
        node rewards.
    log_w : float array (n,)
        log of the (positive) quadrature weights.
    """

    __slots__ = ("ptr", "r", "log_w")

    def __init__(self, ptr, r, log_w):
        self.ptr, self.r, self.log_w = ptr, r, log_w

    @property
    def size(self) -> int:
        return int(self.r.shape[0])


def panel_index(reward, support, r_max, panel_width, use_numba=True):
    """Panel of each cell, ``floor((r_max - r) / panel_width)`` renumbered to the non-empty
    panels (``-1`` outside ``support``), and the cell's position ``x`` in its panel scaled to
    ``[-1, 1]``.  Returns ``(cell_panel, cell_x, centers, half_widths)``.

    ``panel_width = 0`` means one panel per distinct reward value (the direct mode; x = 0).
    """
    if panel_width == 0:
        vals, inverse = np.unique(reward[support], return_inverse=True)
        cell_panel = np.full(reward.shape, -1, dtype=np.int64)
        cell_panel[support] = inverse
        return cell_panel, np.zeros(reward.shape), vals, np.zeros_like(vals)
    if use_numba:
        cell_panel, cell_x, raw_used = _panels(reward, support, r_max, panel_width)
    else:
        cell_panel, cell_x, raw_used = _panels_numpy(reward, support, r_max, panel_width)
    centers = r_max - panel_width * (raw_used + 0.5)
    return cell_panel, cell_x, centers, np.full(centers.shape, 0.5 * panel_width)


@numba.njit(cache=True, parallel=True)
def _panels(reward, support, r_max, width):
    """Raw panel ids, which are used, then compact ids and positions (parallel passes)."""
    n = reward.shape[0]
    cell_panel = np.full(n, -1, dtype=np.int64)
    for i in numba.prange(n):
        if support[i]:
            cell_panel[i] = int(math.floor((r_max - reward[i]) / width))
    n_raw = cell_panel.max() + 1
    renumber = np.full(n_raw, -1, dtype=np.int64)
    for i in numba.prange(n):
        if cell_panel[i] >= 0:
            renumber[cell_panel[i]] = 0
    count = 0
    for q in range(n_raw):
        if renumber[q] == 0:
            renumber[q] = count
            count += 1
    raw_used = np.empty(count, dtype=np.int64)
    for q in range(n_raw):
        if renumber[q] >= 0:
            raw_used[renumber[q]] = q
    cell_x = np.zeros(n)
    half = 0.5 * width
    for i in numba.prange(n):
        q = cell_panel[i]
        if q >= 0:
            center = r_max - width * (q + 0.5)
            cell_x[i] = (reward[i] - center) / half
            cell_panel[i] = renumber[q]
    return cell_panel, cell_x, raw_used


def _panels_numpy(reward, support, r_max, width):
    """Pure numpy twin of :func:`_panels`."""
    raw = np.full(reward.shape, -1, dtype=np.int64)
    raw[support] = np.floor((r_max - reward[support]) / width).astype(np.int64)
    used = np.bincount(raw[support], minlength=int(raw.max()) + 1) > 0
    renumber = np.cumsum(used) - 1
    cell_panel = np.where(raw >= 0, renumber[np.maximum(raw, 0)], -1)
    center = r_max - width * (raw + 0.5)
    cell_x = np.where(raw >= 0, (reward - center) / (0.5 * width), 0.0)
    return cell_panel, cell_x, np.flatnonzero(used)


@numba.njit(cache=True, parallel=True)
def log_normalized(mass, total):
    """``log(mass / total)`` (``-inf`` where the mass is 0), on both cores."""
    out = np.empty(mass.shape[0])
    log_total = math.log(total)
    for i in numba.prange(mass.shape[0]):
        out[i] = math.log(mass[i]) - log_total if mass[i] > 0 else -np.inf
    return out


def log_normalized_numpy(mass, total):
    """Pure numpy twin of :func:`log_normalized`."""
    with np.errstate(divide="ignore"):
        return np.log(mass) - math.log(total)


@numba.njit(cache=True, parallel=True)
def _scaled_weights(cell_panel, cell_log_mass, n_panels):
    """``w_i = exp(log m_i - max_{panel} log m)`` (0 without mass) and the panel maxima."""
    top = np.full(n_panels, -np.inf)
    n = cell_panel.shape[0]
    for i in range(n):
        q = cell_panel[i]
        if q >= 0 and cell_log_mass[i] > top[q]:
            top[q] = cell_log_mass[i]
    w = np.zeros(n)
    for i in numba.prange(n):
        q = cell_panel[i]
        if q >= 0 and cell_log_mass[i] > -np.inf:
            w[i] = math.exp(cell_log_mass[i] - top[q])
    return w, top


def _scaled_weights_numpy(cell_panel, cell_log_mass, n_panels):
    """Pure numpy twin of :func:`_scaled_weights`."""
    has = np.isfinite(cell_log_mass) & (cell_panel >= 0)
    top = np.full(n_panels, -np.inf)
    np.maximum.at(top, cell_panel[has], cell_log_mass[has])
    w = np.zeros(cell_panel.shape)
    w[has] = np.exp(cell_log_mass[has] - top[cell_panel[has]])
    return w, top


@numba.njit(cache=True)
def _panel_order(cell_panel, n_panels):
    """Counting sort of the cells by panel: ``order[start[q]:start[q+1]]`` are the cells of
    panel ``q`` (in increasing index order)."""
    start = np.zeros(n_panels + 1, dtype=np.int64)
    for q in cell_panel:
        if q >= 0:
            start[q + 1] += 1
    for q in range(n_panels):
        start[q + 1] += start[q]
    order = np.empty(start[n_panels], dtype=np.int64)
    pos = start[:-1].copy()
    for i in range(cell_panel.shape[0]):
        q = cell_panel[i]
        if q >= 0:
            order[pos[q]] = i
            pos[q] += 1
    return order, start


@numba.njit(cache=True, parallel=True)
def stieltjes(cell_panel, cell_x, cell_w, n_panels, m):
    """Recurrence coefficients ``alpha (P, m)``, ``beta (P, m)`` of the monic orthogonal
    polynomials of each panel's discrete measure (discretized Stieltjes procedure), and the
    panel masses ``beta[:, 0]``.  ``n_used[q]`` is the number of steps before breakdown
    (a panel with ``n`` distinct atoms breaks down after ``n`` steps).

    The cells are sorted by panel (counting sort) and each panel runs its ``m`` steps on a
    local copy of its atoms, panels in parallel: the work stays in cache."""
    order, start = _panel_order(cell_panel, n_panels)
    alpha = np.zeros((n_panels, m))
    beta = np.zeros((n_panels, m))
    n_used = np.full(n_panels, m, dtype=np.int64)
    for q in numba.prange(n_panels):
        a = start[q]
        n = start[q + 1] - a
        xs = np.empty(n)
        ws = np.empty(n)
        for k in range(n):
            xs[k] = cell_x[order[a + k]]
            ws[k] = cell_w[order[a + k]]
        pi_prev = np.zeros(n)
        pi_cur = np.ones(n)
        norm_prev = 1.0
        for k in range(m):
            den = 0.0
            num = 0.0
            for c in range(n):
                wp = ws[c] * pi_cur[c] * pi_cur[c]
                den += wp
                num += wp * xs[c]
            if k == 0:
                beta[q, 0] = den
            elif den <= 1e-26 * norm_prev or den <= 1e-300:
                n_used[q] = k
                break
            else:
                beta[q, k] = den / norm_prev
            alpha[q, k] = num / den if den > 0 else 0.0
            norm_prev = den
            if k == m - 1:
                break
            for c in range(n):
                nxt = (xs[c] - alpha[q, k]) * pi_cur[c]
                if k > 0:
                    nxt -= beta[q, k] * pi_prev[c]
                pi_prev[c] = pi_cur[c]
                pi_cur[c] = nxt
    return alpha, beta, n_used


def stieltjes_numpy(cell_panel, cell_x, cell_w, n_panels, m):
    """Pure numpy twin of :func:`stieltjes`."""
    inside = cell_panel >= 0
    q = cell_panel[inside]
    x = cell_x[inside]
    w = cell_w[inside]
    alpha = np.zeros((n_panels, m))
    beta = np.zeros((n_panels, m))
    n_used = np.full(n_panels, m, dtype=np.int64)
    pi_prev = np.zeros_like(x)
    pi_cur = np.ones_like(x)
    norm_prev = np.ones(n_panels)
    for k in range(m):
        wp = w * pi_cur**2
        den = np.bincount(q, weights=wp, minlength=n_panels)
        num = np.bincount(q, weights=wp * x, minlength=n_panels)
        active = n_used > k
        if k > 0:
            broken = active & ((den <= 1e-26 * norm_prev) | (den <= 1e-300))
            n_used[broken] = k
            active &= ~broken
            beta[active, k] = den[active] / norm_prev[active]
        else:
            beta[:, 0] = den
        safe = np.where(den > 0, den, 1.0)
        alpha[active, k] = np.where(den > 0, num / safe, 0.0)[active]
        norm_prev[active] = den[active]
        live = active[q]
        nxt = (x - alpha[q, k]) * pi_cur - (beta[q, k] * pi_prev if k > 0 else 0.0)
        pi_prev = np.where(live, pi_cur, pi_prev)
        pi_cur = np.where(live, nxt, pi_cur)
    return alpha, beta, n_used


def _gauss_from_recurrence(alpha, beta, n_used):
    """Golub-Welsch, batched over panels: nodes and weights (relative to the panel mass)."""
    n_panels, m = alpha.shape
    k = np.arange(m)
    live = k[None, :] < n_used[:, None]
    diag = np.where(live, alpha, _SENTINEL * (2 + k[None, :]))
    off = np.where(live[:, 1:], np.sqrt(np.maximum(beta[:, 1:], 0.0)), 0.0)
    jac = np.zeros((n_panels, m, m))
    jac[:, k, k] = diag
    jac[:, k[:-1], k[:-1] + 1] = off
    jac[:, k[:-1] + 1, k[:-1]] = off
    vals, vecs = np.linalg.eigh(jac)
    weights = vecs[:, 0, :] ** 2
    keep = np.abs(vals) < 0.5 * _SENTINEL
    return vals, weights, keep


def build_rules(cell_panel, cell_x, cell_log_mass, centers, half_widths, m, use_numba=True):
    """Gauss rules (``m`` nodes at most per panel) of the measure with log-masses
    ``cell_log_mass`` (``-inf`` = no mass) on the panels of ``cell_panel`` (cells at
    positions ``cell_x`` in ``[-1, 1]`` within their panel)."""
    n_panels = centers.shape[0]
    # masses scaled per panel (they may span thousands of nats across panels)
    if use_numba:
        w, top = _scaled_weights(cell_panel, cell_log_mass, n_panels)
    else:
        w, top = _scaled_weights_numpy(cell_panel, cell_log_mass, n_panels)
    if m == 1 or np.all(half_widths == 0):
        alpha, beta, n_used = _one_node(cell_panel, cell_x, w, n_panels)
    elif use_numba:
        alpha, beta, n_used = stieltjes(cell_panel, cell_x, w, n_panels, m)
    else:
        alpha, beta, n_used = stieltjes_numpy(cell_panel, cell_x, w, n_panels, m)
    del w
    nonempty = beta[:, 0] > 0
    n_used = np.where(nonempty, n_used, 0)
    xs, ws, keep = _gauss_from_recurrence(alpha, beta, n_used)
    keep &= (ws > 0) & nonempty[:, None]
    counts = keep.sum(axis=1)
    ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    rows = np.repeat(np.arange(n_panels), counts)
    node_x = xs[keep]
    log_w = np.log(ws[keep]) + np.log(beta[rows, 0]) + top[rows]
    node_r = centers[rows] + half_widths[rows] * node_x
    return PanelRules(ptr, node_r, log_w)


def _one_node(panel, x, w, n_panels):
    alpha = np.zeros((n_panels, 1))
    beta = np.zeros((n_panels, 1))
    inside = panel >= 0
    den = np.bincount(panel[inside], weights=w[inside], minlength=n_panels)
    num = np.bincount(panel[inside], weights=(w * x)[inside], minlength=n_panels)
    beta[:, 0] = den
    alpha[:, 0] = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
    return alpha, beta, np.ones(n_panels, dtype=np.int64)


def chebyshev_points(centers, half_widths, n):
    """``n`` Chebyshev points of the second kind in each panel (one point in a panel of zero
    width), with their barycentric weights ``(-1)^j`` (halved at the ends).  Returns
    ``(ptr, r, x, bary)``; interpolation through them is well conditioned on the whole
    panel (Lebesgue constant ``O(log n)``)."""
    n_panels = centers.shape[0]
    counts = np.where(half_widths > 0, n, 1)
    ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    rows = np.repeat(np.arange(n_panels), counts)
    slot = np.arange(ptr[-1]) - ptr[rows]
    x = np.where(counts[rows] > 1, np.cos(np.pi * slot / np.maximum(counts[rows] - 1, 1)), 0.0)
    bary = np.where(slot % 2 == 0, 1.0, -1.0)
    bary = np.where((slot == 0) | (slot == counts[rows] - 1), 0.5 * bary, bary)
    return ptr, centers[rows] + half_widths[rows] * x, x, bary


@numba.njit(cache=True, inline="always")
def _barycentric(x, a, b, node_x, bary, values):
    """Second barycentric form through nodes ``a:b`` at ``x`` (a node within ``_HIT``: its
    value)."""
    if b - a == 1:
        return values[a]
    num = 0.0
    den = 0.0
    for k in range(a, b):
        d = x - node_x[k]
        if abs(d) <= _HIT:
            return values[k]
        t = bary[k] / d
        num += t * values[k]
        den += t
    return num / den


@numba.njit(cache=True, parallel=True)
def interpolate(cell_panel, cell_x, ptr, node_x, bary, values):
    """Barycentric interpolation (second form) of ``values`` given at the nodes, at each
    cell, through the nodes of the cell's panel; ``nan`` where ``cell_panel < 0``."""
    n = cell_panel.shape[0]
    out = np.empty(n)
    for i in numba.prange(n):
        q = cell_panel[i]
        if q < 0:
            out[i] = np.nan
        else:
            out[i] = _barycentric(cell_x[i], ptr[q], ptr[q + 1], node_x, bary, values)
    return out


@numba.njit(cache=True, parallel=True)
def interpolate_log_mass(cell_panel, cell_x, ptr, node_x, bary, values, cell_log_mass):
    """``cell_log_mass + interpolate(values)`` in one pass, ``-inf`` outside the panels and
    where the cell has no mass (the log-masses of a tilted base on the grid)."""
    n = cell_panel.shape[0]
    out = np.empty(n)
    for i in numba.prange(n):
        q = cell_panel[i]
        if q < 0 or cell_log_mass[i] == -np.inf:
            out[i] = -np.inf
        else:
            out[i] = cell_log_mass[i] + _barycentric(cell_x[i], ptr[q], ptr[q + 1], node_x,
                                                     bary, values)
    return out


@numba.njit(cache=True, parallel=True)
def exp_normalize(log_mass, top):
    """In place: ``m_i = exp(log m_i - top)``, then divided by their sum (returned)."""
    total = 0.0
    for i in numba.prange(log_mass.shape[0]):
        v = math.exp(log_mass[i] - top)
        log_mass[i] = v
        total += v
    for i in numba.prange(log_mass.shape[0]):
        log_mass[i] /= total
    return total


def interpolate_numpy(cell_panel, cell_x, ptr, node_x, bary, values):
    """Pure numpy twin of :func:`interpolate` (loops over the node slots of the panels)."""
    out = np.full(cell_panel.shape, np.nan)
    inside = cell_panel >= 0
    q = cell_panel[inside]
    x = cell_x[inside]
    a = ptr[q]
    count = ptr[q + 1] - a
    num = np.zeros_like(x)
    den = np.zeros_like(x)
    hit_value = np.full_like(x, np.nan)
    for slot in range(int(count.max()) if count.size else 0):
        use = slot < count
        k = np.where(use, a + slot, 0)
        d = x - node_x[k]
        exact = use & ((np.abs(d) <= _HIT) | (count == 1))
        hit_value = np.where(exact & np.isnan(hit_value), values[k], hit_value)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(use & ~exact, bary[k] / np.where(exact, 1.0, d), 0.0)
        num += t * values[k]
        den += t
    with np.errstate(divide="ignore", invalid="ignore"):
        res = np.where(np.isnan(hit_value), num / den, hit_value)
    out[inside] = res
    return out
