"""The cross-check of a sample-based run against the exact engine
(:func:`compare_with_exact`) and the CLT statistics it rests on: the cluster-robust standard
error of a mean over kept samples (:func:`cluster_se`) and the z-scores."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .sampling_selection import rule_at
from .simulation import Simulation
from .validation import ValidationTypeError

__all__ = ["CrossCheck", "compare_with_exact", "cluster_se"]


def cluster_se(stat, event, n):
    """Mean of ``stat`` over the ``n`` kept samples and its cluster-robust standard error
    (clusters = curation events ``event``): ``se^2 = G/(G-1) sum_g (S_g - n_g mean)^2 / n^2``
    with ``G`` events, ``S_g``, ``n_g`` the sum and count of event ``g``.  With one sample per
    event it is ``sd / sqrt(n)`` (``ddof = 1``)."""
    mu = float(stat.sum()) / n
    _, inv = np.unique(event, return_inverse=True)
    G = int(inv.max()) + 1 if inv.size else 0
    S = np.bincount(inv, weights=stat, minlength=G)
    cnt = np.bincount(inv, minlength=G)
    if G < 2:
        return mu, 0.0
    var = G / (G - 1.0) * float(((S - cnt * mu) ** 2).sum()) / (n * n)
    return mu, math.sqrt(max(var, 0.0))


@dataclass
class CrossCheck:
    r"""Result of :func:`compare_with_exact`; per-generation arrays, ``t = 0..steps-1``
    unless said otherwise.

    - ``sample_mean_reward``, ``sample_se``: from the simulation (curated samples of gen. t);
    - ``conditional_reward[t] = E_{C_K(q_t)}[r]``: the exact curated mean of the CURRENT
      fitted model (``numerics.curate(q_t, r, K)``);
    - ``z_conditional = (sample mean - conditional_reward) / se``: the CLT test;
    - ``exact_curated_reward[t] = E_{C_K(p_t)}[r]``, ``p_t`` the exact iterates
      (``numerics.evolve`` with ``lam = effective_lam``); ``z_exact`` likewise;
    - ``exact_expected_reward[t] = E_{p_t}[r]`` and ``tv[t] = TV(q_t, p_t)``, ``t = 0..steps``;
    - ``passed``: ``max |z_conditional| <= z_limit``.
    """

    simulation: Simulation
    exact_expected_reward: np.ndarray
    exact_curated_reward: np.ndarray
    conditional_reward: np.ndarray
    z_conditional: np.ndarray
    z_exact: np.ndarray
    tv: np.ndarray
    z_limit: float
    passed: bool


def _z(diff, se):
    with np.errstate(divide="ignore", invalid="ignore"):
        z = diff / se
    # se = 0: every curated sample had the same reward; exact agreement is z = 0
    return np.where(se > 0, z, np.where(np.abs(diff) <= 1e-12 * (1 + np.abs(diff)), 0.0,
                                        np.copysign(np.inf, diff)))


def compare_with_exact(sim, z_limit=5.0, *, method="auto"):
    r"""Hold a :class:`Simulation` against the exact engine.

    Which comparison is a valid 5-standard-error test?  The curated samples of generation
    ``t`` are i.i.d. from ``C_K(q_t)`` GIVEN the fitted model ``q_t``, so their mean of ``r``
    satisfies, by the CLT, ``(mean - E_{C_K(q_t)}[r]) / se ~ N(0, 1)`` approximately: that is
    ``z_conditional``, exact up to the normal approximation for every model and every
    generation, and ``passed`` tests ``|z_conditional| <= z_limit`` at every generation
    (for 5 SE and 50 generations a false alarm has probability ~ 3e-5).  The exact iterate
    ``p_t`` differs from ``q_t`` for ``t >= 1`` by the sampling noise of earlier generations
    (also ``O(n^{-1/2})``, so NOT small against ``se``): ``z_exact`` (against
    ``E_{C_K(p_t)}[r]``) is reported, and the drift is measured by ``tv[t] = TV(q_t, p_t)``,
    but neither is a calibrated test.  With the gaussian and kde models ``p_t`` is the
    infinite-capacity dynamics, which they do not follow (finite capacity, section 5): hold a
    gaussian-model run against the exact parametric dynamics with
    :func:`numerics.parametric.simulation_check.compare_gaussian_with_parametric` (what
    ``selfconsume simulate --model gaussian`` does).

    Raises
    ------
    ValidationTypeError
        (a ``TypeError``) ``sim`` not a :class:`Simulation` (from :func:`simulate`).
    ValueError
        ``method`` not one of ``"auto"``, ``"direct"``, ``"compressed"``.
    TypeError
        ``z_limit`` not a real number (numpy's comparison with the z-scores).

    See Also
    --------
    numerics.sampling.simulate : the run held against the exact engine.
    numerics.curate : ``C_K(q_t)``, the law the curated samples are drawn from.
    numerics.parametric.simulation_check.compare_gaussian_with_parametric : the same test
        for a gaussian-model run (finite capacity).

    References
    ----------
    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    Lemma 2.1 (L1: ``C_K``, the law of the curated samples).

    docs/theory.md section 6 (the sample-based loop as a cross-check of the exact solvers).
    """
    from .curation import curate
    from .evolution import evolve

    if not isinstance(sim, Simulation):
        raise ValidationTypeError(f"sim must be a Simulation (from simulate), got "
                                  f"{type(sim).__name__}")
    if sim.rule is not None:
        return _compare_rule(sim, z_limit, method)
    r = sim.reward
    lam = sim.effective_lam
    traj = evolve(sim.masses[0], r, sim.K, sim.steps, lam, sim.data, method=method)
    er = np.asarray(traj.expected_reward)
    if math.isinf(lam):
        exact_cur = er[1:]
    else:  # p_{t+1} = (p_d + lam C(p_t)) / (1 + lam)  =>  E_C[r] = ((1+lam) E_{t+1} - E_d) / lam
        e_d = float(np.dot(sim.data.ravel(), r.ravel()))
        exact_cur = ((1 + lam) * er[1:] - e_d) / lam
    cond = np.array([float(np.dot(curate(sim.masses[t], r, sim.K, method=method).ravel(),
                                  r.ravel())) for t in range(sim.steps)])
    tv = np.array([0.5 * float(np.abs(sim.masses[t] - traj.masses[t]).sum())
                   for t in range(sim.steps + 1)])
    z_c = _z(sim.sample_mean_reward - cond, sim.sample_se)
    z_e = _z(sim.sample_mean_reward - exact_cur, sim.sample_se)
    passed = bool(np.all(np.abs(z_c) <= z_limit))
    return CrossCheck(sim, er, exact_cur, cond, z_c, z_e, tv, float(z_limit), passed)


def _compare_rule(sim, z_limit, method):
    """:func:`compare_with_exact` for a rule run (or a model object): per generation the rule
    frozen at step ``t`` (:func:`rule_at`), ``cond[t] = E_{C(q_t)}[f_t]`` with
    ``numerics.curate(q_t, rule_t)``, and the exact iterates ``p_{t+1} = (p_d + lam' C(p_t)) /
    (1 + lam')`` from the same ``curate``; ``exact_expected_reward[t] = E_{p_t}[f_t]``."""
    from .curation import curate

    shape = sim.masses[0].shape
    lam = sim.effective_lam
    stats = sim.statistics
    f_end = stats[-1] if stats else sim.reward
    p = np.asarray(sim.masses[0], dtype=np.float64)
    p = p / p.sum()
    er = np.empty(sim.steps + 1)
    exact_cur, cond = np.empty(sim.steps), np.empty(sim.steps)
    tv = np.empty(sim.steps + 1)
    tv[0] = 0.5 * float(np.abs(sim.masses[0] - p).sum())
    er[0] = float(np.dot(p.ravel(), (stats[0] if stats else sim.reward).ravel()))
    for t in range(sim.steps):
        rt = rule_at(sim.rule, t, shape)
        f = stats[t].ravel()
        c_p = curate(p, rt, method=method)
        exact_cur[t] = float(np.dot(c_p.ravel(), f))
        cond[t] = float(np.dot(curate(sim.masses[t], rt, method=method).ravel(), f))
        p = c_p if math.isinf(lam) else (sim.data + lam * c_p) / (1.0 + lam)
        tv[t + 1] = 0.5 * float(np.abs(sim.masses[t + 1] - p).sum())
        er[t + 1] = float(np.dot(p.ravel(), (stats[t + 1] if t + 1 < sim.steps
                                             else f_end).ravel()))
    z_c = _z(sim.sample_mean_reward - cond, sim.sample_se)
    z_e = _z(sim.sample_mean_reward - exact_cur, sim.sample_se)
    passed = bool(np.all(np.abs(z_c) <= z_limit))
    return CrossCheck(sim, er, exact_cur, cond, z_c, z_e, tv, float(z_limit), passed)
