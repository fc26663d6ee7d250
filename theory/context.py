"""What the checks read from one run: the start, the data, the reward, the trajectory, and
(lazily) the limit."""

from __future__ import annotations

import math
from functools import cached_property

import numpy as np

__all__ = ["RunContext"]


class RunContext:
    """One run of the retraining loop.

    Parameters
    ----------
    trajectory : numerics.Trajectory
        its step 0 must be recorded (it always is); ``masses[0]`` is ``p_0``.
    reward : array shaped like the masses
    data : array or None
        ``p_d`` (``None`` with a finite ``lam``: ``p_d = p_0``, as in ``evolve``).
    continuous : numerics.ContinuousRewardLaw or None
        the reward law of ``p_d`` where the scenario has one (T8's condensate).
    axes : tuple of 1-D arrays
        grid coordinates (T4's Gaussian moments).
    limit : numerics.Limit or None
        a precomputed limit (else computed by ``numerics.limit`` when a check needs it).
    rule : numerics.curators.Rule or None
        the run's curation rule (THEORY.md section 7; may also be passed as ``reward``, then
        ``reward`` is its first user type's); ``None``: one Bradley-Terry user.  The checks
        of :mod:`theory.rule_checks` read it; with a rule other than one Bradley-Terry
        reward the other checks do not apply.
    """

    def __init__(self, trajectory, reward, data=None, continuous=None, axes=(), limit=None,
                 rule=None):
        from numerics.curators import Rule
        from numerics.validation import as_reward
        from .user_checks import mass_problems
        self._masses = {}
        if isinstance(reward, Rule):  # a rule in place of the reward (section 7)
            rule = reward
            reward = rule.rewards_at(0, np.shape(trajectory.masses[0]))[0]
        #: the run's curation rule (``None``: one Bradley-Terry user, ``reward`` and ``K``)
        self.rule = rule
        self.trajectory = trajectory
        self.K = float(trajectory.K)
        self.lam = float(trajectory.lam)
        if trajectory.recorded_steps[0] != 0:
            raise ValueError("trajectory must record step 0")
        if data is None and math.isfinite(self.lam):
            data = (trajectory.info or {}).get("data")
        self.user = (trajectory.info or {}).get("source") == "user"
        raw0 = np.asarray(trajectory.masses[0], dtype=float)
        self.reward = as_reward(reward, raw0.shape)
        raw_data = None if math.isinf(self.lam) or data is None else np.asarray(data, float)
        #: ``(fatal, problems, worst)``: what is wrong with the masses (see ``run.masses``);
        #: with a fatal problem (NaN, negative, zero sum) no other check runs
        self.problems = mass_problems(trajectory, raw_data)
        self.invalid = self.problems[0]
        self.data_is_start = data is None
        self.continuous = continuous
        self.axes = tuple(axes)
        self._limit = limit
        self.shift = float(trajectory.exp_reward_shift)
        if self.invalid:
            return
        self.mass = self.mass_at(0)
        if math.isinf(self.lam):
            self.data = None
        elif data is None:
            self.data = self.mass
        else:
            self.data = raw_data / raw_data.sum()
            self.data_is_start = bool(np.array_equal(self.data, self.mass))
        self.support = self.mass > 0 if self.data is None else (self.mass > 0) | (self.data > 0)
        self.r_star = float(self.reward[self.support].max())
        self.r_min = float(self.reward[self.support].min())
        self.exp_r_star = math.exp(self.r_star - self.shift)

    @property
    def single_reward(self):
        """Whether the run is one fixed Bradley-Terry reward (what P1-P6, T1-T10 assume)."""
        from numerics.curators import BradleyTerry
        return self.rule is None or (isinstance(self.rule, BradleyTerry)
                                     and not self.rule.varies)

    @property
    def steps(self):
        return int(self.trajectory.steps)

    @property
    def recorded_steps(self):
        return [int(t) for t in self.trajectory.recorded_steps]

    def mass_at(self, i):
        """The masses at ``recorded_steps[i]`` divided by their sum (materialized once);
        whether they were normalized is the check ``run.masses``."""
        if i not in self._masses:
            m = np.asarray(self.trajectory.masses[i], dtype=float)
            self._masses[i] = m / m.sum()
        return self._masses[i]

    def iterates(self):
        """``[(t, p_t)]`` at every recorded step."""
        return [(t, self.mass_at(i)) for i, t in enumerate(self.recorded_steps)]

    def sample_iterates(self, count=4):
        """A few iterates for the operator checks (P1-P6): ``p_0``, ``p_1``, the middle and
        the last recorded step."""
        rec = self.recorded_steps
        picks = sorted({0, min(1, len(rec) - 1), (len(rec) - 1) // 2, len(rec) - 1})
        return [(rec[i], self.mass_at(i)) for i in picks][:count]

    @cached_property
    def limit(self):
        """``numerics.limit`` of this run (solved once)."""
        if self._limit is not None:
            return self._limit
        from numerics import limit
        return limit(self.mass, self.reward, self.K, self.lam, self.data)
