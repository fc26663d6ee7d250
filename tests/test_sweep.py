"""`numerics.sweep` and `selfconsume sweep` (issue 13): T8's condensate over (b, lam) against
mpmath quadrature, resume after an interruption, failed points, usage errors, TOML specs.
The distributed run is in tests/test_sweep_distributed.py."""

import math

import numpy as np
import pytest

import xarray as xr  # the sweep extra: installed by the test command (no silent skip)
import dask  # noqa: F401,E402

import theory  # noqa: E402,F401  (registers contraction, check)
from numerics.scenarios import get_scenario  # noqa: E402
from numerics.sweep import DONE, FAILED, PENDING, SweepSpec, load_spec, parse_values, sweep  # noqa: E402
from numerics.sweep_measures import register_measure  # noqa: E402

from _references import kingman_condensate  # noqa: E402


def open_nc(path):
    with xr.open_dataset(path, engine="scipy") as ds:
        return ds.load()


@pytest.mark.slow
def test_t8_sweep_reproduces_kingman_condensate(tmp_path, cli):
    out = tmp_path / "kingman.nc"
    res = cli("sweep", "--scenario", "kingman", "--param", "b=1.5:4:11",
              "--param", "lam=0.25:6:24", "--measure", "condensate", "--out", str(out))
    code = res.code
    assert code == 0
    assert "264 points, 264 done, 0 failed" in res.out
    ds = open_nc(out)
    assert list(ds["condensate"].dims) == ["b", "lam"] and ds["condensate"].shape == (11, 24)
    np.testing.assert_array_equal(ds["b"].values, np.linspace(1.5, 4, 11))
    np.testing.assert_array_equal(ds["lam"].values, np.linspace(0.25, 6, 24))
    assert (ds["continuous_law"] == 1).all() and (ds["state"] == DONE).all()
    assert "continuous law" in ds.attrs["measure_description"]
    expected = np.array([[kingman_condensate(b, lam) for lam in ds["lam"].values]
                         for b in ds["b"].values])
    err = np.abs(ds["condensate"].values - expected)
    assert err.max() <= 1e-8, err.max()
    # both phases are in the sweep: condensed points and points with I >= 1
    assert (expected == 0).any() and (expected > 0.3).any()


def test_moments_at_step_t_match_the_tilt(tmp_path):
    """T4: with K = lam = inf, p_t = p_0 e^{t r}/E[e^{t r}]; E_{p_t}[r] from that closed form."""
    ds = sweep(SweepSpec("moments", {"t": [0, 1, 5]}, scenario="gauss1d",
                         fixed={"K": math.inf, "grid": 64}))
    sc = get_scenario("gauss1d", grid=64)
    p0 = sc.mass / sc.mass.sum()
    for t, got in zip((0, 1, 5), ds["expected_reward"].values):
        w = p0 * np.exp(t * (sc.reward - sc.reward.max()))
        assert got == pytest.approx(float((w * sc.reward).sum() / w.sum()), rel=1e-12, abs=1e-13)


def test_contraction_and_check_measures(tmp_path):
    lams = [0.1, 0.3]
    ds = sweep(SweepSpec("contraction", {"lam": lams}, scenario="gauss1d",
                         fixed={"K": 2.0, "grid": 41, "steps": 30}))
    kappa = np.array([lam * 2 / (1 + lam) for lam in lams])   # T7: lam K/(1+lam)
    np.testing.assert_allclose(ds["kappa"].values, kappa, rtol=1e-15)
    assert (ds["verified"] == 1).all()
    assert (ds["factor"].values <= kappa).all() and (ds["factor"].values > 0).all()

    ds = sweep(SweepSpec("check", {"lam": [0.5, 2.0]}, scenario="gauss1d",
                         fixed={"K": 3.0, "steps": 10, "grid": 41}, options={"id": "T5"}))
    assert (ds["holds"] == 1).all() and (ds["slack"] >= -ds["tolerance"]).all()
    # T7's hypothesis lam (K - 1) < 1 fails at lam = 2, K = 3: not applicable is NaN
    ds = sweep(SweepSpec("check", {"lam": [0.25, 2.0]}, scenario="gauss1d",
                         fixed={"K": 3.0, "steps": 10, "grid": 41}, options={"id": "T7"}))
    assert ds["holds"].values[0] == 1 and math.isnan(ds["holds"].values[1])


# ------------------------------------------------------------------ resume and failures
CALLS = []
STOP_AFTER = [None]   # Ctrl-C (KeyboardInterrupt) once this many points are computed


@register_measure("test_counting", ("square",), "scale lam^2; counts its calls",
                  options={"scale": 1.0})
def _counting(sc, scale=1.0):
    if len(CALLS) == STOP_AFTER[0]:
        raise KeyboardInterrupt
    CALLS.append(sc.lam)
    if sc.lam == 7.0:
        raise ValueError("lam = 7 is unlucky")
    return {"square": scale * sc.lam ** 2}


@pytest.fixture(autouse=True)
def _reset_counter():
    CALLS.clear()
    STOP_AFTER[0] = None


def test_interrupted_sweep_resumes_computing_only_missing_points(tmp_path, cli):
    out = tmp_path / "s.nc"
    argv = ["sweep", "--scenario", "two-level", "--param", "lam=1:12:12", "--measure",
            "test_counting", "--out", str(out)]
    STOP_AFTER[0] = 5
    res = cli(*argv)
    assert res.code == 130
    assert "5 of 12 points saved" in res.err
    first = open_nc(out)
    # the five finished points (done, or failed: lam = 7 fails) - dask picks the order
    assert int((first["state"] != PENDING).sum()) == 5 and first.attrs["complete"] == 0
    # a different spec (here a measure option) is refused, not silently mixed
    res = cli(*argv + ["--option", "scale=2"])
    assert res.code == 2
    assert "holds a different sweep" in res.err
    CALLS.clear()
    STOP_AFTER[0] = None
    res = cli(*argv)
    assert res.code == 0
    missing = first["lam"].values[first["state"].values == PENDING]
    assert len(missing) == 7 and sorted(CALLS) == sorted(missing)
    ds = open_nc(out)
    lam = ds["lam"].values
    ok = lam != 7.0
    np.testing.assert_array_equal(ds["square"].values[ok], lam[ok] ** 2)
    assert ds["state"].values[~ok] == FAILED and math.isnan(ds["square"].values[~ok][0])
    assert ds["error"].values[~ok][0] == "ValueError: lam = 7 is unlucky"
    assert ds.attrs["complete"] == 1
    assert "1 point(s) failed" in res.err
    # a complete sweep recomputes nothing; --retry-failed recomputes only the failed point
    CALLS.clear()
    res = cli(*argv)
    assert res.code == 0 and CALLS == []
    res = cli(*argv + ["--retry-failed"])
    assert res.code == 0
    assert CALLS == [7.0]


def test_python_api_interrupt_keeps_finished_points(tmp_path):
    out = tmp_path / "s.nc"
    spec = SweepSpec("test_counting", {"lam": [1.0, 2.0, 3.0, 4.0]}, scenario="two-level")
    STOP_AFTER[0] = 2
    with pytest.raises(KeyboardInterrupt):
        sweep(spec, out=out)
    done = set(CALLS)
    assert len(done) == 2
    CALLS.clear()
    STOP_AFTER[0] = None
    ds = sweep(spec, out=out)
    assert sorted(CALLS) == sorted({1.0, 2.0, 3.0, 4.0} - done)
    np.testing.assert_array_equal(ds["square"].values, [1.0, 4.0, 9.0, 16.0])


# ------------------------------------------------------------------ specs and usage
def test_parse_values():
    assert parse_values("1:2:3") == [1.0, 1.5, 2.0]
    assert parse_values("1:100:3:log") == pytest.approx([1.0, 10.0, 100.0], rel=1e-15)
    assert parse_values("2, inf") == [2.0, math.inf]
    for bad in ("1:2", "1:2:x", "a,b", "0:1:3:log", "1:2:3:lin"):
        with pytest.raises(ValueError, match="lam"):
            parse_values(bad, "lam")


def test_toml_spec_equals_the_options(tmp_path, cli):
    path = tmp_path / "spec.toml"
    path.write_text('measure = "condensate"\nscenario = "kingman"\n'
                    '[axes]\nlam = "2:4:3"\n[fixed]\nb = 2.5\n')
    spec = load_spec(path)
    assert spec == SweepSpec("condensate", {"lam": [2.0, 3.0, 4.0]}, scenario="kingman",
                             fixed={"b": 2.5})
    out_a, out_b = tmp_path / "a.nc", tmp_path / "b.nc"
    res = cli("sweep", "--spec", str(path), "--out", str(out_a))
    assert res.code == 0
    res = cli("sweep", "--scenario", "kingman", "--set", "b=2.5", "--param", "lam=2,3,4",
              "--out", str(out_b))
    assert res.code == 0
    xr.testing.assert_identical(open_nc(out_a), open_nc(out_b))
    expected = [kingman_condensate(2.5, lam) for lam in (2.0, 3.0, 4.0)]
    np.testing.assert_allclose(open_nc(out_a)["condensate"].values, expected, rtol=0,
                               atol=1e-8)


@pytest.mark.parametrize("argv, option", [
    (["--param", "lam=1:2"], "--param lam"),
    (["--param", "nope=1,2"], "'nope'"),
    (["--param", "lam=1,2", "--measure", "nope"], "--measure"),
    (["--param", "lam=1,2", "--option", "t"], "--option"),
    (["--param", "lam=1,2", "--option", "zz=1"], "'zz'"),
    (["--param", "lam=1,2", "--set", "lam=3"], "both swept and fixed"),
    ([], "--param"),
])
def test_usage_errors_name_the_option(tmp_path, cli, argv, option):
    out = tmp_path / "x.nc"
    res = cli("sweep", "--scenario", "kingman", *argv, "--out", str(out))
    code = res.code
    err = res.err
    assert code == 2 and option in err and err.count("\n") == 1
    assert not out.exists()


def test_invalid_point_is_a_failed_point_not_a_crash(tmp_path, cli):
    out = tmp_path / "x.nc"
    res = cli("sweep", "--scenario", "kingman", "--param", "lam=-1,3", "--out",
              str(out))
    assert res.code == 0
    ds = open_nc(out)
    assert list(ds["state"].values) == [FAILED, DONE]
    assert "lam" in ds["error"].values[0]
    assert ds["condensate"].values[1] == pytest.approx(kingman_condensate(3.0, 3.0), abs=1e-8)


def test_spectral_radius_measure_is_s1_without_curation():
    """K = 1 (no curation): the Gaussian family's retraining map has spectral radius exactly
    lam/(1+lam) (S1, a closed form), at every swept lam."""
    lams = [0.25, 1.0, 4.0]
    spec = SweepSpec("spectral_radius", {"lam": lams}, scenario="gauss1d",
                     fixed={"K": 1.0, "grid": 81})
    ds = sweep(spec)
    assert (ds["state"].values == DONE).all()
    expected = np.array(lams) / (1.0 + np.array(lams))
    np.testing.assert_allclose(ds["spectral_radius"].values, expected, rtol=0, atol=1e-10)
    np.testing.assert_array_equal(ds["uncurated_radius"].values, expected)
    assert (ds["stable"].values == 1.0).all()


def test_contraction_measure_is_the_t7_checks_asymptotic_factor():
    """One measured contraction factor (theory.fixed_point.measured_contraction_factor): the
    sweep measure ``contraction`` and the T7 check's note report the same number for the same
    run, and it is the geometric mean of TV ratios recomputed here from the trajectory."""
    import math

    import numerics
    from numerics.scenarios import get_scenario
    from numerics.sweep_measures import get_measure
    from theory.distances import tv_distance
    sc = get_scenario("gauss1d", K=3, lam=0.4, steps=30)
    measured = get_measure("contraction")(sc)["factor"]
    rec = theory.check(sc, ids=["T7"]).results[0]
    assert rec.details["asymptotic_factor"] == pytest.approx(measured, rel=1e-9)
    traj = numerics.evolve(sc.mass, sc.reward, 3, 30, lam=0.4)
    # the limit of the run's normalized start, as the check solves it: the factor reads TV
    # down to 1e-9, where the limit's last bits show (a limit of the raw masses agrees with it
    # to rounding, not bit for bit)
    start = traj.masses[0] / traj.masses[0].sum()
    lim = numerics.limit(start, sc.reward, 3, 0.4, data=start)
    tv = [tv_distance(m, lim.mass) for m in traj.masses]
    t2 = max(t for t, v in enumerate(tv) if v > 1e-9)
    assert measured == pytest.approx((tv[t2] / tv[t2 // 2]) ** (1 / (t2 - t2 // 2)), rel=1e-9)
    assert 0 < measured < 3 * 0.4 / (1 + 0.4) and math.isfinite(measured)
