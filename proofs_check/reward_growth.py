"""Growth of the expected exp-reward: T1 and T2 (THEORY.md section 3), symbolically.

With ``a_k = e^{r(X_k)}`` for the ``K`` compared samples, the kept sample has expected
exp-reward ``E[sum a_k^2 / sum a_k]``, so one step raises ``E[e^r]`` by
``E[sum a^2/sum a - mean(a)] = E[K empvar(a) / sum a] >= E[empvar]/e^{r_*}
= ((K-1)/K) Var/e^{r_*}``.  ``empvar(a) = (1/K) sum (a_k - mean a)^2``.
"""

from __future__ import annotations


import sympy as sp

from .algebra import vanishes, sign_certificate, positive_symbols
from .curation_operator import discrete_law, l1_factor
from .record import verification, proved, failed

__all__ = ["t1_identity_lhs", "t1_identity_rhs", "expected_empvar", "t1_increment_factor",
           "kinf_increment_derived", "t2_budget_derived"]


def t1_identity_lhs(a):
    """``sum a^2 / sum a - mean(a)``."""
    return sum(x ** 2 for x in a) / sum(a) - sum(a) / len(a)


def t1_identity_rhs(a):
    """``K empvar(a) / sum a``, ``empvar(a) = (1/K) sum (a_k - mean a)^2``."""
    K = len(a)
    mean = sum(a) / K
    return K * (sum((x - mean) ** 2 for x in a) / K) / sum(a)


@verification(
    "T1.identity",
    "sum a^2/sum a - mean(a) = K empvar(a)/sum a for symbolic a_1..a_K, K = 2, 3, 4",
    "identity simplified to zero")
def t1_identity(rhs=t1_identity_rhs):
    for K in (2, 3, 4):
        a = positive_symbols(" ".join(f"a{k}" for k in range(1, K + 1)))
        if not vanishes(t1_identity_lhs(a) - rhs(a)):
            return failed(f"K={K}: lhs - rhs = {sp.factor(t1_identity_lhs(a) - rhs(a))}")
    return proved("lhs - rhs = 0 identically for K = 2, 3, 4")


def expected_empvar(K):
    """``E[empvar(a_1..a_K)]`` for i.i.d. ``a_k`` in terms of the moments ``mu1 = E[a]``,
    ``mu2 = E[a^2]``: expand the polynomial and replace each monomial ``prod a_k^{e_k}`` by
    ``prod mu_{e_k}`` (independence)."""
    a = sp.symbols(" ".join(f"a{k}" for k in range(1, K + 1)))
    mu = {0: sp.Integer(1), 1: sp.Symbol("mu1"), 2: sp.Symbol("mu2")}
    mean = sum(a) / K
    poly = sp.Poly(sp.expand(sum((x - mean) ** 2 for x in a) / K), *a)
    return sum(c * sp.Mul(*[mu[e] for e in exps]) for exps, c in poly.terms()), mu


@verification(
    "T1.empvar",
    "E[empvar(a_1..a_K)] = ((K-1)/K) Var[a] for i.i.d. a_k, K = 2, 3, 4, 5",
    "identity simplified to zero in the symbolic moments mu1 = E[a], mu2 = E[a^2] "
    "(monomials replaced by products of moments)")
def t1_empvar(factor=lambda K: sp.Rational(K - 1, K)):
    for K in (2, 3, 4, 5):
        e, mu = expected_empvar(K)
        if not vanishes(e - factor(K) * (mu[2] - mu[1] ** 2)):
            return failed(f"K={K}: E[empvar] = {sp.factor(e)}, not "
                          f"{factor(K)} (mu2 - mu1^2)")
    return proved("E[empvar] - ((K-1)/K)(mu2 - mu1^2) = 0 for K = 2, 3, 4, 5")


def kinf_increment_derived(m1, m2):
    """``E_{C_inf(p)}[e^r] - E_p[e^r] = E_p[e^{2r}]/E_p[e^r] - E_p[e^r]`` in the moments
    ``m1 = E_p[e^r]``, ``m2 = E_p[e^{2r}]`` (L3: ``C_inf(p) = p e^r / E_p[e^r]``)."""
    return m2 / m1 - m1


@verification(
    "T1.Kinf",
    "K = inf: E_{C(p)}[e^r] = E_p[e^r] + Var_p[e^r]/E_p[e^r], for every law with finite "
    "E_p[e^{2r}]",
    "identity simplified to zero in the moments m1 = E_p[e^r], m2 = E_p[e^{2r}] "
    "(E_{C(p)}[e^r] = m2/m1 by L3), and on a symbolic 3-atom law")
def t1_kinf(increment=lambda mean, var: var / mean):
    m1, m2 = positive_symbols("m1 m2")
    if not vanishes(kinf_increment_derived(m1, m2) - increment(m1, m2 - m1 ** 2)):
        return failed(f"m2/m1 - m1 - claim = "
                      f"{sp.factor(kinf_increment_derived(m1, m2) - increment(m1, m2 - m1**2))}")
    p, s = discrete_law(3)
    mass = sum(p)
    mean = sum(pj * sj for pj, sj in zip(p, s)) / mass
    second = sum(pj * sj ** 2 for pj, sj in zip(p, s)) / mass
    curated = sum(pj * sj * sj for pj, sj in zip(p, s)) / sum(pj * sj for pj, sj in zip(p, s))
    if not vanishes(curated - mean - increment(mean, second - mean ** 2)):
        return failed("3-atom law: E_C[s] - E_p[s] - claim != 0")
    return proved("m2/m1 - m1 - (m2 - m1^2)/m1 = 0; same on a 3-atom law")


def t1_increment_factor(K):
    """T1's constant: ``E_{C_K(p)}[e^r] - E_p[e^r] >= factor(K) Var_p[e^r] / e^{r_*}``."""
    return sp.Rational(K - 1, K) if isinstance(K, int) else (K - 1) / K


@verification(
    "T1.bound",
    "E_{C_K(p)}[e^r] - E_p[e^r] >= ((K-1)/K) Var_p[e^r]/e^{r_*} for K = 2, 3, 4 on two-atom "
    "laws (symbolic mass and reward gap)",
    "inequality reduced to a sign certificate: top exp-reward 1, low exp-reward 1/(1+y), "
    "masses q, 1-q with q = 1/(1+w) (y, w > 0); E_{C_K(p)} from L1")
def t1_bound(factor=t1_increment_factor):
    y, w = positive_symbols("y w")
    s = [1 / (1 + y), sp.Integer(1)]
    q = 1 / (1 + w)
    p = [q, 1 - q]
    out = []
    for K in (2, 3, 4):
        curated_mean = sum(p[i] * l1_factor(i, p, s, K) * s[i] for i in range(2))
        mean = sum(pi * si for pi, si in zip(p, s))
        var = sum(pi * si ** 2 for pi, si in zip(p, s)) - mean ** 2
        ok, why = sign_certificate(curated_mean - mean - factor(K) * var / s[1])
        if not ok:
            return failed(f"K={K}: no sign certificate: {why}")
        out.append(f"K={K}: {why}")
    return proved("; ".join(out))


def t2_budget_derived(K, exp_r_star, mean0):
    """T2 by telescoping T1: ``sum_t Var_t <= (e^{r_*} - E_{p_0}[e^r]) / c`` with
    ``c = (K-1)/(K e^{r_*})`` (the increments sum to at most ``e^{r_*} - E_{p_0}[e^r]``)."""
    c = (K - 1) / (K * exp_r_star)
    return (exp_r_star - mean0) / c


@verification(
    "T2.budget",
    "sum_{t>=0} Var_{p_t}[e^r] <= K e^{r_*} (e^{r_*} - E_{p_0}[e^r]) / (K-1)",
    "identity simplified to zero: the claimed budget equals (e^{r_*} - E_{p_0}[e^r]) / c, "
    "c = (K-1)/(K e^{r_*}) the T1 constant, since sum_{t<T} (E_{t+1} - E_t) = E_T - E_0 "
    "<= e^{r_*} - E_0 (telescoping)")
def t2_budget(budget=lambda K, s_star, m0: K * s_star * (s_star - m0) / (K - 1)):
    K, s_star, m0 = positive_symbols("K s_star m0")
    if not vanishes(t2_budget_derived(K, s_star, m0) - budget(K, s_star, m0)):
        return failed(f"derived {sp.factor(t2_budget_derived(K, s_star, m0))} != claimed "
                      f"{budget(K, s_star, m0)}")
    return proved("(s_* - m0) K s_*/(K-1) - claim = 0")
