"""The README's examples run as written: every ```python block (each in a fresh namespace)
and every ``$ selfconsume ...`` line of the ```console blocks (exit code 0, or the code
given by a trailing ``# exit N``), in a scratch directory."""

import re
import shlex
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # subprocesses and whole runs: left out of the inner loop

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```(python|console)\n(.*?)```", README, flags=re.S)
PYTHON = [code for kind, code in BLOCKS if kind == "python"]
CONSOLE = [line[2:].strip() for kind, code in BLOCKS if kind == "console"
           for line in code.splitlines() if line.startswith("$ ")]


def test_readme_has_examples():
    assert len(PYTHON) >= 6 and len(CONSOLE) >= 15
    assert any(c.startswith("selfconsume demo") for c in CONSOLE)


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    (tmp_path / "docs").symlink_to(ROOT / "docs")  # the TOML example is docs/examples/...
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    return tmp_path


@pytest.mark.parametrize("code", PYTHON, ids=[f"python-{i}" for i in range(len(PYTHON))])
def test_python_block(code, scratch):
    exec(compile(code, "README.md", "exec"), {"__name__": "__readme__"})


@pytest.mark.parametrize("line", CONSOLE, ids=[c[:60] for c in CONSOLE])
def test_console_line(line, scratch, cli_subprocess):
    expected = 0
    m = re.search(r"#\s*exit\s+(\d+)\s*$", line)
    if m:
        expected = int(m.group(1))
        line = line[:m.start()].strip()
    argv = shlex.split(line)
    assert argv[0] == "selfconsume"
    proc = cli_subprocess(*argv[1:], cwd=scratch)
    assert proc.code == expected, proc.err[-2000:]
    assert "Traceback" not in proc.err
