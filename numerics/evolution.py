"""Iterated retraining, ``p_{t+1} = C_K(p_t)`` or ``(p_d + lam C_K(p_t)) / (1 + lam)``
(THEORY.md sections 3 and 4), computed on the reward law.

Example
-------
>>> import numpy as np
>>> from numerics import evolve
>>> x = np.linspace(-3, 3, 601)
>>> traj = evolve(np.exp(-x**2 / 2), -x**2, K=4, steps=20)
>>> bool(np.all(np.diff(traj.expected_exp_reward) >= 0))   # T2: non-decreasing
True
>>> traj.masses[-1].shape
(601,)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .curators import BradleyTerry, Rule, as_rule
from .engine import CurationEngine, checked_summary, initial_resolution, resolved
from .threads import serial_blas
from .validation import (EXP_SAFE, as_mass, as_reward, check_K, check_lam, check_data,
                         check_steps)

__all__ = ["evolve", "Trajectory", "EvolutionInterrupted", "tilt"]

#: the default ``lam``, compared by identity to tell ``evolve(mass, rule, steps, lam, data)``
#: from the old positional form
_DEFAULT_LAM = math.inf



class RecordedMasses(Sequence):
    """The masses at the recorded steps, materialized on the grid when accessed (O(N) each).

    ``traj.masses[i]`` is an array shaped like the input; ``np.asarray(traj.masses)``
    stacks them all (mind the memory on large grids)."""

    def __init__(self, snapshots, shape):
        self._snapshots = snapshots
        self._shape = shape

    def __len__(self):
        return len(self._snapshots)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return self._snapshots[i]().reshape(self._shape)

    def __array__(self, dtype=None, copy=None):
        """All recorded steps in one ``(len, *shape)`` array, each step materialized straight
        into its row (no list of arrays and second copy, as ``np.stack`` would make)."""
        out = np.empty((len(self),) + tuple(self._shape),
                       dtype=np.float64 if dtype is None else dtype)
        for i in range(len(self)):
            out[i] = self[i]
        return out


@dataclass
class Trajectory:
    """Result of :func:`evolve` (or of your own loop: :meth:`Trajectory.from_masses`).

    Per-step arrays have length ``steps + 1`` (steps ``0..steps``):

    - ``expected_reward[t] = E_{p_t}[r]``
    - ``expected_exp_reward[t] = E_{p_t}[e^{r - c}]`` and
      ``var_exp_reward[t] = Var_{p_t}[e^{r - c}]`` with ``c = exp_reward_shift``
      (``c = 0``, i.e. the plain ``E[e^r]``, unless a reward exceeds 700 nats, where
      ``c = r_star`` keeps them finite; every theorem of THEORY.md is homogeneous in
      ``e^r``).

    ``masses[i]`` is the density at ``recorded_steps[i]`` (lazily materialized).
    ``r_star`` is the top reward of the support of ``p_0`` (and ``p_d``).
    """

    masses: RecordedMasses
    recorded_steps: np.ndarray
    expected_reward: np.ndarray
    expected_exp_reward: np.ndarray
    var_exp_reward: np.ndarray
    r_star: float
    exp_reward_shift: float
    K: float
    lam: float
    steps: int
    method: str
    retilts: int = 0
    info: dict = field(default_factory=dict)

    @classmethod
    def from_masses(cls, masses, reward, K, lam=math.inf, data=None):
        r"""A trajectory of your own iterates ``p_0, p_1, ..., p_T`` (every step), to hold
        against the theory with :func:`theory.check` (``theory.check(traj, reward)``).

        ``masses``: a sequence of arrays shaped like ``reward`` (or one array of shape
        ``(T + 1, *reward.shape)``); ``K``, ``lam``, ``data`` (``p_d``; ``None`` with a finite
        ``lam`` means ``p_d = p_0``) as in :func:`evolve`.

        The masses are kept exactly as given: they are neither normalized nor repaired.  The
        checker reports masses that are not normalized, negative, NaN or of zero sum as a
        failed row ``run.masses`` (with the step and the reason), and compares every step with
        the engine's one-step map (row ``run.step``).  Moments are those of the masses divided
        by their sums (``nan`` where that is undefined).

        >>> import math, numpy as np
        >>> p0 = np.array([0.5, 0.5]); r = np.array([0.0, 1.0])
        >>> p1 = p0 * np.exp(r) / (p0 @ np.exp(r))          # K = inf: p e^r / E_p[e^r]
        >>> traj = Trajectory.from_masses([p0, p1], r, K=math.inf)
        >>> traj.steps, traj.method
        (1, 'user')
        """
        K = check_K(K)
        lam = check_lam(lam)
        arrs = [np.array(m, dtype=np.float64) for m in masses]
        if not arrs:
            raise ValueError("masses must hold at least p_0")
        shape = arrs[0].shape
        if len(shape) == 0 or arrs[0].size == 0:
            raise ValueError(f"masses[0] must be a non-empty array, got shape {shape}")
        for t, m in enumerate(arrs):
            if m.shape != shape:
                raise ValueError(f"masses[{t}] has shape {m.shape}, expected {shape} "
                                 f"(the shape of masses[0])")
        r = as_reward(reward, shape)
        d = None
        if not math.isinf(lam) and data is not None:
            d = np.array(data, dtype=np.float64)
            if d.shape != shape:
                raise ValueError(f"data has shape {d.shape}, expected {shape} (the shape of "
                                 f"masses[0])")
        flat_r = r.ravel()
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            on = arrs[0].ravel() > 0
            if d is not None:
                on = on | (d.ravel() > 0)
            r_star = float(flat_r[on].max()) if on.any() else math.nan
            shift = r_star if r_star > EXP_SAFE else 0.0
            e = np.exp(flat_r - shift)
            mean_r, mean_e, var_e = [], [], []
            for m in arrs:
                p = m.ravel() / m.sum()
                sup = p != 0
                mean_r.append(float(p[sup] @ flat_r[sup]))
                me = float(p @ e)
                mean_e.append(me)
                var_e.append(float(p @ (e - me) ** 2))
        snaps = [(lambda m=m: m.copy()) for m in arrs]
        steps = len(arrs) - 1
        return cls(RecordedMasses(snaps, shape), np.arange(steps + 1), np.array(mean_r),
                   np.array(mean_e), np.array(var_e), r_star, shift, K, lam, steps, "user",
                   0, {"source": "user", "data": d})


class EvolutionInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`evolve`; ``.trajectory`` holds the steps completed so far."""

    def __init__(self, trajectory):
        super().__init__(f"interrupted after step {trajectory.steps}")
        self.trajectory = trajectory


def tilt(mass, reward, t):
    r"""``p_0 e^{t r} / E_{p_0}[e^{t r}]``: the ``K = inf`` iterate without real data (T4),
    in O(N) for any real ``t >= 0``, in log space.

    Raises
    ------
    ValidationError
        (a ``ValueError``) ``mass`` empty, negative, NaN, infinite or of zero total; ``reward``
        not shaped like ``mass``, NaN or infinite.
    ValidationTypeError
        (a ``TypeError``) ``mass`` or ``reward`` not an array of real numbers.
    ValueError
        ``t`` not a finite number ``>= 0``.
    TypeError
        ``t`` of a type ``float()`` does not take (e.g. ``None``).

    See Also
    --------
    evolve : the same iterates by the engine (``K = lam = inf``).
    theory.formulas.gaussian_tilt : the Gaussian case in closed form (T4.gauss).

    References
    ----------
    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    the link with RLHF: T4.

    docs/theory.md T4.
    """
    m = as_mass(mass)
    r = as_reward(reward, m.shape)
    t = float(t)
    if not (t >= 0 and math.isfinite(t)):
        raise ValueError(f"t must be a finite number >= 0, got {t!r}")
    with np.errstate(divide="ignore"):
        lp = np.log(m) + t * (r - r[m > 0].max())
    lp -= lp[m > 0].max()
    out = np.exp(lp)
    return out / out.sum()


@serial_blas
def evolve(mass, reward, K=None, steps=None, lam=_DEFAULT_LAM, data=None, *, record_every=1,
           method="auto", progress=None):
    r"""Evolve ``p_0 = mass`` for ``steps`` retraining steps.

    .. math::

        p_{t+1} = C_K(p_t) = p_t H_{p_t}^K \quad (\lambda = \infty), \qquad
        p_{t+1} = \frac{p_d + \lambda C_K(p_t)}{1 + \lambda} \quad (\lambda < \infty).

    Parameters
    ----------
    mass, reward : array_like, same shape (any)
        start masses ``p_0`` (normalized internally) and rewards.
    K : float
        real ``>= 1`` or ``math.inf``.
    steps : int
        number of steps, ``>= 0``.
    lam : float
        ratio of curated synthetic to real data; ``math.inf`` = curated only.
    data : array_like or None
        real-data masses ``p_d``; ``None`` with a finite ``lam`` means ``p_d = p_0``.
    record_every : int, keyword-only
        keep the masses of steps ``0, record_every, 2 record_every, ...`` and ``steps``.
    method : {"auto", "direct", "compressed"}, keyword-only
        see :func:`numerics.curation_factor`.
    progress : callable ``(step, steps)`` or None
        called after every step.

    Returns
    -------
    Trajectory

    Notes
    -----
    A step costs O(reward-law size x quadrature nodes), independent of the grid.  With
    ``K = lam = inf`` the recorded masses use the closed form ``p_0 e^{t r}`` (T4).
    On Ctrl-C, raises :class:`EvolutionInterrupted` carrying the completed steps.

    ``reward`` may be a curation rule of :mod:`numerics.curators`, with ``K`` left out:
    ``evolve(mass, rule, steps, lam, data, ...)``.  One-reward rules (L4, L5) run on the
    reward law like Bradley-Terry; mixtures, filters and rewards changing with ``t`` on the
    exact joint-atom engine (:class:`numerics.joint.JointEngine`).  The per-step arrays then
    refer to the first user type's reward (at step ``t``); ``info["rule"]`` names the rule,
    and ``info["expected_reward_by_user"]`` (shape ``(steps + 1, U)``) holds ``E_{p_t}[r_u]``
    for every user type ``u`` of the rule, in the order of ``rule.components()``.

    Raises
    ------
    ValidationError
        (a ``ValueError``) ``mass`` empty, negative, NaN, infinite or of zero total; ``reward``
        not shaped like ``mass``, NaN or infinite; ``K`` NaN or ``< 1``.
    ValidationTypeError
        (a ``TypeError``) ``mass`` or ``reward`` not an array of real numbers; ``K`` not a real
        number.
    TypeError
        ``K`` missing with a reward array, or given with a curation rule (:func:`as_rule`).
    ValidationError
        (a ``ValueError``) ``lam`` NaN or ``< 0``; ``data`` missing with a finite ``lam``, or
        invalid like ``mass`` (negative, NaN, zero total, another shape).
    ValidationTypeError
        (a ``TypeError``) ``lam`` not a real number.
    ValidationError
        (a ``ValueError``) ``steps`` or ``record_every`` negative; ``record_every < 1``.
    ValidationTypeError
        (a ``TypeError``) ``steps`` or ``record_every`` not an integer.
    TypeError
        ``steps`` missing.
    ValueError
        ``method`` not one of ``"auto"``, ``"direct"``, ``"compressed"``; a curation rule's
        reward invalid on this grid (``accept`` outside ``[0, 1]`` or 0 on the whole support, a
        per-step reward sequence too short).
    EvolutionInterrupted
        on Ctrl-C (``KeyboardInterrupt``), carrying the completed steps in ``.trajectory``.

    See Also
    --------
    retrain_step : one step.
    tilt : the closed form for ``K = lam = inf`` (T4).
    limit : the limit, solved directly (T3, T8, T9).
    theory.check : hold the trajectory against the statements of docs/theory.md.

    References
    ----------
    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    Lemma 2.2 (T1), Theorem 2.1 (T3), Theorem 2.3 (T6.increment).

    Kingman (1978), *A simple model for the balance between selection and mutation*,
    J. Appl. Prob. 15:
    T8: ``K = inf`` with real data.

    docs/theory.md sections 3 and 4.
    """
    if isinstance(reward, Rule) and K is not None:
        # evolve(mass, rule, steps, lam, data): the positional arguments after the rule move
        # up one place (K holds steps, steps holds lam, lam holds data); keywords stay put
        if steps is None:                    # lam and data, if any, came by keyword
            K, steps = None, K
        else:
            if lam is not _DEFAULT_LAM and data is not None:
                raise TypeError("evolve(mass, rule, steps, lam, data) takes no further "
                                "positional argument (record_every is keyword-only)")
            K, steps, lam, data = None, K, steps, (data if lam is _DEFAULT_LAM else lam)
    rule = as_rule(reward, K)
    if steps is None:
        raise TypeError("steps is required")
    if not isinstance(rule, BradleyTerry) or rule.varies:
        return _evolve_rule(mass, rule, steps, lam, data, record_every, method, progress)
    if isinstance(reward, BradleyTerry):
        reward, K = rule.reward_spec.value, rule.K
    # the arguments' values are checked in the pass that gives the engine its reward range
    # and totals (cell_summary); where it finds a fault, the full checks name it
    m, steps, lam, record_every, d = _run_arguments(mass, steps, lam, data, record_every,
                                                    values=False)
    r = as_reward(reward, m.shape, values=False)
    K = check_K(K)
    summary = _checked_summary(r, m, d)
    if summary is None:
        m, steps, lam, record_every, d = _run_arguments(mass, steps, lam, data, record_every)
        r = as_reward(reward, m.shape)
    separate_data = d is not None and d is not m
    flat_r, flat_m = r.ravel(), m.ravel()
    flat_d = d.ravel() if separate_data else None
    closed_form = math.isinf(K) and math.isinf(lam)

    def make(resolution):
        return CurationEngine(flat_r, flat_m, flat_d, K, lam, method=method,
                              resolution=resolution, summary=summary)

    def run(eng):
        r_star = eng.r_max
        shift = 0.0 if r_star <= EXP_SAFE else r_star
        scale = math.exp(r_star - shift)
        mean_r = np.empty(steps + 1)
        mean_e = np.empty(steps + 1)
        var_e = np.empty(steps + 1)
        snaps, rec = [], []

        def record(t, snap):
            if t == 0:  # the start itself: no need to keep the engine's arrays of step 0
                snaps.append(lambda: m / m.sum())
            else:
                snaps.append((lambda t=t: tilt(m, r, t)) if closed_form else snap.materialize)
            rec.append(t)

        def stats(t):
            mean_s, var_s, mr = eng.moments()
            mean_r[t] = mr
            mean_e[t] = scale * mean_s
            var_e[t] = scale * scale * var_s

        def result(done):
            info = {"resolution": eng.resolution.describe(), "restarts": list(restarts)}
            return Trajectory(RecordedMasses(snaps, m.shape), np.array(rec), mean_r[:done + 1],
                              mean_e[:done + 1], var_e[:done + 1], r_star, shift, K, lam, done,
                              eng.method, eng.rebuilds, info)

        stats(0)
        last, done = eng.snapshot(), 0
        record(0, last)
        try:
            for t in range(1, steps + 1):
                eng.advance()
                stats(t)
                last, done = eng.snapshot(), t
                if t % record_every == 0 or t == steps:
                    record(t, last)
                if progress is not None:
                    progress(t, steps)
        except KeyboardInterrupt:
            if rec[-1] != done:
                record(done, last)
            raise EvolutionInterrupted(result(done)) from None
        return result(steps)

    restarts = []
    traj, _, _ = resolved(make, run, resolution=initial_resolution(K, lam, steps),
                          restarts=restarts)
    return traj


def _run_arguments(mass, steps, lam, data, record_every, values=True):
    """The checked arguments of a run: ``(mass, steps, lam, record_every, data)``; ``data``
    defaults to ``mass`` for a finite ``lam`` (masses are normalized by the engines);
    ``values=False``: the arrays' types and shapes only (:func:`_checked_summary`)."""
    m = as_mass(mass, values=values)
    steps = check_steps(steps)
    lam = check_lam(lam)
    record_every = check_steps(record_every, "record_every")
    if record_every < 1:
        raise ValueError(f"record_every must be >= 1, got {record_every}")
    return m, steps, lam, record_every, check_data(data, lam, m.shape, default=m,
                                                   values=values)


def _checked_summary(r, m, d):
    """:func:`numerics.engine.checked_summary` of the arrays (``d``: the data, or ``None``, or
    ``m``)."""
    return checked_summary(r.ravel(), m.ravel(), d.ravel() if d is not None and d is not m
                           else None)


def _evolve_rule(mass, rule, steps, lam, data, record_every, method, progress):
    """:func:`evolve` for a curation rule other than a fixed Bradley-Terry one."""
    from .curation import _rule_path, engine_for_rule
    from .joint import JointEngine
    from .pair_law import compressed_pair_engine, smooth_static
    m, steps, lam, record_every, d = _run_arguments(mass, steps, lam, data, record_every)
    separate_data = d is not None and d is not m
    flat_m = m.ravel()
    flat_d = d.ravel() if separate_data else None
    joint = _rule_path(rule) == "joint"
    if joint:
        first_r = rule.rewards_at(0, m.shape)[0]
    else:
        first_r = as_reward(rule.rewards_at(0, m.shape)[0], m.shape)
    # two static rewards of smooth rules: the compressed joint law (numerics.pair_law), on
    # the ladder of resolutions down to the exact joint-atom engine
    pairs = joint and smooth_static(rule)   # the reward arrays are compared once, by the layout

    def make(resolution):
        if joint:
            eng = (compressed_pair_engine(rule, flat_m, flat_d, lam, m.shape, resolution,
                                          method) if pairs else None)
            return eng if eng is not None else JointEngine(rule, flat_m, flat_d, lam, m.shape)
        return engine_for_rule(rule, first_r.ravel(), flat_m, flat_d, lam, method, resolution)

    def run(eng):
        if getattr(eng, "first_reward_top", None) is not None:
            r_star = eng.first_reward_top      # the compressed joint law has it at hand
        else:
            sup = (flat_m > 0) if flat_d is None else ((flat_m > 0) | (flat_d > 0))
            r_star = float(np.max(first_r.ravel()[sup]))
        shift = 0.0 if r_star <= EXP_SAFE else r_star
        mean_r, mean_e, var_e = (np.empty(steps + 1) for _ in range(3))
        by_user = np.empty((steps + 1, len(rule.components())))
        snaps, rec = [], []

        def stats(t):
            if joint:
                mean_s, var_s, mr, top = eng.moments(min(t, max(steps - 1, 0)))
                by_user[t] = eng.expected_rewards(min(t, max(steps - 1, 0)))
            else:
                (mean_s, var_s, mr), top = eng.moments(), eng.r_max
            scale = math.exp(top - shift)
            mean_r[t], mean_e[t], var_e[t] = mr, scale * mean_s, scale * scale * var_s
            if not joint:
                by_user[t] = mr

        def record(t):
            if t == 0:
                snaps.append(lambda: m / m.sum())
            else:
                snap = eng.snapshot()
                snaps.append(snap if joint else snap.materialize)
            rec.append(t)

        def result(done):
            info = {"rule": repr(rule), "restarts": list(restarts),
                    "expected_reward_by_user": by_user[:done + 1].copy(),
                    "resolution": ("joint atoms (exact)" if isinstance(eng, JointEngine)
                                   else getattr(eng, "describe", eng.resolution.describe)())}
            return Trajectory(RecordedMasses(snaps, m.shape), np.array(rec), mean_r[:done + 1],
                              mean_e[:done + 1], var_e[:done + 1], r_star, shift,
                              float(rule.K), lam, done, eng.method,
                              getattr(eng, "rebuilds", 0), info)

        stats(0)
        record(0)
        done = 0
        try:
            for t in range(1, steps + 1):
                eng.advance()
                stats(t)
                done = t
                if t % record_every == 0 or t == steps:
                    record(t)
                if progress is not None:
                    progress(t, steps)
        except KeyboardInterrupt:
            if rec[-1] != done:
                record(done)
            raise EvolutionInterrupted(result(done)) from None
        return result(steps)

    restarts = []
    if joint and not pairs:
        return run(make(None))
    traj, _, _ = resolved(make, run, restarts=restarts)
    return traj
