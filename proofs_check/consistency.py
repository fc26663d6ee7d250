"""The closed forms that ``theory`` and ``numerics`` evaluate in floating point, held against
the sympy derivations of this package, so that code and algebra cannot drift apart.

Each comparison evaluates the derivation in exact or 40-digit arithmetic (``sympy.N`` /
``lambdify(..., "mpmath")``) at a few rational points and requires relative agreement within
``REL_TOL`` (absolute where the exact value is 0).  Status: ``checked-on-cases`` (the points are
listed in ``detail``).
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache

import mpmath
import sympy as sp

from .curation_operator import l1_factor
from .gaussian import tilt_claimed
from .rates import rho_derived, kinf_tv_bound_derived
from .record import verification, checked_on_cases, failed
from .reward_growth import expected_empvar, kinf_increment_derived, t2_budget_derived
from .stability import kappa_derived, sharp_kl_tv_family, lam as lam_sym

__all__ = ["REL_TOL", "compare"]

REL_TOL = 1e-13
DPS = 40
R = sp.Rational
INF = math.inf


def _theory(name):
    from theory import formulas  # theory depends on numerics; imported only when needed
    return getattr(formulas, name)


def _rel(numeric, exact):
    exact = mpmath.mpf(exact)
    numeric = mpmath.mpf(float(numeric))
    return abs(numeric - exact) / abs(exact) if exact != 0 else abs(numeric)


def compare(func, derived, points, label):
    """``func(*point)`` vs ``derived(*point)`` (an mpmath / exact value) at every point:
    ``(status, detail)``."""
    worst = 0.0
    with mpmath.workdps(DPS):
        for point in points:
            exact = derived(*point)
            err = _rel(func(*[float(a) if not isinstance(a, (list, tuple)) else a
                              for a in point]), exact)
            if not err <= REL_TOL:
                return failed(f"{label}{tuple(point)}: relative error {float(err):.3g} > "
                              f"{REL_TOL:g} (derived {mpmath.nstr(exact, 17)})")
            worst = max(worst, float(err))
    return checked_on_cases(f"{len(points)} points, max relative error {worst:.2g} "
                            f"(tolerance {REL_TOL:g}): " + ", ".join(map(_fmt, points)))


def _fmt(point):
    def one(a):
        if isinstance(a, sp.Rational) and a.q > 10 ** 12:
            return f"{float(a):.12g}"
        return str(a)
    return "(" + ", ".join(one(a) for a in point) + ")"


def _evalf(expr, subs):
    """``expr`` at the point ``subs`` to ``DPS`` digits (sympy's adaptive-precision evalf)."""
    value = sp.sympify(expr).evalf(DPS, subs={k: sp.nsimplify(v) for k, v in subs.items()})
    return mpmath.mpf(str(value))


# -- T3 ---------------------------------------------------------------------------------------

@verification("F.rho_K", "theory.formulas.rho_K agrees with rho_K derived from L2 (T3.rate) "
              "and its K -> inf limit (T3.rate-limit)",
              "derivation evaluated to 40 digits at rational (delta, K), K = 1 .. 1e6 and inf")
def rho_consistency(formula=None):
    formula = formula or _theory("rho_K")
    expr, Ks = rho_derived()
    delta = sp.Symbol("delta", positive=True)
    limit = sp.limit(expr, Ks, sp.oo)

    def derived(d, K):
        if K == INF:
            return _evalf(limit, {delta: d})
        return _evalf(expr, {delta: d, Ks: K})
    pts = [(d, K) for d in (R(1, 10), R(1), R(5, 2), R(7))
           for K in (R(1), R(3, 2), R(2), R(7), R(10) ** 6, INF)]
    pts += [(R(30), R(1)), (R(20), 1 + R(1, 2 ** 20))]   # K near 1, large gap
    return compare(formula, derived, pts, "rho_K")


@verification("F.t3_tv_bound", "theory.formulas.t3_tv_bound agrees with (1 - m_*) e^{-t delta}"
              "/m_* (T3.Kinf-TV: numerator of the exact p_t(r < r_*) over its denominator's "
              "lower bound m_*)", "derivation evaluated to 40 digits at rational points")
def t3_consistency(formula=None):
    formula = formula or _theory("t3_tv_bound")
    m, d, t = sp.symbols("m delta t", positive=True)
    bound = kinf_tv_bound_derived(m, d, t)
    pts = [(R(1, 2), R(1), R(0)), (R(1, 10), R(1, 3), R(5)), (R(9, 10), R(2), R(7, 2))]
    return compare(formula, lambda a, b, c: _evalf(bound, {m: a, d: b, t: c}), pts,
                   "t3_tv_bound")


# -- T1, T2 -----------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _t1_factor(K):
    """``E[empvar]/Var`` from the symbolic-moment expansion (T1.empvar), for integer K."""
    e, mu = expected_empvar(K)
    return sp.cancel(e / (mu[2] - mu[1] ** 2))


@verification("F.t1_increment_lower_bound", "theory.formulas.t1_increment_lower_bound agrees "
              "with E[empvar]/Var * Var/e^{r_*} (T1.empvar; K = inf: the limit 1)",
              "derivation evaluated exactly at K = 2, 3, 4, 5, inf and rational Var, e^{r_*}")
def t1_consistency(formula=None):
    formula = formula or _theory("t1_increment_lower_bound")
    Ks = sp.Symbol("K", positive=True)
    limit = sp.limit((Ks - 1) / Ks, Ks, sp.oo) if _t1_factor(2) == R(1, 2) else None

    def derived(var, K, s_star):
        factor = limit if K == INF else _t1_factor(int(K))
        return _evalf(factor * var / s_star, {})
    pts = [(R(1, 7), K, R(3, 2)) for K in (2, 3, 4, 5, INF)] + [(R(2), R(3), R(1))]
    return compare(formula, derived, pts, "t1_increment_lower_bound")


@verification("F.kinf_increment", "theory.formulas.kinf_increment agrees with "
              "E_p[e^{2r}]/E_p[e^r] - E_p[e^r] (T1.Kinf)",
              "derivation evaluated exactly at rational (mean, var)")
def kinf_increment_consistency(formula=None):
    formula = formula or _theory("kinf_increment")
    pts = [(R(1, 2), R(1, 10)), (R(3), R(7, 4)), (R(1, 1000), R(1, 10 ** 7))]
    return compare(formula, lambda m, var: _evalf(kinf_increment_derived(m, var + m ** 2), {}),
                   pts, "kinf_increment")


@verification("F.t2_variance_budget", "theory.formulas.t2_variance_budget agrees with the "
              "telescoped T1 budget (T2.budget; K = inf: its limit)",
              "derivation evaluated exactly at rational points, K = 2, 5/2, 10, inf")
def t2_consistency(formula=None):
    formula = formula or _theory("t2_variance_budget")
    Ks, s, m0 = sp.symbols("K s m0", positive=True)
    expr = t2_budget_derived(Ks, s, m0)
    limit = sp.limit(expr, Ks, sp.oo)

    def derived(K, s_star, mean0):
        return _evalf(limit if K == INF else expr, {Ks: K, s: s_star, m0: mean0})
    pts = [(K, R(1), R(1, 3)) for K in (R(2), R(5, 2), R(10), INF)] + [(R(4), R(5, 2), R(2))]
    return compare(formula, derived, pts, "t2_variance_budget")


# -- T5, T7 -----------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _sharp_limits():
    eps, kl, tv = sharp_kl_tv_family()
    return sp.limit(kl, eps, 0), sp.limit(sp.simplify(tv), eps, 0)


@verification("F.t5_kl_bound", "theory.formulas.t5_kl_bound agrees with sup KL(p_d || p_t) = "
              "log(1+lam) (T5.KL-TV, sharp family)",
              "derivation evaluated to 40 digits at rational lam (1e-8 .. 1e6)")
def t5_kl_consistency(formula=None):
    formula = formula or _theory("t5_kl_bound")
    kl, _ = _sharp_limits()
    pts = [(l,) for l in (R(1, 10 ** 8), R(1, 3), R(1), R(7, 2), R(10) ** 6)]
    return compare(formula, lambda l: _evalf(kl, {lam_sym: l}), pts, "t5_kl_bound")


@verification("F.t5_tv_bound", "theory.formulas.t5_tv_bound agrees with sup TV(p_t, p_d) = "
              "lam/(1+lam) (T5.KL-TV, sharp family)",
              "derivation evaluated exactly at rational lam (1e-8 .. 1e6)")
def t5_tv_consistency(formula=None):
    formula = formula or _theory("t5_tv_bound")
    _, tv = _sharp_limits()
    pts = [(l,) for l in (R(1, 10 ** 8), R(1, 3), R(1), R(7, 2), R(10) ** 6)]
    return compare(formula, lambda l: _evalf(tv, {lam_sym: l}), pts, "t5_tv_bound")


@verification("F.t7_kappa", "theory.formulas.t7_kappa agrees with lam K/(1+lam) (T7.kappa; "
              "lam = inf: the limit K)", "derivation evaluated exactly at rational points")
def t7_kappa_consistency(formula=None):
    formula = formula or _theory("t7_kappa")
    l, Ks = sp.symbols("lam K", positive=True)
    expr = kappa_derived(l, Ks)
    limit = sp.limit(expr, l, sp.oo)

    def derived(lv, K):
        return _evalf(limit if lv == INF else expr, {l: lv, Ks: K})
    pts = [(R(1, 4), R(3)), (R(1, 2), R(2)), (R(5), R(7, 2)), (INF, R(4)), (R(0), R(3))]
    return compare(formula, derived, pts, "t7_kappa")


@verification("F.t7_coupling_bound", "theory.formulas.t7_coupling_bound agrees with "
              "1 - (1 - TV)^K (T7.coupling), including TV = 1e-12 and K up to 1e6",
              "derivation evaluated to 40 digits at rational (TV, K)")
def t7_coupling_consistency(formula=None):
    formula = formula or _theory("t7_coupling_bound")
    x, Ks = sp.symbols("x K", positive=True)
    expr = 1 - (1 - x) ** Ks
    pts = [(x0, K) for x0 in (R(1, 10 ** 12), R(1, 10), R(1, 2), R(9, 10))
           for K in (R(1), R(5, 2), R(4), R(10) ** 6)]
    return compare(formula, lambda a, b: _evalf(expr, {x: a, Ks: b}), pts, "t7_coupling_bound")


@verification("F.t7_kinf_factor", "theory.formulas.t7_kinf_factor agrees with 2 e^{r_* - r_min} "
              "(T7.Kinf)", "derivation evaluated to 40 digits at rational rewards")
def t7_kinf_consistency(formula=None):
    formula = formula or _theory("t7_kinf_factor")
    a, b = sp.symbols("a b", real=True)
    expr = 2 * sp.exp(a - b)
    pts = [(R(0), R(-1)), (R(3, 2), R(1, 2)), (R(10), R(-20))]
    return compare(formula, lambda x, y: _evalf(expr, {a: x, b: y}), pts, "t7_kinf_factor")


# -- T4 ---------------------------------------------------------------------------------------

_GAUSS_CASES = (
    (R(1, 2), R(2), R(-1), R(3), R(1, 4)),                                  # d = 1
    ([R(1), R(-2)], [[R(2), R(1, 2)], [R(1, 2), R(1)]], [R(0), R(1)],
     [[R(1), R(0)], [R(0), R(3)]], R(2)),                                    # d = 2
    ([R(0), R(1), R(2)], [[R(1), R(0), R(0)], [R(0), R(2), R(1, 3)], [R(0), R(1, 3), R(1)]],
     [R(1), R(1), R(1)], [[R(2), R(1), R(0)], [R(1), R(2), R(0)], [R(0), R(0), R(1, 5)]],
     R(7, 3)),                                                               # d = 3
)


@verification("F.gaussian_tilt", "theory.formulas.gaussian_tilt agrees with the T4 closed form "
              "proved in T4.gauss-1d / T4.gauss-2d (exact rational matrices, d = 1, 2, 3)",
              "closed form evaluated in exact rationals; every entry of mean_t and cov_t "
              "compared")
def gaussian_consistency(formula=None):
    formula = formula or _theory("gaussian_tilt")
    worst = 0.0
    for m, S, c, A, t in _GAUSS_CASES:
        scalar = not isinstance(m, list)
        M = lambda v: sp.Matrix([v] if scalar else v)
        Mat = lambda v: sp.Matrix([[v]] if scalar else v)
        mean_t, cov_t = tilt_claimed(M(m), Mat(S), M(c), Mat(A), t)
        if scalar:
            got_m, got_c = formula(float(m), float(S), float(c), float(A), float(t))
            got_m, got_c = [[got_m]], [[got_c]]
        else:
            import numpy as np
            got_m, got_c = formula(np.array(m, dtype=float), np.array(S, dtype=float),
                                   np.array(c, dtype=float), np.array(A, dtype=float), float(t))
            got_m = [[v] for v in np.asarray(got_m)]
            got_c = np.asarray(got_c).tolist()
        for i in range(mean_t.rows):
            for exact, got in [(mean_t[i], got_m[i][0])] + [
                    (cov_t[i, j], got_c[i][j]) for j in range(cov_t.cols)]:
                with mpmath.workdps(DPS):
                    err = float(_rel(got, mpmath.mpf(sp.Rational(exact).p) / sp.Rational(exact).q))
                if not err <= REL_TOL:
                    return failed(f"d={mean_t.rows}: entry {exact} computed as {got} "
                                  f"(relative error {err:.3g})")
                worst = max(worst, err)
    return checked_on_cases(f"d = 1, 2, 3 rational cases, max relative error {worst:.2g} "
                            f"(tolerance {REL_TOL:g})")


# -- T8 ---------------------------------------------------------------------------------------

@verification("F.t8_condensate", "theory.formulas.t8_condensate agrees with 1 - I for I < 1 "
              "and 0 for I >= 1 (T8.condensate), including the worked example's I",
              "derivation evaluated exactly / to 40 digits at rational I and the example's I")
def t8_consistency(formula=None):
    formula = formula or _theory("t8_condensate")
    from .condensation import example_I
    I_sym = sp.Symbol("I", positive=True)
    expr = sp.Piecewise((1 - I_sym, I_sym < 1), (0, True))
    example = sp.N(example_I(), DPS)
    pts = [(R(1, 3),), (R(99, 100),), (sp.Rational(str(example)),)]
    status, detail = compare(formula, lambda i: _evalf(expr, {I_sym: i}), pts, "t8_condensate")
    if status != "failed":
        for i in (R(1), R(3, 2)):
            if formula(float(i)) != 0:
                return failed(f"t8_condensate({i}) = {formula(float(i))}, expected 0 (I >= 1)")
        detail += "; exactly 0 at I = 1, 3/2"
    return status, detail


# -- the engine (numerics) --------------------------------------------------------------------

_ENGINE_LAWS = (
    ((R(1, 2), R(1, 4), R(1, 4)), (R(1), R(1, 2), R(1, 3))),
    ((R(1, 10), R(3, 5), R(3, 10)), (R(1, 100), R(7, 10), R(1))),
    ((R(1, 3), R(2, 3)), (R(1, 1000), R(1))),
)


def _l2_mpmath(i, p, s, K):
    """L2 at atom ``i`` for real ``K``, integrated by mpmath (``u = e^v``)."""
    M = lambda x: sum(mpmath.mpf(pj.p) / pj.q * mpmath.exp(-x * mpmath.mpf(sj.p) / sj.q)
                      for pj, sj in zip(p, s))
    si = mpmath.mpf(s[i].p) / s[i].q
    f = lambda x: K * si * mpmath.exp(-x * si) * M(x) ** (K - 1)
    return mpmath.quad(f, [0, 1, 10, 100, 1000, mpmath.inf])


@verification("E.curation_factor", "numerics.curation_factor agrees with the symbolic L1 "
              "(K = 2, 3, 5; exact rationals), L2 (K = 7/2, 40-digit quadrature) and L3 (K = inf) "
              "on three laws with rational masses and exp-rewards",
              "exact rational evaluation of L1 / L3 and 40-digit L2 quadrature on enumerated "
              "cases; relative agreement within 1e-13")
def engine_consistency(formula=None):
    if formula is None:
        from numerics import curation_factor as formula
    import numpy as np
    worst, n = 0.0, 0
    with mpmath.workdps(DPS):
        for p, s in _ENGINE_LAWS:
            mass = np.array([float(v) for v in p])
            reward = np.array([math.log(v.p) - math.log(v.q) for v in s])
            for K in (2, 3, 5, R(7, 2), INF):
                got = formula(mass, reward, float(K))
                for i in range(len(p)):
                    if K == INF:
                        exact = s[i] / sum(a * b for a, b in zip(p, s))
                        exact = mpmath.mpf(exact.p) / exact.q
                    elif isinstance(K, int):
                        e = sp.Rational(l1_factor(i, list(p), list(s), K))
                        exact = mpmath.mpf(e.p) / e.q
                    else:
                        exact = _l2_mpmath(i, p, s, mpmath.mpf(K.p) / K.q)
                    err = float(_rel(got[i], exact))
                    n += 1
                    if not err <= REL_TOL:
                        return failed(f"p={p}, s={s}, K={K}, atom {i + 1}: {got[i]!r} vs "
                                      f"{mpmath.nstr(exact, 17)} (relative {err:.3g})")
                    worst = max(worst, err)
    return checked_on_cases(f"{n} atom values, max relative error {worst:.2g} "
                            f"(tolerance {REL_TOL:g})")


@verification("E.exact-oracle", "numerics.exact.curation_factor_exact equals the symbolic L1 "
              "exactly (K = 1..5 on three laws with rational masses and exp-rewards)",
              "exact rational evaluation on enumerated cases; equality of rationals")
def oracle_consistency(formula=None):
    if formula is None:
        from numerics.exact import curation_factor_exact as formula
    n = 0
    for p, s in _ENGINE_LAWS:
        for K in (1, 2, 3, 4, 5):
            got = formula([Fraction(v.p, v.q) for v in p], [Fraction(v.p, v.q) for v in s], K)
            for i in range(len(p)):
                e = sp.Rational(l1_factor(i, list(p), list(s), K))
                if Fraction(e.p, e.q) != Fraction(got[i]):
                    return failed(f"p={p}, s={s}, K={K}, atom {i + 1}: {got[i]} != {e}")
                n += 1
    return checked_on_cases(f"{n} atom values equal as rationals")
