"""``selfconsume simulate`` on the rule scenarios (user types): z-scores reported, exit 0, and
exit 1 when the rule sampler is wrong."""

import json

import numpy as np

import numerics.sampling


def test_adversarial_table(cli):
    res = cli("simulate", "--scenario", "adversarial", "--grid", "201", "--steps", "3",
              "--samples", "5e4")
    assert res.code == 0
    out = res.out.splitlines()
    assert out[0].startswith("simulate adversarial: K=3 lam=inf steps=3 samples=50000")
    assert out[1].startswith("rule mixture([(0.8, bradley_terry(K=3)), (0.2, bradley_terry")
    rows = [line.split() for line in out[4:7]]
    assert [r[0] for r in rows] == ["0", "1", "2"]
    for r in rows:  # z cond = (sampled - cond) / SE, |z| <= 5
        z = (float(r[2]) - float(r[5])) / float(r[3])
        assert abs(float(r[6]) - z) < 0.02 and abs(z) <= 5
    assert out[7].startswith("PASS: max |z cond| = ")


def test_mog8_two_users_json_with_real_data(cli):
    res = cli("simulate", "--scenario", "mog8-two-users", "--grid", "48", "--lam", "1",
              "--steps", "2", "--samples", "5e4", "--json")
    assert res.code == 0
    doc = json.loads(res.out)
    assert doc["passed"] and doc["rule"].startswith("mixture(") and doc["K"] == 4
    assert doc["real_samples"] == 50_000
    for g in doc["generations"]:
        assert abs(g["z_conditional"]) <= 5
        assert g["z_conditional"] == (g["sampled"] - g["conditional"]) / g["se"]


def test_exit_1_when_the_user_type_is_ignored(monkeypatch, cli):
    # a sampler that drops the adversarial type (every kept sample by the first type)
    real = numerics.sampling._curate_rule_generation

    def first_type_only(rng, draw, parts, values, n, value_fn=None):
        return real(rng, draw, parts[:1], values[:1], n, value_fn)
    monkeypatch.setattr(numerics.sampling, "_curate_rule_generation", first_type_only)
    res = cli("simulate", "--scenario", "adversarial", "--grid", "201", "--steps", "2",
              "--samples", "5e4", "--json")
    assert res.code == 1
    doc = json.loads(res.out)
    assert not doc["passed"] and doc["max_abs_z_conditional"] > 5
