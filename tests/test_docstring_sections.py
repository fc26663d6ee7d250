"""The public functions of the API modules (every function in their ``__all__``) carry the
numpydoc sections ``Raises``, ``See Also`` and ``References``; every exception a ``Raises``
section names is an exception class that exists, and every ``References`` section cites the
paper, a follow-up, docs/theory.md or the library a module is built on (Hypothesis, SymPy).
A name a module re-exports from another is checked once, under the module that defines it.
The helpers are tested on a function that misses a section, so the coverage test can
fail."""

from __future__ import annotations

import builtins
import importlib
import inspect
import re

import pytest

#: the modules whose ``__all__`` functions are covered, re-exports included (numerics.engine,
#: panels, chebyshev, gauss_rules, laplace and threads are documented by their own owners)
MODULES = ("numerics.curation", "numerics.evolution", "numerics.limits.solve",
           "numerics.curators", "numerics.coupled", "numerics.sweep",
           "numerics.parametric.stability", "numerics.parametric.simulation_check",
           "theory.falsify", "figures.gallery", "figures.saving", "figures.sweep_phase",
           "figures.heatmaps", "figures.curves", "figures.phase", "figures.stability_plot",
           "figures.curator_plots", "numerics.sampling", "theory", "numerics.scenarios",
           "numerics.curator_limits", "numerics.testing", "proofs_check")
SECTIONS = ("Raises", "See Also", "References")
#: where the names in a ``Raises`` section are looked up beside builtins and the function's
#: own globals
EXCEPTION_HOMES = ("numerics.validation", "numerics.parametric.families", "numerics.evolution",
                   "numpy.linalg", "hypothesis.errors")
#: what a References section must cite (at least one)
SOURCES = ("Ferbach", "Kingman", "Zhao", "Falahati", "Wei", "Zhang", "Bertrand",
           "docs/theory.md", "docs/", "MacIver", "Hypothesis", "Meurer", "SymPy")


def sections(doc):
    """``{name: body}`` of the numpydoc sections of ``doc`` (a header line underlined by
    dashes of the same length)."""
    lines = inspect.cleandoc(doc or "").splitlines()
    out, name = {}, None
    for i, line in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if line.strip() and re.fullmatch(r"-{3,}", nxt.strip()) and len(nxt.strip()) == len(
                line.strip()):
            name = line.strip()
            out[name] = []
            continue
        if name is not None and not re.fullmatch(r"-{3,}", line.strip()):
            out[name].append(line)
    return {k: "\n".join(v).strip() for k, v in out.items()}


def raised_names(body):
    """The exception names of a ``Raises`` body: its unindented lines, split at commas."""
    names = []
    for line in body.splitlines():
        if line.strip() and not line.startswith(" "):
            names += [n.strip() for n in line.split(",") if n.strip()]
    return names


def resolve_exception(name, func):
    """The exception class ``name`` means in ``func``'s docstring, or None."""
    if name == "None":             # "raises nothing of its own"
        return type(None)
    for space in (vars(builtins), func.__globals__,
                  *(vars(importlib.import_module(m)) for m in EXCEPTION_HOMES)):
        obj = space.get(name)
        if inspect.isclass(obj) and issubclass(obj, BaseException):
            return obj
    return None


def problems(func):
    """What is missing or wrong in ``func``'s docstring sections (empty when all is well)."""
    found = sections(func.__doc__)
    out = [f"no {s} section" for s in SECTIONS if not found.get(s)]
    for name in raised_names(found.get("Raises", "")):
        if resolve_exception(name, func) is None:
            out.append(f"Raises names {name!r}, not an exception class")
    refs = found.get("References", "")
    if refs and not any(s in refs for s in SOURCES):
        out.append("References cites neither the paper, a follow-up nor docs/")
    return out


def public_functions():
    """``(qualified name, function)`` of every function in the ``__all__`` of ``MODULES``; a
    re-exported function is named after the module that defines it (``numerics.sampling``'s
    ``fit_kde`` is ``numerics.sampling_models.fit_kde``), so it is checked once."""
    for modname in MODULES:
        mod = importlib.import_module(modname)
        for name in mod.__all__:
            obj = getattr(mod, name)
            if inspect.isfunction(obj):
                home = modname if obj.__module__ == modname else obj.__module__
                yield f"{home}.{name if home == modname else obj.__name__}", obj


FUNCTIONS = dict(public_functions())


def test_the_covered_modules_have_public_functions():
    assert len(FUNCTIONS) >= 83
    assert {"numerics.curation.curation_factor", "numerics.evolution.evolve",
            "numerics.limits.solve.limit", "theory.falsify.falsify"} <= set(FUNCTIONS)


def test_re_exports_are_checked_where_they_are_defined():
    assert {"numerics.sampling.simulate", "numerics.sampling_crosscheck.compare_with_exact",
            "numerics.sampling_models.fit_kde", "numerics.sampling_selection.rule_at",
            "theory.checking.check", "theory.statements.statement_ids",
            "numerics.testing.masses", "proofs_check.record.run",
            "proofs_check.record.run_all"} <= set(FUNCTIONS)
    assert "numerics.sampling.fit_kde" not in FUNCTIONS


@pytest.mark.parametrize("qualname", sorted(FUNCTIONS))
def test_public_function_has_raises_see_also_references(qualname):
    assert problems(FUNCTIONS[qualname]) == []


def test_the_checker_finds_a_missing_section_and_a_wrong_name():
    def incomplete():
        """Something.

        Raises
        ------
        ValueError, NoSuchError
            when it fails.

        See Also
        --------
        other : another.
        """

    def complete():
        """Something.

        Raises
        ------
        ValidationError
            when it fails.

        See Also
        --------
        other : another.

        References
        ----------
        docs/theory.md L1.
        """

    assert problems(incomplete) == ["no References section",
                                    "Raises names 'NoSuchError', not an exception class"]
    assert problems(complete) == []
    assert raised_names("ValueError, TypeError\n    why.\nKeyError\n    why.") == [
        "ValueError", "TypeError", "KeyError"]
