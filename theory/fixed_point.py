"""Whether a computed limit is a fixed point of the retraining map: one step leaves it where
it is, ``TV(T(p^lam), p^lam) <= FIXED_POINT_TOL`` (docs/theory.md T7-T9, T13: for a finite
``lam`` the limit ``p^lam`` is the fixed point of ``T(p) = (p_d + lam C(p)) / (1 + lam)``).

The one measurement behind the figures' verified limits (:func:`figures.data.limit_of`) and
the sweep measure ``contraction`` (:mod:`theory.sweep_measures`).

>>> import numpy as np
>>> p = np.array([0.25, 0.75])
>>> fixed_point_residual(p, np.zeros(2), 3, 0.5, data=p)   # r constant: C(p) = p (P4)
(True, 0.0)
"""

from __future__ import annotations

import numerics

from .distances import tv_distance

__all__ = ["FIXED_POINT_TOL", "fixed_point_residual"]

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
