"""The data of the curve figures (:mod:`figures.curves`): the reward trajectories against
T1's and T2's bounds (figure 4) and the class proportions over the steps (figure 5)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

import numerics
from numerics.scenarios import Scenario
from theory import formulas

__all__ = ["RewardBounds", "reward_bounds", "ClassShares", "class_shares", "class_proportions",
           "INF"]

INF = math.inf


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


