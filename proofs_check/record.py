"""The record of one symbolic verification, and the registry that runs them.

A verification is a function registered with :func:`verification` under an id (``"T3.rate"``)
with the statement it checks and how.  It returns ``(status, detail)`` through
:func:`proved`, :func:`checked_on_cases` or :func:`failed`.  Its keyword arguments are the
formulas under test (defaults: the formulas THEORY.md states), so that
``run("T3.rate", rho=wrong_formula)`` runs the same machinery on a substituted formula and
must report ``failed``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, asdict
from typing import Callable

__all__ = ["Verification", "PROVED", "CHECKED", "FAILED", "STATUSES", "REGISTRY",
           "verification", "proved", "checked_on_cases", "failed", "run", "run_all"]

PROVED = "proved"
CHECKED = "checked-on-cases"
FAILED = "failed"
STATUSES = (PROVED, CHECKED, FAILED)


@dataclass(frozen=True)
class Verification:
    """One verification: ``id`` (THEORY.md id + suffix), ``statement`` (what is claimed),
    ``method`` (how it is verified), ``status`` (proved / checked-on-cases / failed),
    ``detail`` (what was computed), ``seconds`` (wall time)."""

    id: str
    statement: str
    method: str
    status: str
    detail: str
    seconds: float = 0.0

    def as_dict(self):
        return asdict(self)


@dataclass(frozen=True)
class _Entry:
    id: str
    statement: str
    method: str
    func: Callable


REGISTRY: dict[str, _Entry] = {}


def verification(id, statement, method):
    """Register ``func(**formulas) -> (status, detail)`` under ``id``."""
    def decorate(func):
        if id in REGISTRY:
            raise ValueError(f"id {id!r} is already registered")
        REGISTRY[id] = _Entry(id, statement, method, func)
        return func
    return decorate


def proved(detail):
    return PROVED, detail


def checked_on_cases(detail):
    return CHECKED, detail


def failed(detail):
    return FAILED, detail


def run(id, **formulas):
    """Run the verification ``id``; keyword arguments replace the formulas it tests.

    An exception inside the verification is reported as ``failed`` with its message: a
    verification never passes by crashing.

    Raises
    ------
    ValueError
        ``id`` not a registered verification (the message lists them).
    TypeError
        ``id`` not hashable.  A keyword that the verification does not take, or a formula
        that fails to evaluate, is reported as ``failed``, not raised.

    See Also
    --------
    run_all : every verification, or some of them.
    verification : register one.
    theory.formulas : the closed forms the ``F.*`` ids verify.

    References
    ----------
    Meurer et al. (2017), *SymPy: symbolic computing in Python*, PeerJ Computer Science 3,
    e103 (the symbolic engine of the verifications).

    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    Lemma 2.1 (L1), Lemma 2.2 (T1), Theorem 2.1 (T3): the statements verified.

    docs/theory.md Appendix A (the verification ids).
    """
    try:
        entry = REGISTRY[id]
    except KeyError:
        raise ValueError(f"id must be one of {sorted(REGISTRY)}, got {id!r}") from None
    start = time.perf_counter()
    try:
        status, detail = entry.func(**formulas)
    except Exception as exc:  # reported, not raised: a broken proof is a failed proof
        status, detail = FAILED, f"raised {type(exc).__name__}: {exc}"
    if status not in STATUSES:
        status, detail = FAILED, f"verification returned unknown status {status!r}"
    return Verification(entry.id, entry.statement, entry.method, status, detail,
                        time.perf_counter() - start)


def run_all(ids=None):
    """Run every registered verification (or those in ``ids``), in registration order.

    Raises
    ------
    ValueError
        an id of ``ids`` that is not a registered verification.
    TypeError
        ``ids`` not an iterable of ids.

    See Also
    --------
    run : one verification, with formulas substituted.
    Verification : the record each returns.

    References
    ----------
    Meurer et al. (2017), *SymPy: symbolic computing in Python*, PeerJ Computer Science 3,
    e103 (the symbolic engine of the verifications).

    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    Lemma 2.1 (L1), Lemma 2.2 (T1), Theorem 2.1 (T3): the statements verified.

    docs/theory.md Appendix A (the verification ids).
    """
    chosen = list(REGISTRY) if ids is None else list(ids)
    return [run(i) for i in chosen]
