"""``selfconsume falsify CLAIM``: search for a counterexample to a claim (theory.falsify).

Exit codes: 0 no counterexample within the budget, 1 one was found (or the claim could not
be evaluated on a valid instance), 2 unknown claim or bad option.
"""

from __future__ import annotations

import sys


def register(subparsers):
    parser = subparsers.add_parser(
        "falsify", help="search for a counterexample to a claim about the dynamics",
        description="Random search plus shrinking for an instance (masses, rewards, K, lam, "
                    "data, step) violating CLAIM; a counterexample replays with "
                    "numerics.evolve(mass, reward, K, step, lam, data).  Exit 0: none found "
                    "within the budget; 1: found; 2: unknown claim or bad option.")
    parser.add_argument("claim", nargs="?",
                        help="claim name (see --list): a statement id such as T1 or "
                             "T7.coupling, or a conjecture's name")
    parser.add_argument("--list", action="store_true",
                        help="list the registered claims (name, kind, statement ids, text)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--budget", metavar="N", default=None,
                        help="instances to draw (default: theory.falsify.DEFAULT_BUDGET)")
    parser.add_argument("--seed", metavar="S", default="0",
                        help="seed of the search (default 0)")
    parser.add_argument("--module", action="append", default=[], metavar="FILE.py",
                        help="a Python file that registers claims with "
                             "theory.claims.register_claim (repeatable)")
    parser.set_defaults(run=run)
    return parser


def _load(path):
    import importlib.util
    import os
    from ..errors import UsageError
    if not os.path.isfile(path):
        raise UsageError(f"--module: no such file {path!r}")
    name = "selfconsume_user_claims_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise UsageError(f"--module: {path!r} failed to import: {type(exc).__name__}: {exc}")


def list_text(claims):
    """``selfconsume falsify --list``: one line per claim, name | kind | source:
    statement (a theorem's text is its statements' text in theory.STATEMENTS), and the
    scope of the search on a second line where it has one."""
    width = max(len(c.name) for c in claims)
    kind = max(len(c.kind) for c in claims)
    out = []
    for c in claims:
        out.append(f"{c.name:<{width}}  {c.kind:<{kind}}  {c.source}: {c.statement}")
        if c.scope:
            out.append(f"{'':<{width}}  {'':<{kind}}  scope: {c.scope}")
    return "\n".join(out) + "\n"


def run(args):
    from ..errors import UsageError
    from theory.claims import get_claim, list_claims
    from theory.falsify import DEFAULT_BUDGET, falsify

    from ..io import to_json
    from ..options import parse_int

    for path in args.module:
        _load(path)
    if args.list:
        claims = list_claims()
        if args.json:
            print(to_json([{"claim": c.name, "kind": c.kind, "ids": list(c.ids),
                            "source": c.source, "expected": c.expected,
                            "statement": c.statement, "scope": c.scope} for c in claims],
                          indent=1))
        else:
            sys.stdout.write(list_text(claims))
        return 0
    if args.claim is None:
        raise UsageError("CLAIM: give a claim name or --list")
    try:
        claim = get_claim(args.claim)
    except KeyError:
        raise UsageError(f"CLAIM: unknown claim {args.claim!r} (selfconsume falsify --list)")
    budget = DEFAULT_BUDGET if args.budget is None else parse_int(args.budget, "--budget", 1)
    seed = parse_int(args.seed, "--seed", 0)
    result = falsify(claim, budget=budget, seed=seed)
    if args.json:
        print(to_json(result.as_dict(), indent=1))
    else:
        _print_text(result)
    return 1 if (result.found or result.error) else 0


def _print_text(result):
    from ..io import to_json
    from ..options import parse_int
    c = result.claim
    print(f"claim     {c.name} ({c.source}; expected: {c.expected})")
    print(f"statement {c.statement}")
    if c.scope:
        print(f"scope     {c.scope}")
    if result.error:
        print(f"ERROR     evaluating the claim raised {result.error}")
        print(f"instance  {to_json(result.error_instance.as_dict())}")
        return
    if not result.found:
        print(f"no counterexample in {result.tried} instances (seed {result.seed}); "
              f"largest violation seen {result.violation:.3g} <= tolerance {c.tolerance:g}")
        return
    d = result.as_dict()["counterexample"]
    print(f"COUNTEREXAMPLE after {result.tried} instances, shrunk in {result.shrink_steps} "
          f"steps; violation {result.violation:.6g} (tolerance {c.tolerance:g})")
    for key in ("mass", "reward", "K", "lam", "data", "step"):
        print(f"  {key:<6} {to_json(d[key])}")
    if d.get("exp_reward"):
        print(f"  (reward = log of {d['exp_reward']})")
    print("replay: numerics.evolve(mass, reward, K, step, lam, data)")
