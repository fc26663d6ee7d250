"""``selfconsume check``: run a scenario and hold it against docs/theory.md (P1-P6, T1-T9).

Prints the table id | statement | applicable | predicted | measured | slack | tolerance |
holds (or, with ``--json``, the same records as JSON on stdout).  Exit code 0 if every
applicable check holds, 1 otherwise.  Ctrl-C during the run checks the completed steps,
prints that report and exits with 130.
"""

from __future__ import annotations

import sys

from ..options import add_scenario_options, parse_ids, scenario_from_args


def register(subparsers):
    parser = subparsers.add_parser(
        "check", help="theorem table: hold a run against docs/theory.md (exit 1 if a check fails)",
        description="Evolve the scenario (every step recorded), solve its limit where a "
                    "statement needs it, and check every statement of docs/theory.md sections 2-4 "
                    "whose hypotheses the run meets.  Exit code 0 if all applicable checks "
                    "hold, 1 if one fails.")
    add_scenario_options(parser)
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true",
                     help="print the records as JSON (all fields) instead of the table")
    fmt.add_argument("--csv", action="store_true",
                     help="print the records as CSV, one row per statement, with the run's "
                          "parameters as columns")
    parser.add_argument("--only", metavar="IDS", default=None,
                        help="comma-separated statement ids to check (e.g. T1,T2,P6)")
    parser.add_argument("--wide", action="store_true",
                        help="print every statement in full (the table cuts them at 48 "
                             "characters)")
    parser.add_argument("--list", action="store_true",
                        help="list the statements (id, statement, hypotheses, what is "
                             "measured, tolerance and why) and exit without running")
    parser.set_defaults(run=run)
    return parser


def _ids(text):
    if text is None:
        return None
    from theory import STATEMENTS
    return parse_ids(text, STATEMENTS, "statement")


def list_statements():
    """The registry as text: one block per statement, with the ``selfconsume falsify``
    claims that search for a counterexample to it."""
    from theory import STATEMENTS
    from theory.claims import claims_for
    out = []
    for s in STATEMENTS.values():
        out += [f"{s.id}: {s.statement}", f"    hypotheses: {s.hypotheses}",
                f"    measured:   {s.measured}", f"    tolerance:  {s.tolerance}"]
        claims = claims_for(s.id)
        if claims:
            out.append(f"    falsify:    {', '.join(c.name for c in claims)}")
    return "\n".join(out) + "\n"


def run(args):
    if args.list:
        sys.stdout.write(list_statements())
        return 0
    sc = scenario_from_args(args)
    ids = _ids(args.only)
    import theory
    from numerics import EvolutionInterrupted
    from theory.checking import scenario_parameters

    from ..io import Progress
    code = None
    try:
        report = theory.check(sc, ids=ids, progress=Progress(f"check {sc.name}"))
    except EvolutionInterrupted as exc:
        traj = exc.trajectory
        sys.stderr.write(f"selfconsume check: interrupted after step {traj.steps}; checking the "
                         f"completed steps\n")
        if sc.rule is not None:
            from theory.checking import check_rule_trajectory
            report = check_rule_trajectory(traj, sc, ids=ids,
                                           title=f"{sc.name}: interrupted after {traj.steps} "
                                                 f"of {sc.steps} steps")
        else:
            report = theory.check_trajectory(
                traj, sc.reward, sc.data, continuous=sc.continuous, axes=sc.axes, ids=ids,
                title=f"{sc.name}: interrupted after {traj.steps} of {sc.steps} steps",
                parameters=scenario_parameters(sc, traj.steps))
        code = 130
    if args.csv:
        sys.stdout.write(report.to_csv())
    else:
        sys.stdout.write((report.to_json() if args.json
                          else report.to_table(width=None if args.wide else 48)) + "\n")
    if code is not None:
        return code
    return 0 if report.all_hold else 1
