"""`selfconsume figures --from SWEEP.nc`: the phase diagram of a 2-D sweep, with T8's and
T7's boundaries checked against closed forms / mpmath."""

import numpy as np
import pytest

import xarray as xr  # the sweep extra: installed by the test command (no silent skip)

from figures.sweep_phase import plot_sweep  # noqa: E402

from _references import kingman_i  # noqa: E402


def open_nc(path):
    with xr.open_dataset(path, engine="scipy") as ds:
        return ds.load()


def kingman_lam_c(b):
    """T8: I = 1 at lam_c = E[1/(1 - e^r)] - 1 for the density b(-r)^{b-1} on [-1, 0]."""
    return float(kingman_i(b) - 1)


def test_kingman_phase_diagram_with_t8_boundary(tmp_path, cli):
    nc = tmp_path / "k.nc"
    res = cli("sweep", "--scenario", "kingman", "--param", "b=1.5:4:4", "--param",
              "lam=0.5:4:5", "--out", str(nc))
    assert res.code == 0
    ds = open_nc(nc)
    fig = plot_sweep(ds)
    ax = fig.axes[0]
    np.testing.assert_array_equal(ax.collections[0].get_array().reshape(4, 5),
                                  ds["condensate"].values)
    (line,) = ax.get_lines()
    lam, b = line.get_xdata(), line.get_ydata()
    assert b.min() == 1.5 and b.max() == 4.0
    for i in (0, len(b) // 2, len(b) - 1):
        assert abs(lam[i] - kingman_lam_c(b[i])) < 1e-8
    res = cli("figures", "--from", str(nc), "--out", str(tmp_path / "fig"),
              "--format", "png")
    assert res.code == 0
    png = tmp_path / "fig" / "k_condensate.png"
    assert res.out.strip() == str(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_contraction_phase_diagram_with_t7_boundary(tmp_path, cli):
    nc = tmp_path / "c.nc"
    res = cli("sweep", "--scenario", "gauss1d", "--grid", "31", "--steps", "20",
              "--param", "K=1.5,2,4", "--param", "lam=0.1:2:3:log", "--measure",
              "contraction", "--out", str(nc))
    assert res.code == 0
    ax = plot_sweep(open_nc(nc), "kappa").axes[0]
    (line,) = ax.get_lines()
    np.testing.assert_allclose(line.get_xdata(), 1 / (line.get_ydata() - 1), rtol=1e-15)


def test_from_usage_errors(tmp_path, cli):
    nc = tmp_path / "one.nc"
    res = cli("sweep", "--scenario", "kingman", "--param", "lam=2,3", "--out",
              str(nc))
    assert res.code == 0
    out = str(tmp_path / "fig")
    res = cli("figures", "--from", str(nc), "--out", out)
    assert res.code == 2
    assert "2-D sweep" in res.err
    res = cli("figures", "--from", str(tmp_path / "none.nc"), "--out", out)
    assert res.code == 2
    assert "--from" in res.err
