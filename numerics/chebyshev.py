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
step (:func:`tail_error`).

Every kernel has a pure numpy twin (``*_numpy``).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numba
import numpy as np

from .panels import _locate
from .threads import kernel

__all__ = ["chebyshev_points", "to_coefficients", "tail_error", "evaluate", "evaluate_numpy",
           "tilt_weights", "tilt_weights_numpy", "accumulate_masses",
           "accumulate_masses_numpy"]


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


def to_coefficients(values, cptr):
    """Chebyshev coefficients, panel by panel, of the interpolants of ``values`` (given at the
    points of :func:`chebyshev_points`).  Same layout as ``values``.  Non-finite values give
    non-finite coefficients in their panel only."""
    counts = np.diff(cptr)
    out = np.empty_like(values)
    for n in np.unique(counts):
        sel = np.flatnonzero(counts == n)
        idx = cptr[sel][:, None] + np.arange(n)[None, :]
        with np.errstate(invalid="ignore"):
            out[idx] = values[idx] @ _values_to_coefficients(int(n)).T
    return out


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


@kernel
def accumulate_masses(reward, mass, r_max, D, J, width, compact, cptr, coeffs, offset, out,
                      first, chunks):
    r"""``out[i] (+)= mass[i] exp(f(r_i) - offset)`` over the cells with ``mass > 0``, ``f`` the
    interpolant of the panel of depth ``r_max - r_i`` (raw panel id -> ``compact[raw]``);
    ``first``: overwrite (cells without mass get 0) instead of adding.  Returns the chunk
    sums of ``out`` (fixed blocks of cells: the total does not depend on the threads)."""
    n = reward.shape[0]
    sums = np.zeros(chunks)
    step = (n + chunks - 1) // chunks
    for c in numba.prange(chunks):
        acc = 0.0
        for i in range(min(c * step, n), min((c + 1) * step, n)):
            m = mass[i]
            v = 0.0
            if m > 0.0:
                raw, x = _locate(r_max - reward[i], D, J, width)
                q = compact[raw]
                v = m * math.exp(_clenshaw(coeffs, cptr[q], cptr[q + 1], x) - offset)
            if first:
                out[i] = v
            else:
                v += out[i]
                out[i] = v
            acc += v
        sums[c] = acc
    return sums


def accumulate_masses_numpy(reward, mass, r_max, D, J, width, compact, cptr, coeffs, offset,
                            out, first, chunks):
    """Pure numpy twin of :func:`accumulate_masses`."""
    from .panels import locate_numpy
    has = mass > 0
    raw, x = locate_numpy(np.where(has, r_max - reward, 0.0), D, J, width)
    q = compact[raw[has]]
    v = np.zeros(mass.shape)
    v[has] = mass[has] * np.exp(evaluate_numpy(q, x[has], cptr, coeffs) - offset)
    if first:
        out[:] = v
    else:
        out += v
    n = reward.shape[0]
    step = (n + chunks - 1) // chunks
    return np.array([out[min(c * step, n):min((c + 1) * step, n)].sum() for c in range(chunks)])
