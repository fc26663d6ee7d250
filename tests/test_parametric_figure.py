"""The stability figure: the plotted arrays are the scan's numbers, which match S1 and the
fixed-point solver (THEORY.md S1-S3)."""

import math

import numpy as np

from figures.stability_data import stability_scan
from figures.stability_plot import plot_stability
from numerics.scenarios import get_scenario


def test_scan_and_plot_read_back():
    sc = get_scenario("gauss1d", grid=401)
    lams = (0.05, 1.0, 20.0)
    scan = stability_scan(sc, lams=lams, Ks=(1.0, math.inf))
    # K = 1 is uncurated: S1 says the radius is lam/(1+lam) exactly
    assert np.max(np.abs(scan.radius[0] - np.array(lams) / (1 + np.array(lams)))) <= 1e-10
    assert np.all(scan.stable == 1)
    assert np.allclose(scan.rho, scan.s1, rtol=1e-14)          # L = 0: rho = lam/(1+lam)
    assert scan.rho_B[0] == 0.05 / 0.95 and np.isnan(scan.rho_B[1:]).all()
    fig = plot_stability(scan)
    ax = fig.axes[0]
    lines = ax.get_lines()
    # the first line is K = 1's radius, the x axis is lam
    x, y = lines[0].get_data()
    assert np.array_equal(x, np.array(lams)) and np.array_equal(y, scan.radius[0])
    s1_line = [ln for ln in lines if ln.get_label().startswith("λ/(1+λ)")][0]
    assert np.array_equal(s1_line.get_data()[1], scan.s1)


def test_unstable_points_are_marked():
    sc = get_scenario("mog8", grid=64)
    scan = stability_scan(sc, lams=(1.0, 20.0), Ks=(math.inf,))
    assert scan.stable[0, 0] == 1 and scan.stable[0, 1] == 0
    fig = plot_stability(scan)
    crosses = [ln for ln in fig.axes[0].get_lines() if ln.get_marker() == "x"]
    assert len(crosses) == 1
    x, y = crosses[0].get_data()
    assert list(x) == [20.0] and y[0] == scan.radius[0, 1] > 1
