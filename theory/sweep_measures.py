r"""Sweep measures that need the statements of THEORY.md (registered on ``import theory``):

- ``contraction``: T7's measured per-step factor of ``TV(p_t, p^lam)``
  (:func:`measured_contraction_factor`), beside T7's bound ``kappa = lam K/(1+lam)``;
  ``verified`` is 1 when one retraining step moves the grid limit by at most
  ``FIXED_POINT_TOL = 1e-9`` in TV (:mod:`theory.fixed_point`)
  (else the factor is NaN: no verified fixed point).
- ``check``: one statement (option ``id``, e.g. ``"T7"``) held against the run
  (:func:`theory.check`): ``holds`` (1, 0, or NaN when not applicable), ``slack``,
  ``measured``, ``predicted``, ``tolerance`` (see :mod:`theory.report`).
"""

from __future__ import annotations

import math
import warnings

from numerics.sweep_measures import register_measure

from . import formulas
from .context import RunContext
from .distances import tv_distance
from .fixed_point import FIXED_POINT_TOL, fixed_point_residual, measured_contraction_factor

__all__ = ["measured_contraction_factor", "FIXED_POINT_TOL"]


@register_measure("contraction", ("factor", "kappa", "verified"),
                  "measured contraction factor of TV(p_t, p^lam) over the scenario's steps, "
                  "and T7's bound lam K/(1+lam)")
def _contraction(sc):
    import numerics
    kappa = formulas.t7_kappa(sc.lam, sc.K)
    if math.isinf(sc.lam):
        return {"factor": math.nan, "kappa": kappa, "verified": 0}
    traj = numerics.evolve(sc.mass, sc.reward, sc.K, sc.steps, lam=sc.lam, data=sc.data)
    # the limit as the T7 check solves it (of the run's normalized start and data), so the
    # two report one factor: the factor reads TV down to 1e-9, where the last bits of the
    # limit show
    ctx = RunContext(traj, sc.reward, sc.data)
    with warnings.catch_warnings():   # as numerics.sweep_measures.grid_limit
        warnings.simplefilter("ignore", RuntimeWarning)
        lim = ctx.limit
    if not lim.converged:   # recorded as a failed point, never as a number
        raise ArithmeticError(f"limit did not converge: {lim.detail}")
    if not fixed_point_residual(lim.mass, sc.reward, sc.K, sc.lam, ctx.data)[0]:
        return {"factor": math.nan, "kappa": kappa, "verified": 0}
    tv = [tv_distance(m, lim.mass) for m in traj.masses]
    return {"factor": measured_contraction_factor(tv), "kappa": kappa, "verified": 1}


@register_measure("check", ("holds", "slack", "measured", "predicted", "tolerance"),
                  "one statement of THEORY.md held against the run: verdict and slack",
                  options={"id": "T1"})
def _check(sc, id="T1"):
    from .checking import check
    rec = check(sc, ids=[id])[id]

    def num(v):
        return math.nan if v is None else float(v)
    return {"holds": num(rec.holds) if rec.applicable else math.nan, "slack": num(rec.slack),
            "measured": num(rec.measured), "predicted": num(rec.predicted),
            "tolerance": num(rec.tolerance)}
