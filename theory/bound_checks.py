"""Checks of the paper's remaining statements and two sharper forms (docs/theory.md):
P3.strict, T3.kl, T6.increment (the paper's coefficient) and T6.sharp (the sharper one), T10
and T7.uniform.

As elsewhere, ``check_*`` take explicit inputs (so that a test can hand them wrong ones) and
the registered ``*_of_run`` gather them from a :class:`theory.context.RunContext`.
"""

from __future__ import annotations

import math

import numpy as np

from . import formulas, tolerances as tol
from .distances import kl_divergence, normalized, tv_distance
from . import hypotheses as hyp
from .report import Where, combine, not_applicable, worst_of
from .statements import register_check

__all__ = ["check_p3_strict", "check_t3_kl", "check_t6_increment", "check_t10",
           "check_t7_uniform"]


# --- P3.strict -----------------------------------------------------------------------------

def check_p3_strict(cases, reward, K):
    r"""P3.strict (integer ``K > 1``): at consecutive *distinct* reward levels of the support,
    ``H(s2) - H(s1) >= K (s2 - s1) min(g(a), g(b)) > 0``
    (:func:`theory.formulas.p3_strict_lower_bound`): strictly increasing, with a margin.
    Tolerance ``ENGINE max(H)`` of the pair.  ``cases``: ``[(label, p, H)]``.  The note says
    at how many pairs the bound is above the tolerance (where strictness is resolved in
    float64)."""
    r = np.asarray(reward, dtype=float).ravel()
    pred, meas, tols, where = [], [], [], Where()
    for label, p, h in cases:
        p = normalized(p)
        sup = np.flatnonzero(p > 0)
        levels, first = np.unique(r[sup], return_index=True)
        if len(levels) < 2:
            continue
        cells = sup[first]
        hs = np.asarray(h, dtype=float).ravel()[cells]
        r_top = levels[-1]
        s = np.exp(levels - r_top)
        gap = np.diff(levels)
        # s2 - s1 = s1 expm1(gap) without cancellation for small gaps; for large ones
        # (expm1 overflows past 709 nats while s1 underflows) the difference itself is exact
        with np.errstate(over="ignore"):
            ds = np.where(gap <= 1.0, s[:-1] * np.expm1(np.minimum(gap, 1.0)), s[1:] - s[:-1])
        mass = np.bincount(np.searchsorted(levels, r[sup]), weights=p[sup],
                           minlength=len(levels))
        tail = np.cumsum(mass[::-1])[::-1]          # P(s >= s_j)
        pick = np.unique(np.linspace(0, len(levels) - 1, min(len(levels), 128)).astype(int))
        bound = formulas.p3_strict_lower_bound(s[:-1], s[1:], ds, s[pick], tail[pick], K)
        pred.append(np.atleast_1d(bound))
        meas.append(hs[1:] - hs[:-1])
        tols.append(tol.ENGINE * np.maximum(hs[:-1], hs[1:]))
        where.add(len(levels) - 1, lambda j, label=label, lv=levels:
                  f"{label}, r={lv[j]:.6g} -> r={lv[j + 1]:.6g}")
    if not len(where):
        return not_applicable("P3.strict", "p is carried by one reward level (a point mass "
                                           "of the reward law): H = 1")
    pred, meas, tols = np.concatenate(pred), np.concatenate(meas), np.concatenate(tols)
    resolved = int(np.sum(pred > tols))
    return worst_of("P3.strict", pred, meas, ">=", tols, where=where, trivial=pred <= tols,
                    note=f"H(r2) - H(r1) >= the margin K (s2 - s1) max_c P(s >= c)^(K-1) min g; "
                         f"the margin exceeds "
                         f"the tolerance (strictness resolved) at {resolved} of {len(pred)} "
                         f"pairs", resolved=resolved, pairs=len(pred))


# --- T3.kl ---------------------------------------------------------------------------------

def check_t3_kl(iterates, reward):
    r"""T3.kl (``lam = inf``, ``m_* > 0``): ``KL(p_* || p_t)``, ``p_* = p_0( . | r = r_*)``,
    computed as a sum of ``p_* log(p_* / p_t)`` (``scipy.special.rel_entr``), is
    non-increasing in ``t`` and equals ``-log p_t(r = r_*)``.  Tolerances ``ENGINE (1 + KL)``
    (masses are accurate relatively, so their logs absolutely)."""
    r = np.asarray(reward, dtype=float).ravel()
    p0 = normalized(iterates[0][1])
    r_star = float(r[p0 > 0].max())
    top = r == r_star
    p_star = np.where(top, p0, 0.0)
    p_star = p_star / p_star.sum()
    steps = [t for t, _ in iterates]
    kls = np.array([kl_divergence(p_star, p) for _, p in iterates])
    with np.errstate(divide="ignore"):
        logs = np.array([-math.log(float(normalized(p)[top].sum())) if normalized(p)[top].sum()
                         > 0 else math.inf for _, p in iterates])
    recs = [worst_of("T3.kl", logs, kls, "=", tol.ENGINE * (1.0 + np.abs(logs)),
                     where=[f"t={t}" for t in steps], note="KL(p_* || p_t) = -log p_t(r = r_*)",
                     trivial=np.array(steps) == 0)]
    if len(iterates) > 1:
        recs.append(worst_of("T3.kl", kls[:-1], kls[1:], "<=",
                             tol.ENGINE * (1.0 + kls[:-1] + kls[1:]),
                             where=[f"t={a} -> {b}" for a, b in zip(steps[:-1], steps[1:])],
                             note=f"KL(p_* || p_t) non-increasing: KL_0 = {kls[0]:.6g}, "
                                  f"KL_{steps[-1]} = {kls[-1]:.6g}"))
    return combine(recs)


# --- T6.increment ----------------------------------------------------------------------------

def check_t6_increment(expected_exp_reward, var_d, lam, K, exp_r_star, sharp=False):
    r"""T6.increment (``p_0 = p_d``; ``sharp``: T6.sharp): for every step ``t >= 1``,
    ``E_t[e^r] >= E_{p_d}[e^r] + c_t ((K-1)/K) Var_{p_d}[e^r] / e^{r_*}``
    (:func:`theory.formulas.t6_increment_coefficient`).  ``expected_exp_reward[t] =
    E_t[e^{r-c}]`` at every step (``[0]`` is ``E_{p_d}``), ``var_d = Var_{p_d}[e^{r-c}]``,
    ``exp_r_star = e^{r_* - c}``.  Tolerance ``ENGINE (E_t + E_0 + increment)``."""
    stmt = "T6.sharp" if sharp else "T6.increment"
    E = np.asarray(expected_exp_reward, dtype=float)
    t = np.arange(1, len(E))
    c = np.atleast_1d(formulas.t6_increment_coefficient(lam, t, sharp=sharp))
    inc = c * formulas.t1_increment_lower_bound(var_d, K, exp_r_star)
    pred = E[0] + inc
    return worst_of(stmt, pred, E[1:], ">=", tol.ENGINE * (E[1:] + E[0] + inc),
                    where=[f"t={s}" for s in t],
                    note=("c_1 = lam/(1+lam), c_t = lam/(1+lam)^2" if sharp else
                          "c_t = lam/(1+lam)^3 (the paper's)")
                    + f"; E_T - E_d = {E[-1] - E[0]:.6g}")


# --- T10 -------------------------------------------------------------------------------------

def check_t10(iterates, data, lam, K):
    r"""T10 (``lam (K-1) < 1``, ``p_0 = p_d``): at every recorded ``t >= 1`` and every cell
    ``p_t <= B p_d`` with ``B = 1/(1 - lam (K-1))`` (tolerance ``ENGINE B p_d``: zero off the
    support of ``p_d``), and ``KL(p_t || p_d) <= log B`` (tolerance ``ENGINE``)."""
    B = formulas.t10_bound(lam, K)
    d = normalized(data)
    its = [(t, normalized(p)) for t, p in iterates if t >= 1]
    n = d.size
    where = Where()
    for t, _ in its:
        where.add(n, lambda j, t=t: f"t={t}, cell {j}")
    bound = np.tile(B * d, len(its))
    recs = [worst_of("T10", bound, np.concatenate([p for _, p in its]), "<=",
                     tol.ENGINE * bound, where=where, note=f"p_t <= B p_d, B = {B:.6g}")]
    kls = [kl_divergence(p, d) for _, p in its]
    recs.append(worst_of("T10", formulas.t10_kl_bound(lam, K), kls, "<=", tol.ENGINE,
                         where=[f"t={t}" for t, _ in its], note="KL(p_t || p_d) <= log B"))
    return combine(recs)


# --- T7.uniform ------------------------------------------------------------------------------

def check_t7_uniform(pairs, reward):
    r"""T7.uniform: ``TV(C_K(p), C_K(q)) <= L TV(p, q)``, ``L = 2 e^Delta (2 + e^Delta)``,
    ``Delta`` the reward range over the union of the supports.  ``pairs``:
    ``[(label, p, q, C_K(p), C_K(q))]``; tolerance ``ENGINE``."""
    r = np.asarray(reward, dtype=float).ravel()
    pred, meas, Ls = [], [], []
    for _, p, q, _, _ in pairs:
        sup = (normalized(p) > 0) | (normalized(q) > 0)
        L = formulas.t7_uniform_factor(float(r[sup].max() - r[sup].min()))
        tv = tv_distance(p, q)
        pred.append(L * tv if tv > 0 else 0.0)
        Ls.append(L)
    meas = [tv_distance(cp, cq) for _, _, _, cp, cq in pairs]
    ratios = [m / (pr / L) for m, pr, L in zip(meas, pred, Ls) if pr > 0]
    return worst_of("T7.uniform", pred, meas, "<=", tol.ENGINE, where=[c[0] for c in pairs],
                    note=f"L = {max(Ls):.4g}; measured TV(C p, C q)/TV(p, q) at most "
                         f"{max(ratios, default=math.nan):.4g}")


# --- the same, gathered from a run (the hypotheses: theory.hypotheses) ---------------------

@register_check("P3.strict", applies=hyp.requires(
    lambda ctx: not (math.isinf(ctx.K) or ctx.K == 1 or not float(ctx.K).is_integer()),
    lambda ctx: f"the margin is proved for an integer K > 1 (L1), got K = {ctx.K:g}"))
def p3_strict_of_run(ctx):
    from .operator_checks import _h_cases
    return check_p3_strict(_h_cases(ctx), ctx.reward, ctx.K)


@register_check("T3.kl", applies=hyp.curated_only)
def t3_kl_of_run(ctx):
    return check_t3_kl(ctx.iterates(), ctx.reward)


#: T6.increment and T6.sharp: ``p_0 = p_d`` and ``lam > 0``
_T6_INCREMENT = hyp.all_of(hyp.from_data, hyp.requires(lambda ctx: ctx.lam != 0,
                                                       "lam = 0: p_t = p_d, c_t = 0"))


def _t6_increment(ctx, sharp):
    tr = ctx.trajectory
    return check_t6_increment(tr.expected_exp_reward, float(tr.var_exp_reward[0]), ctx.lam,
                              ctx.K, ctx.exp_r_star, sharp=sharp)


@register_check("T6.increment", applies=_T6_INCREMENT)
def t6_increment_of_run(ctx):
    return _t6_increment(ctx, False)


@register_check("T6.sharp", applies=_T6_INCREMENT)
def t6_sharp_of_run(ctx):
    return _t6_increment(ctx, True)


@register_check("T10", applies=hyp.all_of(hyp.from_data, hyp.requires(
    lambda ctx: ctx.lam * (ctx.K - 1.0) < 1.0,
    lambda ctx: f"needs lam (K-1) < 1, got {ctx.lam * (ctx.K - 1.0):g}")))
def t10_of_run(ctx):
    return check_t10(ctx.iterates(), ctx.data, ctx.lam, ctx.K)


@register_check("T7.uniform", applies=hyp.at_least_one_step)
def t7_uniform_of_run(ctx):
    from .mixed_checks import _coupling_pairs
    pairs = list(_coupling_pairs(ctx))
    if 0 < ctx.lam < math.inf:
        from numerics import curate
        t, p = ctx.iterates()[-1]
        lim = ctx.limit.mass
        pairs.append((f"p_{t}, p^lam", p, lim, curate(p, ctx.reward, ctx.K),
                      curate(lim, ctx.reward, ctx.K)))
    return check_t7_uniform(pairs, ctx.reward)
