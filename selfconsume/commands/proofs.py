"""``selfconsume proofs``: the sympy verifications of docs/theory.md's closed forms and bounds.

Prints the table id | statement | how | status (``--json``: the records as JSON, with the
``detail`` of each and its time), then, for each failed verification, what went wrong.
Exit code 0 if none failed, 1 otherwise, 2 for an unknown id in ``--only``.
"""

from __future__ import annotations

import sys
import textwrap

from ..options import parse_ids

WIDTHS = (52, 46, 16)   # statement, how, status (the id column fits the longest id)


def register(subparsers):
    parser = subparsers.add_parser(
        "proofs", help="sympy verifications of the closed forms and bounds (exit 1 if one fails)",
        description="Verify symbolically (sympy) the algebra docs/theory.md relies on: each line "
                    "says what was proved and how (identity simplified to zero, sign "
                    "certificate, limit computed, or exact evaluation on enumerated cases), "
                    "and compares the closed forms evaluated by theory/numerics with their "
                    "derivations.  Exit code 1 if any verification fails.")
    parser.add_argument("--json", action="store_true",
                        help="print the records as JSON (with detail and seconds)")
    parser.add_argument("--only", metavar="IDS", default=None,
                        help="comma-separated verification ids (e.g. L1=L2,T3.rate)")
    parser.add_argument("--detail", action="store_true",
                        help="print what each verification computed under its row")
    parser.set_defaults(run=run)
    return parser


def _ids(text, registry):
    return parse_ids(text, registry, "verification")


def format_table(results, detail=False):
    """The verifications as a text table with wrapped cells."""
    widths = (max([2] + [len(v.id) for v in results]),) + WIDTHS

    def row(cells):
        wrapped = [textwrap.wrap(c, w) or [""] for c, w in zip(cells, widths)]
        lines = []
        for i in range(max(map(len, wrapped))):
            parts = [(col[i] if i < len(col) else "").ljust(w) for col, w in zip(wrapped, widths)]
            lines.append(" | ".join(parts).rstrip())
        return lines

    out = row(("id", "statement", "how", "status"))
    out.append("-+-".join("-" * w for w in widths))
    for v in results:
        out += row((v.id, v.statement, v.method, v.status))
        if detail or v.status == "failed":
            out += ["    " + line for line in textwrap.wrap(v.detail, 120)]
        out.append("")
    counts = {s: sum(v.status == s for v in results)
              for s in ("proved", "checked-on-cases", "failed")}
    noun = "verification" if len(results) == 1 else "verifications"
    out.append(f"{len(results)} {noun}: {counts['proved']} proved, "
               f"{counts['checked-on-cases']} checked on cases, {counts['failed']} failed "
               f"({sum(v.seconds for v in results):.1f} s)")
    return "\n".join(out)


def run(args):
    import proofs_check

    from ..io import to_json
    ids = _ids(args.only, proofs_check.REGISTRY)
    results = proofs_check.run_all(ids)
    if args.json:
        text = to_json([v.as_dict() for v in results], indent=1)
    else:
        text = format_table(results, detail=args.detail)
    sys.stdout.write(text + "\n")
    return 1 if any(v.status == "failed" for v in results) else 0
