"""``selfconsume figures --out DIR``: the whole gallery (README figures) as PNG and PDF."""

from __future__ import annotations

from .heatmap import add_output_options, output_dir_and_formats


def register(subparsers):
    parser = subparsers.add_parser("figures", help="write the figure gallery (PNG and PDF)")
    add_output_options(parser, "the gallery images")
    parser.add_argument("--only", metavar="NAME", action="append", default=None,
                        help="only this figure (repeatable); names: see --list")
    parser.add_argument("--list", action="store_true", help="list the figures and exit")
    parser.add_argument("--quick", action="store_true",
                        help="small grids and few steps (a smoke test, not the gallery)")
    parser.set_defaults(run=run)
    return parser


def run(args):
    from figures import GALLERY, make_gallery

    from ..errors import UsageError
    from ..io import atomic_path

    if args.list:
        for e in GALLERY:
            print(f"{e.name:28s} {e.caption}")
        return 0
    out, formats = output_dir_and_formats(args)
    known = [e.name for e in GALLERY]
    unknown = [n for n in (args.only or []) if n not in known]
    if unknown:
        raise UsageError(f"--only: unknown figure {unknown[0]!r} (known: {', '.join(known)})")
    make_gallery(out, formats, quick=args.quick, atomic=atomic_path, names=args.only,
                 on_saved=lambda paths: print("\n".join(paths), flush=True))
    return 0
