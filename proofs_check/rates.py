"""Convergence rates of T3 (THEORY.md section 3), symbolically.

Two reward levels: top exp-reward 1 (after the shift ``r -> r - r_*``), low exp-reward
``e^{-delta}``.  With ``x`` the low-level mass, one step of ``p -> C_K(p)`` maps ``x`` to
``f(x) = x H_p^K(low)``, and ``x = 0`` is the fixed point retraining converges to.  The
asymptotic factor per step is ``f'(0) = rho_K(delta) = K e^{-delta}/(e^{-delta} + K - 1)``.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

from .algebra import vanishes, sign_certificate, positive_symbols
from .curation_operator import l1_factor, l2_integrand, u
from .record import verification, proved, failed

__all__ = ["rho_claimed", "rho_derived", "two_level_map_l1", "kinf_low_mass",
           "kinf_tv_bound_derived"]

delta, k, x = positive_symbols("delta k x")


def rho_claimed(delta, K):
    """T3's factor as THEORY.md states it."""
    return K * sp.exp(-delta) / (sp.exp(-delta) + K - 1)


@lru_cache(maxsize=None)
def rho_derived():
    """``f'(0)`` from L2 for real ``K = 1 + k > 1``: ``d/dx [x H(low)]`` at ``x = 0`` is
    ``H(low)`` at ``x = 0``, i.e. ``K e^{-d} int_0^inf e^{-u e^{-d}} e^{-u (K-1)} du``
    (``sympy.integrate``).  Returns ``(expr in delta, K)``, with ``K`` a positive symbol."""
    K = 1 + k
    low = sp.exp(-delta)
    M = x * sp.exp(-u * low) + (1 - x) * sp.exp(-u)
    integrand = sp.diff(x * l2_integrand(u, low, M, K), x).subs(x, 0)
    value = sp.integrate(sp.simplify(integrand), (u, 0, sp.oo))
    Ks = sp.Symbol("K", positive=True)
    return sp.simplify(value.subs(k, Ks - 1)), Ks


def two_level_map_l1(K):
    """``f(x) = x H^K(low)`` by L1 enumeration for integer ``K``."""
    return x * l1_factor(0, [x, 1 - x], [sp.exp(-delta), sp.Integer(1)], K)


@verification(
    "T3.rate",
    "two reward levels with gap delta: the low-level mass map x -> x H^K(low) has derivative "
    "rho_K(delta) = K e^{-delta}/(e^{-delta}+K-1) at its fixed point x = 0",
    "L2 differentiated in x under the integral and integrated in u (sympy, real K > 1); "
    "and L1 enumerated and differentiated for K = 2..5; each minus rho simplified to zero")
def rate_is_derivative(rho=rho_claimed):
    derived, Ks = rho_derived()
    if not vanishes(derived - rho(delta, Ks)):
        return failed(f"L2 gives f'(0) = {derived}, claimed {rho(delta, Ks)}")
    for K in (2, 3, 4, 5):
        f = two_level_map_l1(K)
        if f.subs(x, 0) != 0:
            return failed(f"K={K}: x = 0 is not a fixed point")
        slope = sp.diff(f, x).subs(x, 0)
        if not vanishes(slope - rho(delta, sp.Integer(K))):
            return failed(f"K={K}: L1 gives f'(0) = {sp.simplify(slope)}, claimed "
                          f"{rho(delta, sp.Integer(K))}")
    return proved(f"f'(0) = {derived} from L2 for real K > 1; equal for K = 2..5 by L1")


@verification(
    "T3.rate-below-1",
    "rho_K(delta) < 1 for K > 1 and delta > 0",
    "inequality reduced to a sign certificate: K = 1 + k, e^{-delta} = 1/(1+y) (k, y > 0); "
    "1 - rho_K has one-signed factors")
def rate_below_one(rho=rho_claimed):
    y = sp.Symbol("y", positive=True)
    gap = sp.simplify((1 - rho(delta, 1 + k)).subs(delta, sp.log(1 + y)))
    ok, why = sign_certificate(gap)
    if not ok:
        return failed(f"1 - rho: {why}")
    if vanishes(gap):
        return failed("1 - rho = 0: not strictly below 1")
    return proved(f"1 - rho = {sp.factor(gap)} > 0 ({why})")


@verification(
    "T3.rate-limit",
    "rho_K(delta) -> e^{-delta} as K -> inf (the K = inf rate)",
    "limit computed (sympy.limit)")
def rate_limit(rho=rho_claimed):
    Ks = sp.Symbol("K", positive=True)
    lim = sp.limit(rho(delta, Ks), Ks, sp.oo)
    if not vanishes(lim - sp.exp(-delta)):
        return failed(f"limit is {lim}, not exp(-delta)")
    return proved(f"lim_(K->oo) rho_K = {lim}")


def kinf_low_mass(m_star, delta, t):
    """K = inf, two levels: ``p_t(low) = (1-m_*) e^{-t delta} / ((1-m_*) e^{-t delta} + m_*)``
    (T4: ``p_t = p_0 e^{t r} / E_{p_0}[e^{t r}]``)."""
    low = (1 - m_star) * sp.exp(-t * delta)
    return low / (low + m_star)


def kinf_tv_bound_derived(m_star, delta, t):
    """T3's K = inf bound: the numerator ``(1-m_*) e^{-t delta}`` of :func:`kinf_low_mass`
    (an upper bound of ``E_{p_0}[e^{t(r-r_*)}; r < r_*]`` for any law with gap ``delta``) over
    the lower bound ``m_*`` of its denominator."""
    return (1 - m_star) * sp.exp(-t * delta) / m_star


@verification(
    "T3.Kinf-TV",
    "K = inf: TV(p_t, p_*) = p_t(r < r_*) <= (1 - m_*) e^{-t delta}/m_*, two reward levels",
    "inequality reduced to a sign certificate on the exact p_t(low) (T4 closed form): "
    "m_* = 1/(1+w), e^{-t delta} = 1/(1+y), w, y > 0")
def kinf_tv(bound=kinf_tv_bound_derived):
    w, y, t = positive_symbols("w y t")
    m_star = 1 / (1 + w)
    gap = bound(m_star, delta, t) - kinf_low_mass(m_star, delta, t)
    gap = sp.simplify(gap.subs(delta, sp.log(1 + y) / t))
    ok, why = sign_certificate(gap)
    if not ok:
        return failed(f"bound - p_t(low): {why}")
    return proved(f"bound - p_t(low) = {sp.factor(gap)} ({why}); for a general law the "
                  "numerator E[e^{t(r-r_*)}; r < r_*] <= (1-m_*) e^{-t delta} and the "
                  "denominator >= m_*")
