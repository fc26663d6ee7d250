"""The data of the phase figures (:mod:`figures.phase`): T8's condensation phase of the
kingman family, T9's critical-``lam`` curves for finite ``K`` (both through
:func:`numerics.critical_lam`) and T7's measured contraction factor over ``(K, lam)``."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy import integrate

import numerics
from numerics.scenarios import Scenario, get_scenario
from theory import formulas
from theory.distances import tv_distance
from theory.fixed_point import measured_contraction_factor

from .heatmap_data import limit_of

__all__ = ["CondensationPhase", "condensation_phase", "kingman_critical_lam",
           "CriticalLamCurves", "critical_lam_curves", "T9_EXAMPLES",
           "ContractionPhase", "contraction_phase", "measured_contraction_factor", "INF"]

INF = math.inf


# ---------------------------------------------------------- figure 6a: T8 condensation
def _kingman_law(b):
    return get_scenario("kingman", b=float(b), grid=2).continuous


def _kingman_limit(b, lam):
    with warnings.catch_warnings():
        # quad's roundoff notice near the integrable singularity (-r)^(b-2) at r = 0
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        return numerics.limit_continuous(_kingman_law(b), K=INF, lam=float(lam))


def kingman_critical_lam(b):
    r"""The ``lam`` at which ``I(lam, b) = 1`` for the kingman law ``b (-r)^{b-1}`` on
    ``[-1, 0]`` (T8): :func:`numerics.critical_lam` with ``K = inf``.

    Since ``I = E[1/(1 - e^r)] / (1 + lam)``, ``I`` decreases from ``J(b) = E[1/(1-e^r)] > 1``
    at ``lam = 0`` to 0: the root is ``lam_c = J(b) - 1`` (finite iff ``b > 1``; ``J`` blows
    up like ``b/(b-1)`` as ``b -> 1``); condensation (``I < 1``) iff ``lam > lam_c``."""
    return numerics.critical_lam(_kingman_law(b), INF)


@dataclass
class CondensationPhase:
    """``condensate[i, j]`` and ``I[i, j]`` at ``(b[i], lams[j])``; the boundary ``I = 1``
    at ``boundary_b`` is ``boundary_lam``."""

    lams: np.ndarray
    b: np.ndarray
    condensate: np.ndarray
    I: np.ndarray
    boundary_b: np.ndarray
    boundary_lam: np.ndarray
    example: tuple | None = None


def condensation_phase(lams=None, b=None, boundary_b=None, example=(3.0, 3.0)):
    """T8 over a ``(b, lam)`` grid: ``numerics.limit(law_b, K=inf, lam)`` for the kingman
    family, its ``condensate`` and ``info["I"]``, and the critical curve
    :func:`kingman_critical_lam`; ``example = (lam, b)`` adds ``(lam, b, condensate)`` there
    (the ``kingman`` scenario's point; ``None`` for none)."""
    lams = np.geomspace(0.1, 20.0, 30) if lams is None else np.asarray(lams, dtype=float)
    b = np.linspace(1.1, 6.0, 30) if b is None else np.asarray(b, dtype=float)
    boundary_b = np.linspace(b.min(), b.max(), 40) if boundary_b is None else \
        np.asarray(boundary_b, dtype=float)
    cond = np.empty((b.size, lams.size))
    I = np.empty_like(cond)
    for i, bi in enumerate(b):
        for j, lam in enumerate(lams):
            lim = _kingman_limit(bi, lam)
            cond[i, j] = lim.condensate
            I[i, j] = lim.info["I"]
    crit = np.array([kingman_critical_lam(bi) for bi in boundary_b])
    if example is not None:
        example = (float(example[0]), float(example[1]),
                   _kingman_limit(example[1], example[0]).condensate)
    return CondensationPhase(lams, b, cond, I, boundary_b, crit, example)


# --------------------------------------------------- figure 6c: T9 finite-K condensation
@dataclass
class CriticalLamCurves:
    """``lam_c[K][i]``: the critical ``lam`` of :func:`numerics.critical_lam` for the kingman
    law with ``b = b[i]`` (T8 for ``K = inf``, T9 otherwise; ``inf``: no condensation).
    ``grid_points``: ``(b, K, lam, top mass, condensed)`` of :func:`numerics.limit` on the
    ``grid``-cell kingman grid, THEORY.md T9's measured examples."""

    b: np.ndarray
    Ks: tuple
    lam_c: dict
    grid: int
    grid_points: list = field(default_factory=list)


#: THEORY.md T9's examples ``(b, K, lam)``: long direct iterations put ``0.208, 0.368`` on the
#: top cell for ``b = 3, K = 2, lam = 4, 5``, ``0.114`` for ``b = 5, K = 2, lam = 3``, ``0.092``
#: for ``b = 3, K = 4, lam = 2``, none for ``b = 3, K = 2, lam = 3`` or ``b = 5, K = 3, lam = 1.5``
T9_EXAMPLES = ((3.0, 2.0, 3.0), (3.0, 2.0, 4.0), (3.0, 2.0, 5.0), (5.0, 2.0, 3.0),
               (3.0, 4.0, 2.0), (5.0, 3.0, 1.5))


def critical_lam_curves(b=None, Ks=(2.0, 3.0, 4.0, 8.0, INF), grid=300, examples=T9_EXAMPLES):
    """The finite-``K`` condensation boundary over ``b`` for each ``K`` (T9; ``K = inf``: T8),
    and the grid fixed points of ``examples`` (``numerics.limit`` on the kingman grid)."""
    b = np.linspace(1.5, 6.0, 10) if b is None else np.asarray(b, dtype=float)
    lam_c = {float(K): np.array([numerics.critical_lam(_kingman_law(bi), K) for bi in b])
             for K in Ks}
    points = []
    for bi, K, lam in examples:
        sc = get_scenario("kingman", b=bi, grid=grid)
        lim = numerics.limit(sc.mass, sc.reward, K, lam)
        points.append((bi, K, lam, lim.top_mass, lim.condensed))
    return CriticalLamCurves(b, tuple(float(K) for K in Ks), lam_c, grid, points)


# ------------------------------------------------------------- figure 6b: T7 contraction
@dataclass
class ContractionPhase:
    """``factor[i, j]``: measured contraction factor at ``(K[i], lams[j])``, NaN where
    ``numerics.limit`` gave no verified fixed point (``unverified[i, j]``: it raised, or its
    ``mass`` moves by more than ``1e-9`` in TV under one :func:`numerics.retrain_step`);
    ``kappa``: T7's bound ``lam K / (1+lam)``."""

    scenario: Scenario
    lams: np.ndarray
    K: np.ndarray
    steps: int
    factor: np.ndarray
    kappa: np.ndarray
    unverified: np.ndarray
    tv: dict = field(repr=False, default_factory=dict)


def contraction_phase(scenario=None, lams=None, K=None, steps=60):
    """For each ``(K, lam)``: ``p^lam = numerics.limit(...)`` (T9), checked to be a fixed
    point of ``T`` with ``numerics.retrain_step``; ``p_t`` from ``numerics.evolve``,
    ``TV(p_t, p^lam)`` and :func:`measured_contraction_factor`."""
    sc = get_scenario("gauss1d", grid=81, width=3.0) if scenario is None else scenario
    lams = np.geomspace(0.05, 10.0, 14) if lams is None else np.asarray(lams, dtype=float)
    K = np.geomspace(1.25, 32.0, 12) if K is None else np.asarray(K, dtype=float)
    factor = np.full((K.size, lams.size), np.nan)
    unverified = np.zeros(factor.shape, dtype=bool)
    kappa = np.array([[formulas.t7_kappa(lam, k) for lam in lams] for k in K])
    tvs = {}
    for i, k in enumerate(K):
        for j, lam in enumerate(lams):
            try:
                lim = limit_of(sc, K=k, lam=lam)   # raises unless a verified fixed point
            except RuntimeError:
                unverified[i, j] = True
                continue
            traj = numerics.evolve(sc.mass, sc.reward, k, steps, lam=lam, data=sc.data)
            tv = np.array([tv_distance(m, lim.mass) for m in traj.masses])
            tvs[i, j] = tv
            factor[i, j] = measured_contraction_factor(tv)
    return ContractionPhase(sc, lams, K, steps, factor, kappa, unverified, tvs)


