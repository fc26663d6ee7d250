r"""Checks of THEORY.md section 7 (curation rules beyond one reward): T11-T14.

The ``check_*`` functions take explicit inputs (iterates ``[(t, p_t)]``, a rule, a limit's
masses) so that a test can hand them wrong ones; the registered ``*_of_run`` functions gather
them from a :class:`theory.context.RunContext` carrying ``ctx.rule`` (the rule of the run:
``theory.check_trajectory(traj, rule)``; ``None`` for a plain ``(reward, K)`` run, which is a
single Bradley-Terry user); each is registered with its statement's hypotheses (``applies``,
:mod:`theory.hypotheses`), so it only sees runs that meet them.

Exponentials are taken relative to each reward's top on the support:
``s_u = e^{r_u - max r_u}`` (``0`` where a filter's ``r_u = -inf``); every statement is
homogeneous in each ``s_u``, so nothing is lost.

- **T11** (``K = inf``, ``lam = inf``): ``E_{C(p)}[s] - E_p[s] = sum_u pi_u Cov_p(s, s_u) /
  E_p[s_u]`` at every step, ``s`` the first user type's (T11 is the two-type case
  ``(1 - phi) Var_p[s]/E_p[s] + phi Cov_p(s, s~)/E_p[s~]``).
- **T11.bound** (finite ``K`` for the first type): the increment is at least
  ``pi_1 ((K-1)/K) Var_p[s] + sum_{u>1} pi_u (E_{C_u(p)}[s] - E_p[s])``.
- **T12** (every type ``K = inf``, ``lam = inf``): ``Phi(p_t) = sum_u pi_u log E_{p_t}[e^{r_u}]``
  is non-decreasing; **T12.kkt**: ``g = sum_u pi_u e^{r_u}/Z_u`` is ``1`` on the support of the
  solved limit and ``<= 1`` elsewhere on ``supp p_0``.
- **T13** (every type ``K = inf``, ``0 < lam < inf``): ``p = p_d / (1 + lam - lam g)`` at the
  solved limit; **T13.approach**: ``TV(p_T, p^lam) <= TV(p_0, p^lam)`` (measured factor).
- **T14** (one Bradley-Terry ``K = inf`` user, ``lam = inf``): ``d_H(C(p), C(q)) = d_H(p, q)``
  on the pairs of iterates ``(p_t, p_{t+1})`` and ``(p_0, p_{T-1})``; **T14.contraction**
  (``0 < lam < inf``): ``d_H(p_{t+1}, p^lam) / d_H(p_t, p^lam) < 1`` at every step, the
  largest factor reported.
"""

from __future__ import annotations

import math

import numpy as np

from . import tolerances as tol
from .distances import normalized, tv_distance
from . import hypotheses as hyp
from .report import combine, not_applicable, worst_of
from .statements import register_check

__all__ = ["check_t11", "check_t11_bound", "check_t12", "check_t12_kkt", "check_t13",
           "check_t13_approach", "check_t14_isometry", "check_t14_contraction",
           "hilbert_distance", "scaled_exp_rewards", "RULE_AWARE"]

#: the statement ids that apply to any curation rule: those that read ``ctx.rule``, the run's
#: masses, and T5 (it uses only ``p_{t+1} = (p_d + lam C(p_t))/(1 + lam)``); the others assume
#: one Bradley-Terry reward
RULE_AWARE = ("run.masses", "T5", "T5.kl", "T5.tv", "T11", "T11.bound", "T12", "T12.kkt", "T13", "T13.approach",
              "T14", "T14.contraction")

#: T14.contraction skips steps where ``d_H(p_t, p^lam)`` is below this (the factor of two
#: numbers at the rounding floor of log-masses, ~1e-12, is noise)
T14_FLOOR = 1e-8


def scaled_exp_rewards(rule, shape, support):
    """``(pi, S)``: the weights ``pi_u`` and the matrix ``S[u] = e^{r_u - max_{supp} r_u}``
    (flat; ``0`` where ``r_u = -inf``) of the rule's user types (reward of step 0)."""
    pi = np.array([w for w, _ in rule.components()])
    S = []
    sup = np.asarray(support, bool).ravel()
    for r in rule.rewards_at(0, shape):
        r = np.asarray(r, float).ravel()
        fin = np.isfinite(r) & sup
        top = float(r[fin].max()) if fin.any() else 0.0
        with np.errstate(invalid="ignore", over="ignore"):
            S.append(np.where(np.isfinite(r), np.exp(r - top), 0.0))
    return pi, np.array(S)


def _cov(p, x, y):
    """``Cov_p(x, y)`` two-pass (centered products: no cancellation of large means)."""
    ex, ey = p @ x, p @ y
    return float(p @ ((x - ex) * (y - ey)))


# --- T11 ----------------------------------------------------------------------------------

def check_t11(iterates, pi, S):
    r"""T11 (``K = inf``): at every step ``E_{t+1}[s] - E_t[s] = sum_u pi_u Cov_t(s, s_u) /
    E_t[s_u]``, ``s = S[0]`` (the identity of THEORY.md T11 with ``U`` types).  Every step
    must be recorded.  Tolerance ``ENGINE (E_t + E_{t+1} + sum_u pi_u |term_u|)``."""
    ps = [normalized(p).ravel() for _, p in iterates]
    s = S[0]
    pred, meas, tols, where = [], [], [], []
    for (t, _), p, q in zip(iterates[:-1], ps[:-1], ps[1:]):
        terms = [w * _cov(p, s, su) / float(p @ su) for w, su in zip(pi, S)]
        inc = float(q @ s) - float(p @ s)
        pred.append(sum(terms))
        meas.append(inc)
        tols.append(tol.ENGINE * (float(p @ s) + float(q @ s) + sum(abs(x) for x in terms)))
        where.append(f"t={t}")
    return worst_of("T11", pred, meas, "=", tols, where=where,
                    note="increment of E[e^(r_1 - r_1*)] vs sum_u pi_u Cov(e^r_1, e^r_u)/E[e^r_u]")


def check_t11_bound(iterates, pi, S, K, curated_others):
    r"""T11 (finite ``K`` of the first type): ``E_{t+1}[s] - E_t[s] >= pi_1 ((K-1)/K)
    Var_t[s] + sum_{u>1} pi_u (E_{C_u(p_t)}[s] - E_t[s])`` (``e^{r_*}`` is 1 in these units).
    ``curated_others[i]``: the list ``[C_u(p_t) for u > 1]`` at step ``i``."""
    ps = [normalized(p).ravel() for _, p in iterates]
    s = S[0]
    pred, meas, tols, where = [], [], [], []
    for i, ((t, _), p, q) in enumerate(zip(iterates[:-1], ps[:-1], ps[1:])):
        E = float(p @ s)
        bound = pi[0] * (K - 1.0) / K * _cov(p, s, s)
        bound += sum(w * (float(normalized(c).ravel() @ s) - E)
                     for w, c in zip(pi[1:], curated_others[i]))
        pred.append(bound)
        meas.append(float(q @ s) - E)
        tols.append(tol.ENGINE * (E + float(q @ s) + abs(bound)))
        where.append(f"t={t}")
    return worst_of("T11.bound", pred, meas, ">=", tols, where=where)


# --- T12 ----------------------------------------------------------------------------------

def _phi(p, pi, S):
    return float(pi @ np.log(S @ p))


def check_t12(iterates, pi, S):
    r"""T12: ``Phi(p_{t+1}) >= Phi(p_t)``, ``Phi(p) = sum_u pi_u log E_p[s_u]`` (shifted by a
    constant: ``s_u = e^{r_u - max r_u}``), at consecutive recorded steps.  Tolerance
    ``2 ENGINE`` nats: each ``E_p[s_u]`` carries the engine's relative error."""
    ps = [normalized(p).ravel() for _, p in iterates]
    phis = np.array([_phi(p, pi, S) for p in ps])
    steps = [t for t, _ in iterates]
    return worst_of("T12", phis[:-1], phis[1:], ">=", 2 * tol.ENGINE,
                    where=[f"t={a} -> {b}" for a, b in zip(steps[:-1], steps[1:])],
                    note=f"Phi_T - Phi_0 = {phis[-1] - phis[0]:.6g} nats (shifted rewards)")


def check_t12_kkt(limit_mass, start_mass, pi, S):
    r"""T12 (KKT at the limit ``p*``): ``g = sum_u pi_u s_u / E_{p*}[s_u]`` equals 1 on
    ``supp p*`` and is ``<= 1`` on ``supp p_0 \ supp p*``; ``g`` evaluated here from the
    limit's masses.  Tolerance ``ENGINE``: the solver stops at ``1e-13``."""
    p = normalized(limit_mass).ravel()
    on0 = normalized(start_mass).ravel() > 0
    g = (pi / (S @ p)) @ S
    on = p > 0
    recs = [worst_of("T12.kkt", 1.0, g[on], "=", tol.ENGINE,
                     where=lambda j: f"cell {np.flatnonzero(on)[j]} (support of the limit)")]
    off = on0 & ~on
    if off.any():
        recs.append(worst_of("T12.kkt", 1.0, g[off], "<=", tol.ENGINE,
                             where=lambda j: f"cell {np.flatnonzero(off)[j]} (off the limit)"))
    return combine(recs)


# --- T13 ----------------------------------------------------------------------------------

def check_t13(limit_mass, data, pi, S, lam):
    r"""T13: ``p = p_d / (1 + lam - lam g)``, ``g = sum_u pi_u s_u / Z_u``,
    ``Z_u = E_p[s_u]``, all evaluated from the limit's masses ``p``: measured
    ``TV(p, p_d / D)`` (``p_d / D`` not renormalized: its mass defect counts).
    Tolerance ``ENGINE``."""
    p = normalized(limit_mass).ravel()
    d = normalized(data).ravel()
    g = (pi / (S @ p)) @ S
    D = 1.0 + lam - lam * g
    on = d > 0
    if np.any(D[on] <= 0):
        rhs = np.full(p.shape, np.inf)
    else:
        rhs = np.where(on, d / np.where(on, D, 1.0), 0.0)
    err = 0.5 * float(np.abs(p - rhs).sum())
    return worst_of("T13", 0.0, err, "<=", tol.ENGINE,
                    note=f"min (1 + lam - lam g) on supp p_d = {float(D[on].min()):.6g}")


def check_t13_approach(iterates, limit_mass):
    r"""T13 (the run approaches the solved limit): ``TV(p_T, p^lam) <= TV(p_0, p^lam)``; the
    note gives ``TV(p_T, p^lam)`` and the mean per-step factor ``(TV_T/TV_0)^(1/T)``.
    Tolerance ``ENGINE``.  (An observation about this run, not a convergence theorem.)"""
    tvs = [tv_distance(p, limit_mass) for _, p in iterates]
    T = iterates[-1][0] - iterates[0][0]
    factor = (tvs[-1] / tvs[0]) ** (1.0 / T) if tvs[0] > 0 and T > 0 else math.nan
    return worst_of("T13.approach", tvs[0], tvs[-1], "<=", tol.ENGINE,
                    note=f"TV(p_T, p^lam) = {tvs[-1]:.3g}, mean factor per step {factor:.6g}",
                    factor=factor)


# --- T14 ----------------------------------------------------------------------------------

def hilbert_distance(p, q):
    r"""``d_H(p, q) = log max(p/q) - log min(p/q)`` on a common support (T14); ``inf`` when
    the supports differ.  Computed from log-masses (no overflow of the ratios)."""
    p = np.asarray(p, float).ravel()
    q = np.asarray(q, float).ravel()
    sp, sq = p > 0, q > 0
    if not np.array_equal(sp, sq):
        return math.inf
    lr = np.log(p[sp]) - np.log(q[sp])
    return float(lr.max() - lr.min())


def check_t14_isometry(iterates):
    r"""T14 (one ``K = inf`` curator, ``lam = inf``): ``d_H(C(p), C(q)) = d_H(p, q)`` on the
    pairs ``(p_t, p_{t+1}) -> (p_{t+1}, p_{t+2})`` and ``(p_0, p_{T-1}) -> (p_1, p_T)``
    (every step recorded: ``p_{t+1} = C(p_t)``).  Pairs with different supports (a mass
    underflowed to 0) are skipped.  Tolerance ``4 ENGINE (1 + d_H)``: four log-masses."""
    ps = [normalized(p).ravel() for _, p in iterates]
    pairs = [((i, i + 1), (i + 1, i + 2)) for i in range(len(ps) - 2)]
    if len(ps) >= 3:
        pairs.append(((0, len(ps) - 2), (1, len(ps) - 1)))
    pred, meas, where = [], [], []
    for (a, b), (c, d) in pairs:
        before, after = hilbert_distance(ps[a], ps[b]), hilbert_distance(ps[c], ps[d])
        if math.isfinite(before) and math.isfinite(after):
            pred.append(before)
            meas.append(after)
            where.append(f"d_H(p_{c}, p_{d}) vs d_H(p_{a}, p_{b})")
    if not pred:
        return not_applicable("T14", "no pair of iterates on a common support")
    pred = np.array(pred)
    return worst_of("T14", pred, meas, "=", 4 * tol.ENGINE * (1.0 + pred), where=where)


def check_t14_contraction(iterates, limit_mass):
    r"""T14 (real data): ``d_H(p_{t+1}, p^lam) < d_H(p_t, p^lam)`` at consecutive recorded
    steps where ``d_H(p_t, p^lam) >= T14_FLOOR``; measured: the largest factor
    ``d_H(p_{t+1}, p^lam)/d_H(p_t, p^lam)`` (holds iff ``< 1``).  Tolerance 0 on the factor
    beyond the rounding ``4 ENGINE / d_H(p_t, p^lam)``."""
    ds = [hilbert_distance(p, limit_mass) for _, p in iterates]
    steps = [t for t, _ in iterates]
    pred, meas, tols, where = [], [], [], []
    for i in range(len(ds) - 1):
        if math.isfinite(ds[i]) and ds[i] >= T14_FLOOR:
            pred.append(1.0)
            meas.append(ds[i + 1] / ds[i])
            tols.append(4 * tol.ENGINE / ds[i])
            where.append(f"t={steps[i]} -> {steps[i + 1]}")
    if not pred:
        return not_applicable("T14.contraction",
                              f"d_H(p_t, p^lam) below {T14_FLOOR:g} (or infinite) at every step")
    rec = worst_of("T14.contraction", pred, meas, "<=", tols, where=where,
                   note=f"largest factor {max(meas):.6g}")
    # strict: a factor of exactly 1 (to rounding) is not a contraction
    rec.holds = bool(rec.holds and all(m < 1.0 for m in meas))
    return rec


# --- registered checks --------------------------------------------------------------------

def _rule_of(ctx):
    from numerics.curators import bradley_terry
    rule = getattr(ctx, "rule", None)
    return rule if rule is not None else bradley_terry(ctx.reward, ctx.K)


def _kinf_types(rule):
    from numerics.curators import BradleyTerry, Filtering
    return all(isinstance(r, Filtering) or (isinstance(r, BradleyTerry) and math.isinf(r.K))
               for _, r in rule.components())


#: every step recorded (the identities compare each step with the next)
_EVERY_STEP = hyp.all_of(hyp.at_least_one_step, hyp.requires(
    lambda ctx: ctx.recorded_steps == list(range(ctx.steps + 1)),
    "needs every step recorded (record_every=1)"))

_FIXED_REWARD = hyp.requires(lambda ctx: not _rule_of(ctx).varies, "a reward that changes with t")
#: section 7 without real data: a fixed rule, ``lam = inf``
_CURATED = hyp.all_of(_FIXED_REWARD, hyp.requires(
    lambda ctx: math.isinf(ctx.lam),
    lambda ctx: f"needs lam = inf (curated data only), got lam = {ctx.lam:g}"))
#: section 7 with real data: a fixed rule, ``0 < lam < inf``
_REAL = hyp.all_of(_FIXED_REWARD, hyp.positive_finite_lam)


def _users(test, needs):
    """The rule's user types pass ``test(rule)``, else ``needs ..., got RULE``."""
    return hyp.requires(lambda ctx: test(_rule_of(ctx)),
                        lambda ctx: f"{needs}, got {_rule_of(ctx)!r}")


def _bt_kinf_users(rule):
    from numerics.curators import BradleyTerry
    return all(isinstance(r, BradleyTerry) and math.isinf(r.K) for _, r in rule.components())


def _bt_finite_first(rule):
    from numerics.curators import BradleyTerry
    return isinstance(rule.primary, BradleyTerry) and math.isfinite(rule.primary.K)


def _single_bt_kinf(rule):
    from numerics.curators import BradleyTerry
    return isinstance(rule, BradleyTerry) and math.isinf(rule.K)


_KINF_TYPES = _users(_kinf_types, "needs every user type with K = inf")


def _scaled(ctx, rule):
    return scaled_exp_rewards(rule, ctx.mass.shape, ctx.support)


@register_check("T11", applies=hyp.all_of(
    _CURATED, _users(_bt_kinf_users, "needs Bradley-Terry users with K = inf"), _EVERY_STEP))
def t11_of_run(ctx):
    pi, S = _scaled(ctx, _rule_of(ctx))
    return check_t11(ctx.iterates(), pi, S)


@register_check("T11.bound", applies=hyp.all_of(
    _CURATED, _users(_bt_finite_first, "needs a finite-K Bradley-Terry first user type"),
    _EVERY_STEP))
def t11_bound_of_run(ctx):
    from numerics import curate
    rule = _rule_of(ctx)
    pi, S = _scaled(ctx, rule)
    its = ctx.iterates()
    others = [[curate(p, r) for _, r in rule.components()[1:]] for _, p in its[:-1]]
    return check_t11_bound(its, pi, S, rule.primary.K, others)


@register_check("T12", applies=hyp.all_of(_CURATED, _KINF_TYPES, hyp.at_least_one_step))
def t12_of_run(ctx):
    pi, S = _scaled(ctx, _rule_of(ctx))
    return check_t12(ctx.iterates(), pi, S)


def _rule_limit(ctx, rule):
    if ctx._limit is not None:
        return ctx._limit
    if not hasattr(ctx, "_rule_limit"):
        from numerics.curator_limits import limit_rule
        try:
            ctx._rule_limit = limit_rule(ctx.mass, rule, ctx.lam, ctx.data)
        except (ArithmeticError, ValueError) as exc:
            ctx._rule_limit = f"the T12/T13 solver gave no limit: {exc}"
    return ctx._rule_limit


#: T12.kkt, T13, T13.approach need a run of a rule (a plain (reward, K) run with K = inf is
#: T8's: checked there)
_RULE_RUN = hyp.requires(lambda ctx: getattr(ctx, "rule", None) is not None,
                         "a plain (reward, K) run: see T8 (pass the rule to check a run of "
                         "numerics.curators rules)")


def _limit_or_na(stmt_id, ctx, rule):
    """The rule's limit, or the record saying the solver gave none (an outcome of the run,
    not a hypothesis)."""
    lim = _rule_limit(ctx, rule)
    if isinstance(lim, str):
        return None, not_applicable(stmt_id, lim)
    return lim, None


@register_check("T12.kkt", applies=hyp.all_of(_CURATED, _RULE_RUN, _KINF_TYPES))
def t12_kkt_of_run(ctx):
    rule = _rule_of(ctx)
    lim, na = _limit_or_na("T12.kkt", ctx, rule)
    if na:
        return na
    pi, S = _scaled(ctx, rule)
    return check_t12_kkt(lim.mass, ctx.mass, pi, S)


@register_check("T13", applies=hyp.all_of(_REAL, _RULE_RUN, _KINF_TYPES))
def t13_of_run(ctx):
    rule = _rule_of(ctx)
    lim, na = _limit_or_na("T13", ctx, rule)
    if na:
        return na
    pi, S = _scaled(ctx, rule)
    return check_t13(lim.mass, ctx.data, pi, S, ctx.lam)


@register_check("T13.approach", applies=hyp.all_of(_REAL, _RULE_RUN, _KINF_TYPES,
                                                   hyp.at_least_one_step))
def t13_approach_of_run(ctx):
    lim, na = _limit_or_na("T13.approach", ctx, _rule_of(ctx))
    if na:
        return na
    return check_t13_approach(ctx.iterates(), lim.mass)


_SINGLE_KINF = _users(_single_bt_kinf, "needs one Bradley-Terry user with K = inf")


@register_check("T14", applies=hyp.all_of(
    _CURATED, _SINGLE_KINF, _EVERY_STEP,
    hyp.requires(lambda ctx: ctx.steps >= 2, "needs at least two steps (a pair and its image)")))
def t14_of_run(ctx):
    return check_t14_isometry(ctx.iterates())


@register_check("T14.contraction", applies=hyp.all_of(
    _REAL, _SINGLE_KINF,
    hyp.requires(lambda ctx: not ((ctx.mass > 0) & ~(ctx.data > 0)).any(),
                 "p_0 has mass off supp p_d: d_H(p_t, p^lam) is infinite"),
    hyp.at_least_one_step))
def t14_contraction_of_run(ctx):
    if getattr(ctx, "rule", None) is not None:
        lim, na = _limit_or_na("T14.contraction", ctx, _rule_of(ctx))
        if na:
            return na
    else:
        lim = ctx.limit
    return check_t14_contraction(ctx.iterates(), lim.mass)
