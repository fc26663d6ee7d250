r"""The compressed engine's checks after each step, in one call per base.

After a step the engine (:mod:`numerics.engine`) holds, for each base ``b``, its log weights
``L`` at the Chebyshev points of every panel and at the base's Gauss nodes, and the tilt ``T``
its rules were built for.  It then asks, per panel ``q``:

- the resolution (:data:`numerics.engine.INTERPOLATION_TOL`): the tail estimate
  ``|c_{n-2}| + |c_{n-1}|`` of the interpolant of ``L`` at the points
  (:func:`numerics.chebyshev.tail_error_and_size`) against ``tol + 64 eps max|L|``, on the
  panels whose mass ``log sum_k w_k e^{(L - T)(x_k)}`` over the nodes
  (:func:`numerics.gauss_rules.panel_log_mass`) exceeds ``NEGLIGIBLE_PANEL`` of the heaviest
  panel of any base;
- the re-tilt test: the spread ``max - min`` of ``L - T`` at the points (a base whose ``L - T``
  is not finite everywhere is not re-tilted).

:func:`panel_checks` forms the four figures of one base in one call (the same operations, in
the same order, as the separate kernels: the same bits; the tails by
:func:`numerics.chebyshev.panel_tail`), :func:`verdict` reads them for all bases at once.
Measured on the 2048^2 benchmark of docs/accuracy.md: 26 -> 11 us a step (the numpy
operations between the separate kernels cost more than their work).  Each has a pure numpy
twin (``*_numpy``) built from the separate numpy twins.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .chebyshev import panel_tail, tail_error_and_size_numpy
from .gauss_rules import panel_log_mass_numpy

__all__ = ["panel_checks", "panel_checks_numpy", "verdict", "verdict_numpy"]

#: rows of :func:`panel_checks`' output
ERR, BIG, SPREAD, MASS = range(4)


@numba.njit(cache=True)
def panel_checks(L, T, log_w, n_cheb, cptr, ptr, rows, out):
    """Per panel ``q`` of one base, into ``out[:, q]``: the tail estimate and the largest
    finite ``|L|`` at the Chebyshev points ``cptr[q]:cptr[q+1]`` (``rows``: the last two rows
    of the panels' DCT-I, :func:`numerics.chebyshev._tail_rows`; 0 on panels of at most two
    points), the spread of ``L - T`` there (NaN where a value of ``L - T`` is not finite),
    and the panel's log mass over the nodes ``ptr[q]:ptr[q+1]`` (``log_w + (L - T)`` at
    ``n_cheb + k``; relative to the panel's largest term, ``-inf`` without nodes)."""
    n_panels = cptr.shape[0] - 1
    for q in range(n_panels):
        out[ERR, q], out[BIG, q] = panel_tail(L, rows, cptr[q], cptr[q + 1])
        hi = -np.inf
        lo = np.inf
        finite = True
        for k in range(cptr[q], cptr[q + 1]):
            g = L[k] - T[k]
            if abs(g) < np.inf:
                hi = max(hi, g)
                lo = min(lo, g)
            else:
                finite = False
        out[SPREAD, q] = hi - lo if finite else np.nan
        a, b = ptr[q], ptr[q + 1]
        if b == a:
            out[MASS, q] = -np.inf
            continue
        best = -np.inf
        for k in range(a, b):
            best = max(best, log_w[k] + (L[n_cheb + k] - T[n_cheb + k]))
        if not abs(best) < np.inf:
            out[MASS, q] = best
            continue
        acc = 0.0
        for k in range(a, b):
            acc += math.exp(log_w[k] + (L[n_cheb + k] - T[n_cheb + k]) - best)
        out[MASS, q] = best + math.log(acc)


def panel_checks_numpy(L, T, log_w, n_cheb, cptr, ptr, rows, out):
    """Pure numpy twin of :func:`panel_checks` (the separate numpy twins; ``rows`` unused)."""
    g = L[:n_cheb]
    out[ERR], out[BIG] = tail_error_and_size_numpy(g, cptr)
    d = g - T[:n_cheb]
    with np.errstate(invalid="ignore"):
        spread = np.maximum.reduceat(d, cptr[:-1]) - np.minimum.reduceat(d, cptr[:-1])
        bad = np.logical_or.reduceat(~np.isfinite(d), cptr[:-1])
    out[SPREAD] = np.where(bad, np.nan, spread)
    out[MASS] = panel_log_mass_numpy(log_w + (L - T)[n_cheb:], ptr)


@numba.njit(cache=True)
def verdict(stats, log_negligible, tol, ulps):
    """From :func:`panel_checks` of every base (``stats``: ``(bases, 4, panels)``): the first
    base with a panel that fails the resolution check, and its panel that fails worst
    (``err / (tol + ulps max|L|)`` largest; a tail that is not finite counts as infinitely
    large, the first such panel; ``-1, -1`` if none fails), among the panels whose mass
    exceeds ``log_negligible`` below the heaviest panel of any base; and per base the
    largest spread (NaN where a value of ``L - T`` is not finite)."""
    n_bases, _, n_panels = stats.shape
    heaviest = -np.inf
    for i in range(n_bases):
        for q in range(n_panels):
            heaviest = max(heaviest, stats[i, MASS, q])
    cut = heaviest + log_negligible
    spreads = np.empty(n_bases)
    for i in range(n_bases):
        spread = -np.inf
        for q in range(n_panels):
            s = stats[i, SPREAD, q]
            if s != s or spread != spread:
                spread = np.nan
            elif s > spread:
                spread = s
        spreads[i] = spread
    for i in range(n_bases):
        worst_q = -1
        worst = -1.0
        for q in range(n_panels):
            err = stats[i, ERR, q]
            bound = tol + ulps * stats[i, BIG, q]
            if not stats[i, MASS, q] > cut or err <= bound:
                continue
            ratio = err / bound if abs(err) < np.inf else np.inf
            if ratio > worst:
                worst, worst_q = ratio, q
        if worst_q >= 0:
            return i, worst_q, spreads
    return -1, -1, spreads


def verdict_numpy(stats, log_negligible, tol, ulps):
    """Pure numpy twin of :func:`verdict`."""
    heaviest = float(np.max(stats[:, MASS]))
    rel = stats[:, MASS] > heaviest + log_negligible
    bound = tol + ulps * stats[:, BIG]
    bad = rel & ~(stats[:, ERR] <= bound)
    with np.errstate(invalid="ignore"):
        spreads = np.where(np.isnan(stats[:, SPREAD]).any(axis=1), np.nan,
                           np.max(stats[:, SPREAD], axis=1, initial=-np.inf))
        ratio = np.where(np.isfinite(stats[:, ERR]), stats[:, ERR] / bound, np.inf)
    for i in range(stats.shape[0]):
        if bad[i].any():
            return i, int(np.argmax(np.where(bad[i], ratio[i], -1.0))), spreads
    return -1, -1, spreads
