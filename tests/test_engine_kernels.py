"""The numba kernels of the reward-law build against their pure numpy twins (the L2 kernels,
``stieltjes`` and ``interpolate`` are compared in tests/test_properties_operator.py)."""

import numpy as np
import pytest

from numerics import quadrature_rules as qr


@pytest.mark.parametrize("seed", range(3))
def test_panels_match_numpy_twin(seed):
    rng = np.random.default_rng(seed)
    n = 5000
    reward = np.round(rng.normal(0, 3, n), 2)  # ties and panel edges hit exactly
    support = rng.random(n) < 0.8
    r_max = reward[support].max()
    a = qr._panels(reward, support, r_max, 0.25)
    b = qr._panels_numpy(reward, support, r_max, 0.25)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[2], b[2])
    assert np.allclose(a[1], b[1], rtol=0, atol=1e-15)
    inside = a[0] >= 0
    assert np.all(np.abs(a[1][inside]) <= 1 + 1e-12) and np.all(a[0][~support] == -1)


def test_scaled_weights_and_log_normalized_match_numpy_twins():
    rng = np.random.default_rng(7)
    n = 4000
    mass = rng.random(n) * np.exp(rng.uniform(-700, 0, n))
    mass[rng.random(n) < 0.2] = 0.0
    total = mass.sum()
    la = qr.log_normalized(mass, total)
    lb = qr.log_normalized_numpy(mass, total)
    assert np.array_equal(np.isinf(la), np.isinf(lb))
    fin = np.isfinite(la)
    assert np.allclose(la[fin], lb[fin], rtol=1e-15, atol=1e-12)
    panel = rng.integers(-1, 40, n)
    wa, ta = qr._scaled_weights(panel, la, 40)
    wb, tb = qr._scaled_weights_numpy(panel, lb, 40)
    assert np.allclose(wa, wb, rtol=1e-13, atol=0) and np.array_equal(ta, tb)
    assert wa.max() == 1.0  # each panel's largest mass scaled to 1


def test_gauss_rule_integrates_polynomials_exactly():
    """The panel rule of a discrete measure reproduces its moments up to degree 2m - 1
    (against the atoms summed directly), and a panel with 3 atoms is reproduced exactly."""
    rng = np.random.default_rng(1)
    n, m = 3000, 6
    panel = rng.integers(0, 5, n)
    x = rng.uniform(-1, 1, n)
    panel[:3], x[:3] = 5, [-0.3, 0.2, 0.9]
    panel[3:][panel[3:] == 5] = 0
    log_mass = np.log(rng.random(n))
    centers, hw = np.arange(6.0), np.full(6, 0.5)
    rules = qr.build_rules(panel, x, log_mass, centers, hw, m)
    for q in range(6):
        nodes = slice(rules.ptr[q], rules.ptr[q + 1])
        xn = (rules.r[nodes] - centers[q]) / hw[q]
        wn = np.exp(rules.log_w[nodes])
        sel = panel == q
        for k in range(2 * min(m, sel.sum())):
            exact = np.sum(np.exp(log_mass[sel]) * x[sel] ** k)
            assert abs(np.dot(wn, xn**k) - exact) <= 1e-12 * np.sum(np.exp(log_mass[sel]))
    assert rules.ptr[6] - rules.ptr[5] == 3


@pytest.mark.parametrize("lam", [float("inf"), 0.7])
def test_engine_with_numpy_twins_matches_numba(lam):
    """The whole compressed engine run with every numba kernel replaced by its numpy twin
    (build, steps, re-tilts, materialization) gives the same masses."""
    from numerics.engine import CurationEngine
    x = np.linspace(-3, 3, 6000)
    mass = np.exp(-0.5 * x**2)
    mass /= mass.sum()
    reward = -0.8 * np.abs(x - 1) + 0.2 * np.sin(7 * x)
    data = np.ones_like(mass) / mass.size
    outs = []
    for use_numba in (True, False):
        eng = CurationEngine(reward, mass, None if lam == float("inf") else data, 3.5, lam,
                             method="compressed", use_numba=use_numba)
        for _ in range(25):
            eng.advance()
        outs.append((eng.snapshot().materialize(), eng.rebuilds))
    assert outs[0][1] == outs[1][1]
    assert np.allclose(outs[0][0], outs[1][0], rtol=1e-11, atol=0)
