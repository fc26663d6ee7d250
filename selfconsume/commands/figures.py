"""``selfconsume figures --out DIR``: the whole gallery (README figures) as PNG and PDF."""

from __future__ import annotations

from ..options import add_output_options, output_dir_and_formats


def register(subparsers):
    parser = subparsers.add_parser("figures", help="write the figure gallery (PNG and PDF)")
    add_output_options(parser, "the gallery images")
    parser.add_argument("--only", metavar="NAMES", default=None,
                        help="comma-separated figure names (see --list)")
    parser.add_argument("--list", action="store_true", help="list the figures and exit")
    parser.add_argument("--quick", action="store_true",
                        help="small grids and few steps (a smoke test, not the gallery)")
    parser.add_argument("--from", dest="sweep", metavar="SWEEP.nc", default=None,
                        help="instead of the gallery: the phase diagram of a 2-D sweep "
                             "(`selfconsume sweep`), analytic boundaries overlaid (T7, T8, T9)")
    parser.add_argument("--var", default=None,
                        help="with --from: the sweep variable to draw (default: the first "
                             "output of its measure)")
    parser.set_defaults(run=run)
    return parser


def run(args):
    from figures import GALLERY, make_gallery

    from ..options import parse_ids

    if args.list:
        for e in GALLERY:
            print(f"{e.name:28s} {e.caption}")
        return 0
    out, formats = output_dir_and_formats(args)
    if args.sweep is not None:
        return _from_sweep(args, out, formats)
    names = parse_ids(args.only, [e.name for e in GALLERY], "figure")
    make_gallery(out, formats, quick=args.quick, names=names,
                 on_saved=lambda paths: print("\n".join(paths), flush=True))
    return 0


def _from_sweep(args, out, formats):
    """``selfconsume figures --from SWEEP.nc``: ``OUT/<stem>_<var>.<fmt>``."""
    import os

    from figures.saving import save_figure
    from figures.sweep_phase import plot_sweep

    from ..errors import UsageError
    try:
        import xarray as xr
    except ImportError:
        raise UsageError("--from: needs xarray (pip install 'selfconsume[sweep]')") from None
    try:
        with xr.open_dataset(args.sweep, engine="scipy") as ds:
            ds = ds.load()
    except (OSError, ValueError, TypeError) as exc:
        raise UsageError(f"--from {args.sweep}: not a sweep file ({exc})") from None
    if "state" not in ds or "outputs" not in ds.attrs:
        raise UsageError(f"--from {args.sweep}: not a sweep file (no 'state' variable)")
    try:
        fig = plot_sweep(ds, args.var)
    except ValueError as exc:
        option = "--var" if str(exc).startswith("var:") else f"--from {args.sweep}"
        raise UsageError(f"{option}: {str(exc).removeprefix('var: ')}") from None
    stem = os.path.splitext(os.path.basename(args.sweep))[0]
    var = args.var or ds.attrs["outputs"].split(",")[0]
    paths = save_figure(fig, out, f"{stem}_{var}", formats)
    print("\n".join(paths), flush=True)
    return 0
