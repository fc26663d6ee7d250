r"""Curation rules as values (THEORY.md L1-L6, section 7; DESIGN.md "Beyond one reward").

A rule stands wherever ``reward, K`` stand in the public API::

    curation_factor(mass, rule), curate(mass, rule), retrain_step(mass, rule, lam, data),
    evolve(mass, rule, steps, lam, data), limit(mass, rule, lam, data)

- :func:`bradley_terry` ``(reward, K)``: keep one of ``K`` by Bradley-Terry (L1-L3; the old
  ``(reward, K)`` form is its shorthand);
- :func:`plackett_luce` ``(reward, K, keep)``: keep ``keep`` of ``K`` drawn without
  replacement with probabilities ``~ e^r`` (L4);
- :func:`top_k` ``(reward, K, keep)``: keep the ``keep`` highest rewards of ``K``, ties broken
  uniformly (L5);
- :func:`filtering` ``(accept)``: keep each sample with probability ``accept in [0, 1]`` (L6);
- :func:`mixture` ``([(weight, rule), ...])``: each curation event is made by a user type ``u``
  with probability ``pi_u`` and its own rule (heterogeneous, noisy, adversarial users; section
  7): ``H = sum_u pi_u H_u``.

A reward may change with the step: give a sequence of arrays (``reward[t]`` is used for the step
``p_t -> p_{t+1}``) or a callable ``t -> array``.

Each one-reward rule has a ``log_factor(log_s_eval, log_s, log_p)`` (``log H`` at the points
``log s = r - r_max`` for the law given by nodes ``log_s`` with log-masses ``log_p``), which the
:class:`numerics.engine.CurationEngine` takes as its ``log_factor``.

Examples
--------
>>> import numpy as np
>>> from numerics import curation_factor
>>> from numerics.curators import plackett_luce, top_k
>>> mass = np.array([0.5, 0.25, 0.25]); reward = np.array([0.0, 1.0, 1.0])
>>> H = curation_factor(mass, top_k(reward, K=3, keep=2))
>>> round(float(np.dot(mass, H)), 12)        # P1 for L5
1.0
>>> H.round(6)
array([0.625, 1.375, 1.375])
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numba
import numpy as np

from . import laplace
from .threads import kernel

__all__ = ["Rule", "BradleyTerry", "PlackettLuce", "TopK", "Filtering", "Mixture",
           "bradley_terry", "plackett_luce", "top_k", "filtering", "mixture", "as_rule",
           "plackett_luce_log_factor", "top_k_log_factor", "top_k_log_factor_numpy",
           "filtering_log_factor", "log_binomial_cdf"]


# ----------------------------------------------------------------------------------------
# validation
# ----------------------------------------------------------------------------------------


def _count(value, name, low=1, allow_inf=False):
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.integer, np.floating)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if allow_inf and math.isinf(value) and value > 0:
        return math.inf
    if isinstance(value, float) and math.isnan(value):
        raise ValueError(f"{name} is NaN")
    if not math.isfinite(value) or int(value) != value:
        raise ValueError(f"{name} must be an integer{' or math.inf' if allow_inf else ''}, "
                         f"got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value!r}")
    return int(value)


class _Reward:
    """A reward: one array, a sequence of arrays (one per step), or a callable of ``t``."""

    def __init__(self, value, name):
        self.name = name
        if callable(value) and not isinstance(value, np.ndarray):
            self.kind, self.value = "callable", value
        elif (isinstance(value, Sequence) and not isinstance(value, (str, bytes)) and len(value)
              and not np.isscalar(value[0]) and np.ndim(value[0]) >= 1
              and _ragged_or_list_of_arrays(value)):
            self.kind, self.value = "sequence", list(value)
        else:
            if value is None:
                raise TypeError(f"{name} is required (an array shaped like mass)")
            self.kind, self.value = "array", value

    @property
    def varies(self):
        return self.kind != "array"

    def at(self, t, shape):
        """The reward array for the step ``p_t -> p_{t+1}``, checked against ``shape``."""
        from .validation import as_reward
        if self.kind == "array":
            return as_reward(self.value, shape, self.name)
        if self.kind == "sequence":
            if t >= len(self.value):
                raise ValueError(f"{self.name} is a sequence of {len(self.value)} rewards; "
                                 f"step {t} needs one more")
            return as_reward(self.value[t], shape, f"{self.name}[{t}]")
        return as_reward(self.value(t), shape, f"{self.name}({t})")


def _ragged_or_list_of_arrays(value):
    """A list of arrays is a per-step sequence when its items are themselves arrays
    (``np.ndarray``), not nested lists of numbers (a plain nested list is one array)."""
    return all(isinstance(v, np.ndarray) for v in value)


# ----------------------------------------------------------------------------------------
# rules
# ----------------------------------------------------------------------------------------


class Rule:
    """A curation rule ``p -> p H_p`` (THEORY.md L1-L6, section 7)."""

    #: the rule's ``H`` depends on ``x`` through one reward only (the engine's compression
    #: applies)
    one_reward = True
    #: the rule's ``H`` needs the exact reward law (one node per distinct reward): L5
    needs_direct = False

    def components(self):
        """``[(pi_u, rule_u)]``: the user types (one, with weight 1, for a simple rule)."""
        return [(1.0, self)]

    @property
    def varies(self):
        return any(r.reward_spec.varies for _, r in self.components())

    def rewards_at(self, t, shape):
        """The reward array of each user type at step ``t``."""
        return [r.reward_spec.at(t, shape) for _, r in self.components()]

    @property
    def primary(self):
        """The first user type's rule (its reward is the one reported by ``evolve``)."""
        return self.components()[0][1]


class BradleyTerry(Rule):
    """Keep one of ``K`` by generalized Bradley-Terry (THEORY.md L1-L3):
    ``H = K int_0^inf s e^{-us} M_p(u)^{K-1} du`` (L2), ``H = s/E_p[s]`` for ``K = inf`` (L3)."""

    def __init__(self, reward, K):
        from .validation import check_K
        self.reward_spec = _Reward(reward, "reward")
        self.K = check_K(K)

    def log_factor(self, log_s_eval, log_s, log_p, h=laplace.DEFAULT_STEP, use_numba=True):
        return laplace.log_curation_factor_nodes(log_s, log_p, self.K, log_s_eval, h=h,
                                                 use_numba=use_numba)

    def __repr__(self):
        return f"bradley_terry(K={self.K:g})"


class PlackettLuce(Rule):
    """Keep ``keep`` of ``K`` drawn without replacement with probabilities ``~ e^r``
    (THEORY.md L4)::

        H(x) = (K/k) int_0^inf s e^{-us} P[Binomial(K-1, 1 - M_p(u)) <= k-1] du.
    """

    def __init__(self, reward, K, keep):
        self.reward_spec = _Reward(reward, "reward")
        self.K = _count(K, "K", allow_inf=True)
        self.keep = _count(keep, "keep")
        if self.keep > self.K:
            raise ValueError(f"keep must be <= K, got keep={self.keep}, K={self.K}")

    def log_factor(self, log_s_eval, log_s, log_p, h=laplace.DEFAULT_STEP, use_numba=True):
        return plackett_luce_log_factor(log_s, log_p, self.K, self.keep, log_s_eval, h=h,
                                        use_numba=use_numba)

    def __repr__(self):
        return f"plackett_luce(K={self.K:g}, keep={self.keep})"


class TopK(Rule):
    """Keep the ``keep`` highest rewards of ``K``, ties broken uniformly (THEORY.md L5)::

        H(x) = (K/k) E[1{A < k} min(1, (k - A)/(E + 1))],

    ``A``, ``E``: the numbers of the other ``K-1`` draws above, equal to ``r(x)``."""

    needs_direct = True

    def __init__(self, reward, K, keep):
        self.reward_spec = _Reward(reward, "reward")
        self.K = _count(K, "K")
        self.keep = _count(keep, "keep")
        if self.keep > self.K:
            raise ValueError(f"keep must be <= K, got keep={self.keep}, K={self.K}")

    def log_factor(self, log_s_eval, log_s, log_p, h=None, use_numba=True):
        return top_k_log_factor(log_s, log_p, self.K, self.keep, log_s_eval,
                                use_numba=use_numba)

    def __repr__(self):
        return f"top_k(K={self.K}, keep={self.keep})"


class _LogAccept:
    """``log a`` as the reward of a filter (``-inf`` where ``a = 0``)."""

    def __init__(self, accept):
        self.spec = _Reward(accept, "accept")

    @property
    def varies(self):
        return self.spec.varies

    def at(self, t, shape):
        a = self.spec.at(t, shape)
        if (a < 0).any() or (a > 1).any():
            bad = float(a[(a < 0) | (a > 1)].flat[0])
            raise ValueError(f"accept must lie in [0, 1], got {bad!r}")
        with np.errstate(divide="ignore"):
            return np.log(a)


class Filtering(Rule):
    """Keep each sample independently with probability ``a(x)`` (THEORY.md L6):
    ``H = a / E_p[a]``, the ``K = inf`` rule (L3) with reward ``log a`` (``-inf`` where
    ``a = 0``: never kept)."""

    one_reward = False  # its reward may be -inf: handled by the exact per-atom engine

    def __init__(self, accept):
        self.reward_spec = _LogAccept(accept)
        self.K = math.inf

    def log_factor(self, log_s_eval, log_s, log_p, h=None, use_numba=True):
        return filtering_log_factor(log_s, log_p, log_s_eval)

    def __repr__(self):
        return "filtering(accept)"


class Mixture(Rule):
    """User types ``u`` with probabilities ``pi_u``, each with its own rule (section 7):
    ``C(p) = sum_u pi_u C_u(p)``, i.e. ``H = sum_u pi_u H_u``, each ``H_u`` on the law of its
    own reward."""

    one_reward = False

    def __init__(self, parts):
        try:
            parts = list(parts)
        except TypeError:
            raise TypeError("mixture takes a list of (weight, rule) pairs") from None
        if not parts:
            raise ValueError("mixture needs at least one (weight, rule) pair")
        flat = []
        for i, item in enumerate(parts):
            if not (isinstance(item, (tuple, list)) and len(item) == 2):
                raise TypeError(f"mixture item {i} must be a (weight, rule) pair")
            w, rule = item
            if isinstance(w, bool) or not isinstance(w, (numbers.Real, np.floating, np.integer)):
                raise TypeError(f"mixture weight {i} must be a real number")
            w = float(w)
            if not (w >= 0 and math.isfinite(w)):
                raise ValueError(f"mixture weight {i} must be finite and >= 0, got {w!r}")
            if not isinstance(rule, Rule):
                raise TypeError(f"mixture item {i}: expected a curation rule, got "
                                f"{type(rule).__name__}")
            for wi, ri in rule.components():  # nested mixtures flatten
                flat.append((w * wi, ri))
        total = sum(w for w, _ in flat)
        if not total > 0:
            raise ValueError("mixture weights sum to 0")
        self.parts = [(w / total, r) for w, r in flat if w > 0]
        self.K = max(r.K for _, r in self.parts)

    def components(self):
        return list(self.parts)

    def __repr__(self):
        return "mixture([" + ", ".join(f"({w:g}, {r!r})" for w, r in self.parts) + "])"


def bradley_terry(reward, K):
    """Bradley-Terry among ``K`` (THEORY.md L1-L3): see :class:`BradleyTerry`.

    Raises
    ------
    TypeError
        ``reward`` is ``None``.
    ValidationError
        (a ``ValueError``) ``K`` NaN or ``< 1``.
    ValidationTypeError
        (a ``TypeError``) ``K`` not a real number.

    See Also
    --------
    plackett_luce, top_k, filtering, mixture : the other rules.
    numerics.curation_factor : ``H`` of a rule on a law.
    numerics.evolve : the loop with a rule in place of ``reward, K``.
    numerics.sampling.simulate : the same rule on samples.

    References
    ----------
    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    Lemma 2.1 (L1), L3 for ``K = inf``.

    docs/theory.md L1-L3.
    """
    return BradleyTerry(reward, K)


def plackett_luce(reward, K, keep):
    """Plackett-Luce keep-``keep``-of-``K`` (THEORY.md L4): see :class:`PlackettLuce`.

    Raises
    ------
    TypeError
        ``reward`` is ``None``; ``K`` or ``keep`` not a number.
    ValueError
        ``K`` NaN or not an integer (``math.inf`` allowed), ``keep`` not an integer, either
        ``< 1``; ``keep > K``.  The reward array itself is checked against ``mass`` where
        the rule is used (:func:`numerics.curation_factor` and the others).

    See Also
    --------
    bradley_terry : ``keep = 1``.
    top_k : the hard top-``keep``.
    numerics.curation_factor : ``H`` of a rule on a law.
    numerics.evolve : the loop with a rule in place of ``reward, K``.
    numerics.sampling.simulate : the same rule on samples.

    References
    ----------
    docs/theory.md L4 (derived there).

    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    ``keep = 1`` is the Bradley-Terry choice of Lemma 2.1 (L1).
    """
    return PlackettLuce(reward, K, keep)


def top_k(reward, K, keep):
    """Hard top-``keep`` of ``K`` with random tie-breaking (THEORY.md L5): see :class:`TopK`.

    Raises
    ------
    TypeError
        ``reward`` is ``None``; ``K`` or ``keep`` not a number.
    ValueError
        ``K`` or ``keep`` NaN, not an integer (``math.inf`` too) or ``< 1``; ``keep > K``.
        The reward array itself is checked against ``mass`` where the rule is used
        (:func:`numerics.curation_factor` and the others).

    See Also
    --------
    plackett_luce : the soft (Plackett-Luce) keep-``keep``.
    numerics.curation_factor : ``H`` of a rule on a law.
    numerics.evolve : the loop with a rule in place of ``reward, K``.
    numerics.sampling.simulate : the same rule on samples.

    References
    ----------
    docs/theory.md L5 (derived there).
    """
    return TopK(reward, K, keep)


def filtering(accept):
    """Keep with probability ``accept in [0, 1]`` (THEORY.md L6): see :class:`Filtering`.

    Raises
    ------
    TypeError
        ``accept`` is ``None``.
    ValueError
        where the rule is used: ``accept`` outside ``[0, 1]``, or 0 on the whole support of
        ``mass`` (nothing is ever kept).

    See Also
    --------
    filtering_log_factor : its ``log H = log a - log E_p[a]``.
    numerics.curation_factor : ``H`` of a rule on a law.
    numerics.evolve : the loop with a rule in place of ``reward, K``.
    numerics.sampling.simulate : the same rule on samples.

    References
    ----------
    docs/theory.md L6 (the ``K = inf`` rule L3 with reward ``log a``).
    """
    return Filtering(accept)


def mixture(parts):
    """User types ``[(pi_u, rule_u), ...]`` (weights normalized here; section 7).

    Raises
    ------
    TypeError
        ``parts`` not a list of ``(weight, rule)`` pairs; a weight not a real number; an item
        not a curation rule.
    ValueError
        no pair; a weight negative or not finite; weights summing to 0.

    See Also
    --------
    bradley_terry, plackett_luce, top_k, filtering : the user types' rules.
    numerics.curator_limits.limit_rule : the ``K = inf`` limit (T12, T13).
    numerics.curation_factor : ``H`` of a rule on a law.
    numerics.evolve : the loop with a rule in place of ``reward, K``.
    numerics.sampling.simulate : the same rule on samples.

    References
    ----------
    Zhao, Fu, Pham (2025), arXiv 2511.09002 (heterogeneous curators).

    Falahati et al. (2026), arXiv 2605.07724 (heterogeneous curators).

    Wei, Zhang (2025), ICML 2025, arXiv 2505.09768 (noisy or adversarial curators).

    docs/theory.md section 7 (T11-T13).
    """
    return Mixture(parts)


def as_rule(reward, K=None, name="reward"):
    """``reward`` if it is a rule (then ``K`` must be None), else ``bradley_terry(reward, K)``.

    Raises
    ------
    TypeError
        ``K`` given with a rule, or missing with a reward array.
    ValidationError, ValidationTypeError
        ``K`` invalid (as :func:`bradley_terry`).

    See Also
    --------
    bradley_terry : what a ``(reward, K)`` pair becomes.

    References
    ----------
    docs/theory.md L1-L6.
    """
    if isinstance(reward, Rule):
        if K is not None:
            raise TypeError("K is given by the curation rule: pass K=None with a rule")
        return reward
    if K is None:
        raise TypeError(f"K is required when {name} is an array (or pass a curation rule "
                        "from numerics.curators)")
    return BradleyTerry(reward, K)


# ----------------------------------------------------------------------------------------
# L4: Plackett-Luce
# ----------------------------------------------------------------------------------------


def log_binomial_cdf(log_m, n, k):
    """``log P[Binomial(n, 1 - M) <= k]`` for ``log M`` given (vector), integers
    ``0 <= k <= n``, as a log-sum-exp of ``log C(n, j) + j log(1 - M) + (n - j) log M``
    (positive terms: no cancellation).  ``log(1 - M)`` is ``log(-expm1(log M))`` (accurate
    when ``M`` is near 1, where ``log M`` carries ``1 - M`` to full relative precision).

    Raises
    ------
    None
        beyond numpy's own errors for non-numeric input; ``k``, ``n`` are trusted (internal to L4).

    See Also
    --------
    plackett_luce_log_factor : where it is the weight ``W(u)``.

    References
    ----------
    docs/theory.md L4.
    """
    log_m = np.asarray(log_m, dtype=np.float64)
    if k >= n:
        return np.zeros_like(log_m)
    with np.errstate(divide="ignore", invalid="ignore"):
        log1m = np.where(log_m > -math.log(2.0), np.log(-np.expm1(log_m)),
                         np.log1p(-np.exp(log_m)))
    j = np.arange(k + 1, dtype=np.float64)
    log_c = (math.lgamma(n + 1) - np.array([math.lgamma(i + 1) for i in range(k + 1)])
             - np.array([math.lgamma(n - i + 1) for i in range(k + 1)]))
    with np.errstate(invalid="ignore"):
        a = np.where(j[None, :] == 0, 0.0, j[None, :] * log1m[:, None])
        b = np.where(n - j[None, :] == 0, 0.0, (n - j[None, :]) * log_m[:, None])
    terms = log_c[None, :] + a + b
    top = terms.max(axis=1)
    safe = np.where(np.isfinite(top), top, 0.0)
    return safe + np.log(np.exp(terms - safe[:, None]).sum(axis=1))


def plackett_luce_log_factor(log_s, log_p, K, keep, log_s_eval, h=laplace.DEFAULT_STEP,
                             use_numba=True):
    """``log H`` of Plackett-Luce keep-``keep``-of-``K`` (THEORY.md L4) at ``log_s_eval`` for
    the law given by nodes ``log_s`` and log-masses ``log_p``::

        H(s) = (K/k) int_0^inf s e^{-us} W(u) du,   W(u) = P[Binomial(K-1, 1-M_p(u)) <= k-1].

    The same trapezoid rule in ``v = log u`` as L2 (:func:`numerics.laplace.v_grid`,
    :func:`numerics.laplace.log_curation_integral` with ``log W`` in place of
    ``(K-1) log M``): ``W`` is analytic in ``v``, equals ``1 - O(u^k)`` on the left (so the
    closed-form left tail holds) and is non-increasing; the step is halved until the sums
    with steps ``h`` and ``2h`` agree to :data:`numerics.laplace.TRAPEZOID_CHECK`.
    ``keep = 1`` is L2, ``keep = K`` gives ``H = 1``, ``K = inf`` is L3.

    Raises
    ------
    None
        the nodes and masses are trusted (built by the engine from checked input).

    See Also
    --------
    numerics.laplace.log_curation_factor_nodes : L2, ``keep = 1``.
    PlackettLuce : the rule.

    References
    ----------
    docs/theory.md L4 (derived there), L2 (the trapezoid rule in ``v = log u``).
    """
    log_s_eval = np.asarray(log_s_eval, dtype=np.float64)
    if keep == 1 or math.isinf(K):
        return laplace.log_curation_factor_nodes(log_s, log_p, K, log_s_eval, h=h,
                                                 use_numba=use_numba)
    if keep >= K:
        return np.zeros_like(log_s_eval)
    log_p = log_p - laplace.log_sum_exp(log_p)
    finite = np.isfinite(log_p)
    log_s, log_p = log_s[finite], log_p[finite]
    log_mean_s = laplace.log_sum_exp(log_p + log_s)
    kern_m = laplace.log_laplace if use_numba else laplace.log_laplace_numpy
    kern_h = (laplace.log_curation_integral if use_numba
              else laplace.log_curation_integral_numpy)
    log_s_min = min(float(log_s.min()), float(log_s_eval.min()))
    log_s_max = max(0.0, float(log_s_eval.max()))

    def evaluate(step):
        grid = laplace.v_grid(log_s_min, log_mean_s, K, step, log_s_max=log_s_max)
        log_m = kern_m(grid.v, log_s, log_p)
        log_w = log_binomial_cdf(log_m, K - 1, keep - 1)
        return kern_h(grid.v, grid.h, log_w, 1.0, log_s_eval)

    return math.log(K / keep) + laplace.refined_trapezoid(evaluate, h)


# ----------------------------------------------------------------------------------------
# L5: hard top-k
# ----------------------------------------------------------------------------------------


def _tail_masses(log_s, log_p, log_s_eval):
    """``(P[S > s], P[S = s], P[S < s])`` at every ``s`` of ``log_s_eval`` (each a sum of
    positive masses: full relative precision)."""
    p = np.exp(log_p - laplace.log_sum_exp(log_p))
    vals, inv = np.unique(log_s, return_inverse=True)
    w = np.bincount(inv, weights=p, minlength=vals.size)
    below = np.concatenate([[0.0], np.cumsum(w)])             # below[i] = sum_{j<i} w_j
    above = np.concatenate([np.cumsum(w[::-1])[::-1], [0.0]])  # above[i] = sum_{j>=i} w_j
    lo = np.searchsorted(vals, log_s_eval, side="left")
    hi = np.searchsorted(vals, log_s_eval, side="right")
    eq = np.where(hi > lo, w[np.minimum(lo, vals.size - 1)], 0.0)
    return above[hi], eq, below[lo]


@kernel
def _top_k_kernel(pa, pe, pb, K, keep, lgf, out):
    """``log H`` of L5 at each point from ``(P[above], P[equal], P[below])``: the multinomial
    sum over ``a < keep`` draws above and ``e`` equal, in log space (online log-sum-exp)."""
    n = pa.shape[0]
    nm1 = K - 1
    for i in numba.prange(n):
        la = math.log(pa[i]) if pa[i] > 0.0 else -np.inf
        le = math.log(pe[i]) if pe[i] > 0.0 else -np.inf
        lb = math.log(pb[i]) if pb[i] > 0.0 else -np.inf
        top = -np.inf
        acc = 0.0
        for a in range(min(keep, nm1 + 1)):
            if a > 0 and pa[i] == 0.0:
                break
            for e in range(nm1 - a + 1):
                if e > 0 and pe[i] == 0.0:
                    break
                b = nm1 - a - e
                if b > 0 and pb[i] == 0.0:
                    continue
                t = lgf[nm1] - lgf[a] - lgf[e] - lgf[b]
                if a > 0:
                    t += a * la
                if e > 0:
                    t += e * le
                if b > 0:
                    t += b * lb
                t += math.log(min(1.0, (keep - a) / (e + 1.0)))
                if t > top:
                    acc = acc * math.exp(top - t) + 1.0
                    top = t
                else:
                    acc += math.exp(t - top)
        out[i] = top + math.log(acc) + math.log(K / keep) if acc > 0.0 else -np.inf


def _top_k_numpy(pa, pe, pb, K, keep, lgf):
    """Pure numpy twin of :func:`_top_k_kernel` (same sum, vectorized over the points)."""
    nm1 = K - 1
    with np.errstate(divide="ignore"):
        la, le, lb = np.log(pa), np.log(pe), np.log(pb)
    terms = []
    for a in range(min(keep, nm1 + 1)):
        for e in range(nm1 - a + 1):
            b = nm1 - a - e
            t = np.full(pa.shape, lgf[nm1] - lgf[a] - lgf[e] - lgf[b])
            for cnt, lx in ((a, la), (e, le), (b, lb)):
                if cnt > 0:
                    t = t + cnt * lx
            terms.append(t + math.log(min(1.0, (keep - a) / (e + 1.0))))
    terms = np.array(terms)
    top = terms.max(axis=0)
    safe = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return safe + np.log(np.exp(terms - safe).sum(axis=0)) + math.log(K / keep)


def top_k_log_factor(log_s, log_p, K, keep, log_s_eval, use_numba=True):
    """``log H`` of hard top-``keep``-of-``K`` (THEORY.md L5) at ``log_s_eval`` for the law
    given by nodes ``log_s`` (exact rewards: ties are equal values) and log-masses ``log_p``::

        H(x) = (K/k) sum_{a < k} sum_e multinomial(K-1; a, e, b) P_>^a P_=^e P_<^b
               min(1, (k - a)/(e + 1)).

    ``log H = -inf`` where ``H = 0`` (rewards below the whole law with ``keep < K``).

    Raises
    ------
    None
        the nodes and masses are trusted (built by the engine from checked input).

    See Also
    --------
    top_k_log_factor_numpy : the numpy twin.
    TopK : the rule.

    References
    ----------
    docs/theory.md L5 (derived there).
    """
    log_s_eval = np.asarray(log_s_eval, dtype=np.float64)
    if keep >= K:
        return np.zeros_like(log_s_eval)
    log_s = np.asarray(log_s, dtype=np.float64)
    log_p = np.asarray(log_p, dtype=np.float64)
    finite = np.isfinite(log_p)
    pa, pe, pb = _tail_masses(log_s[finite], log_p[finite], log_s_eval)
    lgf = np.array([math.lgamma(i + 1.0) for i in range(K)])
    if not use_numba:
        return _top_k_numpy(pa, pe, pb, K, keep, lgf)
    out = np.empty(log_s_eval.shape[0])
    _top_k_kernel.at(log_s_eval.shape[0] * K * keep)(pa, pe, pb, K, keep, lgf, out)
    return out


def top_k_log_factor_numpy(log_s, log_p, K, keep, log_s_eval):
    """:func:`top_k_log_factor` through the numpy twin.

    Raises
    ------
    None
        as :func:`top_k_log_factor`.

    See Also
    --------
    top_k_log_factor : the numba kernel it is compared with.

    References
    ----------
    docs/theory.md L5.
    """
    return top_k_log_factor(log_s, log_p, K, keep, log_s_eval, use_numba=False)


# ----------------------------------------------------------------------------------------
# L6: filtering
# ----------------------------------------------------------------------------------------


def filtering_log_factor(log_s, log_p, log_s_eval):
    """``log H = log a - log E_p[a]`` (THEORY.md L6) with ``log a`` given as ``log_s``
    (``-inf`` allowed: never kept).

    Raises
    ------
    ValueError
        ``log a = -inf`` on the whole support (nothing is ever kept).

    See Also
    --------
    Filtering : the rule.

    References
    ----------
    docs/theory.md L6.
    """
    log_p = np.asarray(log_p, dtype=np.float64)
    log_p = log_p - laplace.log_sum_exp(log_p)
    with np.errstate(invalid="ignore"):
        log_mean = laplace.log_sum_exp(np.where(np.isfinite(log_p), log_p + log_s, -np.inf))
    if not np.isfinite(log_mean):
        raise ValueError("accept is 0 on the whole support of mass: nothing is ever kept")
    return np.asarray(log_s_eval, dtype=np.float64) - log_mean
