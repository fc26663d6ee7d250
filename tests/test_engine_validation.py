"""Bad input raises ValueError/TypeError naming the argument (DESIGN.md)."""

import math

import numpy as np
import pytest

from numerics import curation_factor, curate, evolve, limit, retrain_step

M = np.array([0.2, 0.3, 0.5])
R = np.array([0.0, 1.0, 2.0])


@pytest.mark.parametrize("call,exc,pattern", [
    (lambda: curation_factor(np.array([0.2, -0.1, 0.9]), R, 2), ValueError, "mass contains a negative"),
    (lambda: curation_factor(np.array([0.2, np.nan, 0.9]), R, 2), ValueError, "mass contains NaN"),
    (lambda: curation_factor(np.array([0.2, np.inf, 0.9]), R, 2), ValueError, "mass contains an infinite"),
    (lambda: curation_factor(np.zeros(3), R, 2), ValueError, "mass has zero total"),
    (lambda: curation_factor(M, R[:2], 2), ValueError, "reward has shape"),
    (lambda: curation_factor(M, np.array([0.0, np.nan, 1.0]), 2), ValueError, "reward contains NaN"),
    (lambda: curation_factor(M, np.array([0.0, -np.inf, 1.0]), 2), ValueError, "reward contains an infinite"),
    (lambda: curation_factor(M, R, 0.5), ValueError, "K must be >= 1"),
    (lambda: curation_factor(M, R, float("nan")), ValueError, "K is NaN"),
    (lambda: curation_factor(M, R, "3"), TypeError, "K must be a real number"),
    (lambda: curate(M, R, -1), ValueError, "K must be >= 1"),
    (lambda: retrain_step(M, R, 2, lam=-0.5, data=M), ValueError, "lam must be >= 0"),
    (lambda: retrain_step(M, R, 2, lam=float("nan"), data=M), ValueError, "lam is NaN"),
    (lambda: retrain_step(M, R, 2, lam=1.0), ValueError, "data is required"),
    (lambda: retrain_step(M, R, 2, lam=1.0, data=np.ones(4)), ValueError, "data has shape"),
    (lambda: retrain_step(M, R, 2, lam=1.0, data=-M), ValueError, "data contains a negative"),
    (lambda: evolve(M, R, 2, -1), ValueError, "steps must be >= 0"),
    (lambda: evolve(M, R, 2, 2.5), TypeError, "steps must be an integer"),
    (lambda: evolve(M, R, 2, 3, record_every=0), ValueError, "record_every must be >= 1"),
    (lambda: evolve(M, R, 2, 3, method="fast"), ValueError, "method must be"),
    (lambda: limit(M, R, K=0.0), ValueError, "K must be >= 1"),
    (lambda: limit(M, None, K=2), TypeError, "reward is required"),
    (lambda: curation_factor([], [], 2), ValueError, "mass must be a non-empty"),
    (lambda: curation_factor([["a"]], [[0.0]], 2), TypeError, "mass must be an array"),
])
def test_bad_input_names_the_argument(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


def test_tiny_and_huge_masses_are_fine():
    """Masses underflowing toward 0 and near the float max: normalized internally."""
    H1 = curation_factor(M * 1e-300, R, 3)
    H2 = curation_factor(M * 1e300, R, 3)
    H3 = curation_factor(M, R, 3)
    assert np.allclose(H1, H3, rtol=1e-14, atol=0) and np.allclose(H2, H3, rtol=1e-14, atol=0)
    m = np.array([1e-320, 1.0, 5e-324])
    out = curate(m, R, math.inf)
    assert np.isfinite(out).all() and abs(out.sum() - 1) < 1e-15 and out[0] > 0
