"""selfconsume.numerics: the exact curation engine (THEORY.md L1-L3, T1-T9).

Public API (DESIGN.md): :func:`curation_factor`, :func:`curate`, :func:`retrain_step`,
:func:`evolve`, :func:`limit`.
"""

from .curation import curation_factor, curate, retrain_step
from .evolution import evolve, Trajectory, EvolutionInterrupted, tilt

__all__ = ["curation_factor", "curate", "retrain_step", "evolve", "Trajectory",
           "EvolutionInterrupted", "tilt"]
from .limits import limit, limit_continuous, critical_lam, Limit, LimitMethod
from .reward_law import ContinuousRewardLaw

__all__ += ["limit", "limit_continuous", "critical_lam", "Limit", "LimitMethod",
            "ContinuousRewardLaw"]
from .sampling import simulate, Simulation, compare_with_exact

__all__ += ["simulate", "Simulation", "compare_with_exact"]
from .laplace import AccuracyWarning

__all__ += ["AccuracyWarning"]
