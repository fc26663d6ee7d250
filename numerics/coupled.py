r"""Several models feeding each other (THEORY.md section 7; Zhang, Wei, Zhang, ICML 2026).

Model ``i`` retrains on real data, on the raw outputs of every model ``j`` and on the outputs
of model ``j`` curated by model ``i``'s own users (rule ``C_i``, e.g. Bradley-Terry with reward
``r_i``)::

    p^i_{t+1} = a_i p_d + sum_j (b_ij p^j_t + c_ij C_i(p^j_t)),    a_i + sum_j (b_ij + c_ij) = 1,

with ``a, b, c >= 0``.  Each ``C_i(p^j)`` is :func:`numerics.curate` (exact engine: L1-L6).

- :func:`coupled_step`: one step of the map;
- :func:`coupled_evolve`: per-model trajectories (masses and ``E_{p^i_t}[r_i]`` per step);
- :func:`coupled_limit`: the fixed point, by **plain iteration of the map** until
  ``max_i TV(p^i_{t+1}, p^i_t) <= tol`` (default ``1e-14``); the returned point is then
  verified to be a fixed point, ``max_i TV(F(p)^i, p^i) <= 1e-10``, else ``ArithmeticError``;
- :func:`coupled_sensitivity`: how a change of one model's reward moves another model's
  expected reward at the limit: ``d E_{p^j_lim}[r_j] / d eps`` for ``r_i -> r_i + eps g``, by
  Richardson-extrapolated central differences ``(4 D(h/2) - D(h))/3`` with the error
  estimate ``|R - D(h/2)|``.

>>> import math, numpy as np
>>> from numerics.coupled import coupled_limit
>>> r1, r2 = np.array([0.0, 1.0, 2.0]), np.array([2.0, 1.0, 0.0])
>>> d = np.full(3, 1 / 3)
>>> a = [0.5, 0.5]; b = [[0, 0], [0, 0]]; c = [[0.25, 0.25], [0.25, 0.25]]
>>> lim = coupled_limit([d, d], [r1, r2], a, b, c, d, K=math.inf)
>>> lim.residual <= 1e-10
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["coupled_step", "coupled_evolve", "coupled_limit", "coupled_sensitivity",
           "CoupledTrajectory", "CoupledLimit"]

#: a row of (a, b, c) must sum to 1 within this
ROW_TOL = 1e-12
#: coupled_limit verifies its answer to this (max over models of TV(F(p)^i, p^i))
FIXED_POINT_TOL = 1e-10


def _rules(rules, K, M):
    from .curators import BradleyTerry, as_rule
    if isinstance(rules, np.ndarray) or not isinstance(rules, (list, tuple)):
        raise TypeError("rules must be a list of rules (or reward arrays with K), one per model")
    if len(rules) != M:
        raise ValueError(f"rules: expected {M} (one per model), got {len(rules)}")
    out = []
    for i, r in enumerate(rules):
        out.append(as_rule(r, K, name=f"rules[{i}]"))
    return out


def _coefficients(a, b, c, M):
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    c = np.asarray(c, dtype=float)
    for name, x, shape in (("a", a, (M,)), ("b", b, (M, M)), ("c", c, (M, M))):
        if x.shape != shape:
            raise ValueError(f"{name} must have shape {shape} for {M} models, got {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError(f"{name} has non-finite entries")
        if np.any(x < 0):
            raise ValueError(f"{name} has negative entries: {name} >= 0 is required")
    rows = a + b.sum(axis=1) + c.sum(axis=1)
    bad = np.flatnonzero(np.abs(rows - 1.0) > ROW_TOL)
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"row {i} of (a, b, c) sums to {rows[i]!r}, not 1: a[{i}] + "
                         f"sum_j b[{i}, j] + sum_j c[{i}, j] must be 1")
    return a, b, c


def _setup(masses, rules, a, b, c, data, K):
    from .validation import as_mass
    if isinstance(masses, np.ndarray) and masses.ndim >= 1 and masses.dtype != object:
        masses = list(masses)
    if not isinstance(masses, (list, tuple)) or not masses:
        raise TypeError("masses must be a non-empty list of arrays, one per model")
    ms = [as_mass(m) for m in masses]
    M = len(ms)
    if any(m.shape != ms[0].shape for m in ms):
        raise ValueError("masses: every model's masses must have the same shape")
    ms = [m / m.sum() for m in ms]
    rl = _rules(rules, K, M)
    a, b, c = _coefficients(a, b, c, M)
    if data is None:
        if np.any(a > 0):
            raise ValueError("data is required when some a_i > 0 (real data p_d)")
        d = None
    else:
        d = as_mass(data)
        if d.shape != ms[0].shape:
            raise ValueError(f"data must have the masses' shape {ms[0].shape}, got {d.shape}")
        d = d / d.sum()
    return ms, rl, a, b, c, d


def _step(ms, rl, a, b, c, d):
    from . import curate
    M = len(ms)
    out = []
    for i in range(M):
        q = a[i] * d if (d is not None and a[i] > 0) else np.zeros(ms[0].shape)
        for j in range(M):
            if b[i, j] > 0:
                q = q + b[i, j] * ms[j]
            if c[i, j] > 0:
                q = q + c[i, j] * curate(ms[j], rl[i])
        out.append(q / q.sum())
    return out


def coupled_step(masses, rules, a, b, c, data=None, *, K=None):
    r"""One step ``p^i -> a_i p_d + sum_j (b_ij p^j + c_ij C_i(p^j))`` for every model ``i``.

    ``masses``: list of ``M`` arrays (one shape); ``rules``: ``M`` curation rules
    (:mod:`numerics.curators`) or reward arrays with ``K``; ``a`` (``M``), ``b``, ``c``
    (``M x M``): non-negative, each row ``a_i + sum_j (b_ij + c_ij)`` equal to 1 (to 1e-12);
    ``data``: ``p_d`` (required when some ``a_i > 0``).  Returns the list of new masses
    (normalized; the sum is 1 up to rounding before normalization).

    Raises
    ------
    TypeError
        ``masses`` not a non-empty list of arrays; ``rules`` not a list; a rule's ``K`` missing
        or doubled (:func:`numerics.curators.as_rule`).
    ValueError
        ``rules``, ``a``, ``b``, ``c`` of the wrong length or shape, negative or non-finite
        coefficients, a row of ``(a, b, c)`` not summing to 1; masses of different shapes;
        ``data`` missing while some ``a_i > 0``, or of another shape.
    ValidationError, ValidationTypeError
        invalid masses, ``data``, rewards or ``K`` (:mod:`numerics.validation`).

    See Also
    --------
    coupled_evolve : many steps.
    coupled_limit : the fixed point.

    References
    ----------
    Zhang, Wei, Zhang (2026), ICML 2026, arXiv 2605.29267 (several models feeding each other).

    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    the curation operator ``C_K`` (L1-L3).

    docs/theory.md section 7.
    """
    ms, rl, a, b, c, d = _setup(masses, rules, a, b, c, data, K)
    return _step(ms, rl, a, b, c, d)


def _expected_rewards(ms, rl):
    out = []
    for m, r in zip(ms, rl):
        rew = np.asarray(r.rewards_at(0, m.shape)[0], float)
        on = m > 0
        out.append(float(m[on] @ rew[on]))
    return out


@dataclass
class CoupledTrajectory:
    """``masses[t][i]``: ``p^i_t`` (``t = 0..steps``); ``expected_reward[t, i]``:
    ``E_{p^i_t}[r_i]``, ``r_i`` the (first user type's) reward of model ``i``'s rule."""

    masses: list
    expected_reward: np.ndarray
    steps: int


def coupled_evolve(masses, rules, a, b, c, data=None, steps=1, *, K=None):
    """``steps`` steps of :func:`coupled_step`; every step recorded.

    Raises
    ------
    TypeError
        ``masses`` not a non-empty list of arrays; ``rules`` not a list; a rule's ``K`` missing
        or doubled (:func:`numerics.curators.as_rule`).
    ValueError
        ``rules``, ``a``, ``b``, ``c`` of the wrong length or shape, negative or non-finite
        coefficients, a row of ``(a, b, c)`` not summing to 1; masses of different shapes;
        ``data`` missing while some ``a_i > 0``, or of another shape.
    ValidationError, ValidationTypeError
        invalid masses, ``data``, rewards or ``K`` (:mod:`numerics.validation`).
    ValueError
        ``steps`` not an integer ``>= 0``.

    See Also
    --------
    coupled_step : one step.
    coupled_limit : the fixed point.

    References
    ----------
    Zhang, Wei, Zhang (2026), ICML 2026, arXiv 2605.29267 (several models feeding each other).

    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    the curation operator ``C_K`` (L1-L3).

    docs/theory.md section 7.
    """
    ms, rl, a, b, c, d = _setup(masses, rules, a, b, c, data, K)
    if isinstance(steps, bool) or int(steps) != steps or steps < 0:
        raise ValueError(f"steps must be an integer >= 0, got {steps!r}")
    traj = [ms]
    er = [_expected_rewards(ms, rl)]
    for _ in range(int(steps)):
        ms = _step(ms, rl, a, b, c, d)
        traj.append(ms)
        er.append(_expected_rewards(ms, rl))
    return CoupledTrajectory(traj, np.array(er), int(steps))


@dataclass
class CoupledLimit:
    """``masses[i]``: ``p^i`` at the fixed point; ``expected_reward[i] = E_{p^i}[r_i]``;
    ``iterations``; ``residual = max_i TV(F(p)^i, p^i)`` (verified ``<= 1e-10``)."""

    masses: list
    expected_reward: np.ndarray
    iterations: int
    residual: float


def _tv(p, q):
    return 0.5 * float(np.abs(p - q).sum())


def coupled_limit(masses, rules, a, b, c, data=None, *, K=None, tol=1e-14,
                  max_iter=100000):
    r"""The fixed point of the coupled map, by plain iteration from ``masses`` until
    ``max_i TV(p^i_{t+1}, p^i_t) <= tol``; then ``residual = max_i TV(F(p)^i, p^i)`` is
    recomputed and must be ``<= 1e-10`` (``ArithmeticError`` otherwise, and when
    ``max_iter`` iterations do not reach ``tol``).  The iteration converges where the map
    contracts (e.g. enough real data, ``a_i`` large); it is the map itself, so a limit found
    is a fixed point whatever the route.

    Raises
    ------
    TypeError
        ``masses`` not a non-empty list of arrays; ``rules`` not a list; a rule's ``K`` missing
        or doubled (:func:`numerics.curators.as_rule`).
    ValueError
        ``rules``, ``a``, ``b``, ``c`` of the wrong length or shape, negative or non-finite
        coefficients, a row of ``(a, b, c)`` not summing to 1; masses of different shapes;
        ``data`` missing while some ``a_i > 0``, or of another shape.
    ValidationError, ValidationTypeError
        invalid masses, ``data``, rewards or ``K`` (:mod:`numerics.validation`).
    ArithmeticError
        no convergence to ``tol`` in ``max_iter`` iterations, or a verified residual above
        ``1e-10``.

    See Also
    --------
    coupled_evolve : the iterates.
    coupled_sensitivity : how the limit moves with one model's reward.

    References
    ----------
    Zhang, Wei, Zhang (2026), ICML 2026, arXiv 2605.29267 (several models feeding each other).

    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    the curation operator ``C_K`` (L1-L3).

    docs/theory.md section 7.
    """
    ms, rl, a, b, c, d = _setup(masses, rules, a, b, c, data, K)
    it = 0
    while True:
        new = _step(ms, rl, a, b, c, d)
        it += 1
        change = max(_tv(x, y) for x, y in zip(new, ms))
        ms = new
        if change <= tol:
            break
        if it >= max_iter:
            raise ArithmeticError(f"coupled_limit: no convergence in {max_iter} iterations "
                                  f"(last change {change:.3g} in TV)")
    res = max(_tv(x, y) for x, y in zip(_step(ms, rl, a, b, c, d), ms))
    if not res <= FIXED_POINT_TOL:
        raise ArithmeticError(f"coupled_limit: residual {res:.3g} > {FIXED_POINT_TOL:g}")
    return CoupledLimit(ms, np.array(_expected_rewards(ms, rl)), it, res)


def coupled_sensitivity(masses, rewards, K, a, b, c, data, *, source, target, direction,
                        h=1e-3, tol=1e-14):
    r"""``d E_{p^target_lim}[r_target] / d eps`` for ``r_source -> r_source + eps g``
    (``g = direction``), every model's users Bradley-Terry with its reward ``rewards[i]`` and
    ``K``.  Central differences ``D(h) = (f(h) - f(-h)) / (2h)`` of the limit (each solved
    by :func:`coupled_limit` to ``tol``), Richardson ``R = (4 D(h/2) - D(h)) / 3`` (error
    ``O(h^4)``); returns ``(R, error estimate |R - D(h/2)|)``.

    Raises
    ------
    ValueError
        ``source`` or ``target`` not a model index; ``direction`` not shaped like the source's
        reward.
    TypeError, ValueError, ArithmeticError
        as :func:`coupled_limit` for the perturbed problems.

    See Also
    --------
    coupled_limit : the limits it differentiates.

    References
    ----------
    Zhang, Wei, Zhang (2026), ICML 2026, arXiv 2605.29267 (several models feeding each other).

    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    the curation operator ``C_K`` (L1-L3).

    docs/theory.md section 7.
    """
    from .curators import bradley_terry
    rewards = [np.asarray(r, float) for r in rewards]
    g = np.asarray(direction, float)
    M = len(rewards)
    if not (0 <= source < M and 0 <= target < M):
        raise ValueError(f"source and target must be model indices in 0..{M - 1}")
    if g.shape != rewards[source].shape:
        raise ValueError(f"direction must have the reward's shape {rewards[source].shape}")

    def f(eps):
        rs = [r + eps * g if i == source else r for i, r in enumerate(rewards)]
        rules = [bradley_terry(r, K) for r in rs]
        lim = coupled_limit(masses, rules, a, b, c, data, tol=tol)
        p = lim.masses[target]
        return float(p @ rewards[target])

    def D(step):
        return (f(step) - f(-step)) / (2 * step)

    d1, d2 = D(h), D(h / 2)
    R = (4 * d2 - d1) / 3
    return R, abs(R - d2)
