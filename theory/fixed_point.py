"""Whether a computed limit is a fixed point of the retraining map: one step leaves it where
it is, ``TV(T(p^lam), p^lam) <= FIXED_POINT_TOL`` (docs/theory.md T7-T9, T13: for a finite
``lam`` the limit ``p^lam`` is the fixed point of ``T(p) = (p_d + lam C(p)) / (1 + lam)``).

The one measurement behind the figures' verified limits (:func:`figures.data.limit_of`) and
the sweep measure ``contraction`` (:mod:`theory.sweep_measures`); and the one measured rate of
approach to it, :func:`measured_contraction_factor` (the T7 check's note, the sweep measure,
the T7 phase figure).

>>> import numpy as np
>>> p = np.array([0.25, 0.75])
>>> fixed_point_residual(p, np.zeros(2), 3, 0.5, data=p)   # r constant: C(p) = p (P4)
(True, 0.0)
"""

from __future__ import annotations

import math

import numpy as np

import numerics

from .distances import tv_distance

__all__ = ["FIXED_POINT_TOL", "fixed_point_residual", "measured_contraction_factor"]

#: a limit counts as a fixed point when one step of ``T`` moves it by at most this (TV); the
#: solvers of :mod:`numerics.limits` stop far below it (Newton residual 1e-13, brentq to a few
#: ulps), so it rejects a wrong answer, not the rounding of a right one
FIXED_POINT_TOL = 1e-9


def fixed_point_residual(mass, reward, K, lam, data):
    r"""``(moved <= FIXED_POINT_TOL, moved)`` with ``moved = TV(T(p), p)``, ``p = mass``, one
    :func:`numerics.retrain_step` with real data ``data`` (``p_d``).  ``reward`` may be a
    curation rule of :mod:`numerics.curators` (then ``K`` is ``None``)."""
    moved = tv_distance(numerics.retrain_step(mass, reward, K, lam, data=data), mass)
    return moved <= FIXED_POINT_TOL, moved


def measured_contraction_factor(tv, tol=FIXED_POINT_TOL):
    r"""Geometric-mean per-step factor of ``TV(p_t, p^lam)`` (``tv[t]`` at consecutive steps
    ``t = 0, 1, ...``) over the second half of the steps where it is still above ``tol``
    (below, the limit's own accuracy dominates): ``(tv[t2] / tv[t1])^{1/(t2-t1)}`` with ``t2``
    the last such step and ``t1 = t2 // 2``.  NaN if fewer than two such steps.

    >>> measured_contraction_factor([1.0, 0.5, 0.25, 0.125, 0.0625])
    0.5
    """
    tv = np.asarray(tv, dtype=float)
    above = np.nonzero(tv > tol)[0]
    if above.size == 0 or above[-1] < 2:
        return math.nan
    t2 = int(above[-1])
    t1 = t2 // 2
    return float((tv[t2] / tv[t1]) ** (1.0 / (t2 - t1)))
