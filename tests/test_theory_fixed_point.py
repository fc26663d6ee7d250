"""One measurement of "one step leaves the limit" (theory.fixed_point), shared by the figures'
verified limits and the sweep measure ``contraction``."""

import math

import numpy as np

import numerics
from theory import fixed_point, sweep_measures


def _kinf_step(p, s, lam, d):
    """T(p) for K = inf written out (L3): (p_d + lam p s / E_p[s]) / (1 + lam)."""
    return (d + lam * p * s / (p @ s)) / (1 + lam)


def test_limit_is_accepted_and_a_moved_law_is_refused():
    d = np.array([0.1, 0.2, 0.3, 0.4])
    r = np.log([1.0, 2.0, 3.0, 5.0])
    lim = numerics.limit(d, r, math.inf, 0.5, data=d)
    ok, moved = fixed_point.fixed_point_residual(lim.mass, r, math.inf, 0.5, d)
    assert ok and moved <= fixed_point.FIXED_POINT_TOL
    p = d / d.sum()                                  # p_d itself: one step moves it
    ok, moved = fixed_point.fixed_point_residual(p, r, math.inf, 0.5, d)
    s = np.exp(r - r.max())
    expected = 0.5 * np.abs(_kinf_step(p, s, 0.5, d) - p).sum()
    assert not ok and math.isclose(moved, expected, rel_tol=1e-12)


def test_one_tolerance_for_figures_and_sweeps():
    from figures import data, heatmap_data
    assert (data.FIXED_POINT_TOL is heatmap_data.FIXED_POINT_TOL
            is sweep_measures.FIXED_POINT_TOL is fixed_point.FIXED_POINT_TOL)
    assert heatmap_data.fixed_point_residual is fixed_point.fixed_point_residual
    assert sweep_measures.fixed_point_residual is fixed_point.fixed_point_residual
