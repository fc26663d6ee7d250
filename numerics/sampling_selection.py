"""Which draws each curation rule keeps, per curation event: the Gumbel-max winner
(Bradley-Terry, L1), Gumbel-top-k (Plackett-Luce keep-k, L4), hard top-k with random ties
(L5), filtering; :func:`rule_at` freezes a rule's rewards at one step."""

from __future__ import annotations

import math

import numpy as np

from .validation import ValidationError, ValidationTypeError

__all__ = ["gumbel_max_winners", "rule_kind", "rule_at", "select_kept"]


def gumbel_max_winners(xp, rng, cells, reward):
    r"""The Bradley-Terry winners of the rows of ``cells`` (shape ``(n, K)``, grid cells).

    ``argmax_k r(X_k) + G_k`` with ``G_k = -log E_k``, ``E_k ~ Exp(1)`` drawn as
    ``rng.standard_exponential((n, K))``: the winner is ``X_k`` with probability
    ``e^{r(X_k)} / sum_j e^{r(X_j)}`` (L1).  Works in ``r`` directly, so rewards spanning
    thousands of nats cannot overflow.  Returns the winning cells, shape ``(n,)``.

    Raises
    ------
    IndexError
        a cell of ``cells`` outside ``reward``; ``cells`` not 2-D (numpy's ``AxisError``,
        also a ``ValueError``).  The arguments are otherwise trusted (built by
        :func:`numerics.sampling.simulate` from checked input).

    See Also
    --------
    select_kept : the kept columns for every curation rule (L4, L5).
    numerics.sampling.simulate : the loop that draws the curated samples.
    numerics.curate : the exact law of the winner, ``C_K(p)``.

    References
    ----------
    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    Lemma 2.1 (L1: the generalized Bradley-Terry choice).

    docs/theory.md L1 and section 6.
    """
    score = reward[cells] - xp.log(rng.standard_exponential(cells.shape))
    k = xp.argmax(score, axis=1)
    return xp.take_along_axis(cells, k[:, None], axis=1)[:, 0]


# ---------------------------------------------------------------- every curation rule (L1-L6)
#
# A rule of numerics.curators is sampled event by event.  A curation EVENT of a user type:
#
# - bradley_terry(r, K): K fresh draws, the Gumbel-max winner is kept (1 sample per event);
# - plackett_luce(r, K, keep): K fresh draws, the ``keep`` smallest of the exponential clocks
#   ``E_k e^{-r_k}`` (E_k ~ Exp(1)) are kept, i.e. the ``keep`` largest ``r_k - log E_k``
#   (Gumbel-top-k): ``keep`` samples per event, drawn without replacement;
# - top_k(r, K, keep): K fresh draws, the ``keep`` highest rewards are kept, ties broken
#   uniformly at random (a uniformly random column order, then a stable sort);
# - filtering(a): one fresh draw, kept with probability a(x) (U < a): 0 or 1 sample per event.
#
# ``samples = n`` counts KEPT samples (what enters the training set).  For a keep-k type,
# ceil(n_u / keep) events are run and, in the last one, a uniformly random subset of its kept
# samples is used (each kept sample of an event has the marginal law C_u(q): the subset does
# not change it).  For filtering, draws continue until n are kept (the first n kept draws).
# mixture([(pi_u, rule_u)]): C = sum_u pi_u C_u is a mixture PER KEPT SAMPLE, so each kept
# sample's type is drawn with probabilities pi_u (n_u ~ Multinomial(n, pi)) and type u's
# events produce its n_u samples; when every type keeps one sample per event (Bradley-Terry,
# filtering, keep = 1) this is exactly "the user type is drawn per curation event".
# The samples of one keep-k event are dependent: the standard error of a mean over the kept
# samples is the cluster-robust one, clusters = events (see numerics.sampling_crosscheck.cluster_se).

def rule_kind(rule):
    from .curators import BradleyTerry, PlackettLuce, TopK, Filtering
    if isinstance(rule, Filtering):
        return "filter", 1
    if isinstance(rule, (BradleyTerry, PlackettLuce, TopK)):
        K = rule.K
        if math.isinf(K) or K != int(K):
            raise ValidationError(f"simulate draws an integer number K of samples per curation "
                             f"event; {rule!r} has K = {K:g}")
        keep = getattr(rule, "keep", 1)
        if isinstance(rule, BradleyTerry) or keep == 1 and isinstance(rule, PlackettLuce):
            return "bt", 1
        return ("pl" if isinstance(rule, PlackettLuce) else "topk"), int(keep)
    raise ValidationTypeError(f"simulate cannot sample the curation rule {rule!r}")


def rule_at(rule, t, shape):
    """``rule`` with every user type's reward frozen at its value for the step ``t``
    (an array rule that :func:`numerics.curate` applies exactly).

    Raises
    ------
    AttributeError
        ``rule`` not a curation rule of :mod:`numerics.curators` (no ``components()``).
    ValidationTypeError
        (a ``TypeError``) a user type other than Bradley-Terry, Plackett-Luce, top-k or
        filtering (a rule class :func:`numerics.sampling.simulate` cannot sample).
    ValidationError
        (a ``ValueError``) a user type's reward not shaped like ``shape`` at step ``t``.

    See Also
    --------
    numerics.curators.mixture : the rules frozen here (user types).
    numerics.sampling.compare_with_exact : applies the frozen rule step by step.
    select_kept : which draws the frozen rule keeps.

    References
    ----------
    Zhao, Fu, Pham (2025), arXiv 2511.09002 (heterogeneous curators), and Wei, Zhang
    (2025), ICML 2025, arXiv 2505.09768 (curation changing with ``t``): the rules frozen
    here.

    docs/theory.md L4-L6 and section 7.
    """
    from .curators import (BradleyTerry, PlackettLuce, TopK, Filtering, Mixture,
                           bradley_terry, plackett_luce, top_k, filtering, mixture)
    parts = []
    for w, r in rule.components():
        arr = r.reward_spec.at(t, shape)
        if isinstance(r, Filtering):
            nr = filtering(np.exp(arr))
        elif isinstance(r, PlackettLuce):
            nr = plackett_luce(arr, r.K, r.keep)
        elif isinstance(r, TopK):
            nr = top_k(arr, r.K, r.keep)
        elif isinstance(r, BradleyTerry):
            nr = bradley_terry(arr, r.K)
        else:
            raise ValidationTypeError(f"simulate cannot sample the curation rule {r!r}")
        parts.append((w, nr))
    if isinstance(rule, Mixture):
        return mixture(parts)
    return parts[0][1]


def select_kept(xp, rng, values, kind, keep):
    r"""Column indices (shape ``(c, keep)``) kept from each row of ``values`` (the rewards of
    the ``K`` draws of ``c`` events, shape ``(c, K)``).

    ``"bt"``: Gumbel-max (one per row); ``"pl"``: Gumbel-top-``keep``, the ``keep`` largest
    ``r_k + G_k`` = the ``keep`` first rings of exponential clocks of rates ``e^{r_k}``
    (Plackett-Luce without replacement, L4); ``"topk"``: the ``keep`` largest ``r_k``, ties
    in a uniformly random order (L5).

    Raises
    ------
    ValueError
        ``kind`` not one of ``"bt"``, ``"pl"``, ``"topk"``; ``values`` not 2-D.  ``keep`` is
        trusted (from a checked rule, ``1 <= keep <= K``).

    See Also
    --------
    gumbel_max_winners : the Bradley-Terry winner by cell.
    rule_at : the rule whose draws are selected.
    numerics.curators.plackett_luce, numerics.curators.top_k : the exact ``H`` of L4, L5.

    References
    ----------
    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    Lemma 2.1 (L1: ``"bt"``).

    docs/theory.md L4 (Plackett-Luce keep-k) and L5 (hard top-k).
    """
    c, K = values.shape
    if kind == "bt" or keep == 1 and kind == "pl":
        score = values - xp.log(rng.standard_exponential((c, K)))
        return xp.argmax(score, axis=1)[:, None]
    if kind == "pl":
        score = values - xp.log(rng.standard_exponential((c, K)))
        if keep >= K:
            return xp.broadcast_to(xp.arange(K)[None, :], (c, K))
        return xp.argpartition(-score, keep - 1, axis=1)[:, :keep]
    if kind == "topk":
        perm = xp.argsort(rng.random((c, K)), axis=1)       # uniformly random column order
        v = xp.take_along_axis(values, perm, axis=1)
        order = xp.argsort(-v, axis=1, kind="stable")[:, :keep]
        return xp.take_along_axis(perm, order, axis=1)
    raise ValueError(f"unknown selection {kind!r}")
