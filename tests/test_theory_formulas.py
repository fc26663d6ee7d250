"""theory.formulas against independent values: exact rationals (fractions), limits in K,
mpmath, and direct numerical moments of p_0 e^{t r} on fine grids."""

import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest

from theory import formulas as F

ULP = np.finfo(float).eps


def close(value, exact, ulps=4):
    exact = float(exact)
    return abs(float(value) - exact) <= ulps * ULP * max(abs(exact), 1e-300)


@pytest.mark.parametrize("K", [1, 2, 3, 4, 7, 10, 100])
@pytest.mark.parametrize("q", [Fraction(1, 3), Fraction(1, 2), Fraction(9, 10), Fraction(1, 1000)])
def test_rho_K_exact_rationals(K, q):
    # e^{-delta} = q rational: rho_K = K q / (q + K - 1) exactly
    exact = K * q / (q + K - 1)
    assert close(F.rho_K(-math.log(q), K), exact, ulps=8)


def test_rho_K_limits():
    for delta in (1e-6, 0.5, 1.0, 30.0):
        assert F.rho_K(delta, math.inf) == math.exp(-delta)
        # K -> inf: rho_K -> e^{-delta}, with error e^{-delta}(1 - e^{-delta})/K to first order
        K = 1e9
        with mpmath.workdps(40):
            q = mpmath.exp(-mpmath.mpf(delta))
            exact = K * q / (q + K - 1)
        assert close(F.rho_K(delta, K), exact, ulps=8)
    assert F.rho_K(1.0, 1) == 1.0          # K = 1: nothing is selected


def test_t1_bound_and_kinf_increment_exact():
    # three atoms with rational s: E_{C_inf(p)}[s] - E_p[s] = Var_p[s] / E_p[s] exactly
    p = [Fraction(1, 2), Fraction(1, 3), Fraction(1, 6)]
    s = [Fraction(1, 5), Fraction(1, 2), Fraction(1)]
    mean = sum(a * b for a, b in zip(p, s))
    var = sum(a * (b - mean) ** 2 for a, b in zip(p, s))
    curated_mean = sum(a * b * b for a, b in zip(p, s)) / mean
    assert close(F.kinf_increment(float(mean), float(var)), curated_mean - mean, ulps=8)
    for K in (2, 5, 17):
        assert close(F.t1_increment_lower_bound(float(var), K, 1.0),
                     Fraction(K - 1, K) * var, ulps=4)
    assert F.t1_increment_lower_bound(float(var), math.inf, 2.0) == float(var) / 2.0
    # vectorized over steps
    out = F.t1_increment_lower_bound(np.array([0.25, 0.5]), 2, 1.0)
    assert out.tolist() == [0.125, 0.25]


def test_t2_budget_exact_and_limits():
    e, e0 = Fraction(3, 2), Fraction(5, 4)
    for K in (2, 3, 10):
        assert close(F.t2_variance_budget(K, float(e), float(e0)),
                     Fraction(K, K - 1) * e * (e - e0), ulps=4)
    assert F.t2_variance_budget(math.inf, 1.5, 1.25) == 1.5 * 0.25
    # K -> inf: the factor K / (K - 1) = 1 + 1/(K - 1) tends to 1
    assert F.t2_variance_budget(1e12, 1.5, 1.25) == pytest.approx(1.5 * 0.25, rel=2e-12, abs=0)
    assert F.t2_variance_budget(1, 1.5, 1.25) == math.inf


def test_t3_t5_t7_t8_closed_forms():
    assert close(F.t3_tv_bound(0.25, math.log(2), 3), Fraction(3, 4) / 8 / Fraction(1, 4))
    assert F.t5_kl_bound(0.5) == math.log1p(0.5)
    assert close(F.t5_tv_bound(0.5), Fraction(1, 3))
    assert F.t5_tv_bound(math.inf) == 1.0
    assert close(F.t7_kappa(0.4, 3), Fraction(2, 5) * 3 / Fraction(7, 5))
    assert F.t7_kappa(math.inf, 3) == 3.0 and F.t7_kappa(0.0, 3) == 0.0
    tv = Fraction(1, 8)
    for K in (1, 2, 5):
        assert close(F.t7_coupling_bound(float(tv), K), 1 - (1 - tv) ** K)
    assert F.t7_coupling_bound(0.1, math.inf) == 1.0 and F.t7_coupling_bound(0.0, math.inf) == 0.0
    assert F.t7_kinf_factor(0.0, -math.log(2)) == 4.0
    assert F.t8_condensate(0.25) == 0.75 and F.t8_condensate(1.5) == 0.0


@pytest.mark.parametrize("t", [0.0, 0.5, 3.0, 40.0])
def test_gaussian_tilt_1d_against_grid_moments(t):
    m, S, c, A = -0.3, 1.7, 1.2, 0.8
    sd_t = 1.0 / math.sqrt(1.0 / S + t * A)
    x = np.linspace(-14, 14, 40001)          # spectrally accurate for a Gaussian
    lp = -0.5 * (x - m) ** 2 / S - t * 0.5 * A * (x - c) ** 2
    w = np.exp(lp - lp.max())
    w /= w.sum()
    mean = w @ x
    var = w @ (x - mean) ** 2
    mean_t, var_t = F.gaussian_tilt(m, S, c, A, t)
    assert abs(mean_t - mean) <= 1e-12 and abs(var_t - var) <= 1e-12 * var + 1e-15
    assert sd_t == pytest.approx(math.sqrt(var_t), rel=1e-14)


def test_gaussian_tilt_2d_against_grid_moments():
    m = np.array([0.5, -1.0])
    S = np.array([[1.0, 0.3], [0.3, 0.5]])
    c = np.array([1.0, 1.0])
    A = np.array([[2.0, -0.4], [-0.4, 1.0]])
    t = 1.5
    g = np.linspace(-8, 8, 1601)
    X, Y = np.meshgrid(g, g, indexing="ij")
    P = np.stack([X - m[0], Y - m[1]], -1)
    Q = np.stack([X - c[0], Y - c[1]], -1)
    lp = -0.5 * np.einsum("...i,ij,...j", P, np.linalg.inv(S), P) \
        - 0.5 * t * np.einsum("...i,ij,...j", Q, A, Q)
    w = np.exp(lp - lp.max())
    w /= w.sum()
    mean = np.array([(w * X).sum(), (w * Y).sum()])
    cov = np.array([[(w * (X - mean[0]) ** 2).sum(), (w * (X - mean[0]) * (Y - mean[1])).sum()],
                    [0.0, (w * (Y - mean[1]) ** 2).sum()]])
    cov[1, 0] = cov[0, 1]
    mean_t, cov_t = F.gaussian_tilt(m, S, c, A, t)
    assert np.max(np.abs(mean_t - mean)) <= 1e-11
    assert np.max(np.abs(cov_t - cov)) <= 1e-11
