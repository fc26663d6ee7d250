"""Checks of the run itself, before any theorem: are the masses a run at all (``run.masses``),
and is every step the retraining map (``run.step``)?

They matter for a trajectory you computed yourself (:meth:`numerics.Trajectory.from_masses`):
the theorems of docs/theory.md are statements about ``p_{t+1} = T(p_t)``, and a loop that does
something else (a tilt ``p e^{r/2}`` instead of curation, say) can satisfy several of them.
Nothing here repairs the masses: unnormalized, negative, NaN or zero-sum masses are a failed
row that says where and why, never renormalized silently and never a traceback.
"""

from __future__ import annotations

import math

import numpy as np

from . import tolerances as tol
from .distances import tv_distance
from . import hypotheses as hyp
from .report import CheckResult, not_applicable, verdict, worst_of
from .statements import register_check

__all__ = ["mass_problems", "normalization_tolerance", "step_tolerance", "check_masses",
           "check_steps"]


def normalization_tolerance(n):
    """``max(64, n)`` ulps: dividing ``n`` masses by their sum rounds each by half an ulp and
    summing them back adds at most ``n`` ulps, so a loop that normalizes exactly in float64
    has ``|sum - 1|`` below this."""
    return max(64, int(n)) * tol.EPS


def step_tolerance(n):
    """``ENGINE + n`` ulps: the engine's masses are accurate to ``1e-12`` relative, so its
    ``T(p_t)`` is within ``1e-12`` of the exact one in total variation, and an exact loop in
    float64 rounds the ``n`` masses of ``p_{t+1}`` by at most ``n`` ulps in all."""
    return tol.ENGINE + int(n) * tol.EPS


def _describe(label, m):
    """The first problem of one mass array, ``(fatal, text, sum)``, or ``None``."""
    flat = np.asarray(m, dtype=float).ravel()
    bad = ~np.isfinite(flat)
    with np.errstate(over="ignore", invalid="ignore"):
        total = float(flat.sum())
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        what = "NaN" if math.isnan(flat[i]) else repr(float(flat[i]))
        return True, f"{label} contain {what} (cell {i}, {int(bad.sum())} such cells)", total
    if flat.min() < 0:
        i = int(np.argmin(flat))
        return True, (f"{label} have a negative entry {flat[i]:.6g} at cell {i} "
                      f"({int((flat < 0).sum())} negative cells)"), total
    if not total > 0:
        return True, f"{label} sum to 0: not a probability law", total
    if abs(total - 1.0) > normalization_tolerance(flat.size):
        return False, (f"{label} sum to {total:.12g}: not normalized (|sum - 1| = "
                       f"{abs(total - 1.0):.3g})"), total
    return None


def mass_problems(trajectory, data=None):
    """What is wrong with the masses of ``trajectory`` (and the real data ``data``):
    ``(fatal, problems, sums)`` with ``fatal`` the first fatal problem (NaN, infinite,
    negative, zero sum) or ``None``, ``problems`` every problem found as ``(text, sum)``
    (first one per step), ``sums`` the sum of the masses at every recorded step."""
    problems, sums, fatal = [], [], None
    steps = [int(t) for t in trajectory.recorded_steps]
    items = [(f"masses at step {t}", trajectory.masses[i]) for i, t in enumerate(steps)]
    if data is not None:
        items.append(("data (p_d)", data))
    for label, m in items:
        found = _describe(label, m)
        if label != "data (p_d)":
            with np.errstate(over="ignore", invalid="ignore"):
                sums.append(float(np.asarray(m, dtype=float).sum()))
        if found is None:
            continue
        is_fatal, text, total = found
        problems.append((text, total))
        if is_fatal and fatal is None:
            fatal = text
    return fatal, problems, sums


def check_masses(problems, sums, n):
    r"""``run.masses``: every recorded ``p_t`` (and ``p_d``) is finite, non-negative and sums
    to 1 within :func:`normalization_tolerance`.  ``problems``, ``sums`` as returned by
    :func:`mass_problems`; ``n`` the number of cells.  Measured: the sum at the worst step
    (the first problem's, if any)."""
    tol_n = normalization_tolerance(n)
    if problems:
        text, total = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        rec = verdict("run.masses", 1.0, total, "=", tol_n, note=text + more)
        rec.holds = False  # negative or NaN masses fail whatever their sum
        rec.details["problems"] = [t for t, _ in problems]
        return rec
    dev = np.abs(np.asarray(sums) - 1.0)
    i = int(np.argmax(dev))
    return verdict("run.masses", 1.0, sums[i], "=", tol_n,
                   note=f"largest |sum - 1| at step {i}; finite and non-negative everywhere")


def check_steps(iterates, reward, K, lam, data, tolerance=None):
    r"""``run.step``: ``TV(p_{t+1}, T(p_t))`` at every step, ``T(p_t)`` by the engine's
    one-step map :func:`numerics.retrain_step` from the given ``p_t``.  ``iterates``:
    ``[(t, p_t)]`` at consecutive steps; tolerance :func:`step_tolerance` by default."""
    from numerics import retrain_step
    n = int(np.asarray(iterates[0][1]).size)
    tol_s = step_tolerance(n) if tolerance is None else float(tolerance)
    tvs, where = [], []
    for (t0, p0), (t1, p1) in zip(iterates[:-1], iterates[1:]):
        if t1 != t0 + 1:
            raise ValueError(f"run.step needs consecutive steps, got {t0} and {t1}")
        nxt = retrain_step(p0, reward, K, lam, data)
        tvs.append(tv_distance(p1, nxt))
        where.append(f"step {t0} -> {t1}")
    rec = worst_of("run.step", 0.0, tvs, "<=", tol_s, where=where,
                   note="TV(p_{t+1}, T(p_t)), T(p_t) by numerics.retrain_step")
    rec.details["tv"] = tvs
    return rec


# --- the same, gathered from a run -------------------------------------------------------

@register_check("run.masses")
def masses_of_run(ctx):
    _, problems, sums = ctx.problems
    return check_masses(problems, sums, ctx.reward.size)


@register_check("run.step", applies=hyp.all_of(
    hyp.requires(lambda ctx: ctx.user, "the engine's own trajectory (this row compares iterates "
                                       "of your own, Trajectory.from_masses, with the engine)"),
    hyp.at_least_one_step,
    hyp.requires(lambda ctx: ctx.recorded_steps == list(range(ctx.recorded_steps[-1] + 1)),
                 "needs every step recorded")))
def steps_of_run(ctx):
    return check_steps(ctx.iterates(), ctx.reward, ctx.K, ctx.lam, ctx.data,
                       getattr(ctx, "step_tolerance", None))


def invalid_run(stmt_id, reason) -> CheckResult:
    """The record of a statement that cannot be checked because the masses are not a run."""
    return not_applicable(stmt_id, f"needs valid masses: {reason} (see run.masses)")
