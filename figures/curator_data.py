"""Figures of curation rules beyond the seed (THEORY.md section 7, T12): computed by the engine
(``numerics``), laid out by :mod:`figures.curator_plots`.  As in :mod:`figures.data`, each
function returns a dataclass holding the engine's own results next to the plotted arrays.

- :func:`two_user_shares`: ``mog8-two-users`` at ``K = inf`` without real data; the T12 limit's
  mass within each user's optimal disc against the weight ``w`` of the first user type;
- :func:`adversarial_sweep`: ``adversarial``; ``E[r]`` after ``t`` steps (and, for ``K = inf``,
  ``E[e^r]`` at the T12 limit) against the fraction ``phi`` of curation events that use ``-r``.

Build times (2-core machine): ``two_user_shares()`` ~0.2 s; ``adversarial_sweep()`` ~1 s for
11 values of ``phi`` on 201 cells, limits included (gallery figure ``adversarial-sweep``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

import numerics
from numerics.scenarios import get_scenario

#: a T12 limit is drawn only when its reported KKT residuals are at most this
KKT_OK = 1e-9

__all__ = ["TwoUserShares", "two_user_shares", "AdversarialSweep", "adversarial_sweep"]


@dataclass
class TwoUserShares:
    """``shares[i, u]``: mass of the T12 limit on user ``u``'s optimal disc (its reward = 0)
    for the weight ``ws[i]`` (NaN where the limit did not converge); ``limits[i]`` the
    :class:`numerics.Limit`."""

    ws: np.ndarray
    shares: np.ndarray
    limits: list
    discs: tuple
    grid: int


def two_user_shares(ws=tuple(np.linspace(0.0, 1.0, 11)), grid=48):
    """``numerics.limit(mass, rule, inf, None)`` (T12) of ``mog8-two-users`` with ``K = inf``
    for each weight ``w``; the limit's mass within each user's disc."""
    ws = np.asarray(ws, dtype=float)
    shares, limits, discs = [], [], None
    for w in ws:
        sc = get_scenario("mog8-two-users", w=float(w), K=math.inf, grid=grid)
        if discs is None:
            discs = tuple(r == 0 for r in _user_rewards(sc))
        lim = numerics.limit(sc.mass, sc.rule, math.inf, None)
        limits.append(lim)
        # an unconverged limit (KKT residual above ACCEPT_KKT) is drawn as a gap, not a number
        shares.append([float(lim.mass[d].sum()) if lim.converged else math.nan
                       for d in discs])
    return TwoUserShares(ws, np.array(shares), limits, discs, grid)


def _user_rewards(sc):
    """The two user types' rewards of ``mog8-two-users`` (rebuilt at ``w = 1/2``, where both
    types are present)."""
    both = get_scenario("mog8-two-users", w=0.5, grid=sc.mass.shape[0], K=math.inf)
    return [r.rewards_at(0, sc.mass.shape)[0] for _, r in both.rule.components()]


@dataclass
class AdversarialSweep:
    """``expected[i]``: ``E_{p_t}[r]`` after ``t`` steps at ``phis[i]``; ``at_limit[i]``:
    ``E[e^r]`` at the T12 limit (``K = inf``; NaN otherwise), i.e. ``Z`` of the first user type.
    T12 fixes ``Z = (E[e^r], E[e^{-r}])`` uniquely (``Phi`` is strictly concave in ``Z``) but not
    the limit law itself (several atoms can share one ``Z``), so ``E[r]`` at the limit is not
    determined; ``E[e^r]`` is."""

    phis: np.ndarray
    t: int
    K: float
    expected: np.ndarray
    at_limit: np.ndarray
    trajectories: list
    limits: list
    grid: int


def adversarial_sweep(phis=tuple(np.linspace(0.0, 0.5, 6)), t=10, K=math.inf, grid=101):
    """``numerics.evolve(mass, rule, t)`` of ``adversarial`` per ``phi`` (``lam = inf``), and
    for ``K = inf`` the T12 limit ``numerics.limit(mass, rule, inf, None)``."""
    phis = np.asarray(phis, dtype=float)
    exp_t, exp_lim, trajs, lims = [], [], [], []
    for phi in phis:
        sc = get_scenario("adversarial", phi=float(phi), K=K, grid=grid)
        traj = numerics.evolve(sc.mass, sc.rule, int(t), math.inf, None)
        trajs.append(traj)
        exp_t.append(float(traj.expected_reward[-1]))
        if math.isinf(K):
            lim = numerics.limit(sc.mass, sc.rule, math.inf, None)
            lims.append(lim)
            kkt = max(lim.info.get("kkt_support", 0.0), lim.info.get("kkt_outside", 0.0))
            # T12's active set can stop unconverged (max_rounds) where e^{-r} spans many
            # orders (seen at phi = 0.25, 41 cells: kkt_support 1.9e7): no point is drawn then
            exp_lim.append(float(np.dot(lim.mass.ravel(), np.exp(sc.reward).ravel()))
                           if kkt <= KKT_OK else math.nan)
        else:
            lims.append(None)
            exp_lim.append(math.nan)
    return AdversarialSweep(phis, int(t), float(K), np.array(exp_t), np.array(exp_lim), trajs,
                            lims, grid)
