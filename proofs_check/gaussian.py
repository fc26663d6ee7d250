"""T4 (THEORY.md section 3): iterated K = inf curation is exponential tilting, and the
Gaussian closed form under a quadratic reward, symbolically.

``p_0 = N(m, S)``, ``r(x) = -(x-c)^T A (x-c)/2``: ``p_0 e^{t r}`` normalized is
``N(m_t, S_t)`` with precision ``S_t^{-1} = S^{-1} + t A`` and mean
``m_t = S_t (S^{-1} m + t A c)``.  Proof: ``log p_0 + t r - log N(m_t, S_t)`` has zero gradient
in ``x`` (both sides are probability densities, so a constant ratio is 1).
"""

from __future__ import annotations

import sympy as sp

from .algebra import vanishes, positive_symbols
from .curation_operator import discrete_law
from .record import verification, proved, failed

__all__ = ["tilt_claimed", "gaussian_log_density", "tilted_log_density"]


def tilt_claimed(m, S, c, A, t):
    """THEORY.md's closed form: ``(m_t, S_t)`` with ``S_t = (S^{-1} + t A)^{-1}`` and
    ``m_t = S_t (S^{-1} m + t A c)`` (sympy matrices; ``m``, ``c`` column vectors)."""
    S_t = (S.inv() + t * A).inv()
    return S_t * (S.inv() * m + t * A * c), S_t


def gaussian_log_density(x, m, S):
    """``log N(x; m, S)`` up to an additive constant independent of ``x``."""
    d = x - m
    return -(d.T * S.inv() * d)[0, 0] / 2


def tilted_log_density(x, m, S, c, A, t):
    """``log p_0(x) + t r(x)`` up to a constant, ``r(x) = -(x-c)^T A (x-c)/2``."""
    d = x - c
    return gaussian_log_density(x, m, S) - t * (d.T * A * d)[0, 0] / 2


def _check(x, m, S, c, A, t, tilt):
    m_t, S_t = tilt(m, S, c, A, t)
    diff = tilted_log_density(x, m, S, c, A, t) - gaussian_log_density(x, m_t, S_t)
    return [sp.diff(diff, xi) for xi in x]


@verification(
    "T4.gauss-1d",
    "d = 1: p_0 = N(m, S), r = -A (x-c)^2/2: p_0 e^{t r}/Z = N(m_t, S_t), 1/S_t = 1/S + t A, "
    "m_t = S_t (m/S + t A c) (symbolic m, c, S > 0, A > 0, t > 0)",
    "identity simplified to zero: d/dx [log p_0 + t r - log N(m_t, S_t)] = 0")
def gauss_1d(tilt=tilt_claimed):
    m, c = sp.symbols("m c", real=True)
    S, A, t = positive_symbols("S A t")
    x = sp.Symbol("x", real=True)
    grad = _check(sp.Matrix([x]), sp.Matrix([m]), sp.Matrix([[S]]), sp.Matrix([c]),
                  sp.Matrix([[A]]), t, tilt)
    if not vanishes(grad[0]):
        return failed(f"d/dx of the log ratio = {sp.factor(sp.together(grad[0]))} != 0")
    return proved("log ratio has zero x-derivative; precision S^-1 + t A > 0")


@verification(
    "T4.gauss-2d",
    "d = 2: the same with symbolic symmetric 2x2 S = [[a,b],[b,e]] and A = [[f,g],[g,h]], "
    "symbolic mean m, centre c and t",
    "identity simplified to zero: both components of the x-gradient of "
    "log p_0 + t r - log N(m_t, S_t) vanish")
def gauss_2d(tilt=tilt_claimed):
    a, b, e, f, g, h, t = sp.symbols("a b e f g h t", real=True)
    x = sp.Matrix(sp.symbols("x1 x2", real=True))
    m = sp.Matrix(sp.symbols("m1 m2", real=True))
    c = sp.Matrix(sp.symbols("c1 c2", real=True))
    S = sp.Matrix([[a, b], [b, e]])
    A = sp.Matrix([[f, g], [g, h]])
    for i, comp in enumerate(_check(x, m, S, c, A, t, tilt)):
        if not vanishes(comp):
            return failed(f"gradient component {i + 1} = {sp.factor(sp.together(comp))} != 0")
    return proved("x-gradient of the log ratio is 0 in both components")


@verification(
    "T4.iterate",
    "K = inf: p_t = p_0 e^{t r}/E_{p_0}[e^{t r}] satisfies p_{t+1} = C_inf(p_t), on a 3-atom "
    "law with symbolic masses, rewards and t",
    "identity simplified to zero: C_inf(p_t) - p_{t+1} = 0 at each atom (C_inf by L3)")
def iterate(tilted=lambda p0, r, t: [pj * sp.exp(t * rj) for pj, rj in zip(p0, r)]):
    p0, _ = discrete_law(3)
    r = sp.symbols("r1:4", real=True)
    t = sp.Symbol("t", positive=True)

    def normalized(w):
        return [wj / sum(w) for wj in w]

    pt = normalized(tilted(p0, r, t))
    curated = normalized([pj * sp.exp(rj) for pj, rj in zip(pt, r)])
    nxt = normalized(tilted(p0, r, t + 1))
    for j in range(3):
        if not vanishes(sp.powsimp(curated[j] - nxt[j])):
            return failed(f"atom {j + 1}: C_inf(p_t) - p_(t+1) != 0")
    return proved("C_inf(p_t) = p_(t+1) at every atom")


@verification(
    "T4.KL",
    "p_t = p_0 e^{t r}/Z_t maximizes E_q[r] - (1/t) KL(q || p_0) over laws q (3 atoms, "
    "symbolic)",
    "identity simplified to zero: E_q[r] - KL(q||p_0)/t = (log Z_t - KL(q||p_t))/t; "
    "KL >= 0 with equality iff q = p_t (Gibbs)")
def kl_variational(tilted=lambda p0, r, t: [pj * sp.exp(t * rj) for pj, rj in zip(p0, r)]):
    p0, _ = discrete_law(3)
    q = positive_symbols("q1 q2 q3")
    r = sp.symbols("r1:4", real=True)
    t = sp.Symbol("t", positive=True)
    w = tilted(p0, r, t)
    Z = sum(w)
    pt = [wj / Z for wj in w]
    objective = sum(qj * rj for qj, rj in zip(q, r)) - sum(
        qj * sp.log(qj / pj) for qj, pj in zip(q, p0)) / t
    gibbs = (sp.log(Z) * sum(q) - sum(qj * sp.log(qj / pj) for qj, pj in zip(q, pt))) / t
    diff = sp.expand(sp.expand_log(objective - gibbs, force=True))
    if not vanishes(diff):
        return failed(f"objective - Gibbs form = {sp.simplify(diff)} != 0")
    return proved("objective = (log Z_t - KL(q||p_t))/t identically (sum q = 1)")
