"""Scenario options shared by the subcommands (DESIGN.md): ``--scenario NAME`` or
``--config FILE.toml``, and the overrides ``--K``, ``--lam``, ``--steps``, ``--grid``."""

from __future__ import annotations

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
    return parser


def _override(args, name, parse):
    text = getattr(args, name)
    if text is None:
        return None
    try:
        return parse(text)
    except ValueError as exc:
        raise UsageError(f"--{name}: {exc}") from None


def _int(text):
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"not an integer: {text!r}") from None


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


def scenario_from_args(args):
    """The :class:`numerics.scenarios.Scenario` described by the options (errors name the
    option or config key and raise :class:`UsageError`)."""
    from numerics.scenarios import DEFAULT_SCENARIO, get_scenario
    from numerics.validation import check_K, check_lam

    K = _override(args, "K", lambda t: check_K(_real(t), "value"))
    lam = _override(args, "lam", lambda t: check_lam(_real(t), "value"))
    steps = _override(args, "steps", _int)
    if steps is not None and steps < 0:
        raise UsageError(f"--steps: must be >= 0, got {steps}")
    grid = _override(args, "grid", _int)
    if grid is not None and grid < 2:
        raise UsageError(f"--grid: must be >= 2, got {grid}")
    if args.config is not None:
        from numerics.scenario_config import load_config, ConfigError
        try:
            sc = load_config(args.config, grid=grid)
        except ConfigError as exc:
            raise UsageError(f"--config {args.config}: {exc}") from None
        return sc.with_overrides(K=K, lam=lam, steps=steps)
    name = args.scenario or DEFAULT_SCENARIO
    try:
        return get_scenario(name, K=K, lam=lam, steps=steps, grid=grid)
    except ValueError as exc:
        raise UsageError(f"--scenario {name}: {exc}") from None


__all__ = ["add_scenario_options", "scenario_from_args", "parse_ids"]
