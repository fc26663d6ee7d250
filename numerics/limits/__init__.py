r"""Limits of the retraining loop, solved directly (THEORY.md T3, T8, T9), not by iterating.

- ``lam = inf`` (curated data only, ``K > 1``): ``p_0`` restricted to its top level set (T3);
  ``K = 1`` or ``lam = 0``: the start, or the data (closed forms).
- ``K = inf``, finite ``lam``: T8's scalar equation (:mod:`numerics.limits.kingman`).
- finite ``K`` and ``lam``: T9's fixed point, condensed or not (:mod:`numerics.limits.finite_k`):
  on grids the T9 map iterated with Anderson acceleration
  (:mod:`numerics.limits.t9_iteration`), Newton's method with an analytic Jacobian where it
  stalls and for continuous laws.

:func:`limit` takes grids (any shape), :func:`limit_continuous` a
:class:`numerics.ContinuousRewardLaw`, :func:`critical_lam` gives the ``lam`` above which the
fixed point of a continuous law condenses.
"""

from .result import Limit, LimitMethod
from .solve import limit, limit_continuous, critical_lam

__all__ = ["Limit", "LimitMethod", "limit", "limit_continuous", "critical_lam"]
