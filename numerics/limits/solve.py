r"""The entry points :func:`limit`, :func:`limit_continuous` and :func:`critical_lam`."""

from __future__ import annotations

import math

import numpy as np

from .. import laplace
from ..engine import CurationEngine, checked_summary, resolved
from ..threads import serial_blas
from ..reward_law import ContinuousRewardLaw
from ..validation import EXP_SAFE, as_mass, as_reward, check_K, check_lam, check_data
from . import finite_k
from .kingman import kingman_eps
from .result import CONDENSED_GAP, Limit, LimitMethod

__all__ = ["limit", "limit_continuous", "critical_lam"]

#: iterations of ``T`` on the node law that give the T9 solver its start (grids)
START_ITERATIONS = 2
#: a T9 fixed point is accepted when one step of ``T`` moves it by less than this (TV)
ACCEPT_TV = 1e-10
#: the default ``lam``, compared by identity to tell ``limit(mass, rule, lam, data)`` from the
#: old positional form
_DEFAULT_LAM = math.inf


_OUTSIDE_SUPPORT = ("mass puts mass outside the support of data; the fixed point solved by "
                    "limit() is the one supported on supp(data)")


def _shift(r_star):
    return 0.0 if r_star <= EXP_SAFE else r_star


@serial_blas
def limit(mass, reward, K=None, lam=_DEFAULT_LAM, data=None, *, method="auto"):
    r"""The limit of the retraining loop on a grid, solved directly (THEORY.md T3, T8, T9).

    Parameters
    ----------
    mass : array_like, any shape
        the start ``p_0`` (non-negative, normalized internally).
    reward : array_like, same shape
    K : float
        ``>= 1`` or ``math.inf``.
    lam : float
        ``>= 0`` or ``math.inf`` (curated data only).
    data : array_like or None
        ``p_d``; ``None`` with a finite ``lam`` means ``p_d = p_0``.  The fixed point is the
        one supported on ``supp(p_d)``: ``mass`` must not put mass outside it.
    method : {"auto", "direct", "compressed"}
        the reward law used by the T9 solver (see :func:`numerics.curation_factor`).

    Returns
    -------
    Limit
        ``lam = inf``: ``p_0`` on its top level set (T3).  ``K = inf``: T8's fixed point
        ``p_d / (1 + lam - lam e^r / Z)``.  Finite ``K``: T9's ``p_d / (1 + lam - lam H)``,
        whose top cell carries the condensate when the fixed point condenses
        (``Limit.condensed``, ``Limit.top_mass``; ``info["top_gap"]``).

    ``reward`` may be a curation rule of :mod:`numerics.curators` (``K`` left out:
    ``limit(mass, rule, lam, data)``): user types all with ``K = inf`` by T12/T13; L4 and L5
    with ``lam = inf`` by T3.rules; any other rule with ``0 < lam < inf`` by the exact step
    iterated to its fixed point with Anderson acceleration
    (:data:`LimitMethod.ACCELERATED_ITERATION`, :mod:`numerics.limits.iterated`).

    Raises
    ------
    ValueError, TypeError
        invalid arguments (named), or ``mass`` outside the support of ``data``.

    See Also
    --------
    limit_continuous : the same for a continuous reward law (condensates).
    critical_lam : where a continuous law starts to condense.

    References
    ----------
    Ferbach, Bertrand, Bose, Gidel (2024), *Self-consuming generative models with curated data
    provably optimize human preferences*, NeurIPS (Theorem 2.1: T3).  Kingman (1978) (T8).

    Examples
    --------
    >>> import numpy as np
    >>> from numerics import limit
    >>> from numerics.scenarios import get_scenario
    >>> sc = get_scenario("kingman", grid=300)
    >>> res = limit(sc.mass, sc.reward, K=2, lam=5)      # THEORY.md T9's example
    >>> round(res.top_mass, 5), res.condensed
    (0.36836, True)
    """
    from ..curators import BradleyTerry, Rule
    if isinstance(reward, Rule):
        # limit(mass, rule, lam, data): the arguments after the rule move up one place
        if K is not None:
            lam, data = K, (data if lam is _DEFAULT_LAM else lam)
        if not isinstance(reward, BradleyTerry):
            from ..curator_limits import limit_rule
            return limit_rule(mass, reward, lam, data)
        reward, K = reward.reward_spec.value, reward.K
    K = check_K(K)
    lam = check_lam(lam)
    if isinstance(mass, ContinuousRewardLaw):
        raise TypeError("mass is a ContinuousRewardLaw: use limit_continuous(law, K, lam)")
    if not (math.isinf(lam) or lam == 0 or K == 1 or math.isinf(K)) and data is None:
        # T9 depends on p_d = p_0 alone, which the engine normalizes (its log total enters the
        # rules): no normalized copy, the support condition holds by itself, and the values
        # are checked in the pass that gives the engine its reward range and total
        m = as_mass(mass, values=False)
        r = as_reward(reward, m.shape, values=False)
        summary = checked_summary(r.ravel(), m.ravel())
        if summary is not None:
            return _t9_grid(m, r, K, lam, method, summary)
    m = as_mass(mass)
    r = as_reward(reward, m.shape)
    if not (math.isinf(lam) or lam == 0 or K == 1 or math.isinf(K)):
        d = check_data(data, lam, m.shape, default=m)
        if d is not m and ((m > 0) & ~(d > 0)).any():
            raise ValueError(_OUTSIDE_SUPPORT)
        return _t9_grid(d, r, K, lam, method)
    m = m / m.sum()
    d = check_data(data, lam, m.shape, default=m)
    if math.isinf(lam) or lam == 0 or K == 1:
        return _closed_form(m if math.isinf(lam) else d / d.sum(), r, K, lam)
    d = d / d.sum()
    if ((m > 0) & ~(d > 0)).any():
        raise ValueError(_OUTSIDE_SUPPORT)
    return _kingman_grid(d, r, lam)


def _closed_form(src, r, K, lam):
    sup = src > 0
    r_star = float(r[sup].max())
    c = _shift(r_star)
    top = sup & (r == r_star)
    top_mass = float(src[top].sum())
    if math.isinf(lam) and K > 1:
        out = np.where(top, src, 0.0)
        out /= out.sum()
        return Limit(out, 0.0, 1.0, True, math.exp(r_star - c), c, r_star,
                     LimitMethod.CLOSED_FORM, "p_0 restricted to its top level set (T3)", True,
                     {"top_mass_of_start": top_mass})
    # K = 1 (H = 1: T is affine, p_d is its fixed point) or lam = 0 (p_t = p_d for t >= 1)
    s = np.exp(r[sup] - r_star)
    detail = "p_d (K = 1 or lam = 0)" if not math.isinf(lam) else "p_0 (K = 1: H = 1)"
    return Limit(src.copy(), 0.0, top_mass, False,
                 math.exp(r_star - c) * float(np.dot(src[sup], s)), c, r_star,
                 LimitMethod.CLOSED_FORM, detail, True)


def _kingman_grid(d, r, lam):
    sup = d > 0
    r_star = float(r[sup].max())
    c = _shift(r_star)
    vals, inv = np.unique(r[sup], return_inverse=True)
    dd = np.bincount(inv, weights=d[sup])
    one_minus_s = -np.expm1(vals - r_star)
    eps = kingman_eps(lambda e: float(np.sum(dd / (e + one_minus_s))), lam, float(dd[-1]))
    out = np.zeros_like(d)
    out[sup] = d[sup] * (1.0 + eps) / ((1.0 + lam) * (eps + one_minus_s[inv]))
    residual = float(out.sum() - 1.0)
    out /= out.sum()
    z = lam * (1.0 + eps) / (1.0 + lam)  # Z e^{-r_*}
    i_rest = float(np.sum(dd[:-1] / one_minus_s[:-1])) / (1.0 + lam)
    top_gap = eps / (1.0 + eps)          # 1 - lam e^{r_*} / ((1 + lam) Z)
    return Limit(out, 0.0, float(out[sup][inv == len(vals) - 1].sum()), top_gap <= CONDENSED_GAP,
                 math.exp(r_star - c) * z, c, r_star, LimitMethod.SCALAR_EQUATION,
                 "T8's equation for Z in log eps, K = inf", True,
                 {"Z": z * math.exp(r_star - c), "eps": eps, "residual": residual,
                  "I_below_top": i_rest, "top_gap": top_gap})


def _t9_grid(d, r, K, lam, method, summary=None):
    flat_r, flat_d = r.ravel(), d.ravel()

    def solve(eng):
        law = eng.law()                       # p_d on its nodes (the engine starts at p_d)
        order = np.argsort(-law.log_s, kind="stable")
        depth = -law.log_s[order]
        system = finite_k.T9System(depth, np.exp(law.log_p[order]), K, lam)
        # a start: iterates of T on the node law (the engine's steps, by the system's L2 rule)
        sol = finite_k.solve_t9(system, lam, start=system.iterate(lam, START_ITERATIONS))
        # the masses on the grid: p_d exp(g), g = -log(1 + lam - lam H) below the top and
        # log(c / d_top) at the top (no cancellation there)
        pts = eng.points()
        with np.errstate(divide="ignore", invalid="ignore"):
            g = -np.log(1.0 + lam - lam * np.exp(system.log_h(sol.y, pts)))
        g[pts == 0.0] = math.log(sol.c / system.top)
        mass = eng.materialize([g], check=True)
        return system, sol, mass, eng

    (system, sol, mass, eng), _, restarts = resolved(
        lambda res: CurationEngine(flat_r, flat_d, None, K, lam, method=method,
                                   resolution=res, summary=summary), solve)
    p = sol.p.copy()
    p[0] = sol.c
    tv = _one_step_tv(system, p, lam)
    H = system.h_atoms(sol.y)
    den = 1.0 + lam - lam * H
    top_gap = system.top / ((1.0 + lam) * sol.c)
    r_star = eng.r_max
    c = _shift(r_star)
    converged = tv < ACCEPT_TV
    top_cells = float(mass.ravel()[eng.top_cells()].sum())
    return Limit(mass.reshape(d.shape), 0.0, top_cells, top_gap <= CONDENSED_GAP,
                 math.exp(r_star - c) * float(p @ system.s), c, r_star,
                 LimitMethod.FIXED_POINT, f"T9: {sol.path}", converged,
                 {"residual": tv, "top_gap": top_gap, "iterations": sol.iterations,
                  "newton_residual": sol.residual, "max_H": float(H.max()),
                  "min_denominator": float(den[system.rest].min()),
                  "resolution": eng.resolution.describe(), "restarts": restarts})


def _one_step_tv(system, p, lam):
    """``TV(T(p), p)`` on the node law, ``T(p) = (p_d + lam p H_p / E_p[H]) / (1 + lam)``,
    ``H_p`` by the engine's L2 kernel (an independent evaluation of the fixed point)."""
    keep = p > 0
    log_p = np.log(p[keep] / p.sum())
    log_h = laplace.log_curation_factor_nodes(system.log_s[keep], log_p, system.K,
                                              system.log_s)
    cur = p / p.sum() * np.exp(log_h)
    nxt = (system.d + lam * cur / cur.sum()) / (1.0 + lam)
    return 0.5 * float(np.abs(nxt - p / p.sum()).sum())


# ----------------------------------------------------------------------------------------
# continuous reward laws
# ----------------------------------------------------------------------------------------


def _check_continuous(law, K, lam):
    if not isinstance(law, ContinuousRewardLaw):
        raise TypeError(f"law must be a ContinuousRewardLaw, got {type(law).__name__}")
    K = check_K(K)
    lam = check_lam(lam)
    if math.isinf(lam) or lam == 0 or K == 1:
        raise ValueError("a continuous reward law needs a finite lam > 0 and K > 1 (with "
                         "lam = inf the iterates have no density limit, T3)")
    return K, lam


@serial_blas
def limit_continuous(law, K, lam):
    r"""The fixed point of ``T`` for a continuous reward law of ``p_d`` (THEORY.md T8, T9).

    ``K = inf`` (T8): ``I = E_{p_d}[1/((1+lam)(1 - e^{r - r_*}))]`` by adaptive quadrature; if
    ``I < 1`` the condensate ``1 - I`` sits on the top level set.  Finite ``K`` (T9): the
    law discretized by graded Gauss-Legendre rules
    (:meth:`~numerics.ContinuousRewardLaw.atoms`), the regular branch followed from
    ``lam = 0`` and, past the critical ``lam_c``, the condensed branch (unknowns ``c`` and
    ``M``, ``H(r_*) = (1 + lam)/lam``); ``info["discretization_error"]`` is the condensate's
    change under a finer discretization.

    Parameters
    ----------
    law : ContinuousRewardLaw
    K : float, ``> 1`` or ``math.inf``
    lam : float, ``0 < lam < inf``

    Returns
    -------
    Limit
        ``density`` (callable, vectorized) of the absolutely continuous part, ``condensate``.

    Raises
    ------
    TypeError, ValueError
        invalid arguments (named).

    See Also
    --------
    limit : the same on a grid.
    critical_lam : the ``lam`` where the fixed point starts to condense.
    numerics.ContinuousRewardLaw : the law.

    References
    ----------
    Kingman (1978), *A simple model for the balance between selection and mutation*,
    J. Appl. Prob. 15:
    condensation, T8.

    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    T9's setting.

    docs/theory.md T8, T9.

    Examples
    --------
    >>> from numerics import ContinuousRewardLaw, limit_continuous
    >>> law = ContinuousRewardLaw(lambda r: 3 * r**2, -1.0, 0.0)
    >>> round(limit_continuous(law, K=math.inf, lam=3).condensate, 10)   # T8's example
    0.4845455716
    """
    K, lam = _check_continuous(law, K, lam)
    if math.isinf(K):
        return _kingman_continuous(law, lam)
    sol, lam_c, system = _t9_continuous(law, K, lam, order=16, levels=60)
    fine, _, _ = _t9_continuous(law, K, lam, order=24, levels=70)
    r_star = law.upper
    c = _shift(r_star)

    def density(r):
        r = np.asarray(r, dtype=float)
        lh = system.log_h(sol.y, np.atleast_1d(r - r_star))
        out = law.pdf(np.atleast_1d(r)) / (1.0 + lam - lam * np.exp(lh))
        return out.reshape(r.shape) if r.ndim else float(out[0])

    p = sol.p.copy()
    p[0] = sol.c
    H = np.exp(system.log_h(sol.y))
    info = {"residual": _one_step_tv(system, p, lam), "lam_c": lam_c,
            "discretization_error": abs(fine.c - sol.c), "iterations": sol.iterations,
            "newton_residual": sol.residual, "top_gap": 1.0 - lam * H[0] / (1.0 + lam),
            "max_H": float(H.max())}
    return Limit(None, sol.c, sol.c, sol.c > 0, math.exp(r_star - c) * float(p @ system.s), c,
                 r_star, LimitMethod.FIXED_POINT, f"T9 on the continuous law ({sol.path})",
                 info["residual"] < ACCEPT_TV, info, density=density)


def _t9_continuous(law, K, lam, order, levels):
    depth, mass = law.atoms(order=order, levels=levels)
    system = finite_k.T9System(np.concatenate([[0.0], depth]), np.concatenate([[0.0], mass]),
                               K, lam)
    sol, lam_c = finite_k.solve_continuous(system, lam)
    return sol, lam_c, system


def _kingman_continuous(law, lam):
    r_star = law.upper
    c = _shift(r_star)

    I = law.mean_inverse_gap(0.0) / (1.0 + lam)
    eps = 0.0 if I <= 1.0 else kingman_eps(law.mean_inverse_gap, lam)
    cond = max(0.0, 1.0 - I) if eps == 0.0 else 0.0
    z = lam * (1.0 + eps) / (1.0 + lam)

    def density(r):
        r = np.asarray(r, dtype=float)
        out = law.pdf(r) * (1.0 + eps) / ((1.0 + lam) * (eps - np.expm1(r - r_star)))
        return out if r.ndim else float(out)

    detail = ("T8 condensed (I < 1): condensate 1 - I on the top level set" if cond > 0
              else "T8's equation for Z in log eps (I >= 1): no condensate")
    return Limit(None, cond, cond, cond > 0, math.exp(r_star - c) * z, c, r_star,
                 LimitMethod.SCALAR_EQUATION, detail, True,
                 {"I": I, "Z": z * math.exp(r_star - c), "eps": eps, "top_gap": eps / (1 + eps)},
                 density=density)


@serial_blas
def critical_lam(law, K):
    r"""The critical ``lam`` above which the fixed point of a continuous reward law condenses
    (THEORY.md T8, T9); ``math.inf`` if it does not condense up to ``lam = 1e4``.

    ``K = inf``: ``lam_c = E_{p_d}[1/(1 - e^{r - r_*})] - 1`` (``I = 1``).  Finite ``K``: the end
    of the regular branch, where ``H(r_*) = (1 + lam)/lam`` with no condensate yet, solved by
    Newton with unknowns ``(M, lam)``.

    Raises
    ------
    TypeError
        ``law`` not a :class:`~numerics.ContinuousRewardLaw`.
    ValidationError
        (a ``ValueError``) ``K`` NaN or ``< 1``.
    ValidationTypeError
        (a ``TypeError``) ``K`` not a real number.

    See Also
    --------
    limit_continuous : the fixed point itself, condensed or not.
    limit : the limit on a grid.

    References
    ----------
    Kingman (1978), *A simple model for the balance between selection and mutation*,
    J. Appl. Prob. 15:
    the threshold ``I = 1``, T8.

    docs/theory.md T8, T9.

    Examples
    --------
    >>> from numerics import ContinuousRewardLaw, critical_lam
    >>> law = ContinuousRewardLaw(lambda r: 3 * r**2, -1.0, 0.0)
    >>> round(critical_lam(law, math.inf), 10)   # E[1/(1 - e^r)] - 1 for b = 3
    1.0618177134
    """
    if not isinstance(law, ContinuousRewardLaw):
        raise TypeError(f"law must be a ContinuousRewardLaw, got {type(law).__name__}")
    K = check_K(K)
    if K == 1:
        return math.inf
    if math.isinf(K):
        j = law.mean_inverse_gap(0.0)
        return j - 1.0 if math.isfinite(j) else math.inf
    depth, mass = law.atoms()
    system = finite_k.T9System(np.concatenate([[0.0], depth]), np.concatenate([[0.0], mass]),
                               K, 1e4)
    return finite_k.critical_lam(system)
