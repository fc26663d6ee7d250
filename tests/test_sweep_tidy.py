"""Tidy results (issue 13): `check --json` records carry the run's parameters, `check --csv`,
`Report.to_frame()`."""

import csv
import io
import json

import pytest

import theory
from numerics.scenarios import get_scenario

ARGV = ["check", "--scenario", "kingman", "--grid", "50", "--lam", "2", "--steps", "5",
        "--only", "T5,T8"]
PARAMS = {"scenario": "kingman", "K": "inf", "lam": 2.0, "steps": 5, "grid": 50, "b": 3.0}


def test_check_json_records_carry_the_parameters(cli):
    res = cli(*ARGV + ["--json"])
    assert res.code == 0
    out = json.loads(res.out)
    assert out["parameters"] == PARAMS
    assert [r["id"] for r in out["results"]] == ["T5", "T8"]
    assert all(r["parameters"] == PARAMS for r in out["results"])


def test_check_csv_one_row_per_statement(cli):
    res = cli(*ARGV + ["--csv"])
    assert res.code == 0
    rows = list(csv.DictReader(io.StringIO(res.out)))
    assert [r["id"] for r in rows] == ["T5", "T8"]
    for r in rows:
        assert {k: r[k] for k in PARAMS} == {k: str(v) for k, v in PARAMS.items()}
        assert r["applicable"] == "True" and r["holds"] == "True"
        assert float(r["slack"]) >= -float(r["tolerance"])
    res = cli(*ARGV, "--csv", "--json")   # argparse's usage error
    assert res.code == 2 and "--json" in res.err


def test_report_to_frame():
    import pandas as pd  # installed with xarray (the sweep extra)
    report = theory.check(get_scenario("gauss1d", K=3, lam=0.5, steps=4, grid=31),
                          ids=["T5", "T7"])
    df = report.to_frame()
    assert isinstance(df, pd.DataFrame) and list(df["id"]) == ["T5", "T7"]
    assert (df["K"] == 3.0).all() and (df["lam"] == 0.5).all() and (df["grid"] == 31).all()
    assert list(df.columns[:5]) == ["scenario", "K", "lam", "steps", "grid"]
    assert df.loc[0, "holds"] == report["T5"].holds and df.loc[0, "slack"] == report["T5"].slack
