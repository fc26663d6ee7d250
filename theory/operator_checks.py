"""Checks of the curation operator's properties P1-P6 (THEORY.md section 2).

Each property is checked on ``p_0`` and a few iterates of the run (``RunContext.
sample_iterates``): ``H = numerics.curation_factor(p, r, K)`` and ``C = numerics.curate(p,
r, K)``.  The ``check_*`` functions take the explicit inputs (so that a test can hand them a
wrong ``H``); the registered ``*_of_run`` functions gather them from a run.
"""

from __future__ import annotations

import math

import numpy as np

from . import tolerances as tol
from .distances import normalized, reward_cdfs
from .report import Where, combine, worst_of
from .statements import register_check

__all__ = ["check_p1", "check_p2", "check_p3", "check_p4", "check_p5", "check_p6",
           "P5_SHIFTS"]

#: the shifts of P5: a moderate one and one beyond 700 nats (shifted exponentials)
P5_SHIFTS = (10.25, 1000.0)


def _support(p):
    return np.asarray(p, dtype=float).ravel() > 0


def check_p1(cases):
    r"""P1: ``E_p[H_p^K] = 1``.  ``cases``: ``[(label, p, H)]``."""
    means = [float(np.dot(normalized(p), np.asarray(h, dtype=float).ravel()))
             for _, p, h in cases]
    return worst_of("P1", 1.0, means, "=", tol.ENGINE, where=[c[0] for c in cases])


def check_p2(cases, reward, K):
    r"""P2: ``K s / (s + (K-1) E_p[s]) <= H_p^K(x) <= K`` at every cell of the support,
    ``s = e^{r - r_*}``; the lower bound is evaluated as ``s / (s/K + (1 - 1/K) E_p[s])``
    (``K = inf``: ``s / E_p[s]``, no upper bound).  ``cases``: ``[(label, p, H)]``."""
    r = np.asarray(reward, dtype=float).ravel()
    inv_k = 0.0 if math.isinf(K) else 1.0 / K
    records = []
    for label, p, h in cases:
        p = normalized(p)
        sup = _support(p)
        idx = np.flatnonzero(sup)
        s = np.exp(r[sup] - r[sup].max())
        lower = s / (s * inv_k + (1.0 - inv_k) * float(np.dot(p[sup], s)))
        hs = np.asarray(h, dtype=float).ravel()[sup]
        where = Where().add(len(idx), lambda j, label=label, idx=idx: f"{label}, cell {idx[j]}")
        records.append(worst_of("P2", lower, hs, ">=", tol.ENGINE * np.maximum(hs, lower),
                                where=where, note="lower bound"))
        if not math.isinf(K):
            records.append(worst_of("P2", float(K), hs, "<=", tol.ENGINE * K, where=where,
                                    note="upper bound K"))
    return combine(records)


def check_p3(cases, reward):
    r"""P3: ``H_p^K`` non-decreasing in ``r``: ``H`` at consecutive cells of the support
    sorted by reward.  ``cases``: ``[(label, p, H)]``."""
    r = np.asarray(reward, dtype=float).ravel()
    pred, meas, tols, ties, where = [], [], [], [], Where()
    for label, p, h in cases:
        sup = np.flatnonzero(_support(p))
        order = sup[np.argsort(r[sup], kind="stable")]
        hs = np.asarray(h, dtype=float).ravel()[order]
        pred.append(hs[:-1])
        meas.append(hs[1:])
        tols.append(tol.ENGINE * np.maximum(hs[:-1], hs[1:]))
        rs = r[order]
        ties.append(np.diff(rs) <= 16 * tol.EPS * np.maximum(1.0, np.abs(rs[1:])))
        where.add(len(order) - 1, lambda j, label=label, o=order:
                  f"{label}, r={r[o[j]] + 0.0:.6g} -> r={r[o[j + 1]] + 0.0:.6g}")
    if not len(where):  # a single cell: nothing to order
        return worst_of("P3", [0.0], [0.0], ">=", tol.ENGINE, note="a single cell")
    # rewards equal up to rounding: H equal by construction (trivially tight)
    return worst_of("P3", np.concatenate(pred), np.concatenate(meas), ">=",
                    np.concatenate(tols), where=where, trivial=np.concatenate(ties))


def check_p4(cases):
    r"""P4: ``H = 1`` for ``K = 1`` or a constant reward.  ``cases``: ``[(label, p, H)]``
    (``H`` computed with ``K = 1`` or a constant reward); checked on the support of ``p``."""
    vals, where = [], Where()
    for label, p, h in cases:
        sup = _support(p)
        vals.append(np.asarray(h, dtype=float).ravel()[sup])
        where.add(int(sup.sum()), lambda j, label=label: label)
    return worst_of("P4", 1.0, np.concatenate(vals), "=", tol.ENGINE, where=where)


def p5_tolerance(reward, shift):
    """ENGINE plus 8 ulps of ``max|r| + |c|`` (the rounding of ``r + c`` moves ``log H`` by
    at most that), relative to ``H``."""
    return tol.ENGINE + 8 * tol.EPS * (float(np.max(np.abs(reward))) + abs(shift))


def check_p5(cases):
    r"""P5: ``H`` computed from ``r + c`` equals ``H`` from ``r``.  ``cases``:
    ``[(label, p, H, H_shifted, rel_tol)]``."""
    pred, meas, tols, where = [], [], [], Where()
    for label, p, h, hc, rt in cases:
        sup = _support(p)
        h = np.asarray(h, dtype=float).ravel()[sup]
        pred.append(h)
        meas.append(np.asarray(hc, dtype=float).ravel()[sup])
        tols.append(rt * h)
        where.add(int(sup.sum()), lambda j, label=label: label)
    return worst_of("P5", np.concatenate(pred), np.concatenate(meas), "=",
                    np.concatenate(tols), where=where)


def check_p6(cases, reward):
    r"""P6: the reward law of ``C_K(p)`` dominates that of ``p``: ``F_{C(p)}(a) <= F_p(a)``
    at every reward level ``a``.  ``cases``: ``[(label, p, C)]``."""
    pred, meas, where = [], [], Where()
    for label, p, c in cases:
        levels, (fp, fc) = reward_cdfs(reward, p, c)
        pred.append(fp)
        meas.append(fc)
        where.add(len(levels), lambda j, label=label, lv=levels: f"{label}, r <= {lv[j] + 0.0:.6g}")
    pred, meas = np.concatenate(pred), np.concatenate(meas)
    return worst_of("P6", pred, meas, "<=", tol.ENGINE, where=where,
                    trivial=cdf_trivially_tight(pred, meas))


def cdf_trivially_tight(f, g):
    """Levels where two CDFs are both 0 or both 1 up to the tolerance (below or at the top
    of the support): the dominance holds there by normalization alone."""
    return (((f <= tol.ENGINE) & (g <= tol.ENGINE))
            | ((f >= 1.0 - tol.ENGINE) & (g >= 1.0 - tol.ENGINE)))


# --- the same, gathered from a run ---------------------------------------------------------

def _h_cases(ctx):
    if not hasattr(ctx, "_p_cases"):
        from numerics import curation_factor
        ctx._p_cases = [(f"p_{t}", p, curation_factor(p, ctx.reward, ctx.K))
                        for t, p in ctx.sample_iterates()]
    return ctx._p_cases


@register_check("P1")
def p1_of_run(ctx):
    return check_p1(_h_cases(ctx))


@register_check("P2")
def p2_of_run(ctx):
    return check_p2(_h_cases(ctx), ctx.reward, ctx.K)


@register_check("P3")
def p3_of_run(ctx):
    return check_p3(_h_cases(ctx), ctx.reward)


@register_check("P4")
def p4_of_run(ctx):
    from numerics import curation_factor
    flat = np.zeros_like(ctx.reward)
    cases = []
    for t, p in ctx.sample_iterates()[:2]:
        cases.append((f"p_{t}, K = 1", p, curation_factor(p, ctx.reward, 1.0)))
        cases.append((f"p_{t}, r = 0, K = {ctx.K:g}", p, curation_factor(p, flat, ctx.K)))
    return check_p4(cases)


@register_check("P5")
def p5_of_run(ctx):
    from numerics import curation_factor
    cases = []
    for label, p, h in _h_cases(ctx)[:2]:
        for c in P5_SHIFTS:
            cases.append((f"{label}, c = {c:g}", p, h,
                          curation_factor(p, ctx.reward + c, ctx.K),
                          p5_tolerance(ctx.reward, c)))
    return check_p5(cases)


@register_check("P6")
def p6_of_run(ctx):
    from numerics import curate
    return check_p6([(label, p, curate(p, ctx.reward, ctx.K)) for label, p, _ in _h_cases(ctx)],
                    ctx.reward)
