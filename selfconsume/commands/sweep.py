"""``selfconsume sweep``: a measure over a grid of parameters, on Dask, to netCDF.

    selfconsume sweep --scenario kingman --param b=1.5:4:11 --param lam=0.25:6:24 \\
        --measure condensate --out kingman.nc

``--param NAME=start:stop:num`` (``:log`` for geometric spacing, or a comma list) adds an
axis; ``--K``, ``--lam``, ``--steps``, ``--grid`` and ``--set NAME=VALUE`` fix a parameter;
``--spec FILE.toml`` reads all of it from a file (see :func:`numerics.sweep.load_spec`).
The Dataset is written atomically; running the same command again computes only the points
not yet in ``--out`` (an interrupted sweep resumes).  Exit 0 when the sweep is written (failed
points are recorded in it and counted on stderr), 2 bad usage, 130 interrupted (the finished
points are saved).
"""

from __future__ import annotations

import os
import sys

from ..errors import UsageError
from ..options import add_scenario_options, parse_int, scalar_value


def register(subparsers):
    parser = subparsers.add_parser(
        "sweep", help="a measure over a grid of parameters (Dask), written as netCDF",
        description="Evaluate a measure (limit condensate, E[r] at step t, a check's "
                    "verdict, ...) at every point of a parameter grid, on Dask, and write "
                    "an xarray Dataset (netCDF) with the parameters as coordinates.")
    add_scenario_options(parser)
    parser.add_argument("--spec", metavar="FILE.toml", default=None,
                        help="sweep spec (measure, scenario, [axes], [fixed], [options])")
    parser.add_argument("--param", metavar="NAME=VALUES", action="append", default=[],
                        help="an axis: start:stop:num, start:stop:num:log or a,b,c "
                             "(repeatable; K, lam, steps, grid or a scenario parameter)")
    # --set NAME=VALUE (fix a scenario parameter) comes with add_scenario_options
    parser.add_argument("--measure", default=None,
                        help="what to evaluate at each point (default condensate; see "
                             "--list-measures)")
    parser.add_argument("--option", metavar="NAME=VALUE", action="append", default=[],
                        help="a measure option, e.g. t=10 for moments, id=T7 for check")
    parser.add_argument("--out", metavar="FILE.nc", default=None,
                        help="netCDF output (resumed if it holds the same sweep)")
    parser.add_argument("--scheduler", metavar="ADDRESS", default=None,
                        help="a running dask.distributed scheduler (default: local Dask)")
    parser.add_argument("--connect-timeout", type=float, default=30.0, metavar="SECONDS",
                        help="how long to try reaching --scheduler (default 30)")
    parser.add_argument("--workers", metavar="N", default="1",
                        help="local Dask: worker processes (default 1)")
    parser.add_argument("--retry-failed", action="store_true",
                        help="recompute the points that failed in --out")
    parser.add_argument("--list-measures", action="store_true",
                        help="list the measures and exit")
    parser.set_defaults(run=run)
    return parser


def _pairs(items, option):
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise UsageError(f"{option}: expected NAME=VALUE, got {item!r}")
        out[name.strip()] = value.strip()
    return out


def _spec(args):
    from numerics.sweep import SweepSpec, load_spec, parse_values
    if args.spec is not None:
        if args.param or args.set or args.option or args.measure or args.scenario or \
                args.config:
            raise UsageError("--spec: give the sweep either as a file or as options, not both")
        try:
            return load_spec(args.spec)
        except OSError as exc:
            raise UsageError(f"--spec {args.spec}: {exc.strerror}") from None
        except (ValueError, TypeError) as exc:
            raise UsageError(f"--spec {args.spec}: {exc}") from None
    if not args.param:
        raise UsageError("--param: a sweep needs at least one --param NAME=VALUES")
    axes = {}
    for name, text in _pairs(args.param, "--param").items():
        try:
            axes[name] = parse_values(text, f"--param {name}")
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    fixed = {k: scalar_value(v) for k, v in _pairs(args.set, "--set").items()}
    for name in ("K", "lam", "steps", "grid"):
        text = getattr(args, name)
        if text is not None:
            fixed[name] = scalar_value(text)
            if isinstance(fixed[name], str):
                raise UsageError(f"--{name}: not a number: {text!r}")
    options = {k: scalar_value(v) for k, v in _pairs(args.option, "--option").items()}
    try:
        from numerics.sweep_measures import get_measure
        get_measure(args.measure or "condensate")
    except ValueError as exc:
        raise UsageError(f"--measure: {exc}") from None
    try:
        return SweepSpec(args.measure or "condensate", axes, scenario=args.scenario,
                         config=args.config, fixed=fixed, options=options)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"--param/--set/--option: {exc}") from None


def run(args):
    import theory  # noqa: F401  (registers the measures contraction and check)
    from numerics.sweep import FAILED, PENDING, sweep
    from numerics.sweep_measures import list_measures

    from ..io import Progress

    if args.list_measures:
        for name, outputs, desc in list_measures():
            print(f"{name:18s} {', '.join(outputs):48s} {desc}")
        return 0
    if args.out is None:
        raise UsageError("--out: required (the netCDF file to write)")
    workers = parse_int(args.workers, "--workers", 1)
    spec = _spec(args)
    label = f"sweep {spec.measure} on {spec.scenario or spec.config}"
    try:
        ds = sweep(spec, out=args.out, scheduler=args.scheduler, workers=workers,
                   progress=Progress(label, unit="point"), retry_failed=args.retry_failed,
                   connect_timeout=args.connect_timeout)
    except KeyboardInterrupt:
        done = _done_in(args.out)
        sys.stderr.write(f"selfconsume sweep: interrupted; {done} saved in {args.out}; run the "
                         f"same command again to compute the rest\n")
        return 130
    except ValueError as exc:
        if str(exc).startswith("out:"):
            raise UsageError(f"--out {args.out}: {str(exc)[4:].strip()}") from None
        raise
    except OSError as exc:
        if args.scheduler is not None:
            raise UsageError(f"--scheduler {args.scheduler}: {exc}") from None
        raise
    failed = int((ds["state"] == FAILED).sum())
    pending = int((ds["state"] == PENDING).sum())
    print(f"wrote {os.fspath(args.out)}: {ds['state'].size} points, "
          f"{ds['state'].size - failed - pending} done, {failed} failed")
    if failed:
        first = next(e for e in ds["error"].values.ravel() if e)
        sys.stderr.write(f"selfconsume sweep: {failed} point(s) failed (see the 'error' "
                         f"variable), e.g. {first}\n")
    return 0


def _done_in(path):
    try:
        import xarray as xr
        with xr.open_dataset(path, engine="scipy") as ds:
            return f"{ds.attrs['points_done']} of {ds['state'].size} points"
    except Exception:  # nothing readable was written
        return "no points"
