"""The curation operator: L1 = L2, P1 and L3 (THEORY.md section 2), symbolically.

A discrete law on ``n`` atoms has symbolic masses ``p_j > 0`` and exp-rewards ``s_j = e^{r_j}
> 0``.  For integer ``K`` the L1 expectation over the other ``K - 1`` i.i.d. draws is the
finite sum over multisets ``J`` of ``K - 1`` atoms

    H_L1(x_i) = sum_J multinomial(J) prod_{j in J} p_j * K s_i / (s_i + sum_{j in J} s_j),

and L2 is ``K s_i int_0^inf e^{-u s_i} M(u)^{K-1} du`` with ``M(u) = sum_j p_j e^{-u s_j}``,
integrated by ``sympy.integrate`` (the integrand, expanded, is a sum of exponentials).
"""

from __future__ import annotations

from functools import lru_cache
from itertools import combinations_with_replacement
from math import factorial
from collections import Counter

import sympy as sp

from .algebra import vanishes, positive_symbols
from .record import verification, proved, failed

__all__ = ["discrete_law", "l1_kernel", "l2_integrand", "l1_factor", "l2_factor",
           "laplace_factor_integral"]

u, v = positive_symbols("u v")
K_sym = sp.Symbol("K", positive=True)


def l1_kernel(s_x, others, K):
    """L1's integrand: ``K s(x) / (s(x) + sum of the other K-1 exp-rewards)``."""
    return K * s_x / (s_x + others)


def l2_integrand(u, s_x, M, K):
    """L2's integrand in ``u``: ``K s(x) e^{-u s(x)} M(u)^{K-1}``."""
    return K * s_x * sp.exp(-u * s_x) * M ** (K - 1)


def discrete_law(n, normalized=False):
    """Symbols ``(p, s)`` of an ``n``-atom law (positive); with ``normalized`` the last mass is
    ``1 - sum of the others``."""
    p = list(positive_symbols(" ".join(f"p{j}" for j in range(1, n + 1))))
    s = list(positive_symbols(" ".join(f"s{j}" for j in range(1, n + 1))))
    if normalized:
        p[-1] = 1 - sum(p[:-1])
    return p, s


def l1_factor(i, p, s, K, kernel=l1_kernel):
    """``H^K`` at atom ``i`` by enumerating the multisets of the other ``K - 1`` draws (L1)."""
    total = 0
    for J in combinations_with_replacement(range(len(p)), K - 1):
        counts = Counter(J)
        weight = sp.Integer(factorial(K - 1))
        for j, c in counts.items():
            weight = weight * p[j] ** c / factorial(c)
        total += weight * kernel(s[i], sum((s[j] for j in J), sp.Integer(0)), K)
    return total


def l2_factor(i, p, s, K, integrand=l2_integrand):
    """``H^K`` at atom ``i`` by integrating L2 in ``u`` with ``sympy.integrate``."""
    M = sum(pj * sp.exp(-u * sj) for pj, sj in zip(p, s))
    return sp.integrate(sp.expand(integrand(u, s[i], M, K)), (u, 0, sp.oo))


@lru_cache(maxsize=None)
def laplace_factor_integral():
    """``int_0^inf e^{-u a} du`` for a positive symbol ``a`` (the step from L1 to L2)."""
    a = sp.Symbol("a", positive=True)
    return a, sp.integrate(sp.exp(-u * a), (u, 0, sp.oo))


CASES = ((2, 2), (2, 3), (3, 2), (3, 3))   # (K, atoms)


@verification(
    "L2.laplace",
    "1/a = int_0^inf e^{-u a} du for a > 0; with Tonelli and independence of the K-1 draws "
    "this turns L1 into L2 for every integer K >= 1 and every law",
    "integral computed (sympy.integrate, a positive) and compared with 1/a")
def laplace_step(reciprocal=lambda a: 1 / a):
    a, integral = laplace_factor_integral()
    if vanishes(integral - reciprocal(a)):
        return proved(f"int_0^oo exp(-u a) du = {integral}; then E[K s/(s + S)] = "
                      "K s int e^{-us} E[e^{-uS}] du (non-negative integrand) and "
                      "E[e^{-u(S_1+...+S_{K-1})}] = M(u)^{K-1} (independence)")
    return failed(f"int_0^oo exp(-u a) du = {integral}, not {reciprocal(a)}")


@verification(
    "L1=L2",
    "L1 enumeration = L2 Laplace integral at every atom, K = 2, 3, laws on 2 and 3 atoms "
    "with symbolic masses p_j and exp-rewards s_j",
    "L2 integrated in u by sympy.integrate (positive symbols); L1 - L2 simplified to zero")
def l1_equals_l2(kernel=l1_kernel, integrand=l2_integrand):
    done = []
    for K, n in CASES:
        p, s = discrete_law(n)
        for i in range(n):
            h1 = l1_factor(i, p, s, K, kernel)
            h2 = l2_factor(i, p, s, K, integrand)
            if not vanishes(h1 - h2):
                return failed(f"K={K}, {n} atoms, atom {i + 1}: L1 - L2 = "
                              f"{sp.factor(sp.together(h1 - h2))} != 0")
        done.append(f"K={K}/{n} atoms")
    return proved("L1 - L2 = 0 identically at every atom for " + ", ".join(done))


@verification(
    "P1",
    "E_p[H_p^K] = 1 (normalization), K = 2, 3, laws on 2 and 3 atoms with symbolic masses "
    "and exp-rewards",
    "identity simplified to zero: sum_i p_i H_L1(x_i) - (sum_j p_j)^K = 0 for unnormalized "
    "symbolic p, so E_p[H] = 1 once sum p = 1")
def normalization(kernel=l1_kernel):
    done = []
    for K, n in CASES:
        p, s = discrete_law(n)
        expectation = sum(p[i] * l1_factor(i, p, s, K, kernel) for i in range(n))
        if not vanishes(expectation - sum(p) ** K):
            return failed(f"K={K}, {n} atoms: sum_i p_i H_i - (sum p)^K = "
                          f"{sp.factor(sp.together(expectation - sum(p) ** K))}")
        done.append(f"K={K}/{n} atoms")
    return proved("sum_i p_i H_i = (sum_j p_j)^K identically for " + ", ".join(done))


@lru_cache(maxsize=None)
def kinf_limit_of_integrand():
    """``lim_{K->oo} s e^{-v s/K} M(v/K)^{K-1}`` for a normalized 3-atom law (``sympy.limit``),
    the L2 integrand after ``u = v/K``; returns ``(s, p, sv, limit)``."""
    p, sv = discrete_law(3, normalized=True)
    s = sp.Symbol("s", positive=True)
    M = sum(pj * sp.exp(-(v / K_sym) * sj) for pj, sj in zip(p, sv))
    g = s * sp.exp(-v * s / K_sym) * M ** (K_sym - 1)
    return s, p, sv, sp.limit(g, K_sym, sp.oo)


@verification(
    "L3",
    "H_p^K(x) -> e^{r(x)}/E_p[e^r] as K -> inf (L2 -> L3), shown for a normalized 3-atom law "
    "with symbolic masses and exp-rewards",
    "limit computed: u = v/K in L2 gives s int_0^inf e^{-vs/K} M(v/K)^{K-1} dv; sympy.limit "
    "of the integrand is s e^{-v m} (m = E_p[s]); its integral (sympy.integrate) is s/m; "
    "dominated convergence")
def kinf_limit(claimed=lambda s, m: s / m):
    s, p, sv, lim = kinf_limit_of_integrand()
    m = sum(pj * sj for pj, sj in zip(p, sv))
    if not vanishes(lim - s * sp.exp(-v * m)):
        return failed(f"limit of the integrand is {lim}, not s exp(-v m)")
    mm = sp.Symbol("m", positive=True)
    integral = sp.integrate(s * sp.exp(-v * mm), (v, 0, sp.oo))
    if not vanishes(integral - claimed(s, mm)):
        return failed(f"int_0^oo s e^(-v m) dv = {integral}, not the claimed {claimed(s, mm)}")
    # Jensen lower bound (P2) has the same limit: a cross-check of the value
    jensen = sp.limit(K_sym * s / (s + (K_sym - 1) * mm), K_sym, sp.oo)
    if not vanishes(jensen - claimed(s, mm)):
        return failed(f"the P2 lower bound K s/(s+(K-1)m) tends to {jensen}, not the claim")
    return proved(f"lim integrand = s exp(-v m); int_0^oo = {integral}; domination for K >= 2: "
                  "M(v/K)^{K-1} <= exp(-v s_min (K-1)/K) <= exp(-v s_min/2), integrable; "
                  f"the P2 lower bound K s/(s+(K-1)m) has the same limit {jensen}")
