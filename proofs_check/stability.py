"""Retraining on real and curated data: T5 and T7 (THEORY.md section 4), symbolically.

``p_t = (p_d + lam c) / (1 + lam)`` with ``c = C_K(p_{t-1}) >= 0`` at each point.
"""

from __future__ import annotations

from fractions import Fraction
from itertools import product

import sympy as sp

from .algebra import vanishes, sign_certificate, positive_symbols
from .record import verification, proved, checked_on_cases, failed

__all__ = ["kappa_derived", "sharp_kl_tv_family"]

lam, K, pd, c = positive_symbols("lam K p_d c")


@verification(
    "T5.floor",
    "t >= 1: p_t >= p_d/(1+lam) pointwise",
    "inequality reduced to a sign certificate: p_t - p_d/(1+lam) with "
    "p_t = (p_d + lam c)/(1+lam), c = C_K(p_{t-1}) >= 0")
def data_floor(floor=lambda p_d, lam: p_d / (1 + lam)):
    gap = (pd + lam * c) / (1 + lam) - floor(pd, lam)
    ok, why = sign_certificate(gap)
    if not ok:
        return failed(f"p_t - floor: {why}")
    return proved(f"p_t - floor = {sp.factor(gap)} >= 0 ({why})")


def sharp_kl_tv_family():
    """Two atoms, ``p_d = (1 - eps, eps)``, curated law ``c = (0, 1)``: returns
    ``(eps, KL(p_d || p_t), TV(p_t, p_d))`` with ``p_t = (p_d + lam c)/(1+lam)``."""
    eps = sp.Symbol("eps", positive=True)
    p_d = [1 - eps, eps]
    p_t = [(1 - eps) / (1 + lam), (eps + lam) / (1 + lam)]
    kl = sum(a * sp.log(a / b) for a, b in zip(p_d, p_t))
    tv = sp.Abs(p_d[0] - p_t[0])  # = |p_d[1] - p_t[1]|; two atoms
    return eps, kl, tv


@verification(
    "T5.KL-TV",
    "t >= 1: KL(p_d || p_t) <= log(1+lam) and TV(p_t, p_d) <= lam/(1+lam), and both bounds are "
    "sharp",
    "inequalities reduced to sign certificates ((1+lam) - p_d/p_t >= 0, so log(p_d/p_t) <= "
    "log(1+lam) under p_d; (p_d - p_t) - lam p_d/(1+lam) <= 0); sharpness: limit computed "
    "on p_d = (1-eps, eps), C_K = (0, 1), eps -> 0")
def kl_tv(kl_bound=lambda lam: sp.log(1 + lam), tv_bound=lambda lam: lam / (1 + lam)):
    pt = (pd + lam * c) / (1 + lam)
    ok, why = sign_certificate((1 + lam) - pd / pt)
    if not ok:
        return failed(f"p_d/p_t <= 1+lam: {why}")
    ok, why2 = sign_certificate(lam * pd / (1 + lam) - (pd - pt))
    if not ok:
        return failed(f"p_d - p_t <= lam p_d/(1+lam): {why2}")
    # the proved bounds are log(1+lam) and lam/(1+lam); they are attained in the limit:
    eps, kl, tv = sharp_kl_tv_family()
    kl_lim = sp.limit(kl, eps, 0)
    tv_lim = sp.limit(sp.simplify(tv), eps, 0)
    if not vanishes(kl_lim - kl_bound(lam)):
        return failed(f"the sup of KL is {kl_lim}, the claimed bound is {kl_bound(lam)}")
    if not vanishes(tv_lim - tv_bound(lam)):
        return failed(f"the sup of TV is {tv_lim}, the claimed bound is {tv_bound(lam)}")
    return proved(f"pointwise: {why}; {why2}; limits eps -> 0: KL -> {kl_lim}, TV -> {tv_lim}")


def kappa_derived(lam, K):
    """``T(p) - T(q) = lam (C_K(p) - C_K(q)) / (1 + lam)``, times the coupling's Lipschitz
    constant ``K`` (``1 - (1 - x)^K <= K x``)."""
    return lam / (1 + lam) * K


@verification(
    "T7.kappa",
    "T = (p_d + lam C_K)/(1+lam) is Lipschitz in TV with kappa = lam K/(1+lam)",
    "identity simplified to zero: T(p) - T(q) - lam (C_K p - C_K q)/(1+lam) = 0, and "
    "kappa - (lam/(1+lam)) K = 0 (K from T7.coupling)")
def kappa(kappa=lambda lam, K: lam * K / (1 + lam)):
    cp, cq = sp.symbols("Cp Cq", positive=True)
    step = lambda cur: (pd + lam * cur) / (1 + lam)
    if not vanishes(step(cp) - step(cq) - lam * (cp - cq) / (1 + lam)):
        return failed("T(p) - T(q) is not lam (C p - C q)/(1+lam)")
    if not vanishes(kappa(lam, K) - kappa_derived(lam, K)):
        return failed(f"claimed kappa {kappa(lam, K)} != derived {kappa_derived(lam, K)}")
    return proved("T(p) - T(q) = lam (C p - C q)/(1+lam); kappa = lam K/(1+lam)")


@verification(
    "T7.kappa-below-1",
    "for lam >= 0, K >= 1: lam K/(1+lam) < 1 iff lam (K-1) < 1",
    "identity simplified to zero: (1 - kappa)(1+lam) = 1 - lam (K-1), and 1 + lam > 0")
def kappa_below_one(kappa=lambda lam, K: lam * K / (1 + lam)):
    l, k = sp.symbols("lam K", nonnegative=True)
    if not vanishes((1 - kappa(l, k)) * (1 + l) - (1 - l * (k - 1))):
        return failed(f"(1 - kappa)(1+lam) = {sp.expand((1 - kappa(l, k)) * (1 + l))}, "
                      "not 1 - lam (K-1)")
    if not (1 + l).is_positive:
        return failed("1 + lam not known positive")
    return proved("(1 - kappa)(1+lam) - (1 - lam(K-1)) = 0; 1 + lam > 0 so the signs agree")


@verification(
    "T7.coupling",
    "1 - (1-x)^K <= K x on [0, 1] (Bernoulli): for integer K = 1..8 and for real K >= 1",
    "integer K: sign certificate with x = y/(1+y), y > 0 (x = 0 trivial); real K: "
    "g = K x - (1 - (1-x)^K) has g(0) = 0 and g' - K (1 - (1-x)^{K-1}) simplified to zero, "
    "so g' >= 0 as 0 <= 1-x <= 1 and K-1 >= 0")
def coupling(bound=lambda x, K: 1 - (1 - x) ** K):
    y = sp.Symbol("y", positive=True)
    for k in range(1, 9):
        ok, why = sign_certificate(sp.Integer(k) * y / (1 + y) - bound(y / (1 + y), k))
        if not ok:
            return failed(f"K={k}: {why}")
    xs = sp.Symbol("x", positive=True)
    Ks = sp.Symbol("K", positive=True)
    g = Ks * xs - bound(xs, Ks)
    if not vanishes(g.subs(xs, 0)):
        return failed(f"g(0) = {sp.simplify(g.subs(xs, 0))} != 0")
    if not vanishes(sp.diff(g, xs) - Ks * (1 - (1 - xs) ** (Ks - 1))):
        return failed(f"g'(x) = {sp.simplify(sp.diff(g, xs))}, not K (1 - (1-x)^(K-1))")
    return proved("K = 1..8: K x - (1 - (1-x)^K) has one-signed factors; real K >= 1: "
                  "g(0) = 0, g' = K(1 - (1-x)^(K-1)) >= 0")


@verification(
    "T7.Kinf-2atoms",
    "K = inf, two atoms: TV(C_inf p, C_inf q) <= 2 e^{r_* - r_min} TV(p, q)",
    "inequality reduced to a sign certificate: exp-rewards 1/(1+b), 1 (r_* - r_min = "
    "log(1+b)), low masses X/(1+X), Y/(1+Y); factor - |C p - C q|/|p - q| >= 0")
def kinf_two_atoms(factor=lambda r_star, r_min: 2 * sp.exp(r_star - r_min)):
    b, X, Y = positive_symbols("b X Y")
    a = 1 / (1 + b)
    x, y = X / (1 + X), Y / (1 + Y)
    curated_low = lambda m: m * a / (m * a + 1 - m)   # C_inf(p) low mass (L3)
    # |C(x) - C(y)| / |x - y| as a rational function (the difference quotient)
    quotient = sp.cancel((curated_low(x) - curated_low(y)) / (x - y))
    gap = sp.simplify(factor(sp.log(1 + b), 0)) - quotient
    ok, why = sign_certificate(gap)
    if not ok:
        return failed(f"factor - quotient: {why}")
    return proved(f"difference quotient = {sp.factor(quotient)}; factor - quotient: {why}")


@verification(
    "T7.Kinf-3atoms",
    "K = inf, three atoms: TV(C_inf p, C_inf q) <= 2 e^{r_* - r_min} TV(p, q)",
    "exact rational evaluation on enumerated cases: exp-rewards (1, 1/2, 1/5) and "
    "(1, 9/10, 1/100); p, q over all laws with masses in {0, 1/6, ..., 1}, p != q")
def kinf_three_atoms(factor=lambda r_star, r_min: 2 * sp.exp(r_star - r_min)):
    grid = [Fraction(i, 6) for i in range(7)]
    laws = [(a, b, 1 - a - b) for a in grid for b in grid if a + b <= 1]
    cases = worst = 0
    for s in ((Fraction(1), Fraction(1, 2), Fraction(1, 5)),
              (Fraction(1), Fraction(9, 10), Fraction(1, 100))):
        allowed = sp.Rational(str(factor(sp.log(s[0]), sp.log(s[-1])).evalf(30)))
        for p, q in product(laws, laws):
            if p == q:
                continue
            cp = [pi * si / sum(a * b for a, b in zip(p, s)) for pi, si in zip(p, s)]
            cq = [qi * si / sum(a * b for a, b in zip(q, s)) for qi, si in zip(q, s)]
            ratio = sum(abs(a - b) for a, b in zip(cp, cq)) / sum(abs(a - b) for a, b in zip(p, q))
            worst = max(worst, ratio / (s[0] / s[-1]))
            cases += 1
            if ratio > allowed:
                return failed(f"s={s}, p={p}, q={q}: TV ratio {ratio} > {allowed}")
    return checked_on_cases(f"{cases} pairs; max TV ratio / e^(r_*-r_min) = {float(worst):.4f} "
                            "(bound: 2)")
