"""``selfconsume simulate``: the sample-based retraining loop held against the exact engine
(docs/theory.md section 6).

Per generation ``t`` it prints the exact curated mean ``E_{C_K(p_t)}[r]`` (``p_t`` from
``numerics.evolve``), the sampled one (mean of ``r`` over the curated samples drawn from the
fitted model ``q_t``) with its standard error, their difference in standard errors
(``z exact``), the exact curated mean of the CURRENT fitted model ``E_{C_K(q_t)}[r]``
(``numerics.curate(q_t)``) and the difference to it (``z cond``), and ``TV(q_{t+1},
p_{t+1})``.

Exit code 1 when ``|z cond| > 5`` at some generation.  ``z cond`` is the calibrated test: GIVEN
``q_t`` the curated samples are i.i.d. from ``C_K(q_t)``, so by the CLT it is ~ N(0, 1).
``z exact`` also carries the sampling noise of the earlier generations (``q_t != p_t``, of the
same order ``n^{-1/2}`` as the standard error), so it is reported with the TV drift but not
tested.  See :func:`numerics.sampling.compare_with_exact`.

With ``--model gaussian`` the loop is a parametric one (docs/theory.md section 5): it is held
against the exact parametric dynamics instead (:func:`numerics.parametric.simulation_check.
compare_gaussian_with_parametric`): per generation and mean parameter (``x_i``, ``x_i x_j``),
the fitted moments against the exact trajectory (standard errors propagated through the
Jacobian of ``G``) and against the exact next moments of the current fitted model; exit code 1
when some ``|z|`` exceeds 5.

With ``--model flow`` the refit is a flow-matching network (:mod:`numerics.neural_flow`; ``pip
install 'selfconsume[neural]'``), first fitted to samples of ``p_0``; ``--train-steps``,
``--hidden``, ``--ode-steps``, ``--device`` set it.  Its masses ``q_t`` are histograms of
``samples`` fresh samples (the network has no closed-form cell masses), so ``z cond`` also
carries their noise, and the exact iterates start from its ``q_0``.  For the paper's 2-D loops
against the exact engine see ``python -m figures.neural_loop`` (docs/neural.md).
"""

from __future__ import annotations

import math

from ..errors import UsageError
from ..options import add_scenario_options, parse_int, scenario_from_args

Z_LIMIT = 5.0


def register(subparsers):
    parser = subparsers.add_parser(
        "simulate", help="sample-based retraining loop, cross-checked with the exact engine",
        description="Run the sample-based loop (curated samples by Bradley-Terry among K "
                    "draws, refit) and compare it with the exact engine generation by "
                    "generation.  Exit code 1 if the curated samples' mean reward is more "
                    f"than {Z_LIMIT:g} standard errors from the exact curated mean of the "
                    "current fitted model at some generation.")
    add_scenario_options(parser)
    parser.add_argument("--samples", metavar="N", required=True,
                        help="curated samples per generation (integer >= 1, e.g. 1e6)")
    parser.add_argument("--model", choices=("histogram", "gaussian", "kde", "flow"),
                        default="histogram",
                        help="refit of each generation (default histogram; flow: a "
                             "flow-matching network, needs pip install 'selfconsume[neural]')")
    flow = parser.add_argument_group("flow model (--model flow; numerics.neural_flow)")
    flow.add_argument("--train-steps", metavar="N", default=None,
                      help="Adam steps of each refit (default 1000; the first fit: 4 N)")
    flow.add_argument("--hidden", metavar="N", default=None,
                      help="width of the hidden layers (default 64)")
    flow.add_argument("--ode-steps", metavar="N", default=None,
                      help="midpoint steps of the sampler (default 16)")
    flow.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None,
                      help="where the network runs (default auto: cuda when available)")
    parser.add_argument("--seed", metavar="S", default="0", help="random seed (default 0)")
    parser.add_argument("--backend", choices=("auto", "numpy", "cupy"), default="auto",
                        help="array backend (default auto: cupy if a GPU is usable)")
    parser.add_argument("--json", action="store_true",
                        help="print the table as JSON (infinite values as \"inf\")")
    parser.set_defaults(run=run)
    return parser


def run(args):
    from numerics.sampling import simulate, compare_with_exact
    from .. import io

    samples = parse_int(args.samples, "--samples", 1)
    seed = parse_int(args.seed, "--seed", 0)
    flow_opts = _flow_options(args)
    sc = scenario_from_args(args)
    if math.isinf(sc.K) or sc.K != int(sc.K):
        raise UsageError(f"--K: simulate compares an integer number of draws, got {sc.K:g}")
    if sc.lam == 0:
        raise UsageError("--lam: must be > 0 for simulate (lam = 0 curates nothing)")
    coords = tuple(sc.axes) if len(sc.axes) == sc.mass.ndim else None
    progress = io.Progress(f"simulate {sc.name}")
    if sc.rule is not None:
        # a scenario with a curation rule (user types, keep-k, filtering): sampled rule by
        # rule, the tested statistic is the scenario's reported reward
        sim = simulate(sc.mass, sc.rule, steps=sc.steps, samples=samples, lam=sc.lam,
                       data=sc.data, seed=seed, model=args.model, backend=args.backend,
                       progress=progress, coords=coords, statistic=sc.reward,
                       model_options=flow_opts)
    else:
        sim = simulate(sc.mass, sc.reward, int(sc.K), sc.steps, samples, lam=sc.lam,
                       data=sc.data, seed=seed, model=args.model, backend=args.backend,
                       progress=progress, coords=coords, model_options=flow_opts)
    if args.model == "gaussian" and coords is not None and sc.rule is None:
        return _run_gaussian(args, sc, sim, samples, seed)
    cc = compare_with_exact(sim, Z_LIMIT)
    rows = [dict(t=t, exact=float(cc.exact_curated_reward[t]),
                 sampled=float(sim.sample_mean_reward[t]), se=float(sim.sample_se[t]),
                 z_exact=float(cc.z_exact[t]), conditional=float(cc.conditional_reward[t]),
                 z_conditional=float(cc.z_conditional[t]), tv=float(cc.tv[t + 1]))
            for t in range(sim.steps)]
    K = int(sim.K) if math.isfinite(sim.K) and sim.K == int(sim.K) else sim.K
    header = dict(scenario=sc.name, K=K, lam=sim.lam, effective_lam=sim.effective_lam,
                  steps=sim.steps, samples=samples, real_samples=sim.real_samples,
                  model=sim.model, seed=seed, backend=sim.backend, z_limit=Z_LIMIT,
                  rule=None if sc.rule is None else repr(sc.rule),
                  max_abs_z_conditional=float(max((abs(r["z_conditional"]) for r in rows),
                                                  default=0.0)),
                  max_abs_z_exact=float(max((abs(r["z_exact"]) for r in rows), default=0.0)),
                  passed=cc.passed)
    if args.json:
        from ..io import to_json
        print(to_json(dict(header, generations=rows)))
    else:
        _print_table(header, rows)
    return 0 if cc.passed else 1


def _flow_options(args):
    """The ``--model flow`` options as ``simulate(model_options=...)`` (None for the other
    models; a flow option given with another model is a usage error)."""
    given = {name: getattr(args, name) for name in ("train_steps", "hidden", "ode_steps",
                                                     "device")
             if getattr(args, name) is not None}
    if args.model != "flow":
        if given:
            flag = "--" + next(iter(given)).replace("_", "-")
            raise UsageError(f"{flag}: only with --model flow")
        return None
    from numerics.neural_flow import require_torch
    try:
        require_torch()
    except ImportError as exc:
        raise UsageError(f"--model flow: {exc}") from None
    opts = {}
    for name, text in given.items():
        flag = "--" + name.replace("_", "-")
        opts[name] = text if name == "device" else parse_int(text, flag, 1)
    return opts


def _print_table(h, rows):
    lam = "inf" if math.isinf(h["lam"]) else f"{h['lam']:g}"
    eff = ("" if math.isinf(h["lam"]) or h["effective_lam"] == h["lam"]
           else f" (effective {h['effective_lam']:.6g}: {h['samples']}/{h['real_samples']})")
    print(f"simulate {h['scenario']}: K={h['K']} lam={lam}{eff} steps={h['steps']} "
          f"samples={h['samples']} real={h['real_samples']} model={h['model']} "
          f"seed={h['seed']} backend={h['backend']}")
    if h.get("rule"):
        print(f"rule {h['rule']}: per kept sample a user type u ~ pi, then its rule; "
              f"C_K below is the rule's curation C = sum_u pi_u C_u")
    print("E_C[r] = mean reward of the curated samples of generation t; exact: E_{C_K(p_t)}[r] "
          "(numerics.evolve), cond: E_{C_K(q_t)}[r] of the fitted model q_t; "
          "TV = TV(q_{t+1}, p_{t+1})")
    print(f"{'t':>4} {'exact E_C[r]':>15} {'sampled E_C[r]':>15} {'SE':>10} {'z exact':>8} "
          f"{'cond E_C[r]':>15} {'z cond':>8} {'TV':>10}")
    for r in rows:
        print(f"{r['t']:>4} {r['exact']:>15.8g} {r['sampled']:>15.8g} {r['se']:>10.3g} "
              f"{r['z_exact']:>8.2f} {r['conditional']:>15.8g} {r['z_conditional']:>8.2f} "
              f"{r['tv']:>10.3g}")
    verdict = "PASS" if h["passed"] else "FAIL"
    print(f"{verdict}: max |z cond| = {h['max_abs_z_conditional']:.2f} "
          f"(limit {h['z_limit']:g}, the calibrated CLT test); max |z exact| = "
          f"{h['max_abs_z_exact']:.2f} (not calibrated: includes the drift of q_t from p_t)")


def _run_gaussian(args, sc, sim, samples, seed):
    """``--model gaussian``: the parametric cross-check (see the module doc)."""
    import numpy as np
    from numerics.parametric.simulation_check import compare_gaussian_with_parametric

    cc = compare_gaussian_with_parametric(sim, tuple(sc.axes), Z_LIMIT)
    rows = [dict(t=t + 1, parameter=name, exact=float(cc.exact[t, j]),
                 sampled=float(cc.sampled[t, j]), se=float(cc.se_trajectory[t, j]),
                 z_trajectory=float(cc.z_trajectory[t, j]),
                 conditional=float(cc.conditional[t, j]),
                 z_conditional=float(cc.z_conditional[t, j]))
            for t in range(sim.steps) for j, name in enumerate(cc.names)]
    header = dict(scenario=sc.name, K=sim.K, lam=sim.lam, effective_lam=sim.effective_lam,
                  steps=sim.steps, samples=samples, real_samples=sim.real_samples,
                  model=sim.model, seed=seed, backend=sim.backend, z_limit=Z_LIMIT,
                  compared_with="exact parametric dynamics (plug-in Gaussian, section 5)",
                  max_abs_z_trajectory=float(np.max(np.abs(cc.z_trajectory), initial=0.0)),
                  max_abs_z_conditional=float(np.max(np.abs(cc.z_conditional), initial=0.0)),
                  mle_gap_se=cc.mle_gap, passed=cc.passed)
    if args.json:
        from ..io import to_json
        print(to_json(dict(header, generations=rows)))
    else:
        lam = "inf" if math.isinf(header["lam"]) else f"{header['lam']:g}"
        print(f"simulate {sc.name}: K={sim.K} lam={lam} steps={sim.steps} samples={samples} "
              f"real={sim.real_samples} model=gaussian seed={seed}: held against the exact "
              f"parametric dynamics (section 5)")
        print("moments of the fitted model q_t; exact: the parametric trajectory m_t, SE "
              "propagated through DG; cond: exact E_q[T] from the previous fitted model")
        print(f"{'t':>4} {'param':>6} {'exact':>14} {'sampled':>14} {'SE':>10} {'z traj':>8} "
              f"{'cond':>14} {'z cond':>8}")
        for r in rows:
            print(f"{r['t']:>4} {r['parameter']:>6} {r['exact']:>14.8g} {r['sampled']:>14.8g} "
                  f"{r['se']:>10.3g} {r['z_trajectory']:>8.2f} {r['conditional']:>14.8g} "
                  f"{r['z_conditional']:>8.2f}")
        verdict = "PASS" if cc.passed else "FAIL"
        print(f"{verdict}: max |z traj| = {header['max_abs_z_trajectory']:.2f}, max |z cond| = "
              f"{header['max_abs_z_conditional']:.2f} (limit {Z_LIMIT:g}); the grid-MLE "
              f"trajectory is {cc.mle_gap:.3g} SE from the plug-in one")
    return 0 if cc.passed else 1
