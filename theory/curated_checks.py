"""Checks of THEORY.md section 3, retraining on curated samples only (T1-T4).

The ``check_*`` functions take explicit inputs (a :class:`numerics.Trajectory`, lists of
``(t, p_t)``) so that a test can hand them wrong ones; the registered ``*_of_run`` functions
gather them from a :class:`theory.context.RunContext`; each is registered with its
statement's hypotheses (``applies``, :mod:`theory.hypotheses`), so it only sees runs that meet
them.
Exponential moments are those of the trajectory, ``E[e^{r - c}]`` with
``c = traj.exp_reward_shift``, so ``e^{r_*}`` is ``e^{r_* - c}`` throughout.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import logsumexp, ndtr

from . import formulas, tolerances as tol
from .distances import normalized, tv_distance
from . import hypotheses as hyp
from .report import Where, combine, worst_of
from .statements import register_check

__all__ = ["check_t1", "check_t2", "check_t2_budget", "check_t2_tail", "check_t3_weights",
           "check_t3_tv", "check_t3_rate", "check_t4", "check_t4_gauss", "tail_eps",
           "reward_gap", "fit_gaussian_quadratic"]


def _exp_r_star(traj):
    return math.exp(traj.r_star - traj.exp_reward_shift)


def _steps(n):
    return [f"t={t}" for t in range(n)]


# --- T1 ----------------------------------------------------------------------------------

def check_t1(traj):
    r"""T1 at every step ``t < T``: ``E_{t+1} - E_t >= ((K-1)/K) Var_t / e^{r_*}``; for
    ``K = inf`` the identity ``E_{t+1} - E_t = Var_t / E_t``.  Tolerance per step:
    ``ENGINE (E_t + E_{t+1} + bound_t)`` (each of the three carries the engine's error)."""
    E = np.asarray(traj.expected_exp_reward, dtype=float)
    V = np.asarray(traj.var_exp_reward, dtype=float)
    inc = np.diff(E)
    if math.isinf(traj.K):
        pred = formulas.kinf_increment(E[:-1], V[:-1])
        rel = "="
    else:
        pred = formulas.t1_increment_lower_bound(V[:-1], traj.K, _exp_r_star(traj))
        rel = ">="
    tols = tol.ENGINE * (E[:-1] + E[1:] + np.abs(pred))
    return worst_of("T1", pred, inc, rel, tols, where=[f"t={t}" for t in range(len(inc))])


# --- T2 ----------------------------------------------------------------------------------

def check_t2(traj):
    r"""T2: ``E_{t+1}[e^r] >= E_t[e^r]`` at every step (tolerance ``ENGINE (E_t + E_{t+1})``)."""
    E = np.asarray(traj.expected_exp_reward, dtype=float)
    return worst_of("T2", E[:-1], E[1:], ">=", tol.ENGINE * (E[:-1] + E[1:]),
                    where=[f"t={t} -> {t + 1}" for t in range(len(E) - 1)],
                    note=f"E_T/e^(r_*) = {E[-1] / _exp_r_star(traj):.6g}")


def check_t2_budget(traj):
    r"""T2 (quantitative): ``sum_{t=0}^{T} Var_t[e^r] <= K e^{r_*}(e^{r_*} - E_0)/(K-1)``.
    The partial sums increase, so the last one is the binding one."""
    E = np.asarray(traj.expected_exp_reward, dtype=float)
    V = np.asarray(traj.var_exp_reward, dtype=float)
    budget = formulas.t2_variance_budget(traj.K, _exp_r_star(traj), float(E[0]))
    total = float(V.sum())
    return worst_of("T2.budget", budget, total, "<=", tol.ENGINE * (budget + total),
                    note=f"{total / budget:.4g} of the budget used in {len(V) - 1} steps; "
                         f"Var_T = {V[-1]:.3g}" if budget > 0 else f"Var_T = {V[-1]:.3g}")


def tail_eps(reward, mass):
    """The ``eps`` of T2's tail check: a tenth of the reward range on the support."""
    r = np.asarray(reward, dtype=float).ravel()[normalized(mass) > 0]
    return 0.1 * float(r.max() - r.min())


def check_t2_tail(iterates, reward, eps):
    r"""T2: ``P_t(r < r_* - eps)`` is non-increasing over the recorded steps (it tends to 0;
    the last value is in the note).  ``iterates``: ``[(t, p_t)]``; ``r_*`` from ``p_0``."""
    r = np.asarray(reward, dtype=float).ravel()
    r_star = r[normalized(iterates[0][1]) > 0].max()
    low = r < r_star - eps
    tails = np.array([float(normalized(p)[low].sum()) for _, p in iterates])
    steps = [t for t, _ in iterates]
    return worst_of("T2.tail", tails[:-1], tails[1:], "<=", tol.ENGINE,
                    where=[f"t={a} -> {b}" for a, b in zip(steps[:-1], steps[1:])],
                    note=f"eps = {eps:.4g}: P_0 = {tails[0]:.4g}, P_{steps[-1]} = {tails[-1]:.4g}")


# --- T3 ----------------------------------------------------------------------------------

def check_t3_weights(iterates, reward):
    r"""T3: ``p_t = p_0 w_t(r)`` with ``w_t`` non-decreasing in ``r``: ``log(p_t / p_0)`` at
    consecutive cells of ``supp p_0`` sorted by reward, at every recorded step.  A cell
    where ``p_t`` underflowed to 0 has ``log w = -inf``, allowed below any other value.
    Tolerance ``ENGINE (1 + |log p_t| + |log p_0|)`` (masses are accurate relatively)."""
    r = np.asarray(reward, dtype=float).ravel()
    p0 = normalized(iterates[0][1])
    sup = np.flatnonzero(p0 > 0)
    order = sup[np.argsort(r[sup], kind="stable")]
    log_p0 = np.log(p0[order])
    pred, meas, tols, where = [], [], [], Where()
    for t, p in iterates[1:]:
        with np.errstate(divide="ignore"):
            log_pt = np.log(normalized(p)[order])
        lw = log_pt - log_p0
        keep = np.isfinite(lw[:-1])  # -inf below anything: nothing to check there
        scale = 1.0 + np.abs(log_p0[:-1]) + np.abs(log_p0[1:]) + np.abs(lw[:-1])
        pred.append(lw[:-1][keep])
        meas.append(lw[1:][keep])
        tols.append(tol.ENGINE * scale[keep])
        lo, hi = order[:-1][keep], order[1:][keep]
        where.add(len(lo), lambda j, t=t, lo=lo, hi=hi:
                  f"t={t}, r={r[lo[j]]:.6g} -> {r[hi[j]]:.6g}")
    if not len(where):
        return worst_of("T3", 0.0, 0.0, ">=", tol.ENGINE, note="nothing to order")
    return worst_of("T3", np.concatenate(pred), np.concatenate(meas), ">=",
                    np.concatenate(tols), where=where)


def reward_gap(reward, mass):
    """``(r_*, m_*, delta, levels)`` of ``mass``: top reward of the support, its mass, the gap
    to the next reward level (``nan`` for a single level), and the number of levels."""
    p = normalized(mass)
    r = np.asarray(reward, dtype=float).ravel()
    levels = np.unique(r[p > 0])
    r_star = float(levels[-1])
    m_star = float(p[r == r_star].sum())
    delta = float(r_star - levels[-2]) if len(levels) > 1 else math.nan
    return r_star, m_star, delta, len(levels)


def check_t3_tv(iterates, reward):
    r"""T3 (``K = inf``): ``TV(p_t, p_*) = p_t(r < r_*) <= (1 - m_*) e^{-t delta} / m_*`` at
    every recorded step."""
    r = np.asarray(reward, dtype=float).ravel()
    r_star, m_star, delta, _ = reward_gap(reward, iterates[0][1])
    t = np.array([s for s, _ in iterates], dtype=float)
    low = np.array([float(normalized(p)[r < r_star].sum()) for _, p in iterates])
    bound = formulas.t3_tv_bound(m_star, delta, t)
    return worst_of("T3.tv", bound, low, "<=", tol.ENGINE, where=[f"t={int(s)}" for s in t],
                    note=f"m_* = {m_star:.4g}, delta = {delta:.4g}, "
                         f"TV(p_T, p_*) = {low[-1]:.4g}")


def check_t3_rate(iterates, reward, K):
    r"""T3 (two reward levels): the low-level mass shrinks by ``rho_K(delta)`` per step.
    Measured: ``(m_low(T) / m_low(T'))^{1/(T - T')}`` over the last two recorded steps.
    Every per-step factor lies in ``[rho, rho + (1 - rho) m / (1 - m)]`` with ``m`` the low
    mass at ``T'`` (convexity of ``H`` in the number of low draws); the statement is checked
    to ``T3_RATE = 1e-6`` and only once that deviation bound is below it (returns ``None``
    otherwise: pre-asymptotic run)."""
    r = np.asarray(reward, dtype=float).ravel()
    r_star, _, delta, _ = reward_gap(reward, iterates[0][1])
    (t0, p0), (t1, p1) = iterates[-2], iterates[-1]
    m0 = float(normalized(p0)[r < r_star].sum())
    m1 = float(normalized(p1)[r < r_star].sum())
    rho = float(formulas.rho_K(delta, K))
    deviation = (1.0 - rho) * m0 / (1.0 - m0)
    if not (m1 > 0 and deviation <= tol.T3_RATE):
        return None, deviation, m1
    rate = (m1 / m0) ** (1.0 / (t1 - t0))
    rec = worst_of("T3.rate", rho, rate, "=", tol.T3_RATE,
                   note=f"delta = {delta:.6g}, steps {t0} -> {t1}, m_low(T) = {m1:.3g}, "
                        f"pre-asymptotic deviation bound {deviation:.2g}")
    return rec, deviation, m1


# --- T4 ----------------------------------------------------------------------------------

def tilted(mass, reward, t):
    r"""``p_0 e^{t r} / E_{p_0}[e^{t r}]`` in log space (T4), computed here independently of
    :func:`numerics.tilt`."""
    p = normalized(mass)
    r = np.asarray(reward, dtype=float).ravel()
    with np.errstate(divide="ignore"):
        lp = np.log(p) + t * (r - r[p > 0].max())
    return np.exp(lp - logsumexp(lp))


def check_t4(traj, iterates, mass0, reward):
    r"""T4 (``K = inf``): the engine's iterates equal the tilted closed form.  Compared at
    every step: ``E_t[e^{r-c}]`` (tolerance ``ENGINE E_t``) and ``E_t[r]`` (``ENGINE (1 +
    max|r|)``) of the trajectory with those of ``p_0 e^{t r}``; at every recorded step,
    ``TV(p_t, p_0 e^{t r}/Z) <= ENGINE``."""
    r = np.asarray(reward, dtype=float).ravel()
    c = traj.exp_reward_shift
    sup = normalized(mass0) > 0
    e_r = np.exp(r - c)
    n = len(traj.expected_exp_reward)
    qs = [tilted(mass0, r, t) for t in range(n)]
    pred_e = np.array([float(q @ e_r) for q in qs])
    pred_r = np.array([float(q[sup] @ r[sup]) for q in qs])
    r_scale = 1.0 + float(np.abs(r[sup]).max())
    recs = [worst_of("T4", pred_e, traj.expected_exp_reward, "=",
                     tol.ENGINE * pred_e, where=_steps(n), note="E_t[e^(r-c)]"),
            worst_of("T4", pred_r, traj.expected_reward, "=", tol.ENGINE * r_scale,
                     where=_steps(n), note="E_t[r]")]
    tvs = [tv_distance(p, qs[t]) for t, p in iterates if t < n]
    recs.append(worst_of("T4", 0.0, tvs, "<=", tol.ENGINE,
                         where=[f"t={t}" for t, _ in iterates if t < n],
                         note="TV(p_t, closed form)"))
    return combine(recs)


def fit_gaussian_quadratic(x, mass, reward, rel=1e-9):
    r"""If ``log p_0`` and ``r`` are quadratics in ``x`` (to ``rel`` relative), the
    parameters ``(m, S, c, A)`` of ``p_0 = N(m, S)`` and ``r = -A (x - c)^2 / 2 + const``;
    else ``None``."""
    p = normalized(mass)
    x = np.asarray(x, dtype=float).ravel()
    r = np.asarray(reward, dtype=float).ravel()
    sup = p > 0
    if sup.sum() < 4:
        return None
    lp = np.log(p[sup])
    fits = []
    for y in (lp, r[sup]):
        coef = np.polyfit(x[sup], y, 2)
        if np.max(np.abs(np.polyval(coef, x[sup]) - y)) > rel * (1.0 + np.max(np.abs(y))):
            return None
        fits.append(coef)
    (a2, a1, _), (b2, b1, _) = fits
    if not (a2 < 0 and b2 < 0):
        return None
    return -a1 / (2 * a2), -1.0 / (2 * a2), -b1 / (2 * b2), -2.0 * b2


def gauss_grid_tolerances(x, mean_t, var_t):
    r"""Discretization error of the moments of ``N(mean_t, var_t)`` sampled on the uniform
    grid ``x`` (normalized): the mass ``tau`` outside ``[x_0 - h/2, x_n + h/2]`` shifts the
    mean by at most ``tau (L + 10 sd)`` and the variance by ``tau (L + 10 sd)^2``
    (``L`` the grid width), and the lattice sum deviates from the integral by the aliasing
    term ``exp(-2 pi^2 var_t / h^2)`` of the Poisson summation formula (times ``L``,
    ``L^2``); each with a factor 4 for the normalization, plus 1e-12 relative."""
    h = float(x[1] - x[0])
    L = float(x[-1] - x[0]) + h
    sd = math.sqrt(var_t)
    tau = float(ndtr((x[0] - h / 2 - mean_t) / sd) + ndtr(-(x[-1] + h / 2 - mean_t) / sd))
    alias = math.exp(-2 * math.pi ** 2 * var_t / h ** 2)
    reach = L + 10 * sd
    tol_mean = tol.ENGINE * (1 + abs(mean_t)) + 4 * (tau * reach + alias * L)
    tol_var = tol.ENGINE * var_t + 4 * (tau * reach ** 2 + alias * L ** 2)
    return tol_mean, tol_var


def check_t4_gauss(iterates, x, params):
    r"""T4 closed form for a Gaussian start and a quadratic reward: mean and variance of
    ``p_t`` on the 1-D grid ``x`` vs :func:`theory.formulas.gaussian_tilt`, at every recorded
    step (tolerances: :func:`gauss_grid_tolerances`).  ``params = (m, S, c, A)``."""
    m, S, c, A = params
    x = np.asarray(x, dtype=float)
    recs = []
    for t, p in iterates:
        p = normalized(p)
        mean_t, var_t = formulas.gaussian_tilt(m, S, c, A, t)
        tol_mean, tol_var = gauss_grid_tolerances(x, mean_t, var_t)
        mean = float(p @ x)
        var = float(p @ (x - mean) ** 2)
        recs.append(worst_of("T4.gauss", mean_t, mean, "=", tol_mean, note=f"mean at t={t}"))
        recs.append(worst_of("T4.gauss", var_t, var, "=", tol_var, note=f"variance at t={t}"))
    return combine(recs)


# --- the same, gathered from a run (the hypotheses: theory.hypotheses) -------------------

_K_INF = hyp.k_inf()


def _levels(ctx):
    """Reward levels on the support of ``p_0``."""
    return reward_gap(ctx.reward, ctx.mass)[3]


@register_check("T1", applies=hyp.curated_only)
def t1_of_run(ctx):
    return check_t1(ctx.trajectory)


@register_check("T2", applies=hyp.curated_only)
def t2_of_run(ctx):
    return check_t2(ctx.trajectory)


@register_check("T2.budget", applies=hyp.all_of(
    hyp.curated_only, hyp.requires(lambda ctx: ctx.K != 1, "needs K > 1 (K = 1: H = 1, no budget)")))
def t2_budget_of_run(ctx):
    return check_t2_budget(ctx.trajectory)


@register_check("T2.tail", applies=hyp.curated_only)
def t2_tail_of_run(ctx):
    return check_t2_tail(ctx.iterates(), ctx.reward, tail_eps(ctx.reward, ctx.mass))


@register_check("T3", applies=hyp.curated_only)
def t3_of_run(ctx):
    return check_t3_weights(ctx.iterates(), ctx.reward)


@register_check("T3.tv", applies=hyp.all_of(
    hyp.curated_only,
    hyp.requires(lambda ctx: math.isinf(ctx.K),
               lambda ctx: f"the bound is for K = inf (finite K converges at rho_K(delta) > "
                           f"e^-delta per step), got K = {ctx.K:g}"),
    hyp.requires(lambda ctx: _levels(ctx) >= 2, "a single reward level: p_t = p_0 = p_*")))
def t3_tv_of_run(ctx):
    return check_t3_tv(ctx.iterates(), ctx.reward)


def _t3_rate(ctx):
    """``check_t3_rate`` of the run, once (the hypothesis "run long enough" needs it)."""
    if not hasattr(ctx, "_t3_rate"):
        ctx._t3_rate = check_t3_rate(ctx.iterates(), ctx.reward, ctx.K)
    return ctx._t3_rate


def _t3_rate_long_enough(ctx):
    rec, deviation, m_low = _t3_rate(ctx)
    if rec is not None:
        return None
    return ("the low-level mass underflowed to 0" if not m_low > 0 else
            f"pre-asymptotic: deviation bound {deviation:.2g} > {tol.T3_RATE:g} "
            f"at the end of the run; run more steps")


@register_check("T3.rate", applies=hyp.all_of(
    hyp.curated_only,
    hyp.requires(lambda ctx: _levels(ctx) == 2,
               lambda ctx: f"needs exactly two reward levels on the support, got "
                           f"{_levels(ctx)}"),
    _t3_rate_long_enough))
def t3_rate_of_run(ctx):
    return _t3_rate(ctx)[0]


@register_check("T4", applies=hyp.all_of(hyp.curated_only, _K_INF))
def t4_of_run(ctx):
    return check_t4(ctx.trajectory, ctx.iterates(), ctx.mass, ctx.reward)


def _uniform_1d_grid(ctx):
    x = np.asarray(ctx.axes[0], dtype=float)
    dx = np.diff(x)
    return np.allclose(dx, dx[0], rtol=1e-12, atol=0)


def _gauss_params(ctx):
    return fit_gaussian_quadratic(np.asarray(ctx.axes[0], dtype=float), ctx.mass, ctx.reward)


@register_check("T4.gauss", applies=hyp.all_of(
    hyp.curated_only, _K_INF,
    hyp.requires(lambda ctx: ctx.mass.ndim == 1 and len(ctx.axes) == 1
               and len(ctx.axes[0]) == ctx.mass.size, "needs a 1-D grid with its coordinates"),
    hyp.requires(_uniform_1d_grid, "needs a uniform grid"),
    hyp.requires(lambda ctx: _gauss_params(ctx) is not None,
               "needs a Gaussian start and a quadratic reward")))
def t4_gauss_of_run(ctx):
    return check_t4_gauss(ctx.iterates(), np.asarray(ctx.axes[0], dtype=float),
                          _gauss_params(ctx))
