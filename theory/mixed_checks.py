"""Checks of THEORY.md section 4, retraining on real and curated data (T5-T9):
``p_{t+1} = T(p_t) = (p_d + lam C_K(p_t)) / (1 + lam)``.

As in :mod:`theory.curated_checks`, ``check_*`` take explicit inputs (iterates, a limit's
masses) and the registered ``*_of_run`` gather them from a run.  The limit ``p^lam`` comes
from :func:`numerics.limit`; T8.fixed / T9 hold it against the fixed-point equation, and T7
uses that residual as the a-posteriori error of the limit (for a contraction with factor
``kappa``, ``TV(p, p^lam) <= TV(T(p), p) / (1 - kappa)``).
"""

from __future__ import annotations

import math

import numpy as np

from . import formulas, tolerances as tol
from .distances import kl_divergence, normalized, reward_cdfs, tv_distance
from .fixed_point import measured_contraction_factor
from . import hypotheses as hyp
from .report import Where, combine, verdict, worst_of
from .statements import register_check

__all__ = ["check_t5", "check_t5_kl", "check_t5_tv", "check_t6", "check_t7",
           "check_t7_coupling", "check_t7_kinf", "check_t8", "check_t8_fixed", "check_t8_z",
           "check_t8_condensate", "kingman_I_mpmath", "check_t9", "check_t9_denominator",
           "kinf_map", "t9_tolerance"]


def _after_start(iterates):
    return [(t, p) for t, p in iterates if t >= 1]


# --- T5 ----------------------------------------------------------------------------------

def check_t5(iterates, data, lam):
    r"""T5: ``p_t (1 + lam) >= p_d`` at every cell, every recorded ``t >= 1`` (tolerance
    ``ENGINE p_d``: masses are accurate relatively)."""
    d = normalized(data)
    sup = d > 0
    cells = np.flatnonzero(sup)
    pred, meas, where = [], [], Where()
    for t, p in _after_start(iterates):
        pred.append(d[sup])
        meas.append(normalized(p)[sup] * (1.0 + lam))
        where.add(len(cells), lambda j, t=t: f"t={t}, cell {cells[j]}")
    pred = np.concatenate(pred)
    return worst_of("T5", pred, np.concatenate(meas), ">=", tol.ENGINE * pred, where=where,
                    note="measured = (1 + lam) p_t, predicted = p_d")


def check_t5_kl(iterates, data, lam):
    r"""T5: ``KL(p_d || p_t) <= log(1 + lam)`` at every recorded ``t >= 1``."""
    its = _after_start(iterates)
    kls = [kl_divergence(data, p) for _, p in its]
    return worst_of("T5.kl", formulas.t5_kl_bound(lam), kls, "<=", tol.ENGINE,
                    where=[f"t={t}" for t, _ in its])


def check_t5_tv(iterates, data, lam):
    r"""T5: ``TV(p_t, p_d) <= lam / (1 + lam)`` at every recorded ``t >= 1``."""
    its = _after_start(iterates)
    tvs = [tv_distance(p, data) for _, p in its]
    return worst_of("T5.tv", formulas.t5_tv_bound(lam), tvs, "<=", tol.ENGINE,
                    where=[f"t={t}" for t, _ in its])


# --- T6 ----------------------------------------------------------------------------------

def check_t6(iterates, data, reward, expected_exp_reward=None):
    r"""T6 (``p_0 = p_d``): ``F_{p_t}(a) <= F_{p_d}(a)`` at every reward level ``a`` and
    recorded step; and ``E_t[e^r] >= E_{p_d}[e^r] = E_0`` at every step when the
    trajectory's ``expected_exp_reward`` is given."""
    its = _after_start(iterates)
    levels, cdfs = reward_cdfs(reward, data, *[p for _, p in its])
    fd = cdfs[0]
    pred = np.concatenate([fd] * len(its))
    meas = np.concatenate(cdfs[1:])
    where = Where()
    for t, _ in its:
        where.add(len(levels), lambda j, t=t: f"t={t}, r <= {levels[j] + 0.0:.6g}")
    from .operator_checks import cdf_trivially_tight
    recs = [worst_of("T6", pred, meas, "<=", tol.ENGINE, where=where,
                     note="CDF of r: p_t below p_d", trivial=cdf_trivially_tight(pred, meas))]
    if expected_exp_reward is not None:
        E = np.asarray(expected_exp_reward, dtype=float)
        recs.append(worst_of("T6", E[0], E[1:], ">=", tol.ENGINE * (E[0] + E[1:]),
                             where=[f"t={t}" for t in range(1, len(E))],
                             note="E_t[e^r] >= E_{p_d}[e^r]"))
    return combine(recs)


# --- T7 ----------------------------------------------------------------------------------

def check_t7(iterates, limit_mass, lam, K, limit_error):
    r"""T7: ``TV(p_t, p^lam) <= kappa^t TV(p_0, p^lam)``, ``kappa = lam K / (1 + lam)``, at
    every recorded step.  ``limit_error`` bounds ``TV(limit_mass, true p^lam)``; tolerance
    ``limit_error (1 + kappa^t) + ENGINE``.  The note gives the largest measured per-step
    contraction factor (over steps where the TV is 1000 tolerances above the floor)."""
    kappa = formulas.t7_kappa(lam, K)
    steps = np.array([t for t, _ in iterates], dtype=float)
    tvs = np.array([tv_distance(p, limit_mass) for _, p in iterates])
    kt = kappa ** steps
    pred = kt * tvs[0]
    tols = limit_error * (1.0 + kt) + tol.ENGINE
    factors = [(tvs[i + 1] / tvs[i]) ** (1.0 / (steps[i + 1] - steps[i]))
               for i in range(len(tvs) - 1) if tvs[i + 1] > 1e3 * tols[i + 1]]
    q = max(factors) if factors else math.nan
    # the asymptotic factor the T7 phase figure and the sweep measure report (every step)
    rate = (measured_contraction_factor(tvs) if np.array_equal(steps, np.arange(len(steps)))
            else math.nan)
    after = steps >= 1  # t = 0 is the equality TV_0 = TV_0
    return worst_of("T7", pred[after], tvs[after], "<=", tols[after],
                    where=[f"t={int(t)}" for t in steps[after]],
                    note=f"kappa = {kappa:.6g}, largest measured per-step factor {q:.6g}, "
                         f"asymptotic factor {rate:.6g}",
                    kappa=kappa, measured_factor=q, asymptotic_factor=rate,
                    limit_error=limit_error)


def check_t7_coupling(pairs, K):
    r"""T7 (coupling): ``TV(C_K(p), C_K(q)) <= 1 - (1 - TV(p, q))^K``.  ``pairs``:
    ``[(label, p, q, C_K(p), C_K(q))]``."""
    pred = [float(formulas.t7_coupling_bound(tv_distance(p, q), K)) for _, p, q, _, _ in pairs]
    meas = [tv_distance(cp, cq) for _, _, _, cp, cq in pairs]
    return worst_of("T7.coupling", pred, meas, "<=", tol.ENGINE, where=[c[0] for c in pairs])


def check_t7_kinf(pairs, reward):
    r"""T7 (``K = inf``): ``TV(C(p), C(q)) <= 2 e^{r_* - r_min} TV(p, q)``, ``r_*`` and
    ``r_min`` over the union of the supports.  ``pairs`` as in :func:`check_t7_coupling`."""
    r = np.asarray(reward, dtype=float).ravel()
    pred, meas = [], []
    for _, p, q, cp, cq in pairs:
        sup = (normalized(p) > 0) | (normalized(q) > 0)
        factor = formulas.t7_kinf_factor(float(r[sup].max()), float(r[sup].min()))
        pred.append(factor * tv_distance(p, q))
        meas.append(tv_distance(cp, cq))
    return worst_of("T7.kinf", pred, meas, "<=", tol.ENGINE, where=[c[0] for c in pairs])


# --- T8 ----------------------------------------------------------------------------------

def kinf_map(mass, data, reward, lam):
    r"""``T(p) = (p_d + lam p e^r / E_p[e^r]) / (1 + lam)`` evaluated directly (``K = inf``)."""
    p, d = normalized(mass), normalized(data)
    r = np.asarray(reward, dtype=float).ravel()
    s = np.exp(r - r[(p > 0) | (d > 0)].max())
    return (d + lam * p * s / float(p @ s)) / (1.0 + lam)


def check_t8(data, reward, lam, eps):
    r"""T8: ``E_{p_d}[1 / (1 + lam - lam e^r / Z)] = 1``, in the stable form
    ``sum_k d_k (1 + eps) / ((1 + lam)(eps + 1 - s_k))`` with ``1 - s_k = -expm1(r_k - r_*)``
    and ``Z = lam e^{r_*} (1 + eps) / (1 + lam)``.  Tolerance ``64 ulps (1 + |log eps|)``: a
    sum of positive terms, at a root located in ``log eps`` to a few ulps."""
    d = normalized(data)
    r = np.asarray(reward, dtype=float).ravel()
    sup = d > 0
    oms = -np.expm1(r[sup] - r[sup].max())
    F = float(np.sum(d[sup] * (1.0 + eps) / ((1.0 + lam) * (eps + oms))))
    return verdict("T8", 1.0, F, "=", tol.ROUNDING * (1.0 + abs(math.log(eps))),
                   note=f"eps = {eps:.6g}")


def check_t8_fixed(limit_mass, data, reward, lam):
    r"""T8: ``TV(T(p^lam), p^lam) = 0`` with ``T`` evaluated directly (:func:`kinf_map`)."""
    res = tv_distance(kinf_map(limit_mass, data, reward, lam), limit_mass)
    return verdict("T8.fixed", 0.0, res, "<=", tol.ENGINE, note="TV(T(p^lam), p^lam)")


def check_t8_z(limit_mass, reward, Z, shift):
    r"""T8: ``Z = E_{p^lam}[e^{r - c}]`` (``Z`` as the solver reports it, shifted by ``c``)."""
    p = normalized(limit_mass)
    r = np.asarray(reward, dtype=float).ravel()
    sup = p > 0
    mean = float(p[sup] @ np.exp(r[sup] - shift))
    return verdict("T8.Z", Z, mean, "=", tol.ENGINE * Z)


def kingman_I_mpmath(law, lam, dps=30):
    r"""``I = E_{p_d}[1 / ((1 + lam)(1 - e^{r - r_*}))]`` for a continuous reward law
    (``law.density`` on ``[law.lower, law.upper]``, ``r_* = upper``), by mpmath tanh-sinh
    quadrature at ``dps`` digits, independently of the engine (which uses scipy).  The
    density is called with mpmath numbers (float if it cannot take them)."""
    import mpmath

    def dens(r):
        try:
            return law.density(r)
        except TypeError:
            return law.density(float(r))

    with mpmath.workdps(dps):
        lo, hi = mpmath.mpf(law.lower), mpmath.mpf(law.upper)
        total = mpmath.quad(dens, [lo, hi])
        num = mpmath.quad(lambda r: dens(r) / (-mpmath.expm1(r - hi)), [lo, hi])
        return float(num / (total * (1 + mpmath.mpf(lam))))


def check_t8_condensate(condensate, I):
    r"""T8: the condensate of a continuous law equals ``max(0, 1 - I)``."""
    return verdict("T8.condensate", formulas.t8_condensate(I), condensate, "=",
                   tol.CONDENSATE, note=f"I = {I:.12g} (mpmath, 30 digits)")


# --- T9 ----------------------------------------------------------------------------------

def t9_tolerance(lam, K, min_denominator):
    r"""The T9 solver accepts a residual below 1e-10 in ``log M_p``; that moves ``log H`` by
    at most ``(K - 1)`` times as much and ``p = p_d / (1 + lam - lam H)`` by a relative
    ``lam H (K-1) / (1 + lam - lam H) <= lam K (K - 1) / min_denominator`` times it.
    A denominator ``<= 0`` means ``p^lam`` is no T9 fixed point at all (negative masses):
    then only ``ENGINE``."""
    if not min_denominator > 0:
        return tol.ENGINE
    return tol.ENGINE + 1e-10 * lam * K * (K - 1.0) / min_denominator


def check_t9(limit_mass, next_mass, tolerance):
    r"""T9: ``TV(T(p^lam), p^lam) = 0``; ``next_mass = T(p^lam)`` by the engine's one-step
    map (:func:`numerics.retrain_step`)."""
    return verdict("T9", 0.0, tv_distance(next_mass, limit_mass), "<=", tolerance,
                   note="TV(T(p^lam), p^lam)")


def check_t9_denominator(limit_mass, H, lam, K):
    r"""T9: ``1 + lam - lam H_{p^lam}(x) >= 1 + lam - lam K > 0`` on the support (when
    ``lam (K - 1) < 1``); tolerance ``ENGINE lam K``."""
    sup = normalized(limit_mass) > 0
    den = 1.0 + lam - lam * np.asarray(H, dtype=float).ravel()[sup]
    cells = np.flatnonzero(sup)
    return worst_of("T9.denominator", 1.0 + lam - lam * K, den, ">=", tol.ENGINE * lam * K,
                    where=Where().add(len(cells), lambda j: f"cell {cells[j]}"))


# --- the same, gathered from a run (the hypotheses: theory.hypotheses) -------------------

def _fixed_point(ctx):
    """``(T(p^lam), TV(T(p^lam), p^lam), H_{p^lam})`` for finite ``K`` (cached on ctx)."""
    if not hasattr(ctx, "_t9"):
        from numerics import curation_factor, retrain_step
        p = ctx.limit.mass
        nxt = retrain_step(p, ctx.reward, ctx.K, ctx.lam, ctx.data)
        ctx._t9 = nxt, tv_distance(nxt, p), curation_factor(p, ctx.reward, ctx.K)
    return ctx._t9


@register_check("T5", applies=hyp.real_data)
def t5_of_run(ctx):
    return check_t5(ctx.iterates(), ctx.data, ctx.lam)


@register_check("T5.kl", applies=hyp.real_data)
def t5_kl_of_run(ctx):
    return check_t5_kl(ctx.iterates(), ctx.data, ctx.lam)


@register_check("T5.tv", applies=hyp.real_data)
def t5_tv_of_run(ctx):
    return check_t5_tv(ctx.iterates(), ctx.data, ctx.lam)


@register_check("T6", applies=hyp.from_data)
def t6_of_run(ctx):
    return check_t6(ctx.iterates(), ctx.data, ctx.reward,
                    ctx.trajectory.expected_exp_reward)


def _t7_inputs(ctx):
    kappa = formulas.t7_kappa(ctx.lam, ctx.K)
    _, residual, _ = _fixed_point(ctx)
    return kappa, residual


def _t7_condition(ctx):
    """``lam (K-1) < 1``; else the reason, with kappa and the measured per-step factor."""
    if ctx.lam * (ctx.K - 1.0) < 1.0:
        return None
    kappa, residual = _t7_inputs(ctx)
    info = check_t7(ctx.iterates(), ctx.limit.mass, ctx.lam, ctx.K, residual)
    return (f"needs lam (K-1) < 1, got {ctx.lam * (ctx.K - 1.0):g} (kappa = {kappa:g}; "
            f"measured largest per-step factor {info.details['measured_factor']:.6g})")


@register_check("T7", applies=hyp.all_of(
    hyp.real_data, hyp.finite_k("T7.kinf"),
    hyp.requires(lambda ctx: ctx.lam != 0, "lam = 0: p_t = p_d for t >= 1"), _t7_condition))
def t7_of_run(ctx):
    kappa, residual = _t7_inputs(ctx)
    return check_t7(ctx.iterates(), ctx.limit.mass, ctx.lam, ctx.K, residual / (1.0 - kappa))


def _coupling_pairs(ctx):
    if not hasattr(ctx, "_pairs"):
        from numerics import curate
        its = ctx.iterates()
        picks = [(0, 1), (1, 2), (0, len(its) - 1)]
        picks = [(a, b) for a, b in picks if b < len(its) and a != b]
        cur = {i: curate(its[i][1], ctx.reward, ctx.K) for i in {i for ab in picks for i in ab}}
        ctx._pairs = [(f"p_{its[a][0]}, p_{its[b][0]}", its[a][1], its[b][1], cur[a], cur[b])
                      for a, b in picks]
    return ctx._pairs


@register_check("T7.coupling", applies=hyp.all_of(hyp.finite_k("T7.kinf"), hyp.at_least_one_step))
def t7_coupling_of_run(ctx):
    return check_t7_coupling(_coupling_pairs(ctx), ctx.K)


@register_check("T7.kinf", applies=hyp.all_of(hyp.k_inf(), hyp.at_least_one_step))
def t7_kinf_of_run(ctx):
    return check_t7_kinf(_coupling_pairs(ctx), ctx.reward)


#: T8 and its parts: ``K = inf`` and ``0 < lam < inf``
_KINGMAN = hyp.all_of(hyp.k_inf("T9"), hyp.positive_finite_lam)


@register_check("T8", applies=_KINGMAN)
def t8_of_run(ctx):
    return check_t8(ctx.data, ctx.reward, ctx.lam, ctx.limit.info["eps"])


@register_check("T8.fixed", applies=_KINGMAN)
def t8_fixed_of_run(ctx):
    return check_t8_fixed(ctx.limit.mass, ctx.data, ctx.reward, ctx.lam)


@register_check("T8.Z", applies=_KINGMAN)
def t8_z_of_run(ctx):
    return check_t8_z(ctx.limit.mass, ctx.reward, ctx.limit.info["Z"],
                      ctx.limit.exp_reward_shift)


@register_check("T8.condensate", applies=hyp.all_of(
    _KINGMAN, hyp.requires(lambda ctx: ctx.continuous is not None,
                         "needs a continuous reward law (on a grid the top cell carries the "
                         "condensate: I = inf)")))
def t8_condensate_of_run(ctx):
    from numerics import limit_continuous
    lim = limit_continuous(ctx.continuous, K=math.inf, lam=ctx.lam)
    return check_t8_condensate(lim.condensate, kingman_I_mpmath(ctx.continuous, ctx.lam))


#: T9 and its denominator: a finite ``K > 1`` and ``0 < lam < inf``
_T9 = hyp.all_of(hyp.requires(lambda ctx: not (math.isinf(ctx.K) or ctx.K == 1),
                          lambda ctx: f"needs a finite K > 1 (K = inf: see T8), got K = "
                                      f"{ctx.K:g}"),
               hyp.positive_finite_lam)


def _min_denominator(ctx):
    """``min over supp p^lam of 1 + lam - lam H_{p^lam}``."""
    _, _, H_lim = _fixed_point(ctx)
    sup = ctx.limit.mass > 0
    return float(np.min(1.0 + ctx.lam - ctx.lam * H_lim[sup]))


@register_check("T9", applies=_T9)
def t9_of_run(ctx):
    nxt, _, _ = _fixed_point(ctx)
    min_den = _min_denominator(ctx)
    rec = check_t9(ctx.limit.mass, nxt, t9_tolerance(ctx.lam, ctx.K, min_den))
    rec.note += f"; min over the support of 1 + lam - lam H = {min_den:.6g}"
    return rec


@register_check("T9.denominator", applies=hyp.all_of(_T9, hyp.requires(
    lambda ctx: ctx.lam * (ctx.K - 1.0) < 1.0,
    lambda ctx: f"needs lam (K-1) < 1, got {ctx.lam * (ctx.K - 1.0):g} "
                f"(measured min denominator {_min_denominator(ctx):.6g})")))
def t9_denominator_of_run(ctx):
    _, _, H_lim = _fixed_point(ctx)
    return check_t9_denominator(ctx.limit.mass, H_lim, ctx.lam, ctx.K)
