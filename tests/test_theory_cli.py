"""`selfconsume check` and `theory.check` on the built-in scenarios (the must-shows), with
expected values from independent routes (mpmath)."""

import json
import math

import mpmath
import numpy as np
import pytest

import theory
from numerics import evolve
from numerics.scenarios import get_scenario

from _references import kingman_i


def run_json(cli, *argv):
    code, out, _ = cli("check", *argv, "--json")
    out = json.loads(out)
    return code, {r["id"]: r for r in out["results"]}, out


def test_gauss1d_K3(cli):
    code, res, out = run_json(cli, "--scenario", "gauss1d", "--K", "3", "--steps", "50")
    assert code == 0 and out["all_hold"] is True
    for i in ("T1", "T2", "T2.budget", "T2.tail", "T3", "P1", "P2", "P3", "P4", "P5", "P6"):
        assert res[i]["applicable"] is True and res[i]["holds"] is True, i
    # T1 is an inequality with room to spare; every field present
    assert res["T1"]["relation"] == ">=" and res["T1"]["slack"] > 0
    assert set(res["T1"]) >= {"id", "statement", "applicable", "reason", "predicted",
                              "measured", "slack", "holds", "tolerance"}
    # section 4 statements do not apply without real data, and say why
    assert res["T5"]["applicable"] is False and "lam" in res["T5"]["reason"]
    assert res["T5"]["holds"] is None


def test_gauss1d_lam_half(cli):
    code, res, _ = run_json(cli, "--scenario", "gauss1d", "--K", "3", "--steps", "50",
                            "--lam", "0.5")
    assert code == 0
    for i in ("T5", "T5.kl", "T5.tv", "T6", "T7.coupling", "T9", "P1", "P6"):
        assert res[i]["applicable"] is True and res[i]["holds"] is True, i
    # lam (K - 1) = 0.5 * 2 = 1 is NOT < 1: T7's hypothesis fails (kappa = 1), and the
    # record says so with the measured per-step factor
    assert res["T7"]["applicable"] is False
    assert "lam (K-1) < 1" in res["T7"]["reason"] and "per-step factor" in res["T7"]["reason"]
    # sections 3 statements do not apply with real data
    assert res["T1"]["applicable"] is False


def test_gauss1d_contraction(cli):
    # lam (K - 1) = 0.8 < 1: T7 applies, kappa = 0.4 * 3 / 1.4
    code, res, _ = run_json(cli, "--scenario", "gauss1d", "--K", "3", "--steps", "20",
                            "--lam", "0.4")
    assert code == 0
    t7 = res["T7"]
    assert t7["applicable"] is True and t7["holds"] is True
    assert t7["details"]["kappa"] == pytest.approx(1.2 / 1.4, rel=1e-15)
    assert t7["details"]["measured_factor"] < t7["details"]["kappa"]
    assert res["T9.denominator"]["holds"] is True
    assert res["T9.denominator"]["predicted"] == pytest.approx(1.4 - 1.2, rel=1e-14)


def test_two_level_rate(cli):
    code, res, _ = run_json(cli, "--scenario", "two-level")
    assert code == 0
    rec = res["T3.rate"]
    assert rec["applicable"] is True and rec["holds"] is True
    sc = get_scenario("two-level")
    delta, K = sc.params["delta"], sc.K
    with mpmath.workdps(30):  # rho_K(delta) independently
        q = mpmath.exp(-mpmath.mpf(delta))
        rho = float(K * q / (q + K - 1))
    assert abs(rec["measured"] - rho) <= 1e-6
    assert abs(rec["predicted"] - rho) <= 1e-15


def test_kingman_condensate(cli):
    code, res, _ = run_json(cli, "--scenario", "kingman")
    assert code == 0
    rec = res["T8.condensate"]
    assert rec["applicable"] is True and rec["holds"] is True
    # 1 - I, Kingman's I for b = 3: a smooth integrand, Gauss-Legendre at 30 digits (a
    # different rule from the code under test)
    I = kingman_i(3, 3.0, method="gauss-legendre")
    assert abs(rec["measured"] - (1 - float(I))) <= 1e-6
    assert abs(rec["measured"] - 0.4845455716395) <= 1e-12   # THEORY.md's value
    for i in ("T8", "T8.fixed", "T8.Z", "T5", "T6", "T7.kinf"):
        assert res[i]["holds"] is True, i


def test_table_output_and_exit_code_on_failure(cli, monkeypatch):
    res = cli("check", "--scenario", "gauss1d", "--K", "3", "--steps", "5")
    assert res.code == 0
    table = res.out
    lines = table.splitlines()
    assert lines[1].startswith("run: ") and lines[2].startswith("reached: ")  # summary block
    header = [c.strip() for c in lines[4].split("|")]
    assert header == ["id", "statement", "applicable", "predicted", "measured", "slack",
                      "tolerance", "holds"]
    row = next(line for line in table.splitlines() if line.startswith("T1 "))
    assert [c.strip() for c in row.split("|")][2::5] == ["yes", "yes"]   # applicable, holds
    assert "hold, 0 fail" in table
    # a deliberately wrong theory (T1's bound a million times too large) must fail: exit 1
    from theory import curated_checks
    real = curated_checks.formulas.t1_increment_lower_bound
    monkeypatch.setattr(curated_checks.formulas, "t1_increment_lower_bound",
                        lambda *a: 1e6 * real(*a))
    res = cli("check", "--scenario", "gauss1d", "--K", "3", "--steps", "5")
    assert res.code == 1
    assert "fail: T1" in res.out


def test_bad_usage(cli):
    res = cli("check", "--only", "T1,NOPE")
    assert res.code == 2
    assert "--only" in res.err
    res = cli("check", "--K", "0.5")
    assert res.code == 2


def test_check_trajectory_and_ids():
    sc = get_scenario("gauss1d", K=math.inf, steps=8)
    traj = evolve(sc.mass, sc.reward, sc.K, sc.steps)
    rep = theory.check(traj, sc.reward, axes=sc.axes, ids=["T1", "T4", "T4.gauss"])
    assert [r.id for r in rep.results] == ["T1", "T4", "T4.gauss"]
    assert rep.all_hold and all(r.applicable for r in rep.results)
    assert rep["T1"].relation == "="          # K = inf: the identity of T1
    with pytest.raises(TypeError, match="reward"):
        theory.check(traj)
    with pytest.raises(ValueError, match="ids"):
        theory.check(traj, sc.reward, ids=["T99"])
    assert json.loads(rep.to_json())["all_hold"] is True


def test_every_statement_has_a_check_and_reasons_name_the_hypothesis():
    assert all(s.check is not None for s in theory.STATEMENTS.values())
    assert theory.statement_ids()[:9] == ["run.masses", "run.step",
                                          "P1", "P2", "P3", "P3.strict", "P4", "P5", "P6"]
    sc = get_scenario("two-level", steps=3)
    rep = theory.check(sc, ids=["T3.rate", "T3.tv", "T4", "T6", "T8"])
    assert "pre-asymptotic" in rep["T3.rate"].reason          # 3 steps are not enough
    assert "K = inf" in rep["T3.tv"].reason and "K = inf" in rep["T4"].reason
    assert "finite lam" in rep["T6"].reason
    assert rep.all_hold                                        # nothing applicable fails
    # T6 needs p_0 = p_d: a run started away from the data does not apply
    sc = get_scenario("gauss1d", K=2, lam=0.5, steps=3, grid=101)
    data = np.roll(sc.mass, 5)
    traj = evolve(sc.mass, sc.reward, sc.K, sc.steps, sc.lam, data)
    rep = theory.check(traj, sc.reward, data, ids=["T5", "T6"])
    assert rep["T6"].applicable is False and "p_0 = p_d" in rep["T6"].reason
    assert rep["T5"].holds is True


def test_wrong_limit_is_caught_through_the_run():
    # a limit that is not a fixed point, handed to check_trajectory: T9 fails, exit-worthy
    from numerics import limit
    sc = get_scenario("gauss1d", K=3, lam=0.4, steps=5, grid=201)
    traj = evolve(sc.mass, sc.reward, sc.K, sc.steps, sc.lam)
    lim = limit(sc.mass, sc.reward, sc.K, sc.lam)
    bad = type(lim)(**{**lim.__dict__, "mass": 0.99 * lim.mass + 0.01 * sc.mass})
    rep = theory.check(traj, sc.reward, limit=bad, ids=["T9", "T9.denominator"])
    assert rep["T9"].holds is False and not rep.all_hold
    assert theory.check(traj, sc.reward, limit=lim, ids=["T9"]).all_hold
    assert "fail: T9" in rep.to_table()


def test_wide_list_and_summary(cli):
    # --list: every statement with its hypotheses and tolerance, without running
    res = cli("check", "--list")
    assert res.code == 0
    out = res.out
    for i in theory.statement_ids():
        assert f"\n{i}: " in "\n" + out, i
    assert "T7.uniform: TV(C_K(p), C_K(q)) <= L TV(p, q)" in out
    # --wide: the full statement; the summary block: E_0[r] = -1 for N(0,1) and
    # r = -(x-1)^2/2 (E[(x-1)^2] = 2), to the grid's truncation at |x| = 6
    res = cli("check", "--scenario", "gauss1d", "--K", "3", "--lam", "0.4", "--steps", "3",
              "--grid", "201", "--wide", "--only", "T6.increment,T10")
    assert res.code == 0
    out = res.out
    stmt = theory.STATEMENTS["T6.increment"].statement
    assert len(stmt) > 48 and stmt in out
    assert "run: scenario = gauss1d, K = 3, lam = 0.4, steps = 3" in out
    assert "reached: T = 3, E_0[r] = -1," in out and "TV(p_3, p_d) = " in out
    sc = get_scenario("gauss1d", K=3, lam=0.4, steps=3, grid=201)
    rep = theory.check(sc, ids=["T10"])
    p0 = sc.mass / math.fsum(sc.mass)
    assert rep.summary["E_0[r]"] == pytest.approx(math.fsum(p0 * sc.reward), rel=1e-14)
    assert rep.summary["E_0[r]"] == pytest.approx(-1.0, abs=1e-7)   # the grid's error
    assert 0 < rep.summary["TV(p_3, p_d)"] <= 0.4 / 1.4          # T5.tv
    assert json.loads(rep.to_json())["summary"]["T"] == 3
