"""limit(): T3 (top level set), T8 (K = inf scalar equation, condensation), T9 (finite K)."""

import math

import mpmath as mp
import numpy as np
import pytest

from numerics import ContinuousRewardLaw, evolve, limit, retrain_step


def _kingman_i(b, lam, dps=30):
    """I = E[1/((1+lam)(1-e^r))] for the density b(-r)^{b-1} on [-1, 0] (mpmath)."""
    with mp.workdps(dps):
        f = lambda r: b * (-r) ** (b - 1) / ((1 + lam) * (-mp.expm1(r)))  # noqa: E731
        return mp.quad(f, [-1, -0.5, 0])


def test_t8_condensate_continuous_law():
    lam, b = 3.0, 3.0
    res = limit(ContinuousRewardLaw(lambda r: b * (-r) ** (b - 1), -1.0, 0.0), K=math.inf, lam=lam)
    expected = 1 - _kingman_i(b, lam)
    assert abs(res.condensate - float(expected)) < 1e-10
    assert res.info["Z"] == pytest.approx(lam / (1 + lam), rel=1e-15)
    assert str(expected).startswith("0.4845")


def test_t8_condensate_on_a_200000_cell_grid():
    """On a grid p_d has an atom at the top and the top cell carries the condensate."""
    n = 200_000
    edges = -np.arange(n + 1)[::-1] / n  # [-1, ..., 0]
    reward = np.concatenate([edges[1:-1], [0.0]])  # right ends; the last cell is r = 0
    mass = edges[1:] ** 3 - edges[:-1] ** 3  # exact cell integrals of 3 r^2 (up to sign)
    mass = np.abs(mass)
    res = limit(mass, reward, K=math.inf, lam=3.0)
    top = res.mass[reward == 0.0].sum()
    assert abs(top - float(1 - _kingman_i(3, 3))) < 1e-4
    assert res.condensate == 0.0


def test_t8_near_the_threshold_keeps_relative_accuracy():
    """A top atom of mass 1e-200 below a law with I < 1: eps ~ 1e-200; compare with the
    scalar equation solved by mpmath at 60 digits."""
    d = np.array([1e-200, 0.3, 0.7])
    reward = np.array([0.0, -1.0, -2.0])
    lam = 1.0
    res = limit(d, reward, K=math.inf, lam=lam)
    with mp.workdps(60):
        dd = [mp.mpf(1e-200), mp.mpf(0.3), mp.mpf(0.7)]
        tot = sum(dd)
        dd = [x / tot for x in dd]
        oms = [mp.mpf(0), -mp.expm1(-1), -mp.expm1(-2)]
        F = lambda x: sum(di * (1 + mp.e**x) / ((1 + lam) * (mp.e**x + o)) for di, o in zip(dd, oms)) - 1  # noqa: E731
        x = mp.findroot(F, math.log(res.info["eps"]))
        eps = mp.e**x
    assert abs(res.info["eps"] / float(eps) - 1) < 1e-12
    assert res.info["eps"] < 1e-190
    # the top cell carries the condensate 1 - I_below_top
    assert abs(res.mass[0] - (1 - res.info["I_below_top"])) < 1e-12


def test_t3_top_level_set():
    x = np.linspace(-2, 2, 401)
    p0 = np.exp(-x**2)
    reward = np.minimum(0.0, 1.0 - np.abs(x))  # optimal on |x| <= 1
    res = limit(p0, reward, K=4)
    ref = np.where(np.abs(x) <= 1, p0, 0.0)
    assert np.abs(res.mass - ref / ref.sum()).max() < 1e-15
    assert res.expected_exp_reward == 1.0


@pytest.mark.parametrize("K,lam", [(3.0, 0.4), (4.0, 3.0), (2.5, 1.0)])
def test_t9_fixed_point_matches_long_iteration(K, lam):
    x = np.linspace(-3, 3, 161)
    p0 = np.exp(-0.5 * x**2)
    reward = -0.5 * (x - 1) ** 2
    res = limit(p0, reward, K=K, lam=lam)
    step = retrain_step(res.mass, reward, K, lam, p0)
    assert 0.5 * np.abs(step - res.mass).sum() < 1e-10  # a fixed point of T
    far = evolve(p0, reward, K, 3000, lam=lam, record_every=3000).masses[-1]
    assert 0.5 * np.abs(far - res.mass).sum() < 1e-9
    assert res.info["max_H"] >= 1.0  # P1 forces max H >= 1


def test_t9_continuous_law_finite_k():
    law = ContinuousRewardLaw(lambda r: 3 * r**2, -1.0, 0.0)
    res = limit(law, K=3, lam=0.4)
    # the limit density integrates to 1 (no condensate when lam (K - 1) < 1)
    total = mp.quad(lambda r: res.density(float(r)), [-1, 0])
    assert abs(float(total) - 1) < 1e-8
    assert res.condensate == 0.0


def test_limit_rejects_mass_outside_data_support():
    with pytest.raises(ValueError, match="support of data"):
        limit(np.array([1.0, 1.0]), np.array([0.0, 1.0]), K=2, lam=1.0,
              data=np.array([1.0, 0.0]))
