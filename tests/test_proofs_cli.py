"""``selfconsume proofs``: table, JSON, --only, exit codes."""

from __future__ import annotations

import json

import proofs_check
from proofs_check.record import FAILED
from selfconsume.cli import main

FEW = "T3.rate,T3.rate-limit,T1.identity,T7.kappa-below-1"


def test_table_lists_id_statement_how_status(capsys):
    assert main(["proofs", "--only", FEW]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[0]
    assert [c.strip() for c in header.split("|")] == ["id", "statement", "how", "status"]
    for vid in FEW.split(","):
        assert vid in out
    assert "4 verifications: 4 proved, 0 checked on cases, 0 failed" in out


def test_json_records(capsys):
    assert main(["proofs", "--json", "--only", "T1.identity,E.exact-oracle"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in records] == ["T1.identity", "E.exact-oracle"]
    assert [r["status"] for r in records] == ["proved", "checked-on-cases"]
    assert all(set(r) >= {"id", "statement", "method", "status", "detail", "seconds"}
               for r in records)


def test_failed_verification_gives_exit_1_and_its_detail(capsys, monkeypatch):
    entry = proofs_check.REGISTRY["T3.rate-limit"]
    wrong = lambda: entry.func(rho=lambda d, K: K * d / (d + K - 1))   # wrong rho_K
    monkeypatch.setitem(proofs_check.REGISTRY, "T3.rate-limit", entry.__class__(
        entry.id, entry.statement, entry.method, wrong))
    assert main(["proofs", "--only", "T3.rate-limit,T1.identity"]) == 1
    out = capsys.readouterr().out
    assert FAILED in out and "limit is" in out and "1 failed" in out


def test_unknown_id_is_a_usage_error(cli):
    code, _, err = cli("proofs", "--only", "T3.rate,nope")
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "--only" in err and "nope" in err
