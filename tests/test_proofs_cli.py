"""``selfconsume proofs``: table, JSON, --only, exit codes."""

from __future__ import annotations

import json

import proofs_check
from proofs_check.record import FAILED

FEW = "T3.rate,T3.rate-limit,T1.identity,T7.kappa-below-1"


def test_table_lists_id_statement_how_status(cli):
    res = cli("proofs", "--only", FEW)
    assert res.code == 0
    out = res.out
    header = out.splitlines()[0]
    assert [c.strip() for c in header.split("|")] == ["id", "statement", "how", "status"]
    for vid in FEW.split(","):
        assert vid in out
    assert "4 verifications: 4 proved, 0 checked on cases, 0 failed" in out


def test_json_records(cli):
    res = cli("proofs", "--json", "--only", "T1.identity,E.exact-oracle")
    assert res.code == 0
    records = json.loads(res.out)
    assert [r["id"] for r in records] == ["T1.identity", "E.exact-oracle"]
    assert [r["status"] for r in records] == ["proved", "checked-on-cases"]
    assert all(set(r) >= {"id", "statement", "method", "status", "detail", "seconds"}
               for r in records)


def test_failed_verification_gives_exit_1_and_its_detail(cli, monkeypatch):
    entry = proofs_check.REGISTRY["T3.rate-limit"]
    wrong = lambda: entry.func(rho=lambda d, K: K * d / (d + K - 1))   # wrong rho_K
    monkeypatch.setitem(proofs_check.REGISTRY, "T3.rate-limit", entry.__class__(
        entry.id, entry.statement, entry.method, wrong))
    res = cli("proofs", "--only", "T3.rate-limit,T1.identity")
    assert res.code == 1
    out = res.out
    assert FAILED in out and "limit is" in out and "1 failed" in out


def test_unknown_id_is_a_usage_error(cli):
    code, _, err = cli("proofs", "--only", "T3.rate,nope")
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "--only" in err and "nope" in err
