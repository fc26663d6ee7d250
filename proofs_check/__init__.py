"""Symbolic (sympy) verifications of the closed forms and bounds of THEORY.md.

    >>> from proofs_check import run_all, run
    >>> results = run_all()                     # list of Verification
    >>> run("T3.rate-limit").status
    'proved'

Each verification states what it proves and how (identity simplified to zero, inequality
reduced to a sign certificate, limit computed, or exact evaluation on enumerated cases).
Keyword arguments of :func:`run` substitute the formula under test: a wrong formula must be
reported ``failed`` by the same code.
"""

from .record import (Verification, PROVED, CHECKED, FAILED, STATUSES, REGISTRY, run,
                     run_all)
from . import curation_operator, reward_growth, rates, gaussian, stability, condensation, consistency  # noqa: F401  (importing registers)
from . import parametric  # noqa: F401  (S1, section 5)

__all__ = ["Verification", "PROVED", "CHECKED", "FAILED", "STATUSES", "REGISTRY", "run",
           "run_all"]
