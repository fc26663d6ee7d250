"""The CLI on scenarios with curation rules: ``--set NAME=VALUE``, ``evolve``, ``check``,
``heatmap`` (built-in ``mog8-two-users``/``adversarial`` and TOML ``[[curators]]``)."""

import math

import numpy as np
import pytest

from numerics.scenarios import get_scenario


def bt2(p, r):
    """Bradley-Terry K = 2 by a hand loop: H(x) = 2 sum_y p(y) e^r(x) / (e^r(x) + e^r(y))."""
    return np.array([2 * sum(p[j] * math.exp(r[i]) / (math.exp(r[i]) + math.exp(r[j]))
                             for j in range(len(p))) for i in range(len(p))])


def test_evolve_adversarial_with_set_matches_a_hand_loop(tmp_path, cli):
    out = tmp_path / "a.npz"
    res = cli("evolve", "--scenario", "adversarial", "--set", "phi=0.3", "--K", "2",
              "--grid", "31", "--steps", "2", "--out", str(out))
    assert res.code == 0
    assert "rule=mixture" in res.out
    z = np.load(out)
    x = np.linspace(-6, 6, 31)
    r = -0.5 * (x - 1) ** 2
    p = np.exp(-0.5 * x ** 2)
    p /= p.sum()
    ps = [p]
    for _ in range(2):
        q = ps[-1] * (0.7 * bt2(ps[-1], r) + 0.3 * bt2(ps[-1], -r))
        ps.append(q / q.sum())
    np.testing.assert_allclose(z["masses"], np.array(ps), rtol=1e-9, atol=1e-300)
    np.testing.assert_allclose(z["expected_reward"], [float(q @ r) for q in ps], rtol=1e-9)


@pytest.mark.parametrize("opts, message", [
    (["--set", "phi=2"], "--scenario adversarial --set: phi must be"),
    (["--set", "bogus=1"], "unknown parameter(s) 'bogus'"),
    (["--set", "phi"], "--set: expected NAME=VALUE"),
])
def test_bad_set_is_a_one_line_usage_error(tmp_path, cli, opts, message):
    out = tmp_path / "a.npz"
    res = cli("evolve", "--scenario", "adversarial", "--out", str(out), *opts)
    assert res.code == 2
    err = res.err
    assert message in err and "Traceback" not in err and not out.exists()


def test_set_with_config_is_refused(tmp_path, cli):
    cfg = tmp_path / "c.toml"
    cfg.write_text('start = "1"\nreward = "x"\n[grid]\naxes = [[-1, 1, 5]]\n')
    res = cli("evolve", "--config", str(cfg), "--set", "w=1", "--out",
              str(tmp_path / "o.npz"))
    assert res.code == 2
    assert "--set w: --set takes parameters of a built-in --scenario" in res.err


def test_check_rule_scenario_checks_the_rule_free_statements(cli):
    res = cli("check", "--scenario", "adversarial", "--set", "phi=0.4", "--grid", "61",
              "--steps", "4", "--lam", "1", "--json")
    code = res.code
    import json
    rows = json.loads(res.out)
    rows = rows["results"] if isinstance(rows, dict) else rows
    applicable = {r["id"] for r in rows if r["applicable"]}
    assert applicable == {"run.masses", "T5", "T5.kl", "T5.tv"}
    assert code == 0 and all(r["holds"] for r in rows if r["applicable"])


def test_heatmap_rule_scenario_needs_K_inf_and_draws_with_it(tmp_path, cli):
    res = cli("heatmap", "--scenario", "mog8-two-users", "--grid", "16", "--out",
              str(tmp_path), "--format", "png")
    assert res.code == 2
    err = res.err
    assert "--K:" in err and "K = inf" in err and "Traceback" not in err
    res = cli("heatmap", "--scenario", "mog8-two-users", "--set", "w=0.7", "--grid", "16",
              "--K", "inf", "--out", str(tmp_path), "--format", "png")
    assert res.code == 0
    assert (tmp_path / "heatmap-mog8-two-users.png").stat().st_size > 0


def test_scenario_set_tuple_value():
    from selfconsume.options import scenario_value
    assert scenario_value("1,4") == (1, 4) and scenario_value("0.5") == 0.5
    assert get_scenario("mog8-two-users", user_centres=scenario_value("1,4"),
                        grid=8).params["user_centres"] == (1, 4)
