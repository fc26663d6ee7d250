"""Options shared by the subcommands: the scenario options (DESIGN.md: ``--scenario NAME``
or ``--config FILE.toml``, and the overrides ``--K``, ``--lam``, ``--steps``, ``--grid`` and
``--set NAME=VALUE``, a parameter of the built-in scenario, e.g. ``--set w=0.3``), the image
output options (``--out DIR``, ``--format``), ``--only`` id lists and integers."""

from __future__ import annotations

import math
import os

from .errors import UsageError


def _real(text):
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"not a number: {text!r}") from None


def add_scenario_options(parser):
    g = parser.add_argument_group("scenario")
    src = g.add_mutually_exclusive_group()
    src.add_argument("--scenario", metavar="NAME", default=None,
                     help="built-in scenario (see `selfconsume scenarios`; default gauss1d)")
    src.add_argument("--config", metavar="FILE.toml", default=None,
                     help="scenario file (TOML): grid, start, data, reward, K, lam, steps")
    g.add_argument("--K", type=str, default=None, help="samples compared per curation (>= 1 or inf)")
    g.add_argument("--lam", type=str, default=None,
                   help="ratio of curated synthetic to real data (>= 0; inf = curated only)")
    g.add_argument("--steps", type=str, default=None, help="retraining steps (integer >= 0)")
    g.add_argument("--grid", type=str, default=None, help="cells per grid axis (integer >= 2)")
    g.add_argument("--set", metavar="NAME=VALUE", action="append", default=[],
                   help="a parameter of the built-in scenario, e.g. --set w=0.3 (repeatable; "
                        "see `selfconsume scenarios --json`; a comma list is a tuple)")
    return parser


def scalar_value(text):
    """An option value: an integer, else a real, else the text itself."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def scenario_value(text):
    """A ``--set`` value: a :func:`scalar_value`, or a comma list of those (a tuple)."""
    if "," in text:
        return tuple(scalar_value(t.strip()) for t in text.split(",") if t.strip())
    return scalar_value(text)


def scenario_settings(items):
    """``{name: value}`` of the ``--set NAME=VALUE`` items (:class:`UsageError` naming a bad
    one)."""
    out = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise UsageError(f"--set: expected NAME=VALUE, got {item!r}")
        out[name.strip()] = scenario_value(value.strip())
    return out


def _override(args, name, parse):
    text = getattr(args, name)
    if text is None:
        return None
    try:
        return parse(text)
    except ValueError as exc:
        raise UsageError(f"--{name}: {exc}") from None


def parse_int(text, option, minimum=None):
    """The one integer parser of the command line: ``text`` as an integer (``12``, or an
    integer in exponent form such as ``1e6``), at least ``minimum``; a :class:`UsageError`
    naming ``option`` otherwise."""
    try:
        value = int(text)
    except ValueError:
        try:
            as_float = float(text)
        except ValueError:
            as_float = math.nan
        if not (math.isfinite(as_float) and as_float.is_integer()):
            raise UsageError(f"{option}: not an integer: {text!r}") from None
        value = int(as_float)
    if minimum is not None and value < minimum:
        raise UsageError(f"{option}: must be >= {minimum}, got {value}")
    return value


def parse_ids(text, known, what):
    """``--only A,B,...``: the listed ids, each one of ``known`` (``None`` when absent)."""
    if text is None:
        return None
    ids = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [t for t in ids if t not in known]
    if unknown or not ids:
        raise UsageError(f"--only: unknown {what} id(s) {', '.join(unknown) or '(none)'}; "
                         f"known: {', '.join(known)}")
    return ids


def add_output_options(parser, what):
    parser.add_argument("--out", metavar="DIR", default=None,
                        help=f"directory for {what} (created if missing)")
    parser.add_argument("--format", metavar="FMT[,FMT]", default="png,pdf",
                        help="image formats, comma-separated: png, pdf (default: png,pdf)")


def output_dir_and_formats(args):
    """``(out_dir, formats)`` from ``--out``/``--format``; :class:`UsageError` naming the
    option if ``--out`` exists and is not a directory or a format is unknown."""
    from figures.saving import FORMATS
    out = args.out
    if out is None:
        raise UsageError("--out: required (the directory to write the images to)")
    if os.path.exists(out) and not os.path.isdir(out):
        raise UsageError(f"--out {out}: exists and is not a directory")
    formats = tuple(f.strip().lower() for f in args.format.split(",") if f.strip())
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise UsageError(f"--format: unknown format {', '.join(bad) or '(none)'} "
                         f"(known: {', '.join(FORMATS)})")
    return out, formats


def scenario_from_args(args):
    """The :class:`numerics.scenarios.Scenario` described by the options (errors name the
    option or config key and raise :class:`UsageError`)."""
    from numerics.scenarios import DEFAULT_SCENARIO, get_scenario
    from numerics.validation import check_K, check_lam

    K = _override(args, "K", lambda t: check_K(_real(t), "value"))
    lam = _override(args, "lam", lambda t: check_lam(_real(t), "value"))
    steps = None if args.steps is None else parse_int(args.steps, "--steps", 0)
    grid = None if args.grid is None else parse_int(args.grid, "--grid", 2)
    settings = scenario_settings(getattr(args, "set", None))
    if args.config is not None:
        if settings:
            raise UsageError(f"--set {', '.join(settings)}: --set takes parameters of a built-in "
                             f"--scenario; write them into the --config file instead")
        from numerics.scenario_config import load_config, ConfigError
        try:
            sc = load_config(args.config, grid=grid)
        except ConfigError as exc:
            raise UsageError(f"--config {args.config}: {exc}") from None
        return sc.with_overrides(K=K, lam=lam, steps=steps)
    name = args.scenario or DEFAULT_SCENARIO
    try:
        return get_scenario(name, K=K, lam=lam, steps=steps, grid=grid, **settings)
    except (ValueError, TypeError) as exc:
        where = f"--scenario {name}" + (" --set" if settings else "")
        raise UsageError(f"{where}: {exc}") from None


__all__ = ["add_scenario_options", "scenario_from_args", "add_output_options",
           "output_dir_and_formats", "parse_ids", "parse_int", "scenario_settings",
           "scenario_value", "scalar_value"]
