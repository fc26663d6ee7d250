"""Counterexample search for a :class:`~theory.claims.Claim` (random search + shrinking).

``falsify(claim, budget, seed)`` draws ``budget`` instances from the claim's
:class:`~theory.claims.InstanceSpace` (one in three a "simple" instance: integer masses,
rewards ``log 1 .. log 9``, small integer ``K``, small rational ``lam``; the others generic:
masses down to 1e-300 and zeros, reward spreads of many nats, ties, offsets of thousands of
nats, ``K`` up to 1e6) and evaluates ``claim.violation`` on each.  At the first instance whose
violation exceeds ``claim.tolerance`` it stops and *shrinks*: while the violation persists
it shortens the horizon, drops atoms, replaces ``K`` by a small integer and ``lam`` by a
small rational, rounds ``e^{r - r_max}`` to ratios of small integers (so that rewards are
``log n_i`` and the instance can be checked in exact rational arithmetic with
:mod:`numerics.exact`) and masses to small integers.  Everything is driven by one
``numpy.random.Generator(seed)``: the same call gives the same answer.

The counterexample replays with
``numerics.evolve(mass, reward, K, step, lam, data)`` (see :class:`~theory.claims.Instance`).

>>> from theory.falsify import falsify
>>> res = falsify("reward-variance-monotone", budget=200, seed=0)
>>> res.found, len(res.counterexample.mass) <= 3
(True, True)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from fractions import Fraction

import numpy as np

from .claims import Claim, Instance, get_claim

__all__ = ["falsify", "Result", "DEFAULT_BUDGET", "DEFAULT_SHRINK_BUDGET"]

#: instances drawn by default (each instance is one small evolve, so a search takes seconds)
DEFAULT_BUDGET = 400
#: violation evaluations the shrinker may spend
DEFAULT_SHRINK_BUDGET = 600
#: share of "simple" draws (small integers, exactly checkable)
SIMPLE_SHARE = 1.0 / 3.0

_INT_SCALES = (1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 30, 50, 100, 1000)
_LAM_CANDIDATES = tuple(sorted({Fraction(a, b) for b in (1, 2, 3, 4, 5, 10)
                                for a in range(0, 5 * b + 1)},
                               key=lambda f: (f.denominator, f.numerator)))


@dataclass
class Result:
    """Outcome of :func:`falsify`.

    ``found``: a counterexample beyond the tolerance was found; ``counterexample``: the
    shrunk :class:`~theory.claims.Instance` (or ``None``); ``violation``: its violation (or,
    when none was found, the largest violation seen, which rounding keeps near 0 for a true
    claim); ``tried``: instances drawn; ``shrink_steps``: simplifications accepted;
    ``error``: ``"ExceptionType: message"`` if evaluating the claim raised (the search then
    stops there; ``error_instance`` is that instance)."""

    claim: Claim
    found: bool
    counterexample: Instance | None
    violation: float
    tried: int
    shrink_steps: int
    seed: int
    budget: int
    seconds: float
    error: str | None = None
    error_instance: Instance | None = None

    def as_dict(self):
        """JSON-ready summary (``selfconsume falsify --json``)."""
        c = self.claim
        out = {"claim": c.name, "statement": c.statement, "source": c.source,
               "expected": c.expected, "kind": c.kind, "ids": list(c.ids), "scope": c.scope,
               "found": self.found,
               "counterexample": None, "violation": float(self.violation),
               "tolerance": c.tolerance, "examples_tried": self.tried,
               "shrink_steps": self.shrink_steps, "seed": self.seed, "budget": self.budget,
               "seconds": round(self.seconds, 3), "error": self.error}
        if self.counterexample is not None:
            ce = self.counterexample.as_dict()
            ints = exp_reward_integers(self.counterexample.reward)
            ce["exp_reward"] = ints  # reward = log(exp_reward) exactly, when integers
            out["counterexample"] = ce
        if self.error_instance is not None:
            out["error_instance"] = self.error_instance.as_dict()
        return out


def exp_reward_integers(reward):
    """``[n_i]`` if every reward is exactly ``float(log n_i)`` for a positive integer
    ``n_i`` (then ``s_i = n_i / max n`` is rational and :mod:`numerics.exact` applies),
    else ``None``."""
    r = np.asarray(reward, float)
    if r.size == 0 or np.any(r < 0) or np.any(r > 40):
        return None
    n = np.rint(np.exp(r))
    if np.all(n >= 1) and np.array_equal(np.log(n), r):
        return [int(v) for v in n]
    return None


def falsify(claim, budget=DEFAULT_BUDGET, seed=0, *, shrink_budget=DEFAULT_SHRINK_BUDGET):
    """Search for an instance where ``claim`` fails by more than ``claim.tolerance``.

    Parameters
    ----------
    claim : Claim or str
        a claim or the name of a registered one (:func:`theory.claims.get_claim`).
    budget : int
        instances drawn before giving up (``>= 1``).
    seed : int
        seed of the search (reproducible).
    shrink_budget : int
        violation evaluations spent on shrinking a counterexample.

    Returns
    -------
    Result

    Raises
    ------
    KeyError
        ``claim`` names no registered claim.
    TypeError
        ``claim`` neither a :class:`~theory.claims.Claim` nor a name.
    ValueError
        ``budget < 1``, ``seed < 0`` or ``shrink_budget < 0``, or one not an integer.  A claim
        that fails to evaluate on a valid instance is reported in the result, not raised.

    See Also
    --------
    theory.claims.register_claim : add a claim.
    shrink : how a counterexample is simplified.
    numerics.exact : check a shrunk counterexample exactly.

    References
    ----------
    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    the statements behind the theorem claims (P1-P6, T1-T7).

    Zhao, Fu, Pham (2025), arXiv 2511.09002 (heterogeneous curators):
    T12.

    Wei, Zhang (2025), ICML 2025, arXiv 2505.09768 (noisy or adversarial curators):
    T11.

    docs/theory.md.
    """
    if isinstance(claim, str):
        claim = get_claim(claim)
    if not isinstance(claim, Claim):
        raise TypeError(f"claim must be a Claim or a registered name, got {type(claim).__name__}")
    for name, v, lo in (("budget", budget, 1), ("seed", seed, 0), ("shrink_budget", shrink_budget, 0)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")
    rng = np.random.default_rng(int(seed))
    start = time.perf_counter()
    worst = -math.inf
    space = claim.space
    for tried in range(1, budget + 1):
        inst = space.sample(rng, simple=rng.random() < SIMPLE_SHARE)
        try:
            v = float(claim.violation(inst))
        except Exception as exc:  # the engine or the predicate failed on a valid instance
            return Result(claim, False, None, worst, tried, 0, seed, budget,
                          time.perf_counter() - start, f"{type(exc).__name__}: {exc}", inst)
        if math.isnan(v):
            return Result(claim, False, None, worst, tried, 0, seed, budget,
                          time.perf_counter() - start, "violation returned NaN", inst)
        worst = max(worst, v)
        if v > claim.tolerance:
            small, v_small, steps = shrink(claim, inst, v, shrink_budget)
            return Result(claim, True, small, v_small, tried, steps, seed, budget,
                          time.perf_counter() - start)
    return Result(claim, False, None, worst, budget, 0, seed, budget,
                  time.perf_counter() - start)


# ----------------------------------------------------------------------------------------
# shrinking
# ----------------------------------------------------------------------------------------


def shrink(claim, inst, violation, budget=DEFAULT_SHRINK_BUDGET):
    """Simplify ``inst`` while ``claim`` stays violated.  Returns
    ``(instance, violation, accepted_steps)``.  Passes, repeated until none applies: shorter
    horizon, fewer atoms, tied atoms merged, small integer ``K``, small rational ``lam``, rewards ``log n_i``
    with small integers ``n_i``, small integer masses (and data)."""
    space = claim.space
    evals = 0
    accepted = 0

    def attempt(candidate):
        nonlocal evals
        if evals >= budget:
            return None
        candidate = space.conform(candidate)
        if not space.admits(candidate):
            return None
        evals += 1
        try:
            v = float(claim.violation(candidate))
        except Exception:
            return None
        return v if v > claim.tolerance else None

    passes = (_shorter, _fewer_atoms, _merged_ties, _simpler_K, _simpler_lam, _simpler_rewards,
              _simpler_masses, _simpler_data)
    changed = True
    while changed and evals < budget:
        changed = False
        for propose in passes:
            for candidate in propose(inst, space):
                if _same(candidate, inst):
                    continue
                v = attempt(candidate)
                if v is not None:
                    inst, violation = space.conform(candidate), v
                    accepted += 1
                    changed = True
                    break
    return inst, violation, accepted


def _same(a, b):
    def eq(x, y):
        if x is None or y is None:
            return x is y
        return x.shape == y.shape and np.array_equal(x, y)
    return (eq(a.mass, b.mass) and eq(a.reward, b.reward) and eq(a.data, b.data)
            and a.K == b.K and a.lam == b.lam and a.step == b.step)


def _shorter(inst, space):
    for step in range(space.steps[0], inst.step):
        yield replace(inst, step=step)


def _fewer_atoms(inst, space):
    n = inst.mass.shape[0]
    for i in range(n):
        keep = np.arange(n) != i
        yield replace(inst, mass=inst.mass[keep], reward=inst.reward[keep],
                      data=None if inst.data is None else inst.data[keep])


def _merged_ties(inst, space):
    """Atoms with equal rewards merged into one (masses and data added)."""
    levels, inverse = np.unique(inst.reward, return_inverse=True)
    if levels.size == inst.reward.size:
        return

    def merge(m):
        return None if m is None else np.bincount(inverse, weights=m, minlength=levels.size)

    yield replace(inst, mass=merge(inst.mass), reward=levels, data=merge(inst.data))


def _simpler_K(inst, space):
    K = inst.K
    hi = 8 if math.isinf(K) else int(math.ceil(K))
    for k in range(1, min(hi, 8) + 1):
        if k < K:
            yield replace(inst, K=float(k))
    if math.isfinite(K) and not float(K).is_integer():
        yield replace(inst, K=float(math.floor(K)))
        yield replace(inst, K=float(math.ceil(K)))


def _simpler_lam(inst, space):
    lam = inst.lam
    if math.isinf(lam):
        return
    current = _simplicity(lam)
    for f in _LAM_CANDIDATES:
        if (f.denominator, f.numerator) < current:
            yield replace(inst, lam=float(f))
    for k in (10, 20, 50, 100, 1000):
        if (1, k) < current:
            yield replace(inst, lam=float(k))


def _simplicity(x):
    f = Fraction(x).limit_denominator(1000)
    if float(f) != x:
        return (10**9, 10**9)
    return (f.denominator, f.numerator)


def _simpler_rewards(inst, space):
    r = inst.reward
    on = inst.mass > 0
    if inst.data is not None:
        on = on | (inst.data > 0)
    ints = exp_reward_integers(r)
    top = r[on].max()
    s = np.exp(r - top)
    # ranks first: n_i = rank of the distinct reward (ties kept)
    _, rank = np.unique(r, return_inverse=True)
    yield replace(inst, reward=np.log((rank + 1).astype(float)))
    for scale in _INT_SCALES:
        n = np.maximum(1.0, np.rint(s * scale))
        if ints is not None and np.max(n) >= np.max(ints):
            break  # not simpler than the integers we already have
        yield replace(inst, reward=np.log(n))
    if ints is None:  # integer rewards (e^{r} irrational, still short to write)
        yield replace(inst, reward=np.rint(r - top))
    if ints is not None:  # lower one numerator at a time
        for i in range(len(ints)):
            for smaller in range(1, ints[i]):
                n = np.array(ints, float)
                n[i] = smaller
                yield replace(inst, reward=np.log(n))


def _integer_vectors(m):
    """Candidate small-integer vectors proportional to ``m`` (zeros kept, or raised to 1)."""
    p = m / m.sum()
    for scale in _INT_SCALES:
        n = np.rint(p * scale)
        if n.sum() > 0:
            yield n
        yield np.where(p > 0, np.maximum(n, 1.0), 0.0)


def _simpler_masses(inst, space):
    ints = _as_ints(inst.mass)
    for n in _integer_vectors(inst.mass):
        if ints is not None and n.sum() >= ints.sum():
            continue
        yield replace(inst, mass=n)
    if ints is not None:
        for i in range(ints.size):
            if ints[i] > 1:
                n = ints.astype(float).copy()
                n[i] -= 1
                yield replace(inst, mass=n)


def _simpler_data(inst, space):
    if inst.data is None or space.data != "independent":
        return
    yield replace(inst, data=inst.mass.copy())
    ints = _as_ints(inst.data)
    for n in _integer_vectors(inst.data):
        if ints is not None and n.sum() >= ints.sum():
            continue
        yield replace(inst, data=n)
    if ints is not None:
        for i in range(ints.size):
            if ints[i] > 1:
                n = ints.astype(float).copy()
                n[i] -= 1
                yield replace(inst, data=n)


def _as_ints(m):
    if np.all(m == np.rint(m)) and np.all(m < 2**53):
        return m.astype(np.int64)
    return None
