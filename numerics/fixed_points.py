"""Limits of the retraining loop (THEORY.md T3, T8, T9), solved directly, not by iterating.

- ``lam = inf`` (curated data only, any ``K > 1``): ``p_0`` restricted to its top level set
  ``{r = r_*}`` (T3).
- ``K = inf``, finite ``lam`` (T8): ``p^lam = p_d / (1 + lam - lam e^r / Z)``.  Writing
  ``Z = lam e^{r_*} (1 + eps) / (1 + lam)`` the equation ``E_{p_d}[1/(1+lam-lam e^r/Z)] = 1``
  becomes

      F(eps) = sum_k d_k (1 + eps) / ((1 + lam) (eps + 1 - s_k)) = 1,   s_k = e^{r_k - r_*},

  a sum of positive terms (``1 - s_k`` from ``expm1``), decreasing in ``eps``, solved for
  ``log eps``: relative accuracy is kept when the solution sits within 1e-16 (or 1e-300) of
  the condensation threshold ``eps = 0``.  On a grid ``p_d`` has an atom at the top, so
  ``I = inf`` and there is no singular part: the top cell carries the condensate.
  For a continuous reward law (:class:`ContinuousRewardLaw`),
  ``I = E_{p_d}[1 / ((1+lam)(1 - e^{r - r_*}))]`` by quadrature; if ``I < 1`` the condensate
  ``1 - I`` sits on the top level set and ``Z = lam e^{r_*} / (1 + lam)``.
- finite ``K`` and ``lam`` (T9): ``p^lam = p_d / (1 + lam - lam H^K_{p^lam})``.  The unknown
  is the function ``y = log M_{p^lam}`` on the ``v``-nodes of L2; ``y = Phi(y)`` (build ``H``
  from ``y``, then ``p`` from T9, then ``M`` from ``p``) with ``|p| = 1`` is solved by
  Levenberg-Marquardt from the iterates of ``T`` (and accepted only if it is a fixed point).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from scipy import integrate, optimize

from . import laplace
from .engine import CurationEngine
from .validation import as_mass, as_reward, check_K, check_lam, check_data

__all__ = ["limit", "Limit", "ContinuousRewardLaw", "solve_kingman_eps"]


@dataclass
class Limit:
    """A limit density.

    ``mass``: grid masses of the absolutely continuous part (``None`` for a continuous law;
    see ``density``); ``condensate``: mass on the top level set beyond what ``p_d`` gives it
    (0 on grids, T8); ``expected_exp_reward``: ``E_{p^lam}[e^{r - c}]`` with
    ``c = exp_reward_shift`` (0 unless rewards exceed 700 nats); ``how``: the method;
    ``info``: solver details (``Z``, ``eps``, ``I``, residual, ...).
    """

    mass: np.ndarray | None
    condensate: float
    expected_exp_reward: float
    exp_reward_shift: float
    how: str
    r_star: float
    info: dict = field(default_factory=dict)
    density: Callable | None = None


@dataclass
class ContinuousRewardLaw:
    """The reward law of ``p_d`` given by a density in ``r`` on ``[lower, upper]``.

    ``upper`` is ``r_*``, the top of the support.  The density need not be normalized
    (it is, internally, by quadrature).  Example (THEORY.md T8): ``density = lambda r: 3 * r**2``
    on ``[-1, 0]`` (the law ``b (-r)^{b-1}`` with ``b = 3``).
    """

    density: Callable[[float], float]
    lower: float
    upper: float

    def __post_init__(self):
        if not callable(self.density):
            raise TypeError("density must be callable")
        lo, hi = float(self.lower), float(self.upper)
        if not (math.isfinite(lo) and math.isfinite(hi)) or not lo < hi:
            raise ValueError(f"need finite lower < upper, got lower={self.lower!r}, "
                             f"upper={self.upper!r}")
        total, _ = integrate.quad(self.density, lo, hi, epsabs=0, epsrel=1e-13, limit=200)
        if not total > 0 or not math.isfinite(total):
            raise ValueError(f"density must have a positive finite integral, got {total!r}")
        self.lower, self.upper, self._total = lo, hi, total

    def expectation(self, f):
        """``E[f(r)]`` by adaptive quadrature."""
        val, _ = integrate.quad(lambda r: f(r) * self.density(r), self.lower, self.upper,
                                epsabs=0, epsrel=1e-13, limit=400)
        return val / self._total

    def pdf(self, r):
        return self.density(r) / self._total


def limit(mass, reward=None, K=math.inf, lam=math.inf, data=None, *, method="auto"):
    r"""The limit of the retraining loop, solved directly (THEORY.md T3, T8, T9).

    Parameters
    ----------
    mass : array_like or ContinuousRewardLaw
        the start ``p_0`` on a grid (any shape), or a continuous reward law (then
        ``reward`` is ``None`` and the law is the one of ``p_d``).
    reward : array_like, same shape as ``mass``
    K : float, ``>= 1`` or ``math.inf``
    lam : float, ``>= 0`` or ``math.inf``
    data : array_like or None
        ``p_d``; ``None`` with a finite ``lam`` means ``p_d = p_0``.  The fixed point is
        the one supported on ``supp(p_d)``: ``mass`` must not put mass outside it.

    Returns
    -------
    Limit

    Examples
    --------
    >>> law = ContinuousRewardLaw(lambda r: 3 * r**2, -1.0, 0.0)
    >>> round(limit(law, K=math.inf, lam=3).condensate, 4)   # T8's example
    0.4845
    """
    K = check_K(K)
    lam = check_lam(lam)
    if isinstance(mass, ContinuousRewardLaw):
        if reward is not None:
            raise ValueError("reward must be None when mass is a ContinuousRewardLaw")
        return _continuous_limit(mass, K, lam)
    if reward is None:
        raise TypeError("reward is required when mass is an array")
    m = as_mass(mass)
    r = as_reward(reward, m.shape)
    m = m / m.sum()
    d = check_data(data, lam, m.shape, default=m)
    if math.isinf(lam) or lam == 0 or K == 1:
        src = m if math.isinf(lam) else d / d.sum()
        return _top_level_or_data(src, r, K, lam)
    d = d / d.sum()
    outside = (m > 0) & ~(d > 0)
    if outside.any():
        raise ValueError("mass puts mass outside the support of data; the fixed point solved "
                         "by limit() is the one supported on supp(data)")
    if math.isinf(K):
        return _kingman_grid(d, r, lam)
    res = _finite_k_fixed_point(d, r, K, lam, method=method)
    res.info.pop("log_h_of")
    return res


def _shift(r_star):
    return 0.0 if r_star <= 700.0 else r_star


def _top_level_or_data(src, r, K, lam):
    r_star = float(r[src > 0].max())
    c = _shift(r_star)
    if math.isinf(lam) and K > 1:
        out = np.where((r == r_star) & (src > 0), src, 0.0)
        out /= out.sum()
        how = "closed form: p_0 restricted to the top level set (T3)"
        return Limit(out, 0.0, math.exp(r_star - c), c, how, r_star,
                     {"top_mass": float(src[(r == r_star) & (src > 0)].sum())})
    # K = 1 (H = 1: T is affine, p_d is its fixed point) or lam = 0 (p_t = p_d for t >= 1)
    s = np.exp(r[src > 0] - r_star)
    how = "closed form: p_d (K = 1 or lam = 0)" if not math.isinf(lam) else \
        "closed form: p_0 (K = 1, H = 1)"
    return Limit(src.copy(), 0.0, math.exp(r_star - c) * float(np.dot(src[src > 0], s)), c,
                 how, r_star)


def solve_kingman_eps(d, one_minus_s, lam, top):
    r"""Solve ``sum_k d_k (1 + eps) / ((1 + lam)(eps + one_minus_s_k)) = 1`` for ``eps > 0``
    (T8 on a discrete law whose top atom ``one_minus_s = 0`` has mass ``top > 0``), in the
    variable ``log eps``.  Returns ``eps``."""
    if not top > 0:
        raise ValueError("the discrete law needs an atom at its top reward")

    def F(x):
        eps = math.exp(x)
        return float(np.sum(d / (eps + one_minus_s))) * (1.0 + eps) / (1.0 + lam) - 1.0

    lo = math.log(top / (1.0 + lam))  # top term alone >= 1 there
    hi = math.log(2.0 / lam) + 1.0      # (1+eps) < (1+lam) eps there: F < 0
    while F(lo) < 0:
        lo -= 10.0
    while F(hi) > 0:
        hi += 10.0
    x = optimize.brentq(F, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500)
    return math.exp(x)


def _kingman_grid(d, r, lam):
    supp = d > 0
    r_star = float(r[supp].max())
    c = _shift(r_star)
    vals, inv = np.unique(r[supp], return_inverse=True)
    dd = np.bincount(inv, weights=d[supp])
    one_minus_s = -np.expm1(vals - r_star)
    eps = solve_kingman_eps(dd, one_minus_s, lam, dd[-1])
    out = np.zeros_like(d)
    out[supp] = d[supp] * (1.0 + eps) / ((1.0 + lam) * (eps + one_minus_s[inv]))
    residual = float(out.sum() - 1.0)
    out /= out.sum()
    z = lam * (1.0 + eps) / (1.0 + lam)  # Z e^{-r_*}
    i_rest = float(np.sum(dd[:-1] / one_minus_s[:-1])) / (1.0 + lam)
    how = "scalar equation of T8 in log eps (K = inf)"
    return Limit(out, 0.0, math.exp(r_star - c) * z, c, how, r_star,
                 {"Z": z * math.exp(r_star - c), "eps": eps, "residual": residual,
                  "I_below_top": i_rest, "top_mass": float(out[supp][inv == len(vals) - 1].sum())})


def _continuous_limit(law, K, lam):
    r_star = law.upper
    c = _shift(r_star)
    if math.isinf(lam) or lam == 0 or K == 1:
        raise ValueError("a continuous reward law is supported for a finite lam > 0 and K > 1 "
                         "(with lam = inf the iterates have no density limit, T3)")
    if not math.isinf(K):
        return _continuous_finite_k(law, K, lam)
    one_minus_s = lambda r: -math.expm1(r - r_star)  # noqa: E731
    I = law.expectation(lambda r: 1.0 / ((1.0 + lam) * one_minus_s(r)))
    if I < 1.0:
        z = lam / (1.0 + lam)
        cond = 1.0 - I
        dens = lambda r: law.pdf(r) / ((1.0 + lam) * one_minus_s(r))  # noqa: E731
        how = "condensed solution of T8 (I < 1): condensate 1 - I on the top level set"
        eps = 0.0
    else:
        def F(x):
            eps = math.exp(x)
            return law.expectation(lambda r: (1.0 + eps) / ((1.0 + lam) * (eps + one_minus_s(r)))) - 1.0
        lo, hi = -60.0, math.log(2.0 / lam) + 1.0
        while F(hi) > 0:
            hi += 10.0
        x = optimize.brentq(F, lo, hi, xtol=1e-14) if F(lo) > 0 else lo
        eps = math.exp(x)
        z = lam * (1.0 + eps) / (1.0 + lam)
        cond = 0.0
        dens = lambda r: law.pdf(r) * (1.0 + eps) / ((1.0 + lam) * (eps + one_minus_s(r)))  # noqa: E731
        how = "scalar equation of T8 (I >= 1): no condensate"
    return Limit(None, cond, math.exp(r_star - c) * z, c, how, r_star,
                 {"I": I, "Z": z * math.exp(r_star - c), "eps": eps}, density=dens)


def _continuous_finite_k(law, K, lam, panels=64, order=16):
    """T9 for a continuous law: composite Gauss-Legendre discretization of ``p_d``'s reward
    law (``panels x order`` atoms, no atom at the top), solved as a discrete law.  The
    density of the limit is ``pdf(r) / (1 + lam - lam H(r))`` with ``H`` from the solution."""
    x, w = np.polynomial.legendre.leggauss(order)
    edges = np.linspace(law.lower, law.upper, panels + 1)
    half = 0.5 * np.diff(edges)
    r = ((edges[:-1] + half)[:, None] + half[:, None] * x[None, :]).ravel()
    d = (half[:, None] * w[None, :]).ravel() * np.array([law.pdf(v) for v in r])
    if np.any(d < 0) or not d.sum() > 0:
        raise ValueError("density must be non-negative")
    res = _finite_k_fixed_point(d / d.sum(), r, K, lam, method="direct")
    log_h_of = res.info.pop("log_h_of")
    r_star = law.upper
    shift = math.log(res.expected_exp_reward) + res.exp_reward_shift - res.r_star

    def dens(v):
        lh = float(log_h_of(np.array([float(v) - res.r_star]))[0])
        return law.pdf(v) / (1.0 + lam - lam * math.exp(lh))

    c = _shift(r_star)
    return Limit(None, 0.0, math.exp(r_star - c + shift), c,
                 res.how + f", on a {panels}x{order}-point Gauss-Legendre discretization",
                 r_star, res.info, density=dens)


def _finite_k_fixed_point(d, r, K, lam, method="auto", max_iter=5000):
    """T9: iterate ``T`` on the reward law until it settles, then polish with Newton.

    The unknown of the Newton step is ``y = log M_p`` on the v-nodes of L2, ``p`` normalized;
    ``Phi(y)``: ``H`` from ``y`` (L2), ``p = p_d / (1 + lam - lam H)``, ``y' = log M_{p/|p|}``;
    the equations ``Phi(y) = y`` and ``log |p| = 0`` are solved together by Levenberg-Marquardt
    (``scipy.optimize.least_squares``), which is Gauss-Newton near the root.
    A solution is accepted only if it is a true fixed point: ``|p| = 1`` to 1e-10 (the
    normalized map also has spurious roots with ``|p| != 1``), every denominator positive,
    and ``T(p)`` within 1e-10 of ``p`` in total variation on the reward law.  Otherwise the
    iterate itself is returned (``how`` says so).  ``info["residual"]`` is ``TV(T(p), p)``
    on the reward law for the returned ``p`` either way.
    """
    eng = CurationEngine(r.ravel(), d.ravel(), None, K, lam, method=method)
    base = eng.bases[0]
    rules, cell_log_mass = base.rules, base.cell_log_mass  # before any re-tilt
    node_log_s = rules.r - eng.r_max
    node_log_d = rules.log_w - laplace._logsumexp(rules.log_w)
    log_mean_d = laplace._logsumexp(node_log_d + node_log_s)
    # v-grid wide enough for every iterate: E_p[s] >= E_{p_d}[s] / (1 + lam)
    grid = laplace.v_grid(min(float(node_log_s.min()), float((eng.cheb_r - eng.r_max).min())),
                          log_mean_d - math.log1p(lam), K, eng.step_h)
    kern_m, kern_h = laplace.log_laplace, laplace.log_curation_integral

    def log_h(y, at_log_s):
        return math.log(K) + kern_h(grid.v, grid.h, y, K - 1.0, at_log_s)[0]

    def unnormalized(y):
        denom = 1.0 + lam - lam * np.exp(log_h(y, node_log_s))
        if np.any(denom <= 0):
            return None, denom
        return node_log_d - np.log(denom), denom

    def phi(y):
        lp, _ = unnormalized(y)
        if lp is None:
            return None
        return kern_m(grid.v, node_log_s, lp - laplace._logsumexp(lp))

    # 1. plain iteration of T (the dynamics itself) until the mean reward settles
    state = {"prev": eng.moments()[0], "change": math.inf, "steps": 0}

    def iterate_until(tol):
        while state["steps"] < max_iter and state["change"] > tol:
            eng.advance()
            state["steps"] += 1
            cur = eng.moments()[0]
            state["change"] = abs(cur - state["prev"]) / cur
            state["prev"] = cur
        log_s, log_p, _ = eng._pooled()
        return kern_m(grid.v, log_s, log_p)

    y_iter = iterate_until(1e-8)

    # 2. Newton polish, accepted only for a true fixed point
    def residual(y):
        """``Phi(y) - y`` and ``log |p|``: the normalization is an equation of its own, so
        the spurious roots of the normalized map (``|p| != 1``) are not zeros."""
        lp, _ = unnormalized(y)
        if lp is None:
            return np.full(y.shape[0] + 1, 1e3)
        tot = laplace._logsumexp(lp)
        return np.append(kern_m(grid.v, node_log_s, lp - tot) - y, tot)

    sol = optimize.least_squares(residual, y_iter, method="lm", xtol=1e-15, ftol=1e-15,
                                 gtol=1e-15)
    y = sol.x
    lp, denom = unnormalized(y)

    def one_step_tv(lp, y):
        """``(|p| - 1, TV(T(p), p))`` for ``p = p_d / (1 + lam - lam H[y])`` on the nodes."""
        tau = math.exp(laplace._logsumexp(lp))
        p = np.exp(lp - math.log(tau))
        p_next = np.exp(node_log_d) + lam * p * np.exp(log_h(y, node_log_s))
        p_next /= p_next.sum()
        return tau - 1.0, 0.5 * float(np.abs(p_next - p).sum())

    accepted = False
    if lp is not None and sol.status > 0:
        norm_error, tv_step = one_step_tv(lp, y)
        accepted = abs(norm_error) < 1e-10 and tv_step < 1e-10
    if accepted:
        how = "fixed-point solve of T9 (iteration, then Newton on log M_p over the L2 nodes)"
    else:  # iterate on to 1e-13 and return the iterate
        y = iterate_until(1e-13)
        lp, denom = unnormalized(y)
        how = (f"iteration of T ({state['steps']} steps; Newton rejected: not a normalized "
               f"fixed point)")
        if lp is None:
            raise RuntimeError("T9: the iterates reach 1 + lam - lam H <= 0 "
                               "(finite-K condensation, an open question of T9)")
        norm_error, tv_step = one_step_tv(lp, y)
    lh_cheb = log_h(y, eng.cheb_r - eng.r_max)
    g = -np.log(1.0 + lam - lam * np.exp(lh_cheb))
    out = eng._materialize((cell_log_mass,), (g,))
    p_nodes = np.exp(lp - laplace._logsumexp(lp))
    s_nodes = np.exp(node_log_s)
    c = _shift(eng.r_max)
    return Limit(out.reshape(d.shape), 0.0, math.exp(eng.r_max - c) * float(p_nodes @ s_nodes),
                 c, how, eng.r_max,
                 {"residual": tv_step, "normalization_error": norm_error,
                  "last_change": state["change"], "iterations": state["steps"],
                  "newton_accepted": accepted, "newton_evaluations": int(sol.nfev),
                  "min_denominator": float(denom.min()),
                  "max_H": float(np.exp(log_h(y, node_log_s).max())),
                  "log_h_of": lambda ls: log_h(y, ls)})
