"""Universally quantified statements about the curation dynamics, as data (THEORY.md).

A :class:`Claim` says "for every instance of this space, this holds" and carries a
predicate ``violation(instance) -> float``: the signed margin by which the statement fails on
that instance (``> 0`` = fails, in the units the claim states).  :func:`theory.falsify.falsify`
searches the claim's :class:`InstanceSpace` for an instance whose violation exceeds the
claim's ``tolerance`` (the float64 rounding allowance of the engine, stated per claim; 0 for
a user claim unless given).

An :class:`Instance` is one point of the dynamics' input space: start masses ``mass`` of
``p_0``, ``reward``, ``K``, ``lam``, real-data masses ``data`` and a horizon ``step``; every
instance can be replayed with ``numerics.evolve(mass, reward, K, step, lam, data)``.  For the
two-law statements (T7) ``data`` is also the second start ``q_0``.

This module gathers the parts, one idea each, and registers the built-in claims:

- :mod:`theory.instances`: :class:`Instance`, :class:`InstanceSpace` and its generator;
- :mod:`theory.claim_registry`: :class:`Claim`, the registry and its functions;
- the built-in predicates: :mod:`theory.claim_statements` (P1-P6, T1, T2 on a finite
  horizon, T5, T6, T7), :mod:`theory.claim_bounds` (P3.strict, T3.kl, T6.increment with
  T6.sharp, T10, T7.uniform), :mod:`theory.claim_conjectures` (conjectures the search decides and claims
  shown false) and :mod:`theory.claim_two_types` (T11, T12 and their finite-K versions).

The statements must survive every search.  Register your own with :func:`register_claim`:

>>> import numpy as np
>>> from theory.claims import register_claim, InstanceSpace, get_claim
>>> @register_claim("doc-top-atom-gains", "curation never lowers the top atom's mass",
...                 space=InstanceSpace(lam="inf", steps=(1, 1)), tolerance=1e-12)
... def top_atom_gains(inst):
...     p0, p1 = inst.masses()
...     top = inst.reward == inst.reward[p0 > 0].max()
...     return float(p0[top].sum() - p1[top].sum())
>>> get_claim("doc-top-atom-gains").expected
'holds'
>>> from theory.claims import unregister_claim
>>> unregister_claim("doc-top-atom-gains")    # leave the registry as it was
"""

from __future__ import annotations

from .claim_registry import (ALIASES, KINDS, Claim, claims_for, get_claim, list_claims,
                             register_claim, register_theorem, statement_text,
                             unregister_claim)
from .instances import Instance, InstanceSpace
# the built-in claims register themselves on import, in this order (``list_claims``)
from . import claim_statements, claim_bounds, claim_conjectures, claim_two_types  # noqa: E402,F401
from .claim_statements import P5_SHIFTS  # noqa: F401
from .claim_two_types import WEIGHT_GRID  # noqa: F401

__all__ = ["Instance", "InstanceSpace", "Claim", "KINDS", "ALIASES", "register_claim",
           "get_claim", "list_claims", "claims_for", "statement_text", "unregister_claim",
           "register_theorem"]
