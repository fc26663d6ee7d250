r"""THEORY.md T9 on grids: the fixed point as the limit of the T9 map iterated with Anderson
acceleration (a cheaper route than Gauss-Newton, which stays the fallback).

The T9 map takes ``y = log M`` at the v-nodes to the masses ``p_k = d_k / (d_top/c + lam
(H_y(1) - H_y(s_k)))`` below the top and ``c`` on the top cell, ``c`` chosen so that ``|p| + c
= 1`` (:meth:`~numerics.limits.finite_k.T9System.normalized_top_mass`), and back to
``Phi(y) = log M_p``.  A fixed point of ``Phi`` solves the T9 equations ``F`` and ``N``, and
the top atom's ``G`` with them up to the L2 rule's error in the identity ``E_p[H_p] = 1``
(P1): summing ``p_k den_k = d_k`` over all the atoms (``den_k = d_top/c + lam (H(1) - H_k)``,
the top's ``c d_top / c = d_top`` included) gives ``d_top / c = 1 - lam H(1) + lam E_p[H]``,
i.e. ``G = lam (1 - E_p[H]) / (1 + lam)``.  The iteration stops on the same test as Newton:
the largest of all the residuals ``F, N, G`` at most
:data:`~numerics.limits.finite_k.RESIDUAL_TOL`.

Anderson's method (type II, depth ``m``; Walker and Ni, *SIAM J. Numer. Anal.* 49, 2011)
extrapolates from the last ``m`` residuals ``f = Phi(y) - y``: ``gamma = argmin |f_k - Delta F
gamma|``, ``y_{k+1} = Phi(y_k) - Delta G gamma``; its history is cleared when the residual
grows.  One iterate costs O(nodes x atoms) (two matrix-vector products, no Jacobian:
:meth:`~numerics.limits.finite_k.T9System.grid_map`): measured on the benchmark grids, 7-11
iterates reach ``1e-13`` where Gauss-Newton took 5-9 Jacobians and least-squares solves.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["anderson_grid", "ANDERSON_DEPTH", "MAX_ITERATES", "STALL_ITERATES", "POLISH_FACTOR"]

#: residuals kept by Anderson's method
ANDERSON_DEPTH = 6
#: at most this many iterates of the T9 map
MAX_ITERATES = 40
#: give up (to Newton) when the best residual has not improved for this many iterates
STALL_ITERATES = 6
#: below the tolerance, iterate on while each iterate cuts the residual by this factor (the
#: solution then sits at the floor of rounding, as Newton's last quadratic step puts it)
POLISH_FACTOR = 0.25


def anderson_grid(system, lam, y, c, tol, max_iterates=MAX_ITERATES, depth=ANDERSON_DEPTH):
    """Iterate the T9 map of ``system`` (a :class:`~numerics.limits.finite_k.T9System` of a
    grid: ``d_top > 0``) from ``(y, c)`` with Anderson acceleration until every residual is
    at most ``tol``.

    Returns ``(z, residual, iterates, converged)``, ``z = (y, log c)`` the best iterate found
    (the start of Newton's method when not converged), or ``None`` if not even the start
    could be evaluated."""
    n = y.size
    best = None                      # (residual, z)
    since_best = 0
    # the last ``depth`` differences of f and of Phi(y), columns filled in turn (their order
    # does not matter to the least-squares problem)
    dF, dG = np.empty((n, depth)), np.empty((n, depth))
    kept = pos = 0
    f_prev = g_prev = None
    last_res = math.inf
    for it in range(max_iterates + 1):
        got = system.grid_map(y, lam, c)
        if got is None:
            break
        z, R = got
        c = math.exp(z[n])
        res = float(np.abs(R).max())
        if best is None or res < best[0]:
            best, since_best = (res, z), 0
        else:
            since_best += 1
        if best[0] <= tol and (since_best or res > POLISH_FACTOR * last_res):
            return best[1], best[0], it, True   # at the floor of rounding: no more to gain
        if since_best >= STALL_ITERATES:
            break
        f = R[:n]
        g = y + f                    # Phi(y) = log M_p
        if res > 2.0 * last_res:     # the extrapolation went astray: a plain step, afresh
            kept = pos = 0
            f_prev = g_prev = None
        last_res = res
        if f_prev is not None:
            np.subtract(f, f_prev, out=dF[:, pos])
            np.subtract(g, g_prev, out=dG[:, pos])
            pos = (pos + 1) % depth
            kept = min(kept + 1, depth)
        f_prev, g_prev = f, g
        if kept:
            gamma = np.linalg.lstsq(dF[:, :kept], f, rcond=None)[0]
            y = g - dG[:, :kept] @ gamma
        else:
            y = g
    if best is None:
        return None
    return best[1], best[0], it, best[0] <= tol
