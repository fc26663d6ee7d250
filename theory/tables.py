"""The table of statements of docs/check.md, generated from :data:`theory.STATEMENTS` (so it
cannot drift from the registry: ``tests/test_theory_tables.py`` asserts that docs/check.md
contains exactly this text).

``python -m theory.tables`` prints the table; paste it over the one in docs/check.md.
"""

from __future__ import annotations

from .statements import STATEMENTS

__all__ = ["statements_table"]

HEADER = ("| id | statement | applies when | measured | tolerance |\n"
          "|---|---|---|---|---|\n")


def _code(text):
    """A Markdown code span in a table cell (``|`` escaped: GFM splits cells first)."""
    return "`" + text.replace("|", "\\|") + "`"


def _prose(text):
    """Plain text in a table cell: ``|`` and ``*`` escaped (``r_*`` is not emphasis)."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*")


def statements_table(statements=None):
    """One Markdown row per statement (registry order): id, statement, hypotheses, what is
    measured, tolerance and why."""
    statements = STATEMENTS if statements is None else statements
    rows = [f"| {_code(s.id)} | {_code(s.statement)} | {_prose(s.hypotheses)} | "
            f"{_prose(s.measured)} | {_prose(s.tolerance)} |\n" for s in statements.values()]
    return HEADER + "".join(rows)


if __name__ == "__main__":
    import sys
    sys.stdout.write(statements_table())
