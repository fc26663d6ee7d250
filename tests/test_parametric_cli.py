"""``selfconsume stability``: text, JSON, exit codes (0 stable, 1 unstable/none, 2 usage)."""

import json

import pytest



def test_stable_gauss1d_json(cli):
    res = cli("stability", "--scenario", "gauss1d", "--lam", "1", "--K", "inf", "--json")
    assert res.code == 0
    out = json.loads(res.out)
    assert out["exists"] and out["stable"] is True
    assert out["uncurated_radius"] == 0.5 and out["rho"] == pytest.approx(0.5, abs=1e-15)
    assert out["rho_B"] is None and out["s2"]["L"] == 0.0
    assert 0 < out["spectral_radius"] < 0.5


def test_uncurated_radius_is_s1(cli):
    res = cli("stability", "--scenario", "mog8", "--grid", "48", "--lam", "3", "--K", "1",
              "--json")
    assert res.code == 0
    out = json.loads(res.out)
    assert abs(out["spectral_radius"] - 0.75) <= 1e-10


def test_unstable_fixed_point_exits_1(cli):
    res = cli("stability", "--scenario", "mog8", "--grid", "64", "--lam", "20",
              "--K", "inf")
    assert res.code == 1
    assert "UNSTABLE" in res.out


@pytest.mark.parametrize("extra,needle", [
    ([], "--lam"), (["--lam", "-1"], "--lam"), (["--lam", "1", "--K", "0.5"], "--K"),
    (["--lam", "1", "--family", "flow"], "--family"), (["--lam", "1", "--grid", "1"], "--grid"),
])
def test_bad_usage_exit_2_names_the_option(extra, needle, cli):
    res = cli("stability", "--scenario", "gauss1d", *extra)
    assert res.code == 2 and needle in res.err
