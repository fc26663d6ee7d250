"""The table of statements of docs/check.md is generated from theory.STATEMENTS (``python -m
theory.tables``): the page must contain exactly the generated text, so the table cannot
drift from the registry."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import theory
from theory.tables import statements_table

ROOT = Path(__file__).resolve().parents[1]
PAGE = (ROOT / "docs" / "check.md").read_text(encoding="utf-8")


def _cells(row):
    """The cells of a Markdown table row, split at unescaped ``|``."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", row.strip())[1:-1]]


def test_table_has_one_row_per_statement_with_five_cells():
    rows = statements_table().splitlines()[2:]
    assert len(rows) == len(theory.STATEMENTS)
    for sid, row in zip(theory.statement_ids(), rows):
        cells = _cells(row)
        assert len(cells) == 5 and cells[0] == f"`{sid}`", row
        s = theory.STATEMENTS[sid]
        assert cells[1] == "`" + s.statement.replace("|", "\\|") + "`"
    # a statement with '||' (KL) stays one cell
    kl = _cells(rows[theory.statement_ids().index("T3.kl")])
    assert kl[1] == "`KL(p_* \\|\\| p_t) = -log p_t(r = r_*) is non-increasing (and -> 0)`"


def test_page_contains_the_generated_table():
    assert statements_table() in PAGE


def test_a_changed_registry_is_caught():
    changed = dict(theory.STATEMENTS)
    changed["T5"] = replace(changed["T5"], tolerance="1e-9 relative")
    assert statements_table(changed) not in PAGE
    del changed["T5.kl"]
    assert statements_table(changed) not in PAGE


def test_module_prints_the_table():
    out = subprocess.run([sys.executable, "-m", "theory.tables"], capture_output=True,
                         text=True, check=True, cwd=ROOT).stdout
    assert out == statements_table()
