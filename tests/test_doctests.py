"""The examples in the docstrings run as written: every doctest of every module of the
packages (``numerics``, ``theory``, ``proofs_check``, ``figures``, ``selfconsume``), one test
per docstring, so that ``python -m pytest -q tests`` (what ``.ci/run`` runs) runs them too.

Equivalent to ``python -m pytest --doctest-modules numerics theory proofs_check figures
selfconsume`` (same globals: the module's; same option flags: pytest's default ``ELLIPSIS``),
without needing a second command in CI.  ``__main__`` modules are skipped: importing one runs
the program.  Every module must import without side effects; a docstring example that changes
global state (a registry) must restore it.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import re
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("numerics", "theory", "proofs_check", "figures", "selfconsume")
FLAGS = doctest.ELLIPSIS


def module_names(packages=PACKAGES):
    """Every importable module of ``packages`` (the packages themselves included), without
    ``__main__`` modules, found from the file system (``pkgutil.walk_packages``)."""
    names = []
    for pkg in packages:
        mod = importlib.import_module(pkg)
        names.append(pkg)
        names += [info.name for info in pkgutil.walk_packages(mod.__path__, pkg + ".")
                  if info.name.rsplit(".", 1)[-1] != "__main__"]
    return names


def find_doctests(module):
    """The non-empty doctests of ``module`` (its own objects only, as pytest collects them)."""
    finder = doctest.DocTestFinder(exclude_empty=True)
    return [t for t in finder.find(module, module.__name__) if t.examples]


def run_doctest(test):
    """Run one :class:`doctest.DocTest`; returns ``(failures, report)`` with the runner's
    report of every failing example."""
    lines = []
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    # each test gets a copy of the globals, as doctest.testmod does: nothing leaks between them
    test.globs = dict(test.globs)
    try:
        result = runner.run(test, out=lines.append, clear_globs=True)
    finally:
        test.globs.clear()
    return result.failed, "".join(lines)


#: examples that take seconds (every sympy verification; a hypothesis search): ``slow``
SLOW = {"proofs_check", "numerics.testing.grids"}


def _collect():
    cases = []
    for name in module_names():
        for test in find_doctests(importlib.import_module(name)):
            marks = [pytest.mark.slow] if test.name in SLOW else []
            cases.append(pytest.param(name, test.name, id=test.name, marks=marks))
    return cases


CASES = _collect()


@pytest.mark.parametrize("module_name, test_name", CASES)
def test_docstring_examples(module_name, test_name):
    module = importlib.import_module(module_name)
    (test,) = [t for t in find_doctests(module) if t.name == test_name]
    failed, report = run_doctest(test)
    assert failed == 0, report


def test_every_file_with_examples_is_collected():
    """Independent route: every source file of the packages containing ``>>>`` at the start
    of a line contributes at least one collected doctest (nothing silently skipped)."""
    with_examples = set()
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            if path.name == "__main__.py":
                continue
            if re.search(r"^\s*>>> ", path.read_text(encoding="utf-8"), flags=re.M):
                rel = path.relative_to(ROOT).with_suffix("")
                parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
                with_examples.add(".".join(parts))
    collected = {m for m, _ in (c.values for c in CASES)}
    assert with_examples, "no docstring examples found at all"
    assert with_examples <= collected, sorted(with_examples - collected)


def test_runner_reports_a_wrong_example():
    """The runner above can fail: a module whose example prints a wrong number, and one whose
    example raises, are reported; a right one passes."""
    mod = types.ModuleType("fake_doc_module")
    exec(compile('def f():\n'
                 '    """\n'
                 '    >>> 1 + 1\n'
                 '    3\n'
                 '    """\n'
                 'def g():\n'
                 '    """\n'
                 '    >>> 1 // 0\n'
                 '    0\n'
                 '    """\n'
                 'def h():\n'
                 '    """\n'
                 '    >>> [round(x, 3) for x in (0.12345, 2.0)]\n'
                 '    [0.123, 2.0]\n'
                 '    >>> list(range(30))\n'
                 '    [0, 1, ..., 29]\n'
                 '    """\n', "fake_doc_module", "exec"), mod.__dict__)
    tests = {t.name.rsplit(".", 1)[-1]: t for t in find_doctests(mod)}
    assert set(tests) == {"f", "g", "h"}
    failed, report = run_doctest(tests["f"])
    assert failed == 1 and "Expected:\n    3\nGot:\n    2" in report
    failed, report = run_doctest(tests["g"])
    assert failed == 1 and "ZeroDivisionError" in report
    assert run_doctest(tests["h"]) == (0, "")
