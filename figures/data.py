"""What each figure shows, computed by the engine (``numerics``) and the closed forms of
``theory.formulas``; the plotting modules only lay these numbers out.  This module only
re-exports the data of each figure kind, one module per plotting module:

- :mod:`figures.heatmap_data` (for :mod:`figures.heatmaps`): limit panels, iterate rows, 1-D
  iterates, the verified limit of a scenario and the grid's cell volume;
- :mod:`figures.curve_data` (for :mod:`figures.curves`): T1/T2 reward bounds, class shares;
- :mod:`figures.phase_data` (for :mod:`figures.phase`): T8 condensation phase, T9
  critical-``lam`` curves, T7 contraction phase.

Densities on a grid are ``mass / cell_volume`` (probability per unit length or area), so that
a picture does not depend on the grid resolution.  Every function returns a small dataclass
holding the engine's own results (``Trajectory``, ``Limit``, ``Scenario``) next to the arrays
derived from them, so a test can recompute any plotted number independently.
"""

from .curve_data import ClassShares, RewardBounds, class_proportions, class_shares, reward_bounds
from .heatmap_data import (FIXED_POINT_TOL, INF, IterationRows, Iterates1D, LimitPanels,
                           cell_volume, iterates_1d, iteration_rows, limit_of, limit_panels)
from .heatmap_data import limit_of as _limit_of  # the name before the split
from .phase_data import (T9_EXAMPLES, CondensationPhase, ContractionPhase, CriticalLamCurves,
                         condensation_phase, contraction_phase, critical_lam_curves,
                         kingman_critical_lam, measured_contraction_factor)

__all__ = ["cell_volume", "LimitPanels", "limit_panels", "IterationRows", "iteration_rows",
           "RewardBounds", "reward_bounds", "ClassShares", "class_shares", "class_proportions",
           "CondensationPhase", "condensation_phase", "kingman_critical_lam",
           "CriticalLamCurves", "critical_lam_curves", "T9_EXAMPLES",
           "ContractionPhase", "contraction_phase", "measured_contraction_factor",
           "Iterates1D", "iterates_1d", "INF", "limit_of", "FIXED_POINT_TOL"]
