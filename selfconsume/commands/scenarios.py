"""``selfconsume scenarios``: the built-in scenarios, one per line (or ``--json``)."""

from __future__ import annotations



def register(subparsers):
    parser = subparsers.add_parser(
        "scenarios", help="list the built-in scenarios",
        description="List the built-in scenarios: name, default K, lam, steps, grid shape, "
                    "and a one-line description.  Use one with --scenario NAME.")
    parser.add_argument("--json", action="store_true",
                        help="one JSON array (infinite K or lam written as \"inf\")")
    parser.set_defaults(run=run)
    return parser


def _number(v):
    return int(v) if float(v).is_integer() else float(v)


def scenario_table():
    """``[{name, description, K, lam, steps, grid, parameters}, ...]`` with the defaults
    (infinite K and lam as ``math.inf``)."""
    from numerics.scenarios import get_scenario, list_scenarios, scenario_parameters
    rows = []
    for name, description in list_scenarios():
        sc = get_scenario(name)
        rows.append(dict(name=name, description=description, K=_number(sc.K),
                         lam=_number(sc.lam), steps=sc.steps, grid=list(sc.mass.shape),
                         parameters=scenario_parameters(name)))
    return rows


def run(args):
    from ..io import to_json
    rows = scenario_table()
    if args.json:
        print(to_json(rows, indent=1))
        return 0
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        grid = "x".join(map(str, r["grid"]))
        print(f"{r['name']:<{width}}  K={r['K']!s:<4} lam={r['lam']!s:<4} "
              f"steps={r['steps']:<4} grid={grid:<8} {r['description']}")
    return 0
