"""Hold a run against every statement of THEORY.md sections 2-4: :func:`check` (a scenario)
and :func:`check_trajectory` (a trajectory you computed)."""

from __future__ import annotations

import math

from . import (bound_checks, curated_checks, mixed_checks, operator_checks,  # noqa: F401
               user_checks)
from . import rule_checks  # noqa: F401  (T11-T14)
from .report import not_applicable
from .context import RunContext
from .report import Report
from .statements import STATEMENTS

__all__ = ["check", "check_trajectory", "run_checks", "check_rule_trajectory"]


def run_checks(ctx, ids=None):
    """Run the checks ``ids`` (default: all, in THEORY.md order) on a :class:`RunContext`.

    Raises
    ------
    ValueError
        an id of ``ids`` that names no statement (:func:`theory.statement_ids`).
    TypeError
        ``ids`` not an iterable of ids.
    AttributeError
        ``ctx`` not a :class:`~theory.context.RunContext`.

    See Also
    --------
    check_trajectory : builds the context of a trajectory and runs these.
    theory.statement_ids : the ids, in THEORY.md order.
    theory.statements.register_check : attach a check to a statement.

    References
    ----------
    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    Lemma 2.1 (L1), Lemma 2.2 (T1), Theorem 2.1 (T3), Theorem 2.3 (T6.increment),
    Theorem 2.4 (T10).

    Kingman (1978), *A simple model for the balance between selection and mutation*,
    J. Appl. Prob. 15:
    T8: ``K = inf`` with real data.

    docs/theory.md sections 2-4 and 7 (the statements checked).
    """
    ids = list(STATEMENTS) if ids is None else list(ids)
    unknown = [i for i in ids if i not in STATEMENTS]
    if unknown:
        raise ValueError(f"ids: unknown statement id(s) {unknown} (known: {list(STATEMENTS)})")
    if ctx.invalid:  # NaN, negative or zero-sum masses: only run.masses can say anything
        return [_checked(STATEMENTS[i], ctx) if i == "run.masses"
                else user_checks.invalid_run(i, ctx.invalid) for i in ids]
    if not ctx.single_reward:  # section 7 rule: only the rule-aware checks apply
        return [_checked(STATEMENTS[i], ctx) if i in rule_checks.RULE_AWARE
                else not_applicable(i, f"assumes one Bradley-Terry reward; the run uses "
                                       f"{ctx.rule!r}") for i in ids]
    return [_checked(STATEMENTS[i], ctx) for i in ids]


def _checked(stmt, ctx):
    """``stmt``'s check of the run, or why the statement does not apply to it."""
    reason = stmt.applies(ctx)
    return not_applicable(stmt.id, reason) if reason else stmt.check(ctx)


def check_trajectory(trajectory, reward, data=None, *, continuous=None, axes=(), limit=None,
                     ids=None, title="", parameters=None, step_tolerance=None, rule=None):
    """Check a :class:`numerics.Trajectory` (from :func:`numerics.evolve`, best with
    ``record_every=1``) of the rewards ``reward``.

    ``data``: ``p_d`` for a finite ``lam`` (``None``: ``p_d = p_0``, as in ``evolve``);
    ``continuous``: the :class:`numerics.ContinuousRewardLaw` of ``p_d`` for T8's condensate;
    ``axes``: grid coordinates (T4's Gaussian moments); ``limit``: a precomputed
    :class:`numerics.Limit` (else solved when needed); ``ids``: a subset of statement ids;
    ``parameters``: the run's parameters, carried by every record (default: ``K``, ``lam``,
    ``steps`` and ``grid`` of the trajectory); ``step_tolerance``: the TV the row ``run.step``
    allows between your ``p_{t+1}`` and the engine's ``T(p_t)`` (default
    :func:`theory.user_checks.step_tolerance`: an exact float64 loop; raise it, and say why,
    for a loop you know to be less accurate).

    A trajectory of your own (:meth:`numerics.Trajectory.from_masses`) is checked as it is:
    unnormalized, NaN, negative or zero-sum masses give a failed ``run.masses`` row (and, when
    fatal, every other row is not applicable), and ``run.step`` compares each step with the
    engine.  ``data`` defaults to the trajectory's own.

    >>> import math, numpy as np, theory
    >>> from numerics import Trajectory
    >>> x = np.linspace(-2, 2, 41); r = -x ** 2; p = [np.exp(-x ** 2 / 2)]
    >>> p[0] /= p[0].sum()
    >>> for _ in range(3):                       # a tilt p e^{r/2}: not curation
    ...     q = p[-1] * np.exp(r / 2); p.append(q / q.sum())
    >>> report = theory.check(Trajectory.from_masses(p, r, K=math.inf), r)
    >>> report["run.masses"].holds, report["run.step"].holds
    (True, False)
    >>> report["run.step"].measured > 1e3 * report["run.step"].tolerance
    True

    ``reward`` may be a curation rule of :mod:`numerics.curators` (or pass it as ``rule``):
    the run of ``numerics.evolve(mass, rule, ...)``; then the checks of THEORY.md section 7
    (T11-T14, :mod:`theory.rule_checks`) apply as the rule allows, and with a rule other than
    one Bradley-Terry reward the checks of sections 2-4 are not applicable.

    Returns a :class:`theory.report.Report`.

    Raises
    ------
    ValidationError
        (a ``ValueError``) ``reward`` (or the rule's first reward) not shaped like the
        trajectory's masses.
    ValidationTypeError
        (a ``TypeError``) ``reward`` missing or not an array of real numbers.
    ValueError
        an id of ``ids`` that names no statement; ``trajectory`` without step 0.
    TypeError
        ``ids`` not an iterable of ids.
    AttributeError
        ``trajectory`` not a :class:`numerics.Trajectory` (no ``K``, ``masses``, ...).
        Masses that are not a run (NaN, negative, zero sum, unnormalized) are not raised:
        they are the failed row ``run.masses``.

    See Also
    --------
    check : run a scenario and check it.
    run_checks : the checks on a prepared :class:`~theory.context.RunContext`.
    numerics.Trajectory.from_masses : a trajectory of your own loop.

    References
    ----------
    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    Lemma 2.1 (L1), Lemma 2.2 (T1), Theorem 2.1 (T3), Theorem 2.3 (T6.increment),
    Theorem 2.4 (T10).

    Kingman (1978), *A simple model for the balance between selection and mutation*,
    J. Appl. Prob. 15:
    T8: ``K = inf`` with real data.

    Zhao, Fu, Pham (2025), arXiv 2511.09002, and Wei, Zhang (2025), ICML 2025, arXiv
    2505.09768: T11-T13 for a run of a curation rule.

    docs/theory.md sections 2-4 and 7; "Checking a run of your own" (run.masses, run.step).
    """
    ctx = RunContext(trajectory, reward, data, continuous=continuous, axes=axes, limit=limit,
                     rule=rule)
    reward = ctx.reward
    ctx.step_tolerance = step_tolerance
    if parameters is None:
        parameters = {"K": trajectory.K, "lam": trajectory.lam, "steps": trajectory.steps,
                      "grid": _grid(reward)}
    return Report(run_checks(ctx, ids), title=title, parameters=parameters,
                  summary=run_summary(ctx))


def run_summary(ctx):
    """What the run reached at its last recorded step ``T``: ``E_T[r]`` (and ``E_0[r]``),
    ``E_T[e^r]`` relative to ``e^{r_*}``, the mass of the top reward level, and for a finite
    ``lam`` the distance ``TV(p_T, p_d)``.  Empty when the masses are not a run."""
    if ctx.invalid:
        return {}
    import numpy as np
    from .distances import tv_distance
    t, p = ctx.iterates()[-1]
    r = ctx.reward.ravel()
    sup = p.ravel() > 0
    out = {"T": t, "E_0[r]": float(ctx.mass.ravel()[ctx.mass.ravel() > 0]
                                    @ r[ctx.mass.ravel() > 0]),
           f"E_{t}[r]": float(p.ravel()[sup] @ r[sup]),
           f"E_{t}[e^r]/e^r_*": float(p.ravel() @ np.exp(r - ctx.r_star)),
           f"p_{t}(r = r_*)": float(p.ravel()[r == ctx.r_star].sum())}
    if ctx.data is not None:
        out[f"TV(p_{t}, p_d)"] = tv_distance(p, ctx.data)
    return out


def _grid(reward):
    """Cells per axis (one number when every axis has as many, else ``"n1xn2"``)."""
    import numpy as np
    shape = np.shape(reward)
    return int(shape[0]) if len(set(shape)) == 1 else "x".join(map(str, shape))


def scenario_parameters(sc, steps=None):
    """The parameters a report of scenario ``sc`` carries: ``scenario``, ``K``, ``lam``,
    ``steps``, ``grid`` and the scenario's own parameters."""
    return {"scenario": sc.name, "K": sc.K, "lam": sc.lam,
            "steps": sc.steps if steps is None else steps, "grid": _grid(sc.reward),
            **sc.params}


def check(scenario_or_trajectory, reward=None, data=None, *, ids=None, progress=None, **kw):
    """Run a scenario and hold it against THEORY.md.

    ``scenario_or_trajectory``: a :class:`numerics.scenarios.Scenario` (evolved here for
    ``scenario.steps`` steps, every step recorded) or a :class:`numerics.Trajectory` (then
    ``reward`` is required, see :func:`check_trajectory`).  ``progress``: callback
    ``(step, steps)`` passed to :func:`numerics.evolve`.

    Raises
    ------
    TypeError
        a trajectory without ``reward``; a scenario with ``reward`` or ``data`` (they come
        from the scenario).
    ValueError
        an id of ``ids`` that names no statement.
    AttributeError
        ``scenario_or_trajectory`` neither a :class:`numerics.scenarios.Scenario` nor a
        :class:`numerics.Trajectory` (a scenario's name: use
        :func:`numerics.scenarios.get_scenario`).
    ValidationError, ValidationTypeError
        with a trajectory: ``reward`` invalid, as in :func:`check_trajectory`.

    See Also
    --------
    check_trajectory : the checks of a trajectory you computed.
    numerics.scenarios.get_scenario : the built-in scenarios.
    theory.falsify.falsify : search for instances that break a statement.

    References
    ----------
    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    Lemma 2.1 (L1), Lemma 2.2 (T1), Theorem 2.1 (T3), Theorem 2.3 (T6.increment),
    Theorem 2.4 (T10).

    Kingman (1978), *A simple model for the balance between selection and mutation*,
    J. Appl. Prob. 15:
    T8: ``K = inf`` with real data.

    docs/theory.md sections 2-4, 7 and 8 (the scenarios).

    Examples
    --------
    >>> import theory
    >>> from numerics.scenarios import get_scenario
    >>> theory.check(get_scenario("gauss1d", K=3, steps=5)).all_hold
    True
    """
    from numerics import Trajectory, evolve
    if isinstance(scenario_or_trajectory, Trajectory):
        if reward is None:
            raise TypeError("reward is required when checking a trajectory")
        return check_trajectory(scenario_or_trajectory, reward, data, ids=ids, **kw)
    sc = scenario_or_trajectory
    if reward is not None or data is not None:
        raise TypeError("reward and data come from the scenario; pass them only with a "
                        "trajectory")
    if getattr(sc, "rule", None) is not None:
        traj = evolve(sc.mass, sc.rule, sc.steps, sc.lam, sc.data, record_every=1,
                      progress=progress)
        title = (f"{sc.name}: rule {sc.rule!r}, lam = {_num(sc.lam)}, steps = {sc.steps}, "
                 f"{sc.mass.size} cells ({traj.method})")
        return check_rule_trajectory(traj, sc, ids=ids, title=title,
                                     parameters=kw.get("parameters"))
    traj = evolve(sc.mass, sc.reward, sc.K, sc.steps, sc.lam, sc.data, record_every=1,
                  progress=progress)
    title = (f"{sc.name}: K = {_num(sc.K)}, lam = {_num(sc.lam)}, steps = {sc.steps}, "
             f"{sc.mass.size} cells ({traj.method})")
    kw.setdefault("parameters", scenario_parameters(sc))
    return check_trajectory(traj, sc.reward, sc.data, continuous=sc.continuous, axes=sc.axes,
                            ids=ids, title=title, **kw)


def check_rule_trajectory(traj, sc, ids=None, title="", parameters=None):
    """Check a trajectory of a scenario with a curation rule (``sc.rule``: user types,
    keep-k, filtering): :func:`check_trajectory` with the rule, so the statements of
    :data:`theory.rule_checks.RULE_AWARE` (the run's masses, T5, T11-T14) are checked and the
    others (which assume Bradley-Terry curation with one reward) reported not applicable."""
    if parameters is None:
        parameters = dict(scenario_parameters(sc, traj.steps), rule=repr(sc.rule))
    return check_trajectory(traj, sc.reward, sc.data, axes=sc.axes, ids=ids, title=title,
                            parameters=parameters, rule=sc.rule)


def _num(x):
    return "inf" if math.isinf(x) else f"{x:g}"
