r"""THEORY.md T9 on grids: the small kernels of :class:`~numerics.limits.finite_k.T9System`,
each a numba kernel beside a pure numpy twin that gives the same bits.

The system's matrices (atoms ``k`` x v-nodes ``i``, ``s_k = e^{-d_k}``, ``u_i = e^{v_i}``) are

- the L2 kernel ``kern_ki = K w_i u_i s_k e^{-u_i s_k} = e^{a_i + (log s_k - u_i s_k)}``,
  ``a_i = log w_i + v_i + log K``;
- the scaled data terms ``W_jk = e^{log d_k - u_j s_k - ref_j}``, ``ref_j = max_k (log d_k - u_j
  s_k)`` over the support of ``p_d`` (each row's largest term is 1: no underflow);
- the gap kernel scaled as the L2 kernel, ``e^{a_i} (e^{-u_i} - s_k e^{-u_i s_k}) =
  -e^{a_i - u_i} expm1(x_ki)``, ``x_ki = -d_k - u_i expm1(-d_k)``, taken in that form where
  ``x_ki <= 1/2`` (relative accuracy at any depth, down to ``d ~ 1e-18``) and as ``e^{a_i -
  u_i} - kern_ki`` elsewhere, where the two terms differ by a factor ``e^{x} >= e^{1/2}``.

The kernels write the exponents; numpy's vectorized ``exp``/``expm1`` then run over the whole
matrix in place (numba's scalar ``exp`` is 4-8x slower per element here).  An exponent below
:data:`EXP_ZERO` is written as ``-inf``: numpy's ``exp`` takes a finite exponent whose result
underflows on a slow path (10 ns an element; 70 ns where the result is subnormal, against 1).

:func:`top_mass` is the safeguarded Newton iteration of
:meth:`~numerics.limits.finite_k.T9System.normalized_top_mass`; :func:`grid_masses` gives
the T9 map's masses from it (:meth:`~numerics.limits.finite_k.T9System.grid_map`).

Measured on the 512^2 benchmark grid (495 atoms, 140 nodes, one thread), previous numpy
code -> these kernels: the system's construction 0.50 -> 0.24 ms, the gap kernel 0.54 -> 0.11
ms, the top mass 44 -> 8 us a call, one evaluation of the T9 map (gap, top mass, residuals)
66 -> 48 us.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["l2_kernel", "l2_kernel_numpy", "scaled_data", "scaled_data_numpy", "gap_kernel",
           "gap_kernel_numpy", "top_mass", "top_mass_numpy", "grid_masses",
           "grid_masses_numpy", "NEAR", "MAX_NEWTON_STEPS", "EXP_ZERO"]

#: the gap kernel takes the ``expm1`` form where ``x <= NEAR``
NEAR = 0.5
#: :func:`top_mass` gives up (NaN) after this many steps
MAX_NEWTON_STEPS = 200
#: ``e^x`` rounds to 0 below this (``log 2^-1075 = -745.13``); the kernels write ``-inf`` there,
#: which numpy's vectorized ``exp`` takes 2-3x faster than a finite exponent that underflows
#: (the same result, 0; measured on the 512^2 benchmark grid: 100 -> 78 us a matrix)
EXP_ZERO = -746.0


def l2_kernel(a, log_s, s, u, out=None):
    """``kern[k, i] = e^{a_i + (log s_k - u_i s_k)}`` (atoms ``k`` x nodes ``i``; into ``out`` if
    given, C-contiguous)."""
    if out is None:
        out = np.empty((log_s.shape[0], u.shape[0]))
    _kernel_exponents(a, log_s, s, u, out)
    return np.exp(out, out=out)


def l2_kernel_numpy(a, log_s, s, u):
    """Pure numpy twin of :func:`l2_kernel` (the same bits)."""
    return np.exp(a[None, :] + (log_s[:, None] - u[None, :] * s[:, None]))


def scaled_data(log_d, s, u):
    """``(W, ref)``: ``ref_j = max_k (log d_k - u_j s_k)`` and ``W[j, k] = e^{(log d_k - u_j
    s_k) - ref_j}`` (nodes ``j`` x support ``k``; the row's largest is 1)."""
    out = np.empty((u.shape[0], log_d.shape[0]))
    ref = np.empty(u.shape[0])
    _scaled_exponents(log_d, s, u, out, ref)
    return np.exp(out, out=out), ref


def scaled_data_numpy(log_d, s, u):
    """Pure numpy twin of :func:`scaled_data` (the same bits)."""
    e = log_d[None, :] - u[:, None] * s[None, :]
    ref = e.max(axis=1)
    return np.exp(e - ref[:, None]), ref


def gap_kernel(depth, u, a, kern, out=None):
    """``e^{a_i} (e^{-u_i} - s_k e^{-u_i s_k})`` (atoms ``k`` x nodes ``i``, ``s = e^{-depth}``;
    into ``out`` if given, C-contiguous): ``-e^{a_i - u_i} expm1(x_ki)``, ``x_ki = -d_k - u_i
    expm1(-d_k)``, where ``x_ki <= NEAR``, else ``e^{a_i - u_i} - kern_ki`` (``kern``:
    :func:`l2_kernel` of the same ``a``; no product that underflows where the entry does
    not)."""
    em1 = np.expm1(-depth)
    if out is None:
        out = np.empty((depth.shape[0], u.shape[0]))
    _gap_arguments(depth, em1, u, out)
    np.expm1(out, out=out)
    _gap_finish(depth, em1, u, np.exp(a - u), kern, out)
    return out


def gap_kernel_numpy(depth, u, a, kern):
    """Pure numpy twin of :func:`gap_kernel` (the same bits)."""
    em1 = np.expm1(-depth)[:, None]
    x = -depth[:, None] - u[None, :] * em1
    eau = np.exp(a - u)[None, :]
    return np.where(x <= NEAR, -eau * np.expm1(np.minimum(x, 1.0)), eau - kern)


@numba.njit(cache=True)
def _kernel_exponents(a, log_s, s, u, out):
    """``out[k, i] = a_i + (log s_k - u_i s_k)``, ``-inf`` below :data:`EXP_ZERO`."""
    for k in range(out.shape[0]):
        for i in range(out.shape[1]):
            e = a[i] + (log_s[k] - u[i] * s[k])
            out[k, i] = e if e >= EXP_ZERO else -np.inf


@numba.njit(cache=True)
def _scaled_exponents(log_d, s, u, out, ref):
    """``ref[j] = max_k (log_d_k - u_j s_k)`` and ``out[j, k] = (log_d_k - u_j s_k) - ref_j``,
    ``-inf`` below :data:`EXP_ZERO`.  The maximum in four lanes (a single running ``max`` does not
    vectorize: 34 -> 10 us on 140 x 495)."""
    n = log_d.shape[0]
    for j in range(out.shape[0]):
        for k in range(n):
            out[j, k] = log_d[k] - u[j] * s[k]
        b0 = b1 = b2 = b3 = -np.inf
        k = 0
        while k + 4 <= n:
            b0 = max(b0, out[j, k])
            b1 = max(b1, out[j, k + 1])
            b2 = max(b2, out[j, k + 2])
            b3 = max(b3, out[j, k + 3])
            k += 4
        while k < n:
            b0 = max(b0, out[j, k])
            k += 1
        best = max(max(b0, b1), max(b2, b3))
        ref[j] = best
        for k in range(n):
            e = out[j, k] - best
            out[j, k] = e if e >= EXP_ZERO else -np.inf


@numba.njit(cache=True)
def _gap_arguments(depth, em1, u, out):
    """``out[k, i] = min(x_ki, 1)``, ``x_ki = -d_k - u_i em1_k``: the arguments of ``expm1``
    (clipped: no overflow where ``x`` is not used)."""
    for k in range(out.shape[0]):
        for i in range(out.shape[1]):
            out[k, i] = min(-depth[k] - u[i] * em1[k], 1.0)


@numba.njit(cache=True)
def _gap_finish(depth, em1, u, eau, kern, out):
    """In place, from ``out = expm1(min(x, 1))``: ``-eau_i out[k, i]`` where ``x_ki <= NEAR``,
    else ``eau_i - kern_ki``."""
    for k in range(out.shape[0]):
        for i in range(out.shape[1]):
            if -depth[k] - u[i] * em1[k] <= NEAR:
                out[k, i] = -eau[i] * out[k, i]
            else:
                out[k, i] = eau[i] - kern[k, i]


@numba.njit(cache=True)
def top_mass(gap, lam, d, top, x):
    r"""The root in ``x = log c`` of ``phi(x) = e^x + sum_k d_k / (top e^{-x} + lam gap_k) - 1``
    (``gap = H(1) - H(s_k)`` below the top), by safeguarded Newton from ``x`` (below the
    bracket's upper end ``min(0, log(top / -min lam gap))``), bisection where a step leaves
    the bracket; returns ``c = e^x``, NaN after :data:`MAX_NEWTON_STEPS` steps or where a
    ``gap`` is not finite.

    ``phi`` increases from ``-1`` to ``+inf``: the root is unique."""
    lo, hi = -np.inf, 0.0
    g_min = np.inf
    for k in range(gap.shape[0]):
        g = lam * gap[k]
        if not abs(g) < np.inf:
            return np.nan
        g_min = min(g_min, g)
    if g_min < 0:
        hi = min(hi, math.log(top / -g_min))
    if not x < hi:
        x = hi - 1.0
    for _ in range(MAX_NEWTON_STEPS):
        a = top * math.exp(-x)
        edge = False
        q_sum = 0.0
        q_slope = 0.0
        for k in range(gap.shape[0]):
            den = a + lam * gap[k]
            if den <= 0:
                edge = True
                break
            q = d[k] / den
            q_sum += q
            q_slope += q / den
        if edge:                     # rounding at the edge of the bracket
            hi = x
            x = 0.5 * (lo + hi) if lo > -np.inf else hi - 1.0
            continue
        done, x, lo, hi = _safeguarded_step(x, math.exp(x) + q_sum - 1.0,
                                            math.exp(x) + a * q_slope, lo, hi)
        if done:
            return math.exp(x)
    return np.nan


@numba.njit(cache=True)
def _safeguarded_step(x, phi, slope, lo, hi):
    """After ``phi(x)`` (``phi`` increasing, ``slope = phi'(x)``): ``(done, x, lo, hi)``, the
    bracket ``[lo, hi]`` of the root narrowed by the sign of ``phi`` and the next ``x``, a
    Newton step, or the bracket's midpoint where the step leaves it (``x - 5`` while ``lo =
    -inf``); ``done`` with ``x`` the root where ``phi = 0`` or the step is below ``4e-16``
    relative."""
    if phi == 0:
        return True, x, lo, hi
    if phi > 0:
        hi = x
    else:
        lo = x
    nxt = x - phi / slope
    if abs(nxt - x) <= 4e-16 * max(1.0, abs(x)):
        return True, nxt, lo, hi
    if not lo < nxt < hi:        # Newton overshoots where phi bends (it is S-shaped)
        nxt = 0.5 * (lo + hi) if lo > -np.inf else x - 5.0
    return False, nxt, lo, hi


def top_mass_numpy(gap, lam, d, top, x):
    """Pure numpy twin of :func:`top_mass` (the sums in the same order: the same bits; the
    bracketed step is the kernel's own, :func:`_safeguarded_step`)."""
    gap = lam * gap
    if not np.all(np.isfinite(gap)):
        return math.nan
    lo, hi = -math.inf, 0.0
    if gap.size and gap.min() < 0:
        hi = min(hi, math.log(top / -gap.min()))
    if not x < hi:
        x = hi - 1.0
    for _ in range(MAX_NEWTON_STEPS):
        a = top * _exp(-x)
        den = a + gap
        if np.any(den <= 0):
            hi = x
            x = 0.5 * (lo + hi) if math.isfinite(lo) else hi - 1.0
            continue
        q = d / den
        done, x, lo, hi = _safeguarded_step(x, math.exp(x) + _sequential_sum(q) - 1.0,
                                            math.exp(x) + a * _sequential_sum(q / den), lo, hi)
        if done:
            return math.exp(x)
    return math.nan


@numba.njit(cache=True)
def grid_masses(gap, lam, d, top, x, g):
    """The T9 map's masses on a grid: ``c`` = :func:`top_mass` from ``x``, then ``g_k = 1 /
    den_k``, ``den_k = top / c + lam gap_k`` (``p_k = d_k g_k``), into ``g``; returns ``(c,
    sum_k d_k / den_k)`` (``c`` NaN where :func:`top_mass` fails or a ``den_k <= 0``)."""
    c = top_mass(gap, lam, d, top, x)
    if not c == c:
        return np.nan, np.nan
    a = top / c
    total = 0.0
    for k in range(gap.shape[0]):
        den = a + lam * gap[k]
        if not den > 0:
            return np.nan, np.nan
        g[k] = 1.0 / den
        total += d[k] / den
    return c, total


def grid_masses_numpy(gap, lam, d, top, x, g):
    """Pure numpy twin of :func:`grid_masses` (the same bits)."""
    c = top_mass_numpy(gap, lam, d, top, x)
    if math.isnan(c):
        return math.nan, math.nan
    den = top / c + lam * gap
    if not np.all(den > 0):
        return math.nan, math.nan
    g[:] = 1.0 / den
    return c, _sequential_sum(d / den)


def _exp(t):
    """``e^t``, ``inf`` where it overflows (as in the kernels; ``math.exp`` raises)."""
    try:
        return math.exp(t)
    except OverflowError:
        return math.inf


def _sequential_sum(x):
    """``x[0] + x[1] + ...`` left to right (numpy's ``sum`` adds pairwise)."""
    return float(np.cumsum(x)[-1]) if x.size else 0.0
