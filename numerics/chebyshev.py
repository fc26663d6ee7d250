r"""Functions of the reward inside each panel, as Chebyshev interpolants (DESIGN.md, "reward
law").

The engine tracks functions of ``r`` (the log weights ``log w_t(r)``, the log curation factor)
at the ``n`` Chebyshev points of the second kind of each panel, ``x_j = cos(pi j / (n - 1))``
(``x = +1`` is the panel's upper reward edge).  Their interpolant of degree ``n - 1`` is
carried in Chebyshev coefficients ``f(x) = sum_k c_k T_k(x)`` (discrete cosine transform of
the values) and evaluated by Clenshaw's recurrence: at the cells when a density is
materialized, at the Gauss nodes when a rule is rebuilt.

The size of the last two coefficients, ``|c_{n-2}| + |c_{n-1}|``, estimates the interpolation
error (for ``f`` analytic in the Bernstein ellipse ``E_rho`` the coefficients decay like
``rho^{-k}`` and the error is of the order of the first neglected ones; Trefethen,
*Approximation Theory and Approximation Practice*, 2013, ch. 8): the engine checks it at every
step (:func:`tail_error_and_size`).

Every kernel has a pure numpy twin (``*_numpy``).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numba
import numpy as np

from .panels import _locate, _position
from .threads import kernel

__all__ = ["chebyshev_points", "to_coefficients", "tail_error", "tail_error_and_size",
           "tail_error_and_size_numpy", "evaluate", "evaluate_numpy",
           "tilt_weights", "tilt_weights_numpy", "log_weights_at_cells",
           "log_weights_at_cells_numpy", "accumulate_masses"]


def chebyshev_points(counts):
    """Chebyshev points of the second kind, ``counts[q]`` in panel ``q`` (one point, ``x = 0``,
    in a panel of count 1).  Returns ``(cptr, x)``: panel ``q``'s points are
    ``x[cptr[q]:cptr[q+1]]``, from ``x = +1`` down to ``-1``."""
    counts = np.asarray(counts, dtype=np.int64)
    cptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    rows = np.repeat(np.arange(counts.size), counts)
    slot = np.arange(cptr[-1]) - cptr[rows]
    n = counts[rows]
    x = np.where(n > 1, np.cos(np.pi * slot / np.maximum(n - 1, 1)), 0.0)
    return cptr, x


@lru_cache(maxsize=None)
def _values_to_coefficients(n):
    """The ``n x n`` matrix taking values at the ``n`` Chebyshev points of the second kind to
    the coefficients of their interpolant (DCT-I)."""
    if n == 1:
        return np.ones((1, 1))
    j = np.arange(n)
    w = np.where((j == 0) | (j == n - 1), 0.5, 1.0)
    A = (2.0 / (n - 1)) * w[None, :] * np.cos(np.pi * np.outer(j, j) / (n - 1))
    A[0] *= 0.5
    A[-1] *= 0.5
    A.setflags(write=False)
    return A


@lru_cache(maxsize=64)
def _panels_by_count(cptr_bytes):
    """``[(n, idx)]``: for each number of points ``n``, the ``(panels, n)`` index array of the
    points of the panels with ``n`` points (cached: the engine asks at every step)."""
    cptr = np.frombuffer(cptr_bytes, dtype=np.int64)
    counts = np.diff(cptr)
    out = []
    for n in np.unique(counts):
        sel = np.flatnonzero(counts == n)
        idx = cptr[sel][:, None] + np.arange(n)[None, :]
        idx.setflags(write=False)
        out.append((int(n), idx))
    return tuple(out)


def to_coefficients(values, cptr):
    """Chebyshev coefficients, panel by panel, of the interpolants of ``values`` (given at the
    points of :func:`chebyshev_points`).  Same layout as ``values``.  Non-finite values give
    non-finite coefficients in their panel only."""
    out = np.empty_like(values)
    with np.errstate(invalid="ignore"):
        for n, idx in _panels_by_count(np.ascontiguousarray(cptr, dtype=np.int64).tobytes()):
            out[idx] = values[idx] @ _values_to_coefficients(n).T
    return out


def tail_error_and_size(values, cptr):
    """Per panel, the :func:`tail_error` of the interpolant of ``values`` (given at the points
    of :func:`chebyshev_points`; NaN or inf where a value is not finite) and the largest
    ``|value|`` among its finite values (the engine's check at every step).  Only the last
    two coefficients are formed, as dot products with the last two rows of the DCT-I
    (:func:`_tail_rows`), in one pass (:func:`tail_error_and_size_numpy`: the numpy twin)."""
    return _tail_error_and_size(values, cptr,
                                _tail_rows(np.ascontiguousarray(cptr, dtype=np.int64).tobytes()))


@lru_cache(maxsize=64)
def _tail_rows(cptr_bytes):
    """At each point, the entries of the last two rows of its panel's DCT-I (``(2, N)``; zero
    on panels of at most two points)."""
    cptr = np.frombuffer(cptr_bytes, dtype=np.int64)
    counts = np.diff(cptr)
    rows = np.zeros((2, int(cptr[-1])))
    for q in np.flatnonzero(counts > 2):
        A = _values_to_coefficients(int(counts[q]))
        rows[:, cptr[q]:cptr[q + 1]] = A[-2:]
    rows.setflags(write=False)
    return rows


@numba.njit(cache=True)
def _tail_error_and_size(values, cptr, rows):
    n_panels = cptr.shape[0] - 1
    err = np.zeros(n_panels)
    big = np.zeros(n_panels)
    for q in range(n_panels):
        c_prev = 0.0
        c_last = 0.0
        top = 0.0
        for k in range(cptr[q], cptr[q + 1]):
            x = values[k]
            if abs(x) < np.inf and abs(x) > top:
                top = abs(x)
            c_prev += rows[0, k] * x
            c_last += rows[1, k] * x
        big[q] = top
        if cptr[q + 1] - cptr[q] > 2:
            err[q] = abs(c_prev) + abs(c_last)
    return err, big


def tail_error_and_size_numpy(values, cptr):
    """Pure numpy twin of :func:`tail_error_and_size` (all coefficients, then the tail)."""
    err = tail_error(to_coefficients(values, cptr), cptr)
    big = np.maximum.reduceat(np.abs(np.where(np.isfinite(values), values, 0.0)), cptr[:-1])
    return err, big


def tail_error(coeffs, cptr):
    """Per panel, ``|c_{n-2}| + |c_{n-1}|``: an estimate of the interpolation error (0 for a
    panel of one or two points, which is exact on its atoms or linear)."""
    counts = np.diff(cptr)
    out = np.zeros(counts.size)
    big = counts > 2
    last = cptr[1:][big] - 1
    out[big] = np.abs(coeffs[last]) + np.abs(coeffs[last - 1])
    return out


@numba.njit(cache=True, inline="always")
def _clenshaw(c, a, b, x):
    """``sum_{k < b - a} c[a + k] T_k(x)`` by Clenshaw's recurrence."""
    if b - a == 1:
        return c[a]
    b1 = 0.0
    b2 = 0.0
    x2 = 2.0 * x
    for k in range(b - 1, a, -1):
        t = c[k] + x2 * b1 - b2
        b2 = b1
        b1 = t
    return c[a] + x * b1 - b2


@kernel
def evaluate(panel, x, cptr, coeffs):
    """The interpolants at points ``x`` of panels ``panel`` (Clenshaw)."""
    out = np.empty(x.shape[0])
    for i in numba.prange(x.shape[0]):
        q = panel[i]
        out[i] = _clenshaw(coeffs, cptr[q], cptr[q + 1], x[i])
    return out


def evaluate_numpy(panel, x, cptr, coeffs):
    """Pure numpy twin of :func:`evaluate` (``T_k`` by their three-term recurrence)."""
    counts = np.diff(cptr)[panel]
    out = coeffs[cptr[panel]].copy()
    t_prev, t_cur = np.ones_like(x), x.copy()
    for k in range(1, int(counts.max()) if counts.size else 0):
        use = k < counts
        out[use] += coeffs[cptr[panel[use]] + k] * t_cur[use]
        t_prev, t_cur = t_cur, 2.0 * x * t_cur - t_prev
    return out


@kernel
def tilt_weights(ptr, xs, ws, cptr, coeffs, tmax):
    """In place, ``ws[k] *= exp(T_q(xs[k]) - tmax[q])`` for the atoms ``ptr[q]:ptr[q+1]`` of
    panel ``q``, ``T_q`` the panel's interpolant (the re-tilt of a base measure)."""
    for q in numba.prange(ptr.shape[0] - 1):
        a, b = cptr[q], cptr[q + 1]
        for k in range(ptr[q], ptr[q + 1]):
            if ws[k] > 0.0:
                ws[k] *= math.exp(_clenshaw(coeffs, a, b, xs[k]) - tmax[q])


def tilt_weights_numpy(ptr, xs, ws, cptr, coeffs, tmax):
    """Pure numpy twin of :func:`tilt_weights`."""
    q = np.repeat(np.arange(ptr.shape[0] - 1), np.diff(ptr))
    t = evaluate_numpy(q, xs, cptr, coeffs)
    with np.errstate(invalid="ignore", over="ignore"):
        ws *= np.where(ws > 0, np.exp(t - tmax[q]), 1.0)


@numba.njit(cache=True, inline="always")
def _clenshaw4(c, a0, a1, a2, a3, n, x0, x1, x2, x3):
    """Four Clenshaw recurrences of the same length ``n >= 2`` side by side: their chains of
    dependent multiply-adds overlap in the pipeline (one chain at a time waits on each
    result), the work per value is that of :func:`_clenshaw`, and each value is the same."""
    b0 = b1 = b2 = b3 = 0.0
    c0 = c1 = c2 = c3 = 0.0
    y0, y1, y2, y3 = 2.0 * x0, 2.0 * x1, 2.0 * x2, 2.0 * x3
    for k in range(n - 1, 0, -1):
        t0 = c[a0 + k] + y0 * b0 - c0
        t1 = c[a1 + k] + y1 * b1 - c1
        t2 = c[a2 + k] + y2 * b2 - c2
        t3 = c[a3 + k] + y3 * b3 - c3
        c0, c1, c2, c3 = b0, b1, b2, b3
        b0, b1, b2, b3 = t0, t1, t2, t3
    return (c[a0] + x0 * b0 - c0, c[a1] + x1 * b1 - c1, c[a2] + x2 * b2 - c2,
            c[a3] + x3 * b3 - c3)


@numba.njit(cache=True, inline="always")
def _clenshaw8(c, a, n, xs):
    """Eight Clenshaw recurrences of the same panel (coefficients ``c[a:a + n]``, ``n >= 2``)
    at ``xs[0:8]``, side by side: each coefficient is loaded once for the eight chains, which
    the compiler packs into vector lanes; each value is the same as :func:`_clenshaw`'s (the
    same operations in the same order)."""
    x0, x1, x2, x3, x4, x5, x6, x7 = xs[0], xs[1], xs[2], xs[3], xs[4], xs[5], xs[6], xs[7]
    y0, y1, y2, y3 = 2.0 * x0, 2.0 * x1, 2.0 * x2, 2.0 * x3
    y4, y5, y6, y7 = 2.0 * x4, 2.0 * x5, 2.0 * x6, 2.0 * x7
    b0 = b1 = b2 = b3 = b4 = b5 = b6 = b7 = 0.0
    c0 = c1 = c2 = c3 = c4 = c5 = c6 = c7 = 0.0
    for k in range(n - 1, 0, -1):
        ck = c[a + k]
        t0 = ck + y0 * b0 - c0
        t1 = ck + y1 * b1 - c1
        t2 = ck + y2 * b2 - c2
        t3 = ck + y3 * b3 - c3
        t4 = ck + y4 * b4 - c4
        t5 = ck + y5 * b5 - c5
        t6 = ck + y6 * b6 - c6
        t7 = ck + y7 * b7 - c7
        c0, c1, c2, c3, c4, c5, c6, c7 = b0, b1, b2, b3, b4, b5, b6, b7
        b0, b1, b2, b3, b4, b5, b6, b7 = t0, t1, t2, t3, t4, t5, t6, t7
    c_a = c[a]
    return (c_a + x0 * b0 - c0, c_a + x1 * b1 - c1, c_a + x2 * b2 - c2, c_a + x3 * b3 - c3,
            c_a + x4 * b4 - c4, c_a + x5 * b5 - c5, c_a + x6 * b6 - c6, c_a + x7 * b7 - c7)


@numba.njit(cache=True, inline="always")
def _four_cells(coeffs, cptr, qs, xs, u0, offset, out, i):
    """Cells ``i + u0 .. i + u0 + 3`` (their panels ``qs[u0:u0 + 4]``, ``-1``: no mass) into
    ``out``: by :func:`_clenshaw4` when their panels have as many points (``>= 2``), else one
    by one."""
    length = -1
    for u in range(u0, u0 + 4):
        q = qs[u]
        if q < 0:
            length = -1
            break
        m = cptr[q + 1] - cptr[q]
        if u == u0:
            length = m
        elif m != length:
            length = -1
            break
    if length > 1:
        v0, v1, v2, v3 = _clenshaw4(coeffs, cptr[qs[u0]], cptr[qs[u0 + 1]], cptr[qs[u0 + 2]],
                                    cptr[qs[u0 + 3]], length, xs[u0], xs[u0 + 1], xs[u0 + 2],
                                    xs[u0 + 3])
        out[i + u0] = v0 - offset
        out[i + u0 + 1] = v1 - offset
        out[i + u0 + 2] = v2 - offset
        out[i + u0 + 3] = v3 - offset
    else:
        for u in range(u0, u0 + 4):
            q = qs[u]
            if q >= 0:
                out[i + u] = _clenshaw(coeffs, cptr[q], cptr[q + 1], xs[u]) - offset
            else:
                out[i + u] = -np.inf


@numba.njit(cache=True, inline="always")
def _cell_panel(ids, i, d, D, J, width):
    """Raw panel id and position of cell ``i`` at depth ``d``: located, or from ``ids[i]``
    when ``ids`` is given (``None`` is resolved when the kernel is compiled)."""
    if ids is None:
        return _locate(d, D, J, width)
    raw = np.int64(ids[i])
    return raw, _position(d, raw, D, J, width)


@kernel
def log_weights_at_cells(reward, mass, r_max, D, J, width, compact, cptr, coeffs, offset, out,
                         chunks, ids=None):
    r"""``out[i] = f(r_i) - offset`` at the cells with ``mass > 0`` (``-inf`` elsewhere), ``f``
    the interpolant of the panel of depth ``r_max - r_i`` (raw panel id -> ``compact[raw]``).

    Cells go eight at a time: eight cells of one panel (the common case: neighbouring cells
    of a smooth reward) by :func:`_clenshaw8` (one load of each coefficient, vector lanes),
    else by fours (:func:`_clenshaw4` when their panels have as many points), else one by one
    (the same values every way).  ``chunks`` fixed blocks of cells, in parallel."""
    n = reward.shape[0]
    step = (n + chunks - 1) // chunks
    for c in numba.prange(chunks):
        hi = min((c + 1) * step, n)
        qs = np.empty(8, dtype=np.int64)
        xs = np.empty(8)
        i = min(c * step, n)
        while i + 8 <= hi:
            same = True
            for u in range(8):
                qs[u] = -1
                if mass[i + u] > 0.0:
                    raw, x = _cell_panel(ids, i + u, r_max - reward[i + u], D, J, width)
                    qs[u] = compact[raw]
                    xs[u] = x
                if qs[u] != qs[0]:
                    same = False
            q = qs[0]
            if same and q >= 0 and cptr[q + 1] - cptr[q] > 1:
                v = _clenshaw8(coeffs, cptr[q], cptr[q + 1] - cptr[q], xs)
                for u in range(8):
                    out[i + u] = v[u] - offset
            else:
                _four_cells(coeffs, cptr, qs, xs, 0, offset, out, i)
                _four_cells(coeffs, cptr, qs, xs, 4, offset, out, i)
            i += 8
        while i < hi:
            if mass[i] > 0.0:
                raw, x = _cell_panel(ids, i, r_max - reward[i], D, J, width)
                q = compact[raw]
                out[i] = _clenshaw(coeffs, cptr[q], cptr[q + 1], x) - offset
            else:
                out[i] = -np.inf
            i += 1


def log_weights_at_cells_numpy(reward, mass, r_max, D, J, width, compact, cptr, coeffs,
                               offset, out, chunks=1, ids=None):
    """Pure numpy twin of :func:`log_weights_at_cells` (it locates every cell: ``ids``, the
    panels it finds, is not read)."""
    from .panels import locate_numpy
    has = mass > 0
    raw, x = locate_numpy(np.where(has, r_max - reward, 0.0), D, J, width)
    out[:] = -np.inf
    out[has] = evaluate_numpy(compact[raw[has]], x[has], cptr, coeffs) - offset


def accumulate_masses(reward, mass, r_max, D, J, width, compact, cptr, coeffs, offset, out,
                      first, chunks, use_numba=True, ids=None):
    r"""``out[i] (+)= mass[i] exp(f(r_i) - offset)``, ``f`` as in :func:`log_weights_at_cells`
    (cells without mass contribute 0); ``first``: overwrite instead of adding; ``ids``: the
    cells' raw panel ids where known.

    The exponent comes from :func:`log_weights_at_cells` (its numpy twin with
    ``use_numba=False``), then numpy's vectorized ``exp`` and product run in place: no
    scalar ``exp`` per cell.  Adding (``first=False``) takes one grid-sized buffer."""
    target = out if first else np.empty_like(out)
    if use_numba:
        log_weights_at_cells.at(reward.shape[0])(reward, mass, r_max, D, J, width, compact,
                                                 cptr, coeffs, offset, target, chunks, ids)
    else:
        log_weights_at_cells_numpy(reward, mass, r_max, D, J, width, compact, cptr, coeffs,
                                   offset, target)
    with np.errstate(over="ignore"):
        np.exp(target, out=target)
    target *= mass
    if not first:
        out += target
