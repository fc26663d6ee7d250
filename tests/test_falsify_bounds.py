"""Falsify claims of P3.strict, T3.kl, T6.increment (with T6.sharp), T10 and T7.uniform
(theory.claim_bounds): each survives a search of the default size, and a deliberately wrong
variant of each (a larger coefficient, the opposite sign) is refuted; the shrunk
counterexample is confirmed in exact rationals (numerics.exact, L1 enumerated), independent of
the float engine, to violate the wrong variant and satisfy the statement.
"""

import math
from dataclasses import replace
from fractions import Fraction as F

import pytest

from numerics.exact import curate_exact, curation_factor_exact
from theory import claim_bounds as cb
from theory.claims import claims_for, get_claim
from theory.falsify import DEFAULT_BUDGET, exp_reward_integers, falsify

NEW = ("P3.strict", "T3.kl", "T6.increment", "T10", "T7.uniform")


def test_each_statement_has_its_claim():
    for sid in NEW + ("T6.sharp",):
        assert [c.name for c in claims_for(sid)] == [sid if sid != "T6.sharp"
                                                     else "T6.increment"], sid
        assert get_claim(claims_for(sid)[0].name).kind == "theorem"


@pytest.mark.parametrize("name", NEW)
def test_statement_claims_survive_the_default_search(name):
    res = falsify(name)
    assert res.error is None, (res.error, res.error_instance and res.error_instance.as_dict())
    assert res.tried == DEFAULT_BUDGET and not res.found
    assert res.violation <= get_claim(name).tolerance


# --- exact rationals -----------------------------------------------------------------------

def _exact(ce):
    """``(p_0 .. p_step, s, K, lam, d)`` exactly: ``s = n/max n`` with ``reward = log n``."""
    ints = exp_reward_integers(ce.reward)
    assert ints is not None, ce.as_dict()
    s = [F(n, max(ints)) for n in ints]
    K = ce.K if math.isinf(ce.K) else int(ce.K)
    assert math.isinf(K) or K == ce.K
    lam = None if math.isinf(ce.lam) else F(ce.lam).limit_denominator(1000)
    assert lam is None or float(lam) == ce.lam
    d = None if ce.data is None else _norm([F(v) for v in ce.data])
    p = [_norm([F(v) for v in ce.mass])]
    for _ in range(ce.step):
        c = _curate(p[-1], s, K)
        p.append(c if lam is None else [(a + lam * b) / (1 + lam) for a, b in zip(d, c)])
    return p, s, K, lam, d


def _norm(m):
    return [v / sum(m) for v in m]


def _curate(p, s, K):
    if math.isinf(K):   # L3: C(p) = p s / E_p[s]
        E = sum(a * b for a, b in zip(p, s))
        return [a * b / E for a, b in zip(p, s)]
    return curate_exact(p, s, K)


def _mean_var(p, s):
    E = sum(a * b for a, b in zip(p, s))
    return E, sum(a * (b - E) ** 2 for a, b in zip(p, s))


def _refuted(name, wrong):
    """Falsify the wrong variant of claim ``name``: the counterexample, shrunk."""
    claim = get_claim(name)
    res = falsify(replace(claim, name=name + "-wrong", expected="false", kind="false", ids=(),
                          violation=wrong))
    assert res.error is None and res.found, res.error
    ce = res.counterexample
    assert wrong(ce) == res.violation > claim.tolerance
    assert claim.violation(ce) <= claim.tolerance          # the statement itself holds there
    return ce


def test_p3_strict_with_twice_the_margin_is_refuted():
    ce = _refuted("P3.strict", cb.p3_strict_violation(scale=2.0))
    p, s, K, _, _ = _exact(ce)
    H = curation_factor_exact(p[0], s, K)
    levels = sorted({v for v, m in zip(s, p[0]) if m > 0})
    assert len(levels) >= 2 and K >= 2

    def tail(c):
        return sum(m for v, m in zip(s, p[0]) if v >= c)

    def g(S, s1, s2):
        return S / ((s1 + S) * (s2 + S))

    H_at = {v: h for v, h, m in zip(s, H, p[0]) if m > 0}
    failed = False
    for s1, s2 in zip(levels[:-1], levels[1:]):
        margin = K * (s2 - s1) * max(tail(c) ** (K - 1)
                                     * min(g((K - 1) * c, s1, s2), g(K - 1, s1, s2))
                                     for c in levels)
        gap = H_at[s2] - H_at[s1]
        assert gap >= margin > 0            # P3.strict, exactly
        failed |= gap < 2 * margin          # the wrong variant fails at some pair
    assert failed


def test_t3_kl_claimed_non_decreasing_is_refuted():
    ce = _refuted("T3.kl", cb.t3_kl_violation(sign=-1.0))
    p, s, _, lam, _ = _exact(ce)
    assert lam is None
    top = [i for i, m in enumerate(p[0]) if m > 0 and s[i] == max(
        v for v, m in zip(s, p[0]) if m > 0)]
    m_top = [sum(pt[i] for i in top) for pt in p]   # KL(p_* || p_t) = -log m_top(t)
    assert all(b >= a for a, b in zip(m_top, m_top[1:]))      # T3.kl: KL non-increasing
    assert any(b > a for a, b in zip(m_top, m_top[1:]))       # strictly: the variant fails


def test_t6_increment_with_twice_the_coefficient_is_refuted():
    ce = _refuted("T6.increment", cb.t6_increment_violation(scale=2.0))
    p, s, K, lam, d = _exact(ce)
    assert lam is not None and lam > 0 and p[0] == d
    E_d, V_d = _mean_var(d, s)
    factor = 1 if math.isinf(K) else F(K - 1, K)
    failed = False
    for t in range(1, len(p)):
        c = lam / (1 + lam) if t == 1 else lam / (1 + lam) ** 2      # T6.sharp
        assert c >= lam / (1 + lam) ** 3                              # the paper's c_t
        E_t, _ = _mean_var(p[t], s)
        assert E_t >= E_d + c * factor * V_d                          # T6.sharp, exactly
        failed |= E_t < E_d + 2 * c * factor * V_d
    assert failed


def test_t10_with_half_the_exponent_is_refuted():
    ce = _refuted("T10", cb.t10_violation(g_scale=0.5))
    p, s, K, lam, d = _exact(ce)
    assert not math.isinf(K) and lam * (K - 1) < 1
    B = 1 / (1 - lam * (K - 1))
    B_wrong = 1 / (1 - lam * (K - 1) / 2)
    cells = [(pt[i], d[i]) for pt in p[1:] for i in range(len(d))]
    assert all(a <= B * b for a, b in cells)                          # T10, exactly
    assert any(a > B_wrong * b for a, b in cells)


def test_t7_uniform_with_a_twelfth_of_the_factor_is_refuted():
    ce = _refuted("T7.uniform", cb.t7_uniform_violation(scale=1 / 12))
    p, s, K, _, _ = _exact(ce)
    q = _norm([F(v) for v in ce.data])
    on = [v for v, a, b in zip(s, p[0], q) if a > 0 or b > 0]
    R = max(on) / min(on)                                             # e^Delta, rational
    L = 2 * R * (2 + R)

    def tv(a, b):
        return sum(abs(x - y) for x, y in zip(a, b)) / 2

    tv0, tv1 = tv(p[0], q), tv(_curate(p[0], s, K), _curate(q, s, K))
    assert tv1 <= L * tv0 and tv1 > L * tv0 / 12
