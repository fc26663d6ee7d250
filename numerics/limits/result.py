"""The result of :func:`numerics.limit`: what the limit is and how it was obtained."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

__all__ = ["Limit", "LimitMethod", "CONDENSED_GAP"]

#: on a grid the fixed point counts as condensed when ``H_top = (1 + lam)/lam`` to 5 digits
#: (THEORY.md T9's criterion): ``1 - lam H_top/(1 + lam) <= CONDENSED_GAP``.  The top cell's
#: data mass keeps it strictly positive on every grid; it tends to 0 as the grid is refined
#: exactly when the continuous law condenses.
CONDENSED_GAP = 1e-5


class LimitMethod(enum.Enum):
    """How a :class:`Limit` was obtained."""

    #: a closed form (T3's top level set; ``p_d`` for ``lam = 0`` or ``K = 1``)
    CLOSED_FORM = "closed form"
    #: T8's scalar equation for ``Z`` (``K = inf``), solved in ``log eps``
    SCALAR_EQUATION = "scalar equation (T8)"
    #: T9's fixed-point equations, solved by Newton's method
    FIXED_POINT = "fixed-point solve (T9)"
    #: the exact step iterated to its fixed point with Anderson acceleration (curation rules
    #: without a fixed-point system of their own: L4, L5, mixtures with finite K)
    ACCELERATED_ITERATION = "accelerated iteration of T"


@dataclass
class Limit:
    """A limit of the retraining loop.

    Attributes
    ----------
    mass : ndarray or None
        grid masses (shaped like the input); ``None`` for a continuous law (see ``density``).
    density : callable or None
        continuous laws: the density in ``r`` of the absolutely continuous part.
    condensate : float
        mass of the singular part on the top level set (continuous laws; 0 on grids, where the
        top cell carries it: see ``top_mass``).
    top_mass : float
        mass of the top level set ``{r = r_*}`` (on a grid, the top cells).
    condensed : bool
        continuous law: ``condensate > 0``; grid: ``top_gap <= CONDENSED_GAP``.
    expected_exp_reward : float
        ``E[e^{r - c}]`` with ``c = exp_reward_shift`` (0 unless rewards exceed 700 nats).
    exp_reward_shift, r_star : float
    method : LimitMethod
        how it was obtained; ``detail`` says more (the branch, the path of the solver).
    converged : bool
        the solver met its tolerance (``info["residual"]``).
    info : dict
        solver details.  Keys, where they apply: ``"residual"`` (T9: ``TV(T(p), p)`` on the
        reward law; T8: the scalar equation's value), ``"top_gap"`` (``1 - lam H_top/(1 +
        lam)``, i.e. ``1 + lam - lam H_top`` over ``1 + lam``), ``"Z"`` (``E[e^r]`` at the fixed
        point, T8), ``"eps"`` (T8: ``Z = lam e^{r_*}(1 + eps)/(1 + lam)``), ``"I"`` (T8,
        continuous), ``"I_below_top"`` (T8, grids), ``"lam_c"`` (continuous, T9: the critical
        lam when the law condenses), ``"iterations"`` (T9: iterates of the T9 map plus
        Newton iterations, if any; continuous laws: Newton), ``"newton_residual"`` (T9: the
        largest residual of the T9 equations at the solution), ``"max_H"``,
        ``"min_denominator"`` (``min 1 + lam - lam H`` below the top), ``"resolution"``,
        ``"restarts"`` (see :func:`numerics.evolve`), ``"discretization_error"`` (continuous
        laws: the condensate's change between two discretizations).  Limits of curation rules
        add ``"kind"``: ``"T12"``, ``"T13"``, ``"T3.rules"``, ``"iterated"`` (the accelerated
        iteration; ``"iterations"`` then counts its steps) or ``"closed form"``, and for T12
        ``"kkt_support"``, ``"kkt_outside"``, ``"Z"``, ``"phi"``.
    """

    mass: np.ndarray | None
    condensate: float
    top_mass: float
    condensed: bool
    expected_exp_reward: float
    exp_reward_shift: float
    r_star: float
    method: LimitMethod
    detail: str
    converged: bool
    info: dict = field(default_factory=dict)
    density: Callable | None = None
