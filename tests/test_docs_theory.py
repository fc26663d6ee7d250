"""docs/theory.md, the repository's own statement of the theory, defines every id that the
code, the check tables, the proofs and the README use.

An id is *defined* when it opens a Markdown heading (``### T5 (stays near ...)``) or is
written in bold, alone or followed by a space, colon or parenthesis (``**T5.kl**: ...``,
``**T1 (paper, ...)**``).  The helpers are tested on documents that miss an id, so the
coverage tests can fail.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "theory.md"

#: the ids the theory itself introduces (L1-L6, P1-P6, P3.strict, T1-T14, S1-S3)
THEORY_IDS = ([f"L{i}" for i in range(1, 7)] + [f"P{i}" for i in range(1, 7)] + ["P3.strict"]
              + [f"T{i}" for i in range(1, 15)] + [f"S{i}" for i in range(1, 4)])

#: an id as the code writes it: ``T5``, ``T5.kl``, ``T3.rate-below-1``, ``L1=L2``, ``F.rho_K``
_TOKEN = r"[A-Za-z][\w.=-]*\w"
#: an id cited in running text (code, tables, notes): ``T7.coupling``, ``T3.rate-limit``,
#: ``T7-coupling``; also ranges ``T1-T4`` (split by :func:`cited_ids`)
_CITED = re.compile(r"(?<![\w.])[LPTS][0-9]+(?:\.[A-Za-z_]+)?(?:-[A-Za-z0-9]+)*(?!\w)")
_RANGE = re.compile(r"^([LPTS][0-9]+)-([LPTS][0-9]+)$")


def _is_id(token):
    return bool(re.fullmatch(_TOKEN, token)) and bool(re.search(r"[0-9.]", token))


def defined_ids(text):
    """The ids that ``text`` (Markdown) defines: the first word of a heading, or a bold
    ``**ID**`` / ``**ID ...**`` / ``**ID: ...**``.  Fenced code blocks are skipped."""
    defined = set()
    in_fence = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        m = re.match(r"^#{1,6}\s+(\S+)", line)
        if m:
            token = m.group(1).strip("`*").rstrip(":,")
            if _is_id(token):
                defined.add(token)
        for m in re.finditer(r"\*\*`?(" + _TOKEN + r")`?(?=\.?\*\*|[ :(,])", line):
            if _is_id(m.group(1)):
                defined.add(m.group(1))
    return defined


def cited_ids(text):
    """The theory ids cited in ``text``: ``T5``, ``T5.kl``, ``T3.rate-limit``; a range
    ``T1-T4`` counts as its two ends."""
    out = set()
    for m in _CITED.finditer(text):
        token = m.group(0)
        rng = _RANGE.match(token)
        out.update(rng.groups() if rng else [token])
    return out


def missing(required, text):
    """The ids of ``required`` that ``text`` does not define, sorted."""
    have = defined_ids(text)
    return sorted(set(required) - have)


@pytest.fixture(scope="module")
def doc():
    return DOC.read_text(encoding="utf-8")


# --- the helpers can fail --------------------------------------------------------------------

SAMPLE = """# Title
### T5 (stays near the data)
- **T5.kl**: KL bound
- **T7 (contraction).** text **T3.rate-below-1** | table
| **L1=L2** | proof |
Plain mention of T6 and `T8` does not define them; neither does **bold words**.
```
### T9 inside a fence is not a heading
**T10** inside a fence neither
```
"""


def test_defined_ids_parses_headings_and_bold():
    assert defined_ids(SAMPLE) == {"T5", "T5.kl", "T7", "T3.rate-below-1", "L1=L2"}
    assert missing(["T5", "T5.kl", "T6", "T8", "T9", "T10"], SAMPLE) == ["T10", "T6", "T8",
                                                                       "T9"]


def test_missing_detects_a_removed_definition(doc):
    assert missing(["T5.kl", "T8.Z"], doc) == []
    without = doc.replace("**T5.kl**", "T5.kl")
    assert missing(["T5.kl", "T8.Z"], without) == ["T5.kl"]
    without = re.sub(r"^### T10 .*$", "### An upper bound", doc, flags=re.M)
    assert "T10" in missing(THEORY_IDS, without)


def test_cited_ids():
    text = ("see T1-T4 and T5.kl; T3.rate-limit, T7-coupling, L1=L2, P5_SHIFTS, "
            "T8's example, numerics.T9x, (T2.budget)")
    assert cited_ids(text) == {"T1", "T4", "T5.kl", "T3.rate-limit", "T7-coupling", "L1",
                               "L2", "T8", "T2.budget"}


# --- coverage --------------------------------------------------------------------------------

def test_theory_ids_defined(doc):
    assert missing(THEORY_IDS, doc) == []


def test_statement_registry_defined(doc):
    import theory
    ids = theory.statement_ids()
    assert len(ids) >= 28 and "T8.Z" in ids
    assert missing(ids, doc) == []


def test_proofs_check_records_defined(doc):
    import proofs_check
    records = proofs_check.REGISTRY
    assert len(records) >= 40 and "T3.rate-below-1" in records
    assert missing(records, doc) == []
    # and every theory id that a record's statement or method cites
    cited = set()
    for entry in records.values():
        cited |= cited_ids(entry.statement + " " + entry.method)
    assert missing(cited, doc) == []


def test_claims_named_by_ids_defined(doc):
    from theory.claims import list_claims
    names = [c.name for c in list_claims() if re.match(r"[LPTS][0-9]", c.name)]
    assert "T7.coupling" in names
    assert missing(names, doc) == []


def _sources():
    files = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    for pkg in ("numerics", "theory", "proofs_check", "figures", "selfconsume"):
        files += sorted((ROOT / pkg).rglob("*.py"))
    return files


def test_ids_cited_in_code_and_docs_defined(doc):
    """Every id cited in the packages' source, the README and docs/ (docs/theory.md itself
    included: no dangling reference) is defined in docs/theory.md."""
    where = {}
    for path in _sources():
        for token in cited_ids(path.read_text(encoding="utf-8")):
            where.setdefault(token, path.relative_to(ROOT).as_posix())
    assert {"T8.example", "T5.kl", "L2"} <= set(where)
    undefined = {t: where[t] for t in missing(where, doc)}
    assert undefined == {}


def test_no_user_facing_pointer_to_shared_theory():
    """The README, docs/ and the command-line help point at docs/theory.md, not at a
    THEORY.md outside the repository."""
    texts = {p: p.read_text(encoding="utf-8")
             for p in [ROOT / "README.md", *(ROOT / "docs").rglob("*.md"),
                       *(ROOT / "selfconsume").rglob("*.py")]}
    offenders = [p.relative_to(ROOT).as_posix() for p, t in texts.items() if "THEORY.md" in t
                 and p != DOC]
    assert offenders == []
    assert "docs/theory.md" in texts[ROOT / "README.md"]
