"""The examples of README.md and of every docs/*.md page run as written: every ```python
block (each in a fresh namespace) and every ``$ selfconsume ...`` line of the ```console
blocks (exit code 0, or the code given by a trailing ``# exit N``), in a scratch directory
(so the figures and files they write land there).  docs/theory.md is included like any page
(it has no examples today)."""

import re
import shlex
from pathlib import Path

import pytest

from selfconsume.cli import COMMANDS

pytestmark = pytest.mark.slow  # subprocesses and whole runs: left out of the inner loop

ROOT = Path(__file__).resolve().parents[1]
#: every documentation file whose examples run: the README and each page of docs/
CORPORA = ["README.md", *sorted(p.relative_to(ROOT).as_posix()
                                for p in (ROOT / "docs").glob("*.md"))]
#: the pages that state rather than show (no example expected)
NO_EXAMPLES = {"docs/theory.md", "docs/accuracy.md"}


def examples(text):
    """``(python, console)``: the ```python blocks of ``text`` and the ``$ `` lines of its
    ```console blocks (without the prompt)."""
    blocks = re.findall(r"```(python|console)\n(.*?)```", text, flags=re.S)
    python = [code for kind, code in blocks if kind == "python"]
    console = [line[2:].strip() for kind, code in blocks if kind == "console"
               for line in code.splitlines() if line.startswith("$ ")]
    return python, console


EXAMPLES = {name: examples((ROOT / name).read_text(encoding="utf-8")) for name in CORPORA}
PYTHON = [(name, i, code) for name, (python, _) in EXAMPLES.items()
          for i, code in enumerate(python)]
CONSOLE = [(name, line) for name, (_, console) in EXAMPLES.items() for line in console]


def test_readme_has_examples():
    python, console = EXAMPLES["README.md"]
    assert len(python) >= 1 and len(console) >= 2
    assert any(c.startswith("selfconsume demo") for c in console)


def test_docs_have_examples():
    """Each page of docs/ but the statement pages shows at least one example, and together
    they hold at least as many as the README held before the pages took them over (13 Python
    blocks, 34 command lines)."""
    pages = [n for n in CORPORA if n.startswith("docs/")]
    assert {"docs/api.md", "docs/check.md", "docs/scenarios.md"} <= set(pages)
    empty = [n for n in pages if n not in NO_EXAMPLES and not any(EXAMPLES[n])]
    assert empty == []
    assert sum(len(EXAMPLES[n][0]) for n in pages) >= 13
    assert sum(len(EXAMPLES[n][1]) for n in pages) >= 34


def test_every_command_has_an_example():
    """Every ``selfconsume`` subcommand is run by at least one example line."""
    run = {shlex.split(line)[1] for _, line in CONSOLE}
    assert set(COMMANDS) - run == set()


def test_relative_links_resolve():
    """Every relative link (and image) of the README and docs/ names a file that exists."""
    broken = []
    for name in CORPORA:
        path = ROOT / name
        for target in re.findall(r"\]\(([^)\s]+)\)", path.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            if not (path.parent / target.split("#")[0]).exists():
                broken.append(f"{name}: {target}")
    assert broken == []


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    (tmp_path / "docs").symlink_to(ROOT / "docs")  # the TOML example is docs/examples/...
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    return tmp_path


@pytest.mark.parametrize("name, code", [(n, c) for n, _, c in PYTHON],
                         ids=[f"{n}-python-{i}" for n, i, _ in PYTHON])
def test_python_block(name, code, scratch):
    exec(compile(code, name, "exec"), {"__name__": "__readme__"})


@pytest.mark.parametrize("name, line", CONSOLE, ids=[f"{n}-{c[:60]}" for n, c in CONSOLE])
def test_console_line(name, line, scratch, cli_subprocess):
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
