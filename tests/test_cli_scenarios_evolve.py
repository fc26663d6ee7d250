"""``selfconsume scenarios`` and ``selfconsume evolve``: listing, the saved trajectory,
one-line usage errors with exit code 2 and nothing written, Ctrl-C saving the completed steps."""

import json
import math
import os

import numpy as np
import pytest

import numerics
import selfconsume.io
from numerics.scenarios import get_scenario

NAMES = ["gauss1d", "two-level", "kingman", "mog8", "two-moons", "classes", "mog8-two-users",
         "adversarial"]


def test_scenarios_lists_six_lines(cli):
    res = cli("scenarios")
    assert res.code == 0
    lines = res.out.splitlines()
    assert [line.split()[0] for line in lines] == NAMES
    kingman = lines[NAMES.index("kingman")]
    assert "K=inf" in kingman and "lam=3" in kingman and "grid=1000" in kingman
    assert "grid=128x128" in lines[NAMES.index("mog8")]


def test_scenarios_json(cli):
    res = cli("scenarios", "--json")
    assert res.code == 0
    rows = json.loads(res.out)
    assert [r["name"] for r in rows] == NAMES
    for r in rows:
        sc = get_scenario(r["name"])
        assert tuple(r["grid"]) == sc.mass.shape and r["steps"] == sc.steps
        assert r["K"] == ("inf" if math.isinf(sc.K) else sc.K)
        assert r["lam"] == ("inf" if math.isinf(sc.lam) else sc.lam)
    assert rows[1]["parameters"] == {"delta": 1.0, "m_star": 0.2}


def test_evolve_writes_what_evolve_computes(tmp_path, cli):
    out = tmp_path / "traj.npz"
    res = cli("evolve", "--scenario", "mog8", "--grid", "24", "--steps", "9", "--lam", "1",
              "--out", str(out), "--record-every", "4")
    assert res.code == 0
    assert str(out) in res.out
    assert os.listdir(tmp_path) == ["traj.npz"]
    sc = get_scenario("mog8", grid=24)
    ref = numerics.evolve(sc.mass, sc.reward, sc.K, 9, lam=1.0, record_every=4)
    with np.load(out) as z:
        np.testing.assert_array_equal(z["recorded_steps"], [0, 4, 8, 9])
        np.testing.assert_array_equal(z["masses"], np.asarray(ref.masses))
        for key in ("expected_reward", "expected_exp_reward", "var_exp_reward"):
            np.testing.assert_array_equal(z[key], getattr(ref, key))
        np.testing.assert_array_equal(z["reward"], sc.reward)
        assert (z["K"], z["lam"], z["steps"], z["exp_reward_shift"]) == (4.0, 1.0, 9, 0.0)
        assert str(z["scenario"]) == "mog8" and z["axis_1"].shape == (24,)


def test_evolve_config_and_name_kept_without_npz_suffix(tmp_path, cli):
    ring = os.path.join(os.path.dirname(__file__), "..", "docs", "examples", "ring.toml")
    out = tmp_path / "ring.out"
    res = cli("evolve", "--config", ring, "--grid", "15", "--steps", "3",
              "--out", str(out))
    assert res.code == 0
    assert os.listdir(tmp_path) == ["ring.out"]
    with np.load(out) as z:
        assert z["masses"].shape == (4, 15, 15) and float(z["lam"]) == 1.0


BAD = [
    (["--scenario", "nope"], "--scenario nope: unknown scenario"),
    (["--K", "0.5"], "--K"),
    (["--lam", "-1"], "--lam"),
    (["--steps", "x"], "--steps"),
    (["--record-every", "0"], "--record-every"),
    (["--config", "MISSING"], "cannot read the file"),
    (["--config", "MALFORMED"], "malformed TOML"),
    (["--config", "UNKNOWN_SYMBOL"], "reward: unknown symbol 'z' (grid coordinates are x)"),
]


def _configs(tmp_path):
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "bad.toml").write_text("start = \n")
    (cfg / "sym.toml").write_text('start = "1"\nreward = "z"\n[grid]\naxes = [[0, 1, 4]]\n')
    return {"MISSING": str(cfg / "none.toml"), "MALFORMED": str(cfg / "bad.toml"),
            "UNKNOWN_SYMBOL": str(cfg / "sym.toml")}


@pytest.mark.parametrize("opts, word", BAD)
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, cli, opts, word):
    files = _configs(tmp_path)
    opts = [files.get(o, o) for o in opts]
    out = tmp_path / "out" / "t.npz"
    os.makedirs(out.parent)
    res = cli("evolve", *opts, "--out", str(out))
    assert res.code == 2
    err = res.err
    assert len(err.splitlines()) == 1 and word in err and "Traceback" not in err
    assert os.listdir(out.parent) == []


@pytest.mark.parametrize("opts, word", [BAD[1], BAD[7]])
def test_bad_input_in_a_subprocess(tmp_path, cli_subprocess, opts, word):
    files = _configs(tmp_path)
    opts = [files.get(o, o) for o in opts]
    proc = cli_subprocess("evolve", *opts, "--out", tmp_path / "t.npz", timeout=60)
    assert proc.code == 2 and proc.out == ""
    assert len(proc.err.splitlines()) == 1 and word in proc.err
    assert "Traceback" not in proc.err
    assert sorted(os.listdir(tmp_path)) == ["cfg"]


class _CtrlCAtStep3:
    """Stands in for ``selfconsume.io.Progress``: Ctrl-C after step 3 of the real evolve."""

    def __init__(self, label, **kw):
        pass

    def __call__(self, step, total):
        if step == 3:
            raise KeyboardInterrupt


def test_ctrl_c_saves_the_completed_steps(tmp_path, cli, monkeypatch):
    monkeypatch.setattr(selfconsume.io, "Progress", _CtrlCAtStep3)
    out = tmp_path / "t.npz"
    res = cli("evolve", "--scenario", "two-level", "--steps", "20", "--out", str(out))
    assert res.code == 130
    err = res.err
    assert "interrupted after 3 of 20 steps" in err and str(out) in err
    assert os.listdir(tmp_path) == ["t.npz"]
    sc = get_scenario("two-level")
    ref = numerics.evolve(sc.mass, sc.reward, sc.K, 3)
    with np.load(out) as z:
        assert int(z["steps"]) == 3 and int(z["requested_steps"]) == 20
        np.testing.assert_array_equal(z["recorded_steps"], [0, 1, 2, 3])
        np.testing.assert_array_equal(z["masses"], np.asarray(ref.masses))
        np.testing.assert_array_equal(z["expected_exp_reward"], ref.expected_exp_reward)


def test_ctrl_c_while_saving_leaves_nothing(tmp_path, cli, monkeypatch):
    def interrupted_savez(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(np, "savez", interrupted_savez)
    res = cli("evolve", "--scenario", "two-level", "--steps", "2",
              "--out", str(tmp_path / "t.npz"))
    assert res.code == 130
    assert os.listdir(tmp_path) == []


def test_only_input_errors_are_usage_errors(tmp_path, monkeypatch, cli):
    """Exit code 2 is for bad usage or input: the engine's argument checks
    (``numerics.validation.InvalidInput``) are reported in one line, while any other
    exception from the engine is a bug and propagates with its traceback."""
    from numerics.validation import ValidationError
    argv = ["evolve", "--scenario", "two-level", "--steps", "2", "--out", tmp_path / "t.npz"]

    def rejects_input(*args, **kwargs):
        raise ValidationError("mass contains NaN")

    monkeypatch.setattr(numerics, "evolve", rejects_input)
    res = cli(*argv)
    assert res.code == 2 and res.err == "selfconsume evolve: error: mass contains NaN\n"

    def broken(*args, **kwargs):
        raise ValueError("internal inconsistency")

    monkeypatch.setattr(numerics, "evolve", broken)
    with pytest.raises(ValueError, match="internal inconsistency"):
        cli(*argv)
    assert os.listdir(tmp_path) == []
