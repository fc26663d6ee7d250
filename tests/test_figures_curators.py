"""Figures of curation rules (figures/curator_data.py, figures/curator_plots.py): the plotted
arrays read back and compared with independent computations (hand loops, KKT of T12)."""

import math

import numpy as np
import pytest

from figures.curator_data import adversarial_sweep, two_user_shares
from figures.curator_plots import adversarial_figure, two_user_shares_figure
from numerics.scenarios import get_scenario


def test_two_user_shares_plot_and_kkt_of_t12():
    ws = [0.0, 0.3, 0.8, 1.0]
    d = two_user_shares(ws, grid=24)
    fig = two_user_shares_figure(d)
    lines = fig.axes[0].get_lines()
    for u in range(2):
        np.testing.assert_array_equal(lines[u].get_xdata(), ws)
        np.testing.assert_array_equal(lines[u].get_ydata(), d.shares[:, u])
    x = np.linspace(-6, 6, 25)
    xc = 0.5 * (x[:-1] + x[1:])
    X, Y = np.meshgrid(xc, xc, indexing="ij")
    ang = 2 * np.pi * np.array([0, 3]) / 8
    r = [-np.maximum(0.0, np.hypot(X - 4 * np.cos(a), Y - 4 * np.sin(a)) - 1.0) for a in ang]
    for i, w in enumerate(ws):
        p = d.limits[i].mass
        # shares recomputed from the discs (reward 0) by hand
        assert d.shares[i, 0] == pytest.approx(p[r[0] == 0].sum(), abs=1e-15)
        # T12 KKT by hand: g = w e^{r_A}/Z_A + (1-w) e^{r_B}/Z_B is 1 on the support of the
        # limit and <= 1 on the support of p_0 (here: the whole grid)
        g = 0.0
        for pi, ru in ((w, r[0]), (1 - w, r[1])):
            if pi > 0:
                g = g + pi * np.exp(ru) / float(p.ravel() @ np.exp(ru).ravel())
        assert g.max() <= 1 + 1e-9
        np.testing.assert_allclose(g[p > 1e-12], 1.0, atol=1e-9)
    # w = 0 and 1: one user type, all mass on its disc (T3 at K = inf)
    assert d.shares[0, 1] == pytest.approx(1.0, abs=1e-12)
    assert d.shares[-1, 0] == pytest.approx(1.0, abs=1e-12)
    # symmetric discs: the shares of w and 1 - w are swapped (grid symmetric under the map?)
    assert 0 < d.shares[1, 0] < d.shares[2, 0] < 1


@pytest.mark.slow  # a figure, a sympy proof or an mpmath reference: seconds
def test_adversarial_sweep_plot_against_a_hand_loop():
    phis, t, grid = [0.0, 0.25], 4, 41
    d = adversarial_sweep(phis, t=t, grid=grid)
    fig = adversarial_figure(d)
    line = fig.axes[0].get_lines()[0]
    np.testing.assert_array_equal(line.get_ydata(), d.expected)
    np.testing.assert_array_equal(fig.axes[0].get_lines()[1].get_ydata(), np.log(d.at_limit))
    x = np.linspace(-6, 6, grid)
    r = -0.5 * (x - 1) ** 2
    for i, phi in enumerate(phis):
        p = np.exp(-0.5 * x ** 2)
        p /= p.sum()
        for _ in range(t):   # K = inf: H = (1-phi) e^r/E[e^r] + phi e^-r/E[e^-r] (L3, sec. 7)
            H = (1 - phi) * np.exp(r) / (p @ np.exp(r)) + phi * np.exp(-r) / (p @ np.exp(-r))
            p = p * H
            p /= p.sum()
        assert d.expected[i] == pytest.approx(float(p @ r), rel=1e-9)
        # the limit's E[e^r] against the KKT of T12 by hand (Z from the limit's own mass)
        # (a point is drawn only where the solver's KKT residuals are small: NaN otherwise)
        q = d.limits[i].mass
        Za = q @ np.exp(r)
        g = (1 - phi) * np.exp(r) / Za + (phi * np.exp(-r) / (q @ np.exp(-r)) if phi else 0)
        if math.isnan(d.at_limit[i]):
            assert g.max() > 1 + 1e-9          # the hand KKT agrees: not a maximizer
            continue
        assert d.at_limit[i] == pytest.approx(Za, rel=1e-9)
        assert g.max() <= 1 + 1e-9
    assert d.at_limit[0] == pytest.approx(math.exp(r.max()), rel=1e-12)  # phi = 0: mass on r_*
    assert d.expected[1] < d.expected[0]
