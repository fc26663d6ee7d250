"""Curation rules as values (THEORY.md L4-L6, section 7): the factors against exact rational
enumeration (numerics.exact, an independent route: picks without replacement and explicit
tie-breaking, not the Laplace form), numba against numpy twins, the API dispatch, validation."""

from __future__ import annotations

import math
import random
from fractions import Fraction

import numpy as np
import pytest

from numerics import curation_factor, curate, evolve, retrain_step
from numerics import curators as cur
from numerics import exact

RNG = random.Random(20240611)


def _random_law(n_atoms, ties):
    """Rational masses and rational s in (0, 1] (repeated values when ``ties``)."""
    mass = [Fraction(RNG.randint(1, 9), 16) for _ in range(n_atoms)]
    pool = [Fraction(RNG.randint(1, 12), 12) for _ in range(max(1, n_atoms // 2 if ties
                                                                    else n_atoms))]
    s = [RNG.choice(pool) if ties else pool[i] for i in range(n_atoms)]
    if not ties:
        s = list(dict.fromkeys(s)) + [Fraction(1, 13 + i) for i in range(n_atoms - len(set(s)))]
        s = s[:n_atoms]
    return mass, s


def _as_arrays(mass, s):
    return (np.array([float(m) for m in mass]), np.log(np.array([float(v) for v in s])))


LAWS = [_random_law(n, ties) for n in (2, 3, 4) for ties in (False, True)]


@pytest.mark.parametrize("law", range(len(LAWS)))
@pytest.mark.parametrize("K", range(1, 7))
def test_plackett_luce_and_top_k_match_exact_enumeration(law, K):
    """L4 and L5 within 1e-12 (relative) of exact rational enumeration, keep = 1..K, ties
    included; E_p[H] = 1 (P1) to 1e-12."""
    mass, s = LAWS[law]
    m, r = _as_arrays(mass, s)
    p = m / m.sum()
    for keep in range(1, K + 1):
        for make, oracle in ((cur.plackett_luce, exact.plackett_luce_factor_exact),
                             (cur.top_k, exact.top_k_factor_exact)):
            want = np.array([float(v) for v in oracle(mass, s, K, keep)])
            for method in ("direct", "compressed"):
                H = curation_factor(m, make(r, K, keep), method=method)
                np.testing.assert_allclose(H, want, rtol=1e-12, atol=0)
                assert abs(float(p @ H) - 1.0) <= 1e-12


def test_oracles_are_normalized_exactly():
    """The exact oracles themselves satisfy P1 exactly (sum p H = 1 in rationals) and reduce
    to L1's oracle at keep = 1 (Plackett-Luce) and to H = 1 at keep = K."""
    mass, s = LAWS[3]
    tot = sum(mass)
    for K in (2, 4):
        bt = exact.curation_factor_exact(mass, s, K)
        assert exact.plackett_luce_factor_exact(mass, s, K, 1) == bt
        for keep in range(1, K + 1):
            for oracle in (exact.plackett_luce_factor_exact, exact.top_k_factor_exact):
                H = oracle(mass, s, K, keep)
                assert sum(m / tot * h for m, h in zip(mass, H)) == 1
        assert exact.top_k_factor_exact(mass, s, K, K) == [1] * len(mass)


def test_top_k_ties_worked_example():
    """Two atoms, the top one tied: K = 3, keep = 2, p = (1/2 at r=0, 1/2 at r=1)... by hand:
    a top draw is dropped only if the other two are top too and it loses the 3-way tie
    (prob 1/4 * 1/3), so H_top = (3/2)(1 - 1/12) = 11/8; E[H] = 1 gives H_low = 5/8."""
    H = curation_factor(np.array([0.5, 0.5]), cur.top_k(np.array([0.0, 1.0]), 3, 2))
    np.testing.assert_allclose(H, [5 / 8, 11 / 8], rtol=1e-15)


def test_plackett_luce_large_K_is_normalized_and_tends_to_top_k():
    """P1 for L4 at K = 40, keep = 7 on a continuous-looking law; L4 with rewards beta r
    tends to L5 as beta grows (THEORY.md L5), here on distinct rewards."""
    x = np.linspace(0, 1, 200)
    m = np.exp(-3 * x)
    p = m / m.sum()
    H = curation_factor(m, cur.plackett_luce(x, 40, 7))
    assert abs(p @ H - 1) < 1e-12
    r = np.array([0.0, 0.3, 0.7, 1.0])
    mm = np.array([0.4, 0.3, 0.2, 0.1])
    hk = curation_factor(mm, cur.top_k(r, 5, 2))
    hp = curation_factor(mm, cur.plackett_luce(60.0 * r, 5, 2))
    np.testing.assert_allclose(hp, hk, rtol=1e-6)


@pytest.mark.parametrize("K,keep", [(2, 1), (5, 2), (6, 5), (12, 4)])
def test_kernels_match_numpy_twins(K, keep):
    rng = np.random.default_rng(K * 10 + keep)
    ls = np.log(rng.choice([0.1, 0.25, 0.5, 1.0], size=30))
    lp = np.log(rng.random(30))
    ev = np.concatenate([ls, [-3.0, 0.5]])
    a = cur.top_k_log_factor(ls, lp, K, keep, ev)
    b = cur.top_k_log_factor_numpy(ls, lp, K, keep, ev)
    np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13)
    c = cur.plackett_luce_log_factor(ls, lp, K, keep, ev)
    d = cur.plackett_luce_log_factor(ls, lp, K, keep, ev, use_numba=False)
    np.testing.assert_allclose(c, d, rtol=1e-13, atol=1e-13)


def test_filtering_is_L3_with_log_accept_and_accepts_zero():
    """L6: p a / E_p[a]; cells with a = 0 are never kept (reward -inf), even with K-inf BT
    as the other check: filtering(e^r) = bradley_terry(r, inf) where a > 0."""
    m = np.array([0.2, 0.3, 0.5])
    a = np.array([0.0, 0.5, 1.0])
    want = np.array([0.0, 0.15, 0.5]) / 0.65
    np.testing.assert_allclose(curate(m, cur.filtering(a)), want, rtol=1e-15)
    a2 = np.array([0.25, 0.5, 1.0])
    np.testing.assert_allclose(curate(m, cur.filtering(a2)),
                               curate(m, np.log(a2), math.inf), rtol=1e-14)
    with pytest.raises(ValueError, match="accept"):
        curate(m, cur.filtering(np.array([0.0, 0.0, 0.0])))
    with pytest.raises(ValueError, match="accept"):
        curate(m, cur.filtering(np.array([0.0, 1.5, 1.0])))


def test_mixture_factor_is_the_weighted_sum_and_steps_match():
    """A mixture's H is sum_u pi_u H_u (each on its own reward law); its retraining step with
    real data matches the formula (p_d + lam p H)/(1 + lam) computed from the parts."""
    x = np.linspace(-2, 2, 41)
    m = np.exp(-x ** 2)
    r1, r2 = -x ** 2, -(x - 1) ** 2
    mix = cur.mixture([(3, cur.bradley_terry(r1, 3)), (1, cur.plackett_luce(r2, 4, 2))])
    H = curation_factor(m, mix)
    want = 0.75 * curation_factor(m, r1, 3) + 0.25 * curation_factor(
        m, cur.plackett_luce(r2, 4, 2))
    np.testing.assert_allclose(H, want, rtol=1e-14)
    d = np.ones_like(m)
    p = m / m.sum()
    nxt = retrain_step(m, mix, 2.0, d)
    np.testing.assert_allclose(nxt, (d / d.sum() + 2 * p * want) / 3, rtol=1e-13, atol=1e-18)


def test_old_form_is_bradley_terry_and_rule_positional_forms():
    x = np.linspace(-3, 3, 301)
    m, r = np.exp(-x ** 2 / 2), -x ** 2
    t1 = evolve(m, r, 4, 5, 1.0)
    t2 = evolve(m, cur.bradley_terry(r, 4), 5, 1.0)
    np.testing.assert_array_equal(t1.expected_reward, t2.expected_reward)
    np.testing.assert_array_equal(retrain_step(m, r, 4, 1.0, m),
                                  retrain_step(m, cur.bradley_terry(r, 4), 1.0, m))


def test_evolve_mixture_matches_repeated_steps_and_time_varying_reward():
    x = np.linspace(-3, 3, 121)
    m, r = np.exp(-x ** 2 / 2), -x ** 2
    mix = cur.mixture([(0.7, cur.bradley_terry(r, 4)), (0.3, cur.bradley_terry(-r, 4))])
    traj = evolve(m, mix, 6, 1.0)
    p = m / m.sum()
    for _ in range(6):
        p = retrain_step(p, mix, 1.0, m)
    assert np.abs(p - traj.masses[-1]).sum() < 1e-13
    rewards = [r * (1 + 0.2 * t) for t in range(4)]
    tv = evolve(m, cur.bradley_terry(rewards, 3), 4)
    q = m / m.sum()
    for t in range(4):
        q = curate(q, rewards[t], 3)
    assert np.abs(q - tv.masses[-1]).sum() < 1e-13
    with pytest.raises(ValueError, match="step 4"):
        evolve(m, cur.bradley_terry(rewards, 3), 5)
    tc = evolve(m, cur.bradley_terry(lambda t: rewards[t], 3), 4)
    assert np.abs(q - tc.masses[-1]).sum() < 1e-13


def test_evolve_mixture_reports_every_user_types_expected_reward():
    """``info["expected_reward_by_user"][t, u] = E_{p_t}[r_u]``, against the recorded masses
    (every step) and a plain dot product; column 0 is the trajectory's ``expected_reward``."""
    x = np.linspace(-3, 3, 121)
    m, r1, r2 = np.exp(-x ** 2 / 2), -x ** 2, -(x - 1.5) ** 2
    mix = cur.mixture([(0.6, cur.bradley_terry(r1, 3)), (0.4, cur.bradley_terry(r2, 5))])
    traj = evolve(m, mix, 5, 2.0, record_every=1)
    by_user = traj.info["expected_reward_by_user"]
    assert by_user.shape == (6, 2)
    for t in range(6):
        p = traj.masses[t]
        assert abs(by_user[t, 0] - float(p @ r1)) < 1e-12
        assert abs(by_user[t, 1] - float(p @ r2)) < 1e-12
    assert np.array_equal(by_user[:, 0], traj.expected_reward)
    assert by_user[5, 1] > by_user[0, 1]  # the second user's curation raises its reward too
    one = evolve(m, cur.plackett_luce(r1, 4, 2), 3, record_every=1)
    assert np.array_equal(one.info["expected_reward_by_user"][:, 0], one.expected_reward)


@pytest.mark.parametrize("call,match", [
    (lambda: cur.plackett_luce(np.zeros(2), 3, 4), "keep"),
    (lambda: cur.top_k(np.zeros(2), 2.5, 1), "K"),
    (lambda: cur.top_k(np.zeros(2), 3, 0), "keep"),
    (lambda: cur.mixture([]), "mixture"),
    (lambda: cur.mixture([(-1, cur.bradley_terry(np.zeros(2), 2))]), "weight"),
    (lambda: cur.bradley_terry(np.zeros(2), 0.5), "K"),
])
def test_bad_rules_raise_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_bad_rule_types_raise_type_error():
    with pytest.raises(TypeError, match="rule"):
        cur.mixture([(1, np.zeros(2))])
    with pytest.raises(TypeError, match="K"):
        curation_factor(np.ones(2), np.zeros(2))
    with pytest.raises(TypeError, match="K"):
        curation_factor(np.ones(2), cur.bradley_terry(np.zeros(2), 2), 3)
    with pytest.raises(ValueError, match="reward"):
        curation_factor(np.ones(2), cur.top_k(np.zeros(3), 2, 1))


def test_evolve_rule_shorthand_positional_and_keyword_forms_agree():
    """evolve(mass, rule, steps, lam, data): the positional arguments after the rule move up
    one place, keywords stay where they are named, and record_every is keyword-only."""
    x = np.linspace(-3, 3, 61)
    m, r = np.exp(-x ** 2 / 2), -x ** 2
    d = np.exp(-(x - 1) ** 2 / 2)
    rule = cur.plackett_luce(r, 4, 2)
    ref = evolve(m, rule, steps=5, lam=1.5, data=d).masses[-1]
    for traj in (evolve(m, rule, 5, 1.5, d), evolve(m, rule, 5, 1.5, data=d),
                 evolve(m, rule, 5, lam=1.5, data=d), evolve(m, rule, 5, 1.5, d, record_every=5)):
        np.testing.assert_array_equal(traj.masses[-1], ref)
    np.testing.assert_array_equal(evolve(m, rule, 5, lam=1.5).masses[-1],
                                  evolve(m, rule, steps=5, lam=1.5, data=None).masses[-1])
    with pytest.raises(TypeError, match="keyword-only"):
        evolve(m, rule, 5, 1.5, d, 1)
    with pytest.raises(TypeError):
        evolve(m, r, 4, 5, 1.5, d, 1)  # record_every is keyword-only in the plain form too
