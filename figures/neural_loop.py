r"""The paper's 2-D retraining loops with a neural generative model, held against the exact
engine: ``python -m figures.neural_loop --out DIR`` (needs ``pip install
'selfconsume[neural]'``; see docs/neural.md).

For each scenario (``mog8``, ``two-moons``) and each ``lam`` (``inf``: curated samples only;
``1``: as many real samples as curated ones) the loop of :func:`numerics.simulate` runs with
``model="flow"`` (:class:`numerics.neural_flow.FlowMatchingModel`, warm-started each
generation) for ``steps`` generations, and :func:`numerics.evolve` gives the exact iterates
``p_t`` of the same ``K`` and ``lam`` (``p_d = p_0``; docs/theory.md T3 for the collapse
without real data, T9 for the fixed point with it).  Per generation ``t = 0..steps`` (``q_0``:
the network fitted to ``samples`` points of ``p_0``):

- ``tv = TV(q_t, p_t)``, ``q_t`` the histogram of ``samples`` fresh samples of the network on
  the scenario's grid, and ``tv_floor = TV(h_t, p_t)`` with ``h_t`` the histogram of as many
  i.i.d. draws from ``p_t`` itself: what a perfect model would score at this sample size;
- ``er_model = E_{q_t}[r]``, ``er_exact = E_{p_t}[r]`` and their difference ``er_gap``;
- ``opt_model``, ``opt_exact``: the mass of the optimal set ``{r >= r_max - band}`` (``band =
  0`` for mog8: the reward's discs, where ``r = r_max = 0``; ``band = 0.5`` nats for two-moons,
  whose reward ``-2 |x - tip|`` has its maximum at one point: the cells within 0.25 of it);
- ``loss``: the network's flow-matching loss at the end of the fit that made ``q_t``.

Outputs (atomic writes): ``DIR/neural-loop.json`` (configuration, rows, seconds per run),
``DIR/neural-loop.csv`` (the rows) and one figure per scenario,
``DIR/neural-loop-<scenario>.png``: per ``lam`` a row of the network's histogram beside
the exact density at a few generations, and the ``E[r]`` curves (:mod:`figures.neural_plot`).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
import time
from dataclasses import dataclass, field

import numpy as np

__all__ = ["DEFAULT", "TINY", "BANDS", "LoopRun", "optimal_set", "run_loop", "run_all",
           "write_outputs", "main"]

#: the default configuration (a few minutes on one CPU core)
DEFAULT = dict(scenarios=("mog8", "two-moons"), lams=(math.inf, 1.0), steps=10, grid=40,
               samples=10_000, seed=0,
               flow=dict(hidden=64, depth=3, train_steps=1000, initial_steps=4000,
                         batch_size=512, lr=1e-2, ode_steps=16))
#: ``--tiny``: a smoke test of the whole pipeline for CI (seconds; not a measurement)
TINY = dict(scenarios=("mog8", "two-moons"), lams=(math.inf, 1.0), steps=2, grid=16,
            samples=500, seed=0,
            flow=dict(hidden=16, depth=2, train_steps=20, initial_steps=40, batch_size=128,
                      lr=1e-2, ode_steps=4))
#: width (nats) of the optimal set ``{r >= r_max - band}`` per scenario (see the module doc)
BANDS = {"mog8": 0.0, "two-moons": 0.5}
#: the generations drawn side by side in the figure
SHOWN = (0, 3, 10)

ROW_FIELDS = ("scenario", "lam", "t", "er_model", "er_exact", "er_gap", "tv", "tv_floor",
              "opt_model", "opt_exact", "loss")


@dataclass
class LoopRun:
    """One loop: the scenario, ``lam``, the per-generation rows (see the module doc), the
    network's histograms ``model_masses[t]`` and the exact ``exact_masses[t]``, the optimal
    set, and the wall time of the loop (``seconds``)."""

    scenario: object
    lam: float
    rows: list
    model_masses: list
    exact_masses: list
    optimal: np.ndarray
    band: float
    seconds: float
    info: dict = field(default_factory=dict)


def optimal_set(reward, band):
    """The cells with ``r >= max(r) - band`` (boolean array shaped like ``reward``)."""
    r = np.asarray(reward, dtype=np.float64)
    return r >= r.max() - band


def _tv(p, q):
    return 0.5 * float(np.abs(np.asarray(p) - np.asarray(q)).sum())


def _histogram(rng, mass, n):
    p = np.asarray(mass, dtype=np.float64)
    return rng.multinomial(n, p.ravel() / p.sum()).reshape(p.shape) / n


def run_loop(scenario, lam, steps, samples, seed=0, flow=None, band=None, progress=None):
    """The flow-matching loop of ``scenario`` (its ``K``, its grid) at ``lam`` for ``steps``
    generations of ``samples`` curated samples, against ``numerics.evolve``: a
    :class:`LoopRun`.  ``flow``: :class:`~numerics.neural_flow.FlowMatchingModel` parameters;
    ``band``: the optimal set's width (default :data:`BANDS`, else 0)."""
    from numerics import evolve, simulate

    sc = scenario
    band = BANDS.get(sc.name, 0.0) if band is None else float(band)
    K = int(sc.K)
    t0 = time.perf_counter()
    sim = simulate(sc.mass, sc.reward, K, steps, samples, lam=lam, seed=seed, model="flow",
                   coords=tuple(sc.axes), model_options=dict(flow or {}), progress=progress)
    seconds = time.perf_counter() - t0
    traj = evolve(sc.mass, sc.reward, K, steps, lam=sim.effective_lam)
    opt = optimal_set(sc.reward, band)
    r = np.asarray(sc.reward, dtype=np.float64)
    floor_rng = np.random.default_rng([seed, 2])
    losses = sim.info["model_object"].losses
    rows, exact = [], []
    for t in range(steps + 1):
        q, p = sim.masses[t], np.asarray(traj.masses[t], dtype=np.float64)
        p = p / p.sum()
        exact.append(p)
        er_q, er_p = float((q * r).sum()), float(traj.expected_reward[t])
        rows.append(dict(scenario=sc.name, lam=lam, t=t, er_model=er_q, er_exact=er_p,
                         er_gap=er_q - er_p, tv=_tv(q, p),
                         tv_floor=_tv(_histogram(floor_rng, p, samples), p),
                         opt_model=float(q[opt].sum()), opt_exact=float(p[opt].sum()),
                         loss=float(losses[t])))
    return LoopRun(sc, lam, rows, list(sim.masses), exact, opt, band, seconds,
                   dict(K=K, effective_lam=sim.effective_lam, samples=samples, seed=seed,
                        flow=repr(sim.info["model_object"])))


def run_all(config, log=None):
    """Every (scenario, lam) loop of ``config`` (:data:`DEFAULT` or :data:`TINY` layout)."""
    from numerics.scenarios import get_scenario

    runs = []
    for name in config["scenarios"]:
        sc = get_scenario(name, grid=config["grid"])
        for lam in config["lams"]:
            run = run_loop(sc, lam, config["steps"], config["samples"], config["seed"],
                           config["flow"])
            runs.append(run)
            if log is not None:
                last = run.rows[-1]
                log(f"{name} lam={lam:g}: {run.seconds:.1f} s; t={last['t']}: E[r] model "
                    f"{last['er_model']:.4f} exact {last['er_exact']:.4f}, TV {last['tv']:.3f}"
                    f" (floor {last['tv_floor']:.3f}), optimal-set mass {last['opt_model']:.3f}"
                    f" (exact {last['opt_exact']:.3f})")
    return runs


def _json_number(x):
    return "inf" if isinstance(x, float) and math.isinf(x) else x


def write_outputs(runs, config, out_dir, formats=("png",)):
    """Write the JSON, the CSV and the figures (atomically); returns the paths."""
    import os

    from numerics.atomic import atomic_path

    from .neural_plot import plot_neural_loops
    from .saving import save_figure

    os.makedirs(out_dir, exist_ok=True)
    rows = [{k: _json_number(v) for k, v in row.items()} for run in runs for row in run.rows]
    doc = dict(config={k: ([_json_number(v) for v in val] if isinstance(val, tuple) else val)
                       for k, val in config.items()},
               bands={run.scenario.name: run.band for run in runs},
               runs=[dict(scenario=run.scenario.name, lam=_json_number(run.lam),
                          seconds=run.seconds, **run.info) for run in runs],
               rows=rows)
    paths = []
    path = os.path.join(out_dir, "neural-loop.json")
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
    paths.append(path)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=ROW_FIELDS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    path = os.path.join(out_dir, "neural-loop.csv")
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        f.write(buf.getvalue())
    paths.append(path)
    for name in dict.fromkeys(run.scenario.name for run in runs):
        fig = plot_neural_loops([run for run in runs if run.scenario.name == name], SHOWN)
        paths += save_figure(fig, out_dir, f"neural-loop-{name}", formats)
    return paths


def _parse(argv):
    p = argparse.ArgumentParser(prog="python -m figures.neural_loop",
                                description="The paper's 2-D loops (mog8, two-moons; with and "
                                            "without real data) with a flow-matching network, "
                                            "against the exact engine.")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--tiny", action="store_true",
                   help="a seconds-long smoke test (CI), not a measurement")
    p.add_argument("--scenarios", default=None, help="comma list (default mog8,two-moons)")
    p.add_argument("--steps", type=int, default=None, help="generations (default 10)")
    p.add_argument("--samples", type=int, default=None,
                   help="curated samples per generation (default 10000)")
    p.add_argument("--train-steps", type=int, default=None,
                   help="Adam steps per refit (default 1000; first fit 4000)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="where the network runs (default auto)")
    p.add_argument("--threads", type=int, default=1,
                   help="CPU threads of PyTorch (default 1: the same numbers on every machine)")
    return p.parse_args(argv)


def _config(args):
    """The configuration of the command line: :data:`DEFAULT` or :data:`TINY` with the
    overrides; bad values (and a missing PyTorch) raise with a one-line message."""
    from numerics.neural_flow import pick_device, require_torch
    from numerics.scenarios import get_scenario

    base = TINY if args.tiny else DEFAULT
    config = dict(base, flow=dict(base["flow"], device=pick_device(args.device)))
    if args.scenarios:
        config["scenarios"] = tuple(s.strip() for s in args.scenarios.split(",") if s.strip())
    for name in config["scenarios"]:
        sc = get_scenario(name, grid=config["grid"])
        if np.ndim(sc.mass) != 2 or sc.rule is not None:
            raise ValueError(f"--scenarios: {name} is not a 2-D scenario with one reward")
    if args.threads < 1:
        raise ValueError(f"--threads: must be >= 1, got {args.threads}")
    require_torch().set_num_threads(args.threads)
    for key in ("steps", "samples", "seed", "train_steps"):
        value = getattr(args, key)
        if value is not None and value < (0 if key in ("steps", "seed") else 1):
            raise ValueError(f"--{key.replace('_', '-')}: must be >= "
                             f"{0 if key in ('steps', 'seed') else 1}, got {value}")
    for key in ("steps", "samples", "seed"):
        if getattr(args, key) is not None:
            config[key] = getattr(args, key)
    if args.train_steps is not None:
        config["flow"] = dict(config["flow"], train_steps=args.train_steps,
                              initial_steps=4 * args.train_steps)
    return config


def main(argv=None):
    args = _parse(argv)
    try:
        config = _config(args)
    except (ImportError, ValueError) as exc:
        print(f"neural_loop: error: {exc}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    runs = run_all(config, log=lambda s: print(s, flush=True))
    paths = write_outputs(runs, config, args.out)
    print(f"total {time.perf_counter() - t0:.1f} s")
    print("\n".join(paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
