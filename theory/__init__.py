"""``theory``: the statements of THEORY.md (P1-P6, T1-T9) as code, and the checks that hold
a run of the retraining loop against them.

>>> import theory
>>> from numerics.scenarios import get_scenario
>>> report = theory.check(get_scenario("gauss1d", K=3, steps=5))
>>> report.all_hold
True
>>> report["T1"].holds
True

``report.to_table()`` prints id | statement | applicable | predicted | measured | slack |
tolerance | holds; ``report.to_json()`` gives every field.  The closed forms are in
:mod:`theory.formulas`, the statements (hypotheses, what is measured, the tolerance and why)
in :mod:`theory.statements`.
"""

from . import formulas
from .checking import check, check_trajectory, run_checks
from .report import CheckResult, Report
from .statements import STATEMENTS, Statement, statement_ids
from . import sweep_measures  # noqa: F401  (registers the sweep measures contraction, check)

__all__ = ["check", "check_trajectory", "run_checks", "CheckResult", "Report", "STATEMENTS",
           "Statement", "statement_ids", "formulas"]
