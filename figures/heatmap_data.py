"""The data of the heatmap figures (:mod:`figures.heatmaps`): the limit panels of figure 1,
the iterate rows of figures 2-3 and their 1-D analogue, each next to the verified limit of its
scenario (:func:`limit_of`) and densities in probability per unit length or area
(:func:`cell_volume`)."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

import numerics
from numerics.scenarios import Scenario
from theory.fixed_point import FIXED_POINT_TOL, fixed_point_residual

__all__ = ["cell_volume", "limit_of", "FIXED_POINT_TOL", "LimitPanels", "limit_panels",
           "IterationRows", "iteration_rows", "Iterates1D", "iterates_1d", "INF"]

INF = math.inf


def cell_volume(scenario):
    """Length (1-D) or area (2-D) of one grid cell: the product of the axis spacings.
    Built-in and TOML grids are uniform; a non-uniform axis is an error."""
    vol = 1.0
    for ax in scenario.axes:
        ax = np.asarray(ax, dtype=float)
        if ax.size < 2:
            raise ValueError(f"scenario {scenario.name!r}: an axis needs >= 2 points")
        step = np.diff(ax)
        if not np.allclose(step, step[0], rtol=1e-9, atol=0):
            raise ValueError(f"scenario {scenario.name!r}: the grid is not uniform")
        vol *= abs(float(step[0]))
    return vol


def limit_of(sc, K=None, lam=None, verify=True):
    """``numerics.limit`` of the scenario; with ``verify``, a finite-``lam`` limit is checked
    to be a fixed point: one :func:`numerics.retrain_step` moves it by at most
    :data:`FIXED_POINT_TOL` in TV, else ``RuntimeError``."""
    if getattr(sc, "rule", None) is not None:
        return _rule_limit_of(sc, K, lam, verify)
    K = sc.K if K is None else K
    lam = sc.lam if lam is None else lam
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # overflow inside a failing solve
        lim = numerics.limit(sc.mass, sc.reward, K, lam, data=sc.data)
    if not lim.converged:
        raise RuntimeError(f"numerics.limit did not converge: {lim.detail} (TV(T(p), p) = "
                           f"{lim.info.get('residual', float('nan')):.2g})")
    if verify and not math.isinf(lam):
        _require_fixed_point(sc, lim, sc.reward, K, lam)
    return lim


def _require_fixed_point(sc, lim, reward, K, lam):
    """``RuntimeError`` unless one retraining step leaves ``lim`` where it is
    (:func:`theory.fixed_point.fixed_point_residual`)."""
    data = sc.mass if sc.data is None else sc.data
    ok, moved = fixed_point_residual(lim.mass, reward, K, lam, data)
    if not ok:
        raise RuntimeError(f"numerics.limit returned a mass that one retraining step moves "
                           f"by TV {moved:.2e}: not a fixed point")


def _rule_limit_of(sc, K=None, lam=None, verify=True):
    """:func:`limit_of` for a scenario with a curation rule (``numerics.limit(mass, rule,
    lam, data)``: T12/T13, T3.rules, or the accelerated iteration of ``T``; a ``ValueError``
    with the reason where no limit is known, e.g. a finite-``K`` mixture without real
    data)."""
    from numerics.scenarios import rule_with_K
    rule = sc.rule if K is None else rule_with_K(sc.rule, K)
    lam = sc.lam if lam is None else lam
    lim = numerics.limit(sc.mass, rule, lam, sc.data)
    if not lim.converged:
        raise RuntimeError(f"numerics.limit did not converge: {lim.detail}")
    if verify and not math.isinf(lam):
        _require_fixed_point(sc, lim, rule, None, lam)
    return lim


# ------------------------------------------------------------------ figure 1: limit panels
@dataclass
class LimitPanels:
    """Reward, ``p_0`` and the limit density of ``scenario`` (T3 for ``lam = inf``; T8/T9
    otherwise), densities in probability per unit area."""

    scenario: Scenario
    limit: numerics.Limit
    p0: np.ndarray
    p_limit: np.ndarray
    volume: float


def limit_panels(scenario):
    """Figure 1's data: ``numerics.limit(mass, reward, K, lam, data)`` next to ``p_0``."""
    lim = limit_of(scenario)
    vol = cell_volume(scenario)
    p0 = np.asarray(scenario.mass, dtype=float)
    p0 = p0 / p0.sum() / vol
    return LimitPanels(scenario, lim, p0, lim.mass / vol, vol)


# ------------------------------------------------------------ figures 2-3: iterate panels
@dataclass
class IterationRows:
    """``p_t`` at ``steps`` for each ``lam`` in ``lams`` (rows); ``densities[row][col]``;
    ``top_share[row][col] = p_t(r = r_*)``, the mass on the top level set."""

    scenario: Scenario
    K: float
    steps: tuple
    lams: tuple
    trajectories: list
    densities: list
    volume: float
    top_share: list


def iteration_rows(scenario, steps=(0, 1, 3, 10, 30), lams=(INF, 1.0), K=None):
    """``numerics.evolve`` once per ``lam`` up to ``max(steps)``; the masses at ``steps``
    divided by the cell volume.  ``lam`` finite uses ``p_d = scenario.data`` (``p_0`` if None)."""
    K = scenario.K if K is None else K
    steps = tuple(int(s) for s in steps)
    vol = cell_volume(scenario)
    trajs, dens, share = [], [], []
    for lam in lams:
        traj = numerics.evolve(scenario.mass, scenario.reward, K, max(steps), lam=lam,
                               data=None if math.isinf(lam) else scenario.data)
        where = {int(t): i for i, t in enumerate(traj.recorded_steps)}
        masses = [traj.masses[where[t]] for t in steps]
        top = scenario.reward == traj.r_star
        trajs.append(traj)
        dens.append([m / vol for m in masses])
        share.append([float(m[top].sum()) for m in masses])
    return IterationRows(scenario, K, steps, tuple(lams), trajs, dens, vol, share)


# ----------------------------------------------------------- 1-D analogue of figure 1
@dataclass
class Iterates1D:
    """A 1-D scenario: reward, ``p_0``, ``p_t`` at ``steps`` and the limit, as densities."""

    scenario: Scenario
    steps: tuple
    trajectory: numerics.Trajectory
    densities: list
    limit: numerics.Limit
    p_limit: np.ndarray
    volume: float


def iterates_1d(scenario, steps=(0, 1, 3, 10, 30)):
    """``numerics.evolve`` to ``max(steps)`` and ``numerics.limit`` on a 1-D scenario."""
    if np.ndim(scenario.mass) != 1:
        raise ValueError(f"scenario {scenario.name!r} is not 1-D")
    steps = tuple(int(s) for s in steps)
    vol = cell_volume(scenario)
    if getattr(scenario, "rule", None) is not None:
        traj = numerics.evolve(scenario.mass, scenario.rule, max(steps), scenario.lam,
                               scenario.data)
    else:
        traj = numerics.evolve(scenario.mass, scenario.reward, scenario.K, max(steps),
                               lam=scenario.lam, data=scenario.data)
    where = {int(t): i for i, t in enumerate(traj.recorded_steps)}
    lim = limit_of(scenario)
    return Iterates1D(scenario, steps, traj, [traj.masses[where[t]] / vol for t in steps],
                      lim, lim.mass / vol, vol)
