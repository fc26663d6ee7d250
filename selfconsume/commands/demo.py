"""``selfconsume demo``: the main job on the built-in default scenario (gauss1d): evolve it,
hold the run against docs/theory.md (the theorem table), draw its figure, and say where the
outputs are.  Scenario options work as for every command."""

from __future__ import annotations

import os
import sys
import time

from ..errors import UsageError
from ..options import add_scenario_options, scenario_from_args


def register(subparsers):
    parser = subparsers.add_parser(
        "demo", help="the main job on the default scenario: evolve, theorem table, figure",
        description=__doc__)
    add_scenario_options(parser)
    parser.add_argument("--out", metavar="DIR", default="selfconsume-demo",
                        help="output directory (default ./selfconsume-demo)")
    parser.set_defaults(run=run)
    return parser


def _write_text(path, text):
    from ..io import atomic_path
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)


def run(args):
    out = args.out
    if os.path.exists(out) and not os.path.isdir(out):
        raise UsageError(f"--out {out}: exists and is not a directory")
    sc = scenario_from_args(args)
    import numerics
    import theory
    from .. import io
    from .evolve import save_trajectory, trajectory_arrays

    try:
        os.makedirs(out, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out {out}: cannot create: {exc.strerror or exc}") from None
    started = time.perf_counter()
    npz = os.path.join(out, f"trajectory-{sc.name}.npz")
    try:
        traj = numerics.evolve(sc.mass, sc.reward, sc.K, sc.steps, lam=sc.lam, data=sc.data,
                               record_every=1, progress=io.Progress(f"demo {sc.name}"))
    except numerics.EvolutionInterrupted as exc:
        save_trajectory(npz, trajectory_arrays(sc, exc.trajectory, sc.steps))
        sys.stderr.write(f"\nselfconsume demo: interrupted after {exc.trajectory.steps} of "
                         f"{sc.steps} steps; saved them to {npz}\n")
        return 130
    save_trajectory(npz, trajectory_arrays(sc, traj, sc.steps))
    report = theory.check_trajectory(traj, sc.reward, sc.data, continuous=sc.continuous,
                                     axes=sc.axes, title=f"{sc.name}: K={sc.K:g} "
                                     f"lam={sc.lam:g} steps={sc.steps}")
    table = report.to_table()
    sys.stdout.write(table + "\n")
    _write_text(os.path.join(out, "check.txt"), table + "\n")
    _write_text(os.path.join(out, "check.json"), report.to_json() + "\n")
    import figures
    pictures = figures.demo_figure(sc, out)
    elapsed = time.perf_counter() - started
    print(f"\nselfconsume demo: {sc.name} in {elapsed:.1f} s; outputs in {out}/:")
    for path in [npz, os.path.join(out, "check.txt"), os.path.join(out, "check.json"),
                 *pictures]:
        print(f"  {path}")
    return 0 if report.all_hold else 1
