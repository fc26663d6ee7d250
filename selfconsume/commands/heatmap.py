"""``selfconsume heatmap [scenario opts] --out DIR``: reward level sets, ``p_0`` and the limit
density of a scenario, side by side (the paper's figure; docs/theory.md T3, T8, T9).

Without ``--scenario``/``--config`` it draws ``mog8`` (the default scenario of the other
commands, ``gauss1d``, is 1-D).  A 2-D scenario gives the three heatmaps; a 1-D one its
analogue on one axis (``p_0``, iterates, the limit, the reward)."""

from __future__ import annotations

from ..errors import UsageError
from ..options import add_output_options, add_scenario_options, output_dir_and_formats

HEATMAP_DEFAULT_SCENARIO = "mog8"


def register(subparsers):
    parser = subparsers.add_parser(
        "heatmap", help="reward level sets, p_0 and the limit density of a scenario",
        description=__doc__.split("\n\n", 1)[1] if "\n\n" in __doc__ else None)
    add_scenario_options(parser)
    add_output_options(parser, "heatmap-<scenario>.png/.pdf")
    parser.set_defaults(run=run)
    return parser


def run(args):
    from ..options import scenario_from_args

    out, formats = output_dir_and_formats(args)
    if args.scenario is None and args.config is None:
        args.scenario = HEATMAP_DEFAULT_SCENARIO
    sc = scenario_from_args(args)
    import numpy as np
    from figures import demo_figure

    opt = f"--scenario {args.scenario}" if args.config is None else f"--config {args.config}"
    if np.ndim(sc.mass) not in (1, 2):
        raise UsageError(f"{opt}: a {np.ndim(sc.mass)}-D grid cannot be drawn (1-D or 2-D only)")
    try:
        paths = demo_figure(sc, out, formats)
    except RuntimeError as exc:  # the T9 solver found no fixed point
        raise UsageError(f"--lam/--K: no limit for K={sc.K:g}, lam={sc.lam:g}: {exc}") from None
    except ValueError as exc:  # a rule whose limit is not solved (finite K: T12/T13 need inf)
        if sc.rule is None:
            raise
        raise UsageError(f"--K: {exc} (try --K inf)") from None
    for p in paths:
        print(p)
    return 0
