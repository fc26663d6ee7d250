"""``selfconsume simulate``: the table, the JSON, and the exit codes (0 pass, 1 fail, 2 usage)."""

import json

import pytest

import numerics.sampling

BASE = ["simulate", "--steps", "3", "--samples", "20000", "--grid", "201"]


def test_table_and_exit_0(cli):
    res = cli(*BASE)
    assert res.code == 0
    out = res.out.splitlines()
    assert out[0].startswith("simulate gauss1d: K=3 lam=inf steps=3 samples=20000")
    header = out[2].split()
    assert header[:3] == ["t", "exact", "E_C[r]"] and "TV" in header and "cond" in header
    rows = [line.split() for line in out[3:6]]
    assert [r[0] for r in rows] == ["0", "1", "2"]
    # at t = 0 the fitted model is the exact start: the two references coincide
    assert float(rows[0][1]) == pytest.approx(float(rows[0][5]), rel=1e-6)
    assert out[6].startswith("PASS: max |z cond| = ")


def test_json_and_mog8_with_real_data(cli):
    argv = ["simulate", "--scenario", "mog8", "--grid", "48", "--K", "4", "--lam", "1",
            "--steps", "2", "--samples", "1e4", "--seed", "3", "--json"]
    res = cli(*argv)
    assert res.code == 0
    doc = json.loads(res.out)
    assert doc["passed"] is True and doc["K"] == 4 and doc["lam"] == 1.0
    assert doc["real_samples"] == 10_000 and doc["effective_lam"] == 1.0
    assert len(doc["generations"]) == 2
    g = doc["generations"][1]
    assert abs(g["z_conditional"]) <= 5
    assert g["z_conditional"] == pytest.approx((g["sampled"] - g["conditional"]) / g["se"])
    assert g["z_exact"] == pytest.approx((g["sampled"] - g["exact"]) / g["se"])


def test_gaussian_and_kde_models_run(cli):
    for model in ("gaussian", "kde"):
        res = cli(*BASE + ["--model", model])
        assert res.code == 0
        assert f"model={model}" in res.out


def test_exit_1_when_the_sampler_is_wrong(monkeypatch, cli):
    def first_draw_wins(xp, rng, cells, reward):  # no curation: the law is not C_K(q)
        return cells[:, 0]
    monkeypatch.setattr(numerics.sampling, "gumbel_max_winners", first_draw_wins)
    res = cli(*BASE)
    assert res.code == 1
    assert "FAIL: max |z cond|" in res.out


@pytest.mark.parametrize("extra,needle", [
    (["--K", "2.5"], "--K"), (["--K", "inf"], "--K"), (["--samples", "0"], "--samples"),
    (["--samples", "abc"], "--samples"), (["--samples", "1.5"], "--samples"),
    (["--seed", "x"], "--seed"), (["--lam", "0"], "--lam"), (["--model", "ddpm"], "--model"),
    (["--backend", "tpu"], "--backend"),
])
def test_bad_usage_exit_2_names_the_option(extra, needle, cli):
    res = cli(*BASE, *extra)         # argparse choices: its own one-line error, exit 2
    assert res.code == 2
    assert needle in res.err and len(res.err.strip().splitlines()) == 1
