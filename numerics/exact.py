"""Exact rational oracle for the curation operator (THEORY.md L1, "exactness oracle").

For a discrete law with rational masses ``p_i`` and rational ``s_i = e^{r_i - c}`` and an
integer ``K``, L1 is a finite sum over the multiset of the other ``K - 1`` draws:

    H(x_i) = sum_{n_1+...+n_A = K-1} multinomial(K-1; n) prod_j p_j^{n_j}
             * K s_i / (s_i + sum_j n_j s_j).

Everything is a :class:`fractions.Fraction`: the results are exact, which is what the tests
and :mod:`proofs_check` hold the floating-point engine against.  Cost is
``C(A + K - 2, K - 1)`` terms per atom: small laws and small ``K`` only.
"""

from __future__ import annotations

from fractions import Fraction
from math import factorial

__all__ = ["curation_factor_exact", "curate_exact", "retrain_step_exact", "compositions",
           "plackett_luce_factor_exact", "top_k_factor_exact"]


def compositions(total, parts):
    """All tuples of ``parts`` non-negative integers summing to ``total``."""
    if parts == 1:
        yield (total,)
        return
    for first in range(total, -1, -1):
        for rest in compositions(total - first, parts - 1):
            yield (first,) + rest


def _fractions(values, name):
    out = [Fraction(v) for v in values]
    if any(v < 0 for v in out):
        raise ValueError(f"{name} must be non-negative")
    return out


def curation_factor_exact(mass, s, K):
    """``H_p^K`` at every atom, exactly (L1).  ``mass``: masses (normalized here);
    ``s``: positive ``e^{r}`` values (any common scale); ``K``: integer ``>= 1``."""
    if isinstance(K, bool) or int(K) != K or K < 1:
        raise ValueError(f"K must be an integer >= 1, got {K!r}")
    K = int(K)
    s = _fractions(s, "s")
    if len(s) != len(mass) or any(v == 0 for v in s):
        raise ValueError("s must be positive, one value per atom")
    # (probability of the multiset of the other K - 1 draws, sum of its s values)
    terms = [(prob, sum(nj * sj for nj, sj in zip(n, s)))
             for prob, n in _other_draws(mass, K)]
    return [sum(prob * K * si / (si + tot) for prob, tot in terms) for si in s]


def curate_exact(mass, s, K):
    """``C_K(p) = p H_p^K`` exactly (normalized masses)."""
    total = sum(Fraction(v) for v in mass)
    H = curation_factor_exact(mass, s, K)
    return [Fraction(m) / total * h for m, h in zip(mass, H)]


def retrain_step_exact(mass, s, K, lam, data):
    """``(p_d + lam C_K(p)) / (1 + lam)`` exactly, for a rational ``lam >= 0``."""
    lam = Fraction(lam)
    d = _fractions(data, "data")
    dt = sum(d)
    c = curate_exact(mass, s, K)
    return [(dj / dt + lam * cj) / (1 + lam) for dj, cj in zip(d, c)]


# ----------------------------------------------------------------------------------------
# L4 and L5: keep several of K (exact oracles)
# ----------------------------------------------------------------------------------------


def _other_draws(mass, K):
    """``(probability, counts)`` of each multiset of the other ``K - 1`` draws."""
    p = _fractions(mass, "mass")
    total = sum(p)
    if total == 0:
        raise ValueError("mass has zero total mass")
    p = [v / total for v in p]
    fk = factorial(K - 1)
    for n in compositions(K - 1, len(p)):
        prob = Fraction(fk)
        for nj, pj in zip(n, p):
            if nj:
                prob = prob * pj ** nj / factorial(nj)
        if prob:
            yield prob, n


def _check_keep(K, keep):
    if isinstance(K, bool) or int(K) != K or K < 1:
        raise ValueError(f"K must be an integer >= 1, got {K!r}")
    if isinstance(keep, bool) or int(keep) != keep or not 1 <= keep <= K:
        raise ValueError(f"keep must be an integer in 1..K, got {keep!r}")
    return int(K), int(keep)


def plackett_luce_factor_exact(mass, s, K, keep):
    """``H`` of Plackett-Luce keep-``keep``-of-``K`` (L4) at every atom, exactly: ``K/keep``
    times the probability that a draw at the atom is among the first ``keep`` picked when
    picking without replacement with probabilities proportional to ``s`` (a recursion over
    the picks, for every multiset of the other ``K - 1`` draws; not the Laplace form)."""
    K, keep = _check_keep(K, keep)
    s = _fractions(s, "s")
    if len(s) != len(mass) or any(v == 0 for v in s):
        raise ValueError("s must be positive, one value per atom")
    draws = list(_other_draws(mass, K))
    out = []
    for sx in s:
        memo = {}

        def picked(m, counts):
            """P[x is among the next m picks | the others left are ``counts``]."""
            if m == 0:
                return Fraction(0)
            key = (m, counts)
            if key in memo:
                return memo[key]
            tot = sx + sum(c * sj for c, sj in zip(counts, s))
            val = sx / tot
            for j, c in enumerate(counts):
                if c:
                    rest = counts[:j] + (c - 1,) + counts[j + 1:]
                    val += c * s[j] / tot * picked(m - 1, rest)
            memo[key] = val
            return val

        out.append(Fraction(K, keep) * sum(prob * picked(keep, n) for prob, n in draws))
    return out


def top_k_factor_exact(mass, s, K, keep):
    """``H`` of hard top-``keep``-of-``K`` (L5) at every atom, exactly: ``K/keep`` times the
    probability that a draw at the atom is kept, with ties broken by a uniformly random order
    of the tied draws (the atom's position among its ``E + 1`` ties is uniform; it is kept
    iff ``A`` + its position ``< keep``), for every multiset of the other ``K - 1`` draws."""
    K, keep = _check_keep(K, keep)
    s = _fractions(s, "s")
    if len(s) != len(mass):
        raise ValueError("s must have one value per atom")
    draws = list(_other_draws(mass, K))
    out = []
    for sx in s:
        acc = Fraction(0)
        for prob, n in draws:
            above = sum(c for c, sj in zip(n, s) if sj > sx)
            equal = sum(c for c, sj in zip(n, s) if sj == sx)
            kept_positions = sum(1 for pos in range(equal + 1) if above + pos < keep)
            acc += prob * Fraction(kept_positions, equal + 1)
        out.append(Fraction(K, keep) * acc)
    return out
