"""Shared test infrastructure: the hypothesis profile (``tests/_profiles.py``), the command
line runners (in process: ``cli``; in a subprocess: ``cli_subprocess``) and the ``slow``
marker.  Independent reference computations live in ``tests/_references.py``.

Tiers: ``pytest -m "not slow"`` is the inner loop (about a minute); ``pytest`` runs all.
A test that starts the command line in a subprocess is marked ``slow`` automatically.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from _profiles import load_profile

load_profile()

ROOT = Path(__file__).resolve().parents[1]


@dataclasses.dataclass
class CliResult:
    """What a command-line run left: its exit code, stdout and stderr."""
    code: int
    out: str
    err: str

    def __iter__(self):  # code, out, err = cli(...)
        return iter((self.code, self.out, self.err))


@pytest.fixture
def cli(capsys):
    """``cli(*argv) -> CliResult``: ``selfconsume *argv`` in this process
    (``selfconsume.cli.main``), with its captured output; argparse's own usage errors
    (``SystemExit``) give their exit code like the others."""
    from selfconsume.cli import main

    def run(*argv):
        capsys.readouterr()  # drop what came before
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:
            code = exc.code
        out, err = capsys.readouterr()
        return CliResult(code, out, err)
    return run


@pytest.fixture
def cli_subprocess():
    """``cli_subprocess(*argv, cwd=None, timeout=600) -> CliResult``: ``python -m
    selfconsume *argv`` in a fresh interpreter importing this checkout (exit codes and
    stderr exactly as a user sees them)."""
    def run(*argv, cwd=None, timeout=600):
        env = dict(os.environ,
                   PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
        proc = subprocess.run([sys.executable, "-m", "selfconsume", *map(str, argv)], cwd=cwd,
                              env=env, capture_output=True, text=True, timeout=timeout)
        return CliResult(proc.returncode, proc.stdout, proc.stderr)
    return run


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "cli_subprocess" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
