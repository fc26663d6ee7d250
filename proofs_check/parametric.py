"""Finite capacity (THEORY.md section 5): S1 for exponential families, symbolically.

A general exponential family on ``n = 3`` atoms with ``d = 2`` statistics, every value a
symbol: base masses ``h_i > 0``, statistics ``T_i = (u_i, v_i)``, natural parameters
``theta = (a, b)``, data masses ``d_i``.  Without curation the next model's mean parameters
are ``F(theta) = E_q[T]``, ``q = (p_d + lam p_theta)/(1+lam)``; moment matching makes
``m_{t+1} = F(theta_t)`` and ``DG = DF(theta) (dm/dtheta)^{-1}`` with ``dm/dtheta =
Cov_theta[T]``.
"""

from __future__ import annotations

import sympy as sp

from .algebra import vanishes
from .record import verification, proved, failed

__all__ = ["exponential_family_s1"]


def exponential_family_s1():
    """The symbolic family: ``p_i = w_i / sum w``, ``w_i = h_i exp(theta . T_i)``, so that
    ``dw_i/dtheta = w_i T_i`` (chain rule; everything after it is rational in ``w``).  Returns
    ``(lam, DF, Cov)``: ``DF = dE_q[T]/dtheta`` and ``Cov = Cov_theta[T] = dm/dtheta``."""
    lam = sp.Symbol("lam", positive=True)
    n = 3
    w = sp.symbols(f"w0:{n}", positive=True)
    u = sp.symbols(f"u0:{n}", real=True)
    v = sp.symbols(f"v0:{n}", real=True)
    dd = sp.symbols(f"d0:{n}", positive=True)
    T = [sp.Matrix([u[i], v[i]]) for i in range(n)]
    Z = sum(w)
    m = sum((w[i] / Z * T[i] for i in range(n)), sp.zeros(2, 1))
    D = sum(dd)
    m_d = sum((dd[i] / D * T[i] for i in range(n)), sp.zeros(2, 1))
    F = (m_d + lam * m) / (1 + lam)                     # E_q[T], q = (p_d + lam p)/(1+lam)
    dw = sp.Matrix([[w[i] * T[i][k] for k in range(2)] for i in range(n)])   # dw_i/dtheta_k
    DF = F.jacobian(list(w)) * dw
    dm = m.jacobian(list(w)) * dw
    cov = sum(((w[i] / Z) * (T[i] - m) * (T[i] - m).T for i in range(n)), sp.zeros(2, 2))
    if not all(vanishes(x) for x in dm - cov):          # dm/dtheta = Cov_theta[T]
        raise AssertionError("dm/dtheta != Cov_theta[T]")
    return lam, DF, cov


@verification(
    "S1",
    "no curation, any exponential family: DG = lam/(1+lam) I in mean parameters, so the "
    "spectral radius is lam/(1+lam)",
    "identities simplified to zero on a symbolic family (3 atoms, 2 statistics, all values "
    "symbols; d/dtheta by the chain rule through w_i = h_i e^{theta . T_i}): dm/dtheta = "
    "Cov_theta[T] and dE_q[T]/dtheta = radius(lam) Cov_theta[T], i.e. DG = DF Cov^{-1} = "
    "radius(lam) I")
def s1_exponential_family(radius=lambda lam: lam / (1 + lam)):
    lam, DF, cov = exponential_family_s1()
    resid = DF - radius(lam) * cov
    if not all(vanishes(x) for x in resid):
        return failed(f"DF - radius(lam) Cov[T] does not vanish: DG != {radius(lam)} I")
    return proved("DF = lam/(1+lam) Cov_theta[T], so DG = lam/(1+lam) I: spectral radius "
                  "lam/(1+lam) (d = 2, n = 3, symbolic w, T, p_d, lam)")
