"""What each figure shows, computed by the engine (``numerics``) and the closed forms of
``theory.formulas``; the plotting modules only lay these numbers out.

Densities on a grid are ``mass / cell_volume`` (probability per unit length or area), so that
a picture does not depend on the grid resolution.  Every function here returns a small
dataclass holding the engine's own results (``Trajectory``, ``Limit``, ``Scenario``) next to
the arrays derived from them, so a test can recompute any plotted number independently.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy import integrate, optimize

import numerics
from numerics.scenarios import Scenario, get_scenario
from theory import formulas
from theory.distances import tv_distance
from theory.sweep_measures import measured_contraction_factor

__all__ = ["cell_volume", "LimitPanels", "limit_panels", "IterationRows", "iteration_rows",
           "RewardBounds", "reward_bounds", "ClassShares", "class_shares", "class_proportions",
           "CondensationPhase", "condensation_phase", "kingman_critical_lam",
           "CriticalLamCurves", "critical_lam_curves", "T9_EXAMPLES",
           "ContractionPhase", "contraction_phase", "measured_contraction_factor",
           "Iterates1D", "iterates_1d", "INF"]

INF = math.inf
#: a limit counts as a fixed point when one step of ``T`` moves it by at most this (TV)
FIXED_POINT_TOL = 1e-9


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


def _limit_of(sc, K=None, lam=None, verify=True):
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
        data = sc.mass if sc.data is None else sc.data
        moved = tv_distance(numerics.retrain_step(lim.mass, sc.reward, K, lam, data=data),
                            lim.mass)
        if not moved <= FIXED_POINT_TOL:
            raise RuntimeError(f"numerics.limit returned a mass that one retraining step moves "
                               f"by TV {moved:.2e}: not a fixed point")
    return lim


def _rule_limit_of(sc, K=None, lam=None, verify=True):
    """:func:`_limit_of` for a scenario with a curation rule: T12/T13 (``K = inf`` for every
    user type; a ``ValueError`` naming ``K`` otherwise)."""
    from numerics.scenarios import rule_with_K
    rule = sc.rule if K is None else rule_with_K(sc.rule, K)
    lam = sc.lam if lam is None else lam
    try:
        lim = numerics.limit(sc.mass, rule, lam, sc.data)
    except ValueError as exc:
        raise ValueError(f"the limit of {rule!r} is solved for K = inf only (T12, T13): "
                         f"{exc}") from None
    if not lim.converged:
        raise RuntimeError(f"numerics.limit did not converge: {lim.detail}")
    if verify and not math.isinf(lam):
        data = sc.mass if sc.data is None else sc.data
        moved = tv_distance(numerics.retrain_step(lim.mass, rule, lam, data), lim.mass)
        if not moved <= FIXED_POINT_TOL:
            raise RuntimeError(f"numerics.limit returned a mass that one retraining step moves "
                               f"by TV {moved:.2e}: not a fixed point")
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
    lim = _limit_of(scenario)
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


# --------------------------------------------------------------- figure 4: T1 and T2 bounds
@dataclass
class RewardBounds:
    """For each ``K``: the trajectory, ``E_t[e^r]`` (``exact``), T1's lower bound on
    ``E_{t+1}[e^r]`` made from step ``t`` (``t1_bound[t]``, compare with ``exact[t+1]``),
    the cumulative variance ``sum_{s<=t} Var_s[e^r]`` and T2's budget for the whole sum.
    All in units of ``e^{c}``, ``c = exp_reward_shift`` (``exp_r_star = e^{r_* - c}``)."""

    scenario: Scenario
    Ks: tuple
    trajectories: dict
    exact: dict
    t1_bound: dict
    cumulative_variance: dict
    t2_budget: dict
    exp_r_star: dict


def reward_bounds(scenario, Ks=(1.5, 2.0, 4.0, 16.0, INF), steps=None):
    """``numerics.evolve`` (``lam = inf``) for each ``K``; T1 via
    ``formulas.t1_increment_lower_bound``, T2 via ``formulas.t2_variance_budget``."""
    steps = scenario.steps if steps is None else steps
    out = {k: {} for k in ("traj", "exact", "t1", "cum", "t2", "es")}
    for K in Ks:
        traj = numerics.evolve(scenario.mass, scenario.reward, K, steps)
        es = math.exp(traj.r_star - traj.exp_reward_shift)
        e, v = traj.expected_exp_reward, traj.var_exp_reward
        out["traj"][K] = traj
        out["exact"][K] = e
        out["t1"][K] = e[:-1] + formulas.t1_increment_lower_bound(v[:-1], K, es)
        out["cum"][K] = np.cumsum(v)
        out["t2"][K] = formulas.t2_variance_budget(K, es, e[0])
        out["es"][K] = es
    return RewardBounds(scenario, tuple(Ks), out["traj"], out["exact"], out["t1"],
                        out["cum"], out["t2"], out["es"])


# ------------------------------------------------------------- figure 5: class proportions
def class_proportions(mass, labels, n_classes):
    """``P(class = c) = sum of mass over the cells labelled c`` (normalized)."""
    m = np.asarray(mass, dtype=float).ravel()
    shares = np.bincount(np.asarray(labels).ravel(), weights=m, minlength=n_classes)
    return shares / m.sum()


@dataclass
class ClassShares:
    """``shares[row][t, c]``: the mass of class ``c`` at step ``t`` for ``lam = lams[row]``."""

    scenario: Scenario
    K: float
    lams: tuple
    trajectories: list
    shares: list


def class_shares(scenario, lams=(INF, 1.0), K=None, steps=None):
    """``numerics.evolve`` per ``lam``; every step's masses summed over each class's cells."""
    if scenario.labels is None:
        raise ValueError(f"scenario {scenario.name!r} has no class labels")
    K = scenario.K if K is None else K
    steps = scenario.steps if steps is None else steps
    n = len(scenario.label_names) or int(np.max(scenario.labels)) + 1
    trajs, shares = [], []
    for lam in lams:
        traj = numerics.evolve(scenario.mass, scenario.reward, K, steps, lam=lam,
                               data=None if math.isinf(lam) else scenario.data)
        trajs.append(traj)
        shares.append(np.array([class_proportions(m, scenario.labels, n) for m in traj.masses]))
    return ClassShares(scenario, K, tuple(lams), trajs, shares)


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
                lim = _limit_of(sc, K=k, lam=lam)   # raises unless a verified fixed point
            except RuntimeError:
                unverified[i, j] = True
                continue
            traj = numerics.evolve(sc.mass, sc.reward, k, steps, lam=lam, data=sc.data)
            tv = np.array([tv_distance(m, lim.mass) for m in traj.masses])
            tvs[i, j] = tv
            factor[i, j] = measured_contraction_factor(tv)
    return ContractionPhase(sc, lams, K, steps, factor, kappa, unverified, tvs)


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
    lim = _limit_of(scenario)
    return Iterates1D(scenario, steps, traj, [traj.masses[where[t]] / vol for t in steps],
                      lim, lim.mass / vol, vol)
