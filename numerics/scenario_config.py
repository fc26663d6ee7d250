"""Scenario files (TOML): a grid, formulas for the start density, the real data and the
reward, and the loop parameters.

Format (every key but ``grid``, ``start`` and ``reward`` is optional)::

    name = "ring"                         # default: the file name without .toml
    description = "..."                   # one line
    K = 4                                 # real >= 1, or inf / "inf"        (default 4)
    lam = 1                               # real >= 0, or inf / "inf"        (default inf)
    steps = 50                            # integer >= 0                     (default 50)
    start = "exp(-(sqrt(x^2 + y^2) - 2)^2 / 0.18)"   # density of p_0, up to a constant
    data = "..."                          # density of p_d (default: the start)
    reward = "-2*sqrt((x - 2)^2 + y^2)"

    [grid]
    axes = [[-3, 3, 101], [-3, 3, 101]]   # [lo, hi, n] per axis: 1-D (x) or 2-D (x, y)

    [[curators]]                          # optional: user types (THEORY.md L1-L6, section 7)
    weight = 0.7                          # pi_u >= 0 (normalized over the entries; default 1)
    rule = "plackett_luce"                # bradley_terry | plackett_luce | top_k | filtering
    reward = "-x^2"                       # default: the top-level reward
    K = 4                                 # default: the top-level K
    keep = 2                              # plackett_luce, top_k only (required there)
    [[curators]]
    weight = 0.3
    rule = "filtering"
    accept = "exp(-x^2)"                  # filtering only: a formula with values in [0, 1]

With ``[[curators]]`` the scenario's :attr:`~numerics.scenarios.Scenario.rule` is their
:func:`~numerics.curators.mixture` (the rule itself for one entry); the top-level ``reward``
stays the reward reported (``E[r]``) and ``K`` becomes the largest ``K`` of the entries.
Errors name the entry's key, e.g. ``curators[1].keep`` (entries counted from 0).

The grid points along an axis are ``numpy.linspace(lo, hi, n)``; the mass of a point is the
density there divided by the sum over the grid (``mass[i, j]`` at ``(x_i, y_j)``).

Formulas use the coordinates ``x`` (and ``y``), numbers, ``pi``, ``E``, the operators
``+ - * / ** ^`` and the functions of :data:`FUNCTIONS`.  Each formula is first checked on
its Python syntax tree (only those names, numbers, operators and plain calls of the allowed
functions pass), then parsed by :func:`sympy.parsing.sympy_parser.parse_expr` with a
namespace holding only those names, and compiled by :func:`sympy.lambdify` for numpy/scipy.
Anything else raises :class:`ConfigError`, whose one-line message starts with the key.
"""

from __future__ import annotations

import ast
import math
import os
try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, as the tomli package
    import tomli as tomllib

import numpy as np

from .scenarios import Scenario
from .validation import ValidationError, check_K, check_lam, check_steps

__all__ = ["load_config", "ConfigError", "FUNCTIONS", "KEYS", "CURATOR_RULES", "CURATOR_KEYS"]

#: top-level keys of a scenario file
KEYS = ("name", "description", "grid", "start", "data", "reward", "K", "lam", "steps",
        "curators")
#: the rules a ``[[curators]]`` entry may name, and the keys each one takes
CURATOR_RULES = {"bradley_terry": ("reward", "K"), "plackett_luce": ("reward", "K", "keep"),
                 "top_k": ("reward", "K", "keep"), "filtering": ("accept",)}
CURATOR_KEYS = ("weight", "rule", "reward", "K", "keep", "accept")
#: functions a formula may call (sympy names)
FUNCTIONS = ("exp", "log", "sqrt", "sin", "cos", "tan", "sinh", "cosh", "tanh", "atan",
             "atan2", "erf", "Abs", "Min", "Max")
_CONSTANTS = ("pi", "E")
_COORDS = ("x", "y")
_DEFAULTS = dict(K=4.0, lam=math.inf, steps=50)
_OPERATORS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.USub, ast.UAdd)


class ConfigError(ValidationError):
    """A bad scenario file; the message is one line naming the offending key."""


def _coords_text(coords):
    return ", ".join(coords)


def _check_syntax(key, text, coords):
    """Allow only numbers, the coordinates, constants, arithmetic and calls of FUNCTIONS;
    return the formula with every number written as a float."""
    try:
        # "^" means power (as in sympy's convert_xor), with the precedence of "**"
        tree = ast.parse(text.replace("\n", " ").replace("^", "**").strip(), mode="eval")
    except SyntaxError as exc:
        raise ConfigError(f"{key}: cannot parse {text!r} ({exc.msg})") from None
    for node in ast.walk(tree):
        if isinstance(node, (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Load) + _OPERATORS):
            continue
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise ConfigError(f"{key}: {node.value!r} is not a number")
            continue
        if isinstance(node, ast.Call):
            fname = node.func.id if isinstance(node.func, ast.Name) else None
            if fname not in FUNCTIONS:
                shown = fname or ast.unparse(node.func)
                raise ConfigError(f"{key}: function {shown!r} is not allowed "
                                  f"(allowed: {', '.join(FUNCTIONS)})")
            if node.keywords or not node.args:
                raise ConfigError(f"{key}: {fname}() takes positional arguments only")
            continue
        if isinstance(node, ast.Name):
            if node.id in FUNCTIONS:  # only as a callee (checked at the Call above)
                continue
            if node.id not in coords and node.id not in _CONSTANTS:
                raise ConfigError(f"{key}: unknown symbol {node.id!r} (grid coordinates are "
                                  f"{_coords_text(coords)})")
            continue
        raise ConfigError(f"{key}: {ast.unparse(node)!r} is not allowed in a formula "
                          f"(numbers, {_coords_text(coords)}, pi, E, + - * / ^ and "
                          f"{', '.join(FUNCTIONS)})")
    for node in ast.walk(tree):  # a function name used as a value, e.g. "exp + 1"
        if isinstance(node, ast.Name) and node.id in FUNCTIONS and not any(
                isinstance(c, ast.Call) and c.func is node for c in ast.walk(tree)):
            raise ConfigError(f"{key}: function {node.id!r} must be called, e.g. {node.id}(x)")
        # numbers become floats, so that sympy never evaluates a huge exact power (10^10^10)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            try:
                node.value = float(node.value)
            except OverflowError:
                raise ConfigError(f"{key}: number too large ({len(str(node.value))} "
                                  f"digits)") from None
    return ast.unparse(tree)


def _formula(key, value, coords):
    """A vectorized function of the coordinates for the formula ``value`` of ``key``."""
    import sympy
    from sympy.parsing.sympy_parser import parse_expr, standard_transformations
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ConfigError(f"{key}: must be a formula (a string), got {type(value).__name__}")
    text = str(value)
    checked = _check_syntax(key, text, coords)
    symbols = {c: sympy.Symbol(c, real=True) for c in coords}
    local = dict(symbols, pi=sympy.pi, E=sympy.E, **{f: getattr(sympy, f) for f in FUNCTIONS})
    namespace = {"Integer": sympy.Integer, "Float": sympy.Float, "Rational": sympy.Rational,
                 "Symbol": sympy.Symbol, "__builtins__": {}}
    try:
        expr = parse_expr(checked, local_dict=local,
                          global_dict=namespace,
                          transformations=standard_transformations)
    except Exception as exc:  # sympy rejects e.g. a wrong number of arguments
        raise ConfigError(f"{key}: cannot parse {text!r} ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    if not isinstance(expr, sympy.Expr):
        raise ConfigError(f"{key}: {text!r} is not an expression")
    return sympy.lambdify([symbols[c] for c in coords], expr, modules=["scipy", "numpy"])


def _evaluate(key, func, points, coords):
    with np.errstate(all="ignore"):
        try:
            values = np.asarray(func(*points))
        except Exception as exc:
            raise ConfigError(f"{key}: cannot evaluate on the grid ({type(exc).__name__}: "
                              f"{exc})") from None
    if np.iscomplexobj(values):
        raise ConfigError(f"{key}: takes complex values on the grid")
    values = np.broadcast_to(values.astype(np.float64), points[0].shape).copy()
    bad = ~np.isfinite(values)
    if bad.any():
        where = tuple(float(p[bad][0]) for p in points)
        raise ConfigError(f"{key}: not finite ({values[bad][0]}) at "
                          f"{_at(coords, where)}")
    return values


def _at(coords, where):
    return ", ".join(f"{c}={v:g}" for c, v in zip(coords, where))


def _density(key, func, points, coords):
    values = _evaluate(key, func, points, coords)
    neg = values < 0
    if neg.any():
        where = tuple(float(p[neg][0]) for p in points)
        raise ConfigError(f"{key}: negative density ({values[neg][0]:g}) at "
                          f"{_at(coords, where)}")
    total = values.sum()
    if not total > 0:
        raise ConfigError(f"{key}: the density is zero on the whole grid")
    if not math.isfinite(total):
        raise ConfigError(f"{key}: the density sums to infinity on the grid")
    return values / total


def _axes(spec, grid):
    if not isinstance(spec, dict):
        raise ConfigError("grid: must be a table, e.g. [grid] axes = [[-3, 3, 101]]")
    unknown = sorted(set(spec) - {"axes"})
    if unknown:
        hint = ("; top-level keys go before the [grid] table"
                if set(unknown) & set(KEYS) else "")
        raise ConfigError(f"grid: unknown key(s) {', '.join(map(repr, unknown))} "
                          f"(allowed: axes{hint})")
    if "axes" not in spec:
        raise ConfigError("grid.axes: missing (a list of [lo, hi, n], one per axis)")
    axes = spec["axes"]
    if not isinstance(axes, list) or len(axes) not in (1, 2):
        raise ConfigError("grid.axes: must be a list of 1 or 2 axes [lo, hi, n]")
    out = []
    for i, ax in enumerate(axes):
        key = f"grid.axes[{i}]"
        if not isinstance(ax, list) or len(ax) != 3:
            raise ConfigError(f"{key}: must be [lo, hi, n], got {ax!r}")
        lo, hi, n = ax
        for name, v in (("lo", lo), ("hi", hi)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ConfigError(f"{key}: {name} must be a finite number, got {v!r}")
        if not lo < hi:
            raise ConfigError(f"{key}: need lo < hi, got lo={lo!r}, hi={hi!r}")
        if isinstance(n, bool) or not isinstance(n, int) or n < 2:
            raise ConfigError(f"{key}: n must be an integer >= 2, got {n!r}")
        out.append(np.linspace(float(lo), float(hi), n if grid is None else grid))
    return tuple(out)


def _param(config, key, check, shown=None):
    """``config[key]`` (default :data:`_DEFAULTS`) checked; errors name ``shown`` (default
    ``key``)."""
    shown = shown or key
    value = config.get(key, _DEFAULTS[key])
    if key in ("K", "lam"):
        if isinstance(value, str):
            if value.strip().lower() not in ("inf", "infinity"):
                raise ConfigError(f"{shown}: must be a number or \"inf\", got {value!r}")
            value = math.inf
    try:
        return check(value, shown)
    except (TypeError, ValueError) as exc:
        raise ConfigError(str(exc).replace("math.inf", "inf")) from None


def load_config(path, grid=None):
    """The :class:`~numerics.scenarios.Scenario` described by the TOML file ``path``.

    ``grid`` (integer >= 2) replaces the number of points of every axis.  Raises
    :class:`ConfigError` (a ``ValueError``) with a one-line message naming the key for a
    missing or malformed file, an unknown key, an unknown symbol or function in a formula,
    a density that is negative, not finite or zero on the grid, or a bad ``K``/``lam``/``steps``.
    """
    if grid is not None and (isinstance(grid, bool) or not isinstance(grid, (int, np.integer))
                             or grid < 2):
        raise ConfigError(f"grid: must be an integer >= 2, got {grid!r}")
    try:
        with open(path, "rb") as fh:
            config = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read the file: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"malformed TOML: {str(exc).splitlines()[0]}") from None
    unknown = sorted(set(config) - set(KEYS))
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(map(repr, unknown))} "
                          f"(allowed: {', '.join(KEYS)})")
    for key in ("grid", "start", "reward"):
        if key not in config:
            raise ConfigError(f"{key}: missing (required keys: grid, start, reward)")
        if key == "grid":  # keys written after [grid] land in it: say so first
            axes = _axes(config["grid"], None if grid is None else int(grid))
    stem = os.path.splitext(os.path.basename(os.fspath(path)))[0]
    name, description = config.get("name", stem), config.get("description", f"from {stem}.toml")
    for key, value in (("name", name), ("description", description)):
        if not isinstance(value, str):
            raise ConfigError(f"{key}: must be a string, got {type(value).__name__}")
    K = _param(config, "K", check_K)
    lam = _param(config, "lam", check_lam)
    steps = _param(config, "steps", check_steps)
    coords = _COORDS[:len(axes)]
    points = np.meshgrid(*axes, indexing="ij")
    funcs = {key: _formula(key, config[key], coords)
             for key in ("start", "data", "reward") if key in config}
    mass = _density("start", funcs["start"], points, coords)
    data = _density("data", funcs["data"], points, coords) if "data" in funcs else None
    reward = _evaluate("reward", funcs["reward"], points, coords)
    formulas = {key: str(config[key]) for key in funcs}
    rule = None
    if "curators" in config:
        rule = _curators(config["curators"], reward, K, points, coords)
        K = float(rule.K)
        formulas["curators"] = repr(rule)
    return Scenario(name, description, mass, reward, K=K, lam=lam, steps=steps, data=data,
                    axes=axes, params=dict(path=os.fspath(path), **formulas), rule=rule)


def _curators(entries, reward, K, points, coords):
    """The rule of the ``[[curators]]`` entries (see the module doc)."""
    from . import curators as cur
    if not isinstance(entries, list) or not entries or not all(isinstance(e, dict)
                                                                for e in entries):
        raise ConfigError("curators: must be an array of tables ([[curators]] entries), "
                          "at least one")
    parts = []
    for i, entry in enumerate(entries):
        at = f"curators[{i}]"
        unknown = sorted(set(entry) - set(CURATOR_KEYS))
        if unknown:
            raise ConfigError(f"{at}: unknown key(s) {', '.join(map(repr, unknown))} "
                              f"(allowed: {', '.join(CURATOR_KEYS)})")
        if "rule" not in entry:
            raise ConfigError(f"{at}.rule: missing (one of {', '.join(CURATOR_RULES)})")
        kind = entry["rule"]
        if not isinstance(kind, str) or kind not in CURATOR_RULES:
            raise ConfigError(f"{at}.rule: must be one of {', '.join(CURATOR_RULES)}, "
                              f"got {kind!r}")
        takes = CURATOR_RULES[kind]
        for key in ("reward", "K", "keep", "accept"):
            if key in entry and key not in takes:
                raise ConfigError(f"{at}.{key}: not a key of rule {kind!r} (its keys: "
                                  f"weight, {', '.join(takes)})")
            if key in ("keep", "accept") and key in takes and key not in entry:
                raise ConfigError(f"{at}.{key}: missing (rule {kind!r} needs it)")
        weight = entry.get("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or \
                not (math.isfinite(weight) and weight >= 0):
            raise ConfigError(f"{at}.weight: must be a finite number >= 0, got {weight!r}")
        if kind == "filtering":
            accept = _evaluate(f"{at}.accept", _formula(f"{at}.accept", entry["accept"], coords),
                               points, coords)
            bad = (accept < 0) | (accept > 1)
            if bad.any():
                where = tuple(float(p[bad][0]) for p in points)
                raise ConfigError(f"{at}.accept: must lie in [0, 1], got {accept[bad][0]:g} at "
                                  f"{_at(coords, where)}")
            parts.append((float(weight), cur.filtering(accept)))
            continue
        r = reward
        if "reward" in entry:
            r = _evaluate(f"{at}.reward", _formula(f"{at}.reward", entry["reward"], coords),
                          points, coords)
        k = K
        if "K" in entry:
            k = _param(entry, "K", check_K, f"{at}.K")
        try:
            if kind == "bradley_terry":
                rule = cur.bradley_terry(r, k)
            else:
                keep = entry["keep"]
                if isinstance(keep, bool) or not isinstance(keep, int):
                    raise ConfigError(f"{at}.keep: must be an integer >= 1, got {keep!r}")
                if kind == "top_k" and math.isinf(k):
                    raise ConfigError(f"{at}.K: top_k needs a finite integer K, got inf")
                rule = (cur.plackett_luce if kind == "plackett_luce" else cur.top_k)(r, k, keep)
        except (TypeError, ValueError) as exc:
            if isinstance(exc, ConfigError):
                raise
            msg = str(exc).replace("math.inf", "inf")
            key = "keep" if msg.startswith("keep") else "K"
            raise ConfigError(f"{at}.{key}: {msg}") from None
        parts.append((float(weight), rule))
    if not sum(w for w, _ in parts) > 0:
        raise ConfigError("curators: the weights sum to 0")
    return parts[0][1] if len(parts) == 1 else cur.mixture(parts)
