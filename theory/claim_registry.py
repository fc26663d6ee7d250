"""The registry of falsification claims (:mod:`theory.claims`): what a :class:`Claim` is, and
registering, looking up and listing them.

A :class:`Claim` says "for every instance of this space, this holds" and carries a
predicate ``violation(instance) -> float``: the signed margin by which the statement fails on
that instance (``> 0`` = fails, in the units the claim states).  A claim of kind
``"theorem"`` names the statements of :data:`theory.STATEMENTS` it checks and takes their
text (one source of truth); the built-in claims register themselves when
:mod:`theory.claims` is imported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from .instances import Instance, InstanceSpace
from .statements import STATEMENTS

__all__ = ["Claim", "KINDS", "ALIASES", "register_claim", "unregister_claim", "get_claim",
           "list_claims", "claims_for", "statement_text", "register_theorem"]


@dataclass(frozen=True)
class Claim:
    """A universally quantified statement and the predicate that measures its failure.

    Attributes
    ----------
    name : str
        registry key (``selfconsume falsify NAME``).
    statement : str
        the statement, in words and formulas.
    source : str
        the THEORY.md id, ``"false claim"`` or ``"conjecture"`` (with a note), ``"user"``.
    expected : {"holds", "false"}
        what THEORY.md (or the registrant) expects.
    violation : callable ``Instance -> float``
        signed margin of failure on one instance (``> 0`` = the statement fails there).
    space : InstanceSpace
        the instances the statement quantifies over.
    tolerance : float
        a violation counts only above this (float64 rounding of the engine; see each
        built-in claim's ``note`` for why this value).
    note : str
        units of the violation, why the tolerance, what the search found.
    kind : {"theorem", "conjecture", "false"}
        ``"theorem"``: the claim is one or more statements of :data:`theory.STATEMENTS`
        (``ids``), and its ``statement`` is their text; ``"conjecture"``: expected to hold,
        not proved; ``"false"``: expected to fail.  Derived from ``expected`` and ``ids``
        when not given.
    ids : tuple of str
        the statement ids (:data:`theory.STATEMENTS`) a theorem claim checks; empty
        otherwise.
    scope : str
        the instances the search draws, where narrower than the statements' hypotheses
        (e.g. integer ``K``; ``q = data``).
    """

    name: str
    statement: str
    source: str
    expected: str
    violation: Callable[[Instance], float]
    space: InstanceSpace
    tolerance: float = 0.0
    note: str = ""
    kind: str = ""
    ids: tuple = ()
    scope: str = ""

    def __post_init__(self):
        if self.expected not in ("holds", "false"):
            raise ValueError(f"expected must be 'holds' or 'false', got {self.expected!r}")
        object.__setattr__(self, "ids", tuple(self.ids))
        if not self.kind:
            object.__setattr__(self, "kind", "false" if self.expected == "false"
                               else "theorem" if self.ids else "conjecture")
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if (self.kind == "false") != (self.expected == "false"):
            raise ValueError(f"kind {self.kind!r} does not match expected {self.expected!r}")
        if (self.kind == "theorem") != bool(self.ids):
            raise ValueError("a theorem claim names its statement ids (ids=...), and only a "
                             "theorem claim does")
        unknown = [i for i in self.ids if i not in STATEMENTS]
        if unknown:
            raise ValueError(f"unknown statement ids {unknown} (theory.STATEMENTS)")
        if not (self.tolerance >= 0 and math.isfinite(self.tolerance)):
            raise ValueError(f"tolerance must be a finite number >= 0, got {self.tolerance!r}")
        if not callable(self.violation):
            raise TypeError("violation must be callable: Instance -> float")
        if not isinstance(self.space, InstanceSpace):
            raise TypeError("space must be an InstanceSpace")

    def violated(self, inst: Instance) -> bool:
        return self.violation(inst) > self.tolerance


#: what a claim is: a statement of docs/theory.md, an open conjecture, or a claim shown false
KINDS = ("theorem", "conjecture", "false")

_REGISTRY: dict[str, Claim] = {}

#: old claim names, still accepted by :func:`get_claim` (and ``selfconsume falsify NAME``)
ALIASES = {"T7-coupling": "T7.coupling"}


def statement_text(ids):
    """The text of the statements ``ids`` as :data:`theory.STATEMENTS` holds it: one id's
    statement, or ``"ID: statement; ID: statement"`` for several parts."""
    if len(ids) == 1:
        return STATEMENTS[ids[0]].statement
    return "; ".join(f"{i}: {STATEMENTS[i].statement}" for i in ids)


def register_claim(name, statement, violation=None, *, space=None, source="user",
                   expected="holds", tolerance=0.0, note="", replace_existing=False,
                   kind="", ids=(), scope=""):
    """Register a claim; use directly or as a decorator of its ``violation`` function.

    ``space`` defaults to ``InstanceSpace()`` (curated data only, one step, 2-6 atoms).
    A claim of ``kind="theorem"`` names the statements it checks (``ids``) and passes
    ``statement=None``: its text is theirs (:func:`statement_text`).
    Returns the :class:`Claim` (or, as a decorator, the decorated function unchanged)."""
    if not isinstance(name, str) or not name or any(c.isspace() for c in name):
        raise ValueError(f"name must be a non-empty string without spaces, got {name!r}")
    if name in ALIASES:
        raise ValueError(f"name {name!r} is an alias of {ALIASES[name]!r}")
    if statement is None:
        if not ids:
            raise ValueError("statement=None needs the statement ids (ids=...)")
        missing = [i for i in ids if i not in STATEMENTS]
        if missing:
            raise ValueError(f"unknown statement ids {missing} (theory.STATEMENTS)")
        statement = statement_text(tuple(ids))

    def add(fn):
        if name in _REGISTRY and not replace_existing:
            raise ValueError(f"name {name!r} is already registered (replace_existing=True "
                             "to replace it)")
        claim = Claim(name, statement, source, expected, fn,
                      space if space is not None else InstanceSpace(), tolerance, note,
                      kind, tuple(ids), scope)
        _REGISTRY[name] = claim
        return claim

    if violation is not None:
        return add(violation)

    def decorator(fn):
        add(fn)
        return fn

    return decorator


def unregister_claim(name):
    """Remove a claim (raises ``KeyError`` naming it if unknown)."""
    if name not in _REGISTRY:
        raise KeyError(f"unknown claim {name!r}")
    del _REGISTRY[name]


def get_claim(name) -> Claim:
    """The registered claim ``name`` (or an old name of it, :data:`ALIASES`); ``KeyError``
    with the known names if absent."""
    try:
        return _REGISTRY[ALIASES.get(name, name)]
    except KeyError:
        raise KeyError(f"unknown claim {name!r}; known: {', '.join(_REGISTRY)}") from None


def list_claims() -> list[Claim]:
    """All registered claims, built-ins first, in registration order."""
    return list(_REGISTRY.values())


def claims_for(stmt_id) -> list[Claim]:
    """The registered claims that check the statement ``stmt_id`` (its falsification
    predicates), in registration order."""
    return [c for c in _REGISTRY.values() if stmt_id in c.ids]


def register_theorem(ids, violation, space, tolerance, note, scope=""):
    """Register the statements ``ids`` of :data:`theory.STATEMENTS` as one claim of kind
    ``"theorem"``, named by the first id, its text theirs (:func:`statement_text`), source
    ``"THEORY.md ID"``; ``scope`` says which instances it draws."""
    return register_claim(ids[0], None, violation, space=space, source="THEORY.md " + ids[0],
                          expected="holds", tolerance=tolerance, note=note, kind="theorem",
                          ids=ids, scope=scope)
