"""A statement's hypotheses as a predicate of the run: ``applies(ctx) -> str | None``
(:attr:`theory.statements.Statement.applies`): ``None`` when the statement applies to the
run (a :class:`theory.context.RunContext`), else the reason it does not, e.g.
``"section 3 statement: needs lam = inf (curated data only), got lam = 0.5"``.

:func:`theory.checking.run_checks` asks ``applies`` before it runs a check, so a check is only
ever handed a run that meets its statement's hypotheses.  The hypotheses shared by several
statements are here; the checks' modules compose them with :func:`all_of` and
:func:`requires`.
"""

from __future__ import annotations

import math

__all__ = ["always", "all_of", "requires", "at_least_one_step", "curated_only", "real_data",
           "from_data", "k_inf", "finite_k", "positive_finite_lam"]


def always(ctx):
    """No hypotheses: the statement applies to every run."""
    return None


def all_of(*hypotheses):
    """The hypotheses in turn; the first that fails gives the reason."""
    def applies(ctx):
        for h in hypotheses:
            reason = h(ctx)
            if reason:
                return reason
        return None
    return applies


def requires(test, reason):
    """A hypothesis: ``test(ctx)`` holds, else ``reason`` (a string, or ``ctx -> str``)."""
    def applies(ctx):
        if test(ctx):
            return None
        return reason(ctx) if callable(reason) else reason
    return applies


#: the run has at least one step
at_least_one_step = requires(lambda ctx: ctx.steps >= 1, "needs at least one step")

#: docs/theory.md section 3: curated data only (``lam = inf``), and a step
curated_only = all_of(
    requires(lambda ctx: math.isinf(ctx.lam),
             lambda ctx: f"section 3 statement: needs lam = inf (curated data only), got "
                         f"lam = {ctx.lam:g}"),
    at_least_one_step)

#: docs/theory.md section 4: real data (a finite ``lam``), and a step
real_data = all_of(
    requires(lambda ctx: not math.isinf(ctx.lam),
             "section 4 statement: needs a finite lam (real data), got lam = inf"),
    at_least_one_step)

#: section 4 with the run started at the data, ``p_0 = p_d``
from_data = all_of(real_data, requires(lambda ctx: ctx.data_is_start,
                                       "needs p_0 = p_d (the run starts elsewhere)"))


def k_inf(see=""):
    """``K = inf`` (``see``: where finite ``K`` is treated, e.g. ``"T9"``)."""
    where = f" (finite K: see {see})" if see else ""
    return requires(lambda ctx: math.isinf(ctx.K),
                    lambda ctx: f"needs K = inf{where}, got K = {ctx.K:g}")


def finite_k(see):
    """A finite ``K`` (``see``: where ``K = inf`` is treated)."""
    return requires(lambda ctx: not math.isinf(ctx.K), f"needs a finite K (K = inf: see {see})")


#: ``0 < lam < inf``
positive_finite_lam = requires(lambda ctx: 0 < ctx.lam < math.inf,
                               lambda ctx: f"needs 0 < lam < inf, got lam = {ctx.lam:g}")
