"""Several models feeding each other (numerics.coupled) against hand-written numpy loops:
L3 (K = inf) and the L1 pairwise formula for K = 2."""

from __future__ import annotations

import math

import numpy as np
import pytest

from numerics import curators as cur
from numerics.coupled import (coupled_evolve, coupled_limit, coupled_sensitivity,
                              coupled_step)

RNG = np.random.default_rng(11)
N = 7
R = [RNG.normal(size=N), RNG.normal(size=N)]
D = RNG.random(N) + 0.2
D /= D.sum()
P = [RNG.random(N) + 0.1 for _ in range(2)]
P = [p / p.sum() for p in P]
A = np.array([0.3, 0.2])
B = np.array([[0.1, 0.2], [0.15, 0.05]])
C = np.array([[0.25, 0.15], [0.2, 0.4]])


def _curate_hand(p, r, K):
    s = np.exp(r)
    if math.isinf(K):                                   # L3
        return p * s / (p @ s)
    assert K == 2                                        # L1, pairwise: sum_j p_j 2 s/(s + s_j)
    H = np.array([sum(p[j] * 2 * s[x] / (s[x] + s[j]) for j in range(len(p)))
                  for x in range(len(p))])
    return p * H


def _step_hand(ps, K):
    return [A[i] * D + sum(B[i, j] * ps[j] + C[i, j] * _curate_hand(ps[j], R[i], K)
                           for j in range(2)) for i in range(2)]


@pytest.mark.parametrize("K", [math.inf, 2])
def test_evolve_matches_hand_loop(K):
    tr = coupled_evolve(P, R, A, B, C, D, steps=12, K=K)
    ps = P
    worst = 0.0
    for t in range(1, 13):
        ps = _step_hand(ps, K)
        for i in range(2):
            worst = max(worst, float(np.max(np.abs(tr.masses[t][i] - ps[i]))))
            assert tr.expected_reward[t, i] == pytest.approx(float(ps[i] @ R[i]), abs=1e-12)
    assert worst <= 1e-12
    # rules given as rule objects give the same step
    rules = [cur.bradley_terry(r, K) for r in R]
    one = coupled_step(P, rules, A, B, C, D)
    np.testing.assert_allclose(one, tr.masses[1], atol=1e-15, rtol=0)


@pytest.mark.parametrize("K", [math.inf, 2])
def test_limit_is_a_fixed_point_of_the_hand_map(K):
    lim = coupled_limit(P, R, A, B, C, D, K=K)
    assert lim.residual <= 1e-10
    nxt = _step_hand(lim.masses, K)
    assert max(0.5 * np.abs(x - y).sum() for x, y in zip(nxt, lim.masses)) <= 1e-12


def test_rows_must_sum_to_one_and_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"row 1 of \(a, b, c\)"):
        coupled_step(P, R, A, B, C + np.array([[0, 0], [0, 0.1]]), D, K=2)
    with pytest.raises(ValueError, match="b has negative"):
        coupled_step(P, R, A, -B, C + 2 * B, D, K=2)
    with pytest.raises(ValueError, match="c must have shape"):
        coupled_step(P, R, A, B, C[:1], D, K=2)
    with pytest.raises(ValueError, match="data is required"):
        coupled_step(P, R, A, B, C, None, K=2)
    with pytest.raises(ValueError, match="rules: expected 2"):
        coupled_step(P, R[:1], A, B, C, D, K=2)
    with pytest.raises(TypeError, match="K is required"):
        coupled_step(P, R, A, B, C, D)


def _limit_reward_hand(eps, g, K, a, b, c):
    """E_{p^2_lim}[r_2] for r_1 -> r_1 + eps g, by iterating the hand map 4000 times."""
    r = [R[0] + eps * g, R[1]]
    ps = P
    for _ in range(4000):
        ps = [a[i] * D + sum(b[i, j] * ps[j] + c[i, j] * _curate_hand(ps[j], r[i], K)
                             for j in range(2)) for i in range(2)]
    return float(ps[1] @ R[1])


def test_own_users_couple_the_two_models():
    """Model 1's users (reward r_1) move model 2's expected reward only through the
    cross-feeding: b_21 or c_21 > 0.  Decoupled coefficients give a derivative 0."""
    g = np.linspace(-1, 1, N)
    K = math.inf
    val, err = coupled_sensitivity(P, R, K, A, B, C, D, source=0, target=1, direction=g)
    hand = (_limit_reward_hand(1e-4, g, K, A, B, C)
            - _limit_reward_hand(-1e-4, g, K, A, B, C)) / 2e-4   # O(h^2) = 1e-8 error
    assert abs(val) > 1e-3 and err < 1e-8
    assert val == pytest.approx(hand, abs=1e-7)
    a2 = np.array([0.3, 0.2])
    b2 = np.array([[0.3, 0.0], [0.0, 0.3]])
    c2 = np.array([[0.4, 0.0], [0.0, 0.5]])
    val0, err0 = coupled_sensitivity(P, R, K, a2, b2, c2, D, source=0, target=1, direction=g)
    assert abs(val0) <= 1e-10 and err0 <= 1e-10
