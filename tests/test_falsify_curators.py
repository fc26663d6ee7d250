"""Two-user-type claims of theory.claims (THEORY.md T11, T12): the K = inf statements survive a
search; their finite-K versions are refuted and the shrunk counterexamples confirmed in exact
rationals with the L1 oracle (numerics.exact), independent of the float engine."""

from __future__ import annotations

import json
import math
from fractions import Fraction as F

import pytest

from numerics.exact import curation_factor_exact
from theory.claims import get_claim
from theory.falsify import falsify


def _exact(ce):
    """p, s, s~, C_{K,r}(p), C_{K,r~}(p) in rationals for a shrunk counterexample."""
    ints = ce["exp_reward"]
    assert ints is not None and all(float(m).is_integer() for m in ce["mass"] + ce["data"])
    p = [F(int(m)) for m in ce["mass"]]
    p = [x / sum(p) for x in p]
    top = max(n for n, x in zip(ints, p) if x > 0)
    s = [F(n, top) for n in ints]
    st = [F(int(d), int(max(ce["data"]))) for d in ce["data"]]
    K = int(ce["K"])
    c1 = [x * h for x, h in zip(p, curation_factor_exact(p, s, K))]
    c2 = [x * h for x, h in zip(p, curation_factor_exact(p, st, K))]
    assert sum(c1) == 1 and sum(c2) == 1
    return p, s, st, c1, c2


def _dot(x, y):
    return sum(a * b for a, b in zip(x, y))


@pytest.mark.parametrize("name", ["T11", "T12"])
def test_kinf_two_type_claims_survive(name):
    res = falsify(name, budget=300, seed=1)
    assert res.error is None, res.error
    assert not res.found and res.violation <= get_claim(name).tolerance


def test_potential_not_monotone_for_finite_K_exactly(cli):
    res = cli("falsify", "potential-monotone-finite-K", "--json")
    code = res.code
    res = json.loads(res.out)
    assert code == 1 and res["found"]
    ce = res["counterexample"]
    p, s, st, c1, c2 = _exact(ce)
    best = -math.inf
    for k in range(41):
        w = F(k, 40)
        q = [(1 - w) * a + w * b for a, b in zip(c1, c2)]
        # Phi(p) - Phi(q) > 0  <=>  E_p[s]^(1-w) E_p[s~]^w > E_q[s]^(1-w) E_q[s~]^w; compare
        # the logs in floats of exact rationals (each to 1 ulp; the gap is ~1e-4)
        drop = ((1 - w) * (math.log(_dot(p, s)) - math.log(_dot(q, s)))
                + w * (math.log(_dot(p, st)) - math.log(_dot(q, st))))
        best = max(best, float(drop))
    assert best > 1e-6
    assert best == pytest.approx(res["violation"], rel=1e-9)


def test_adversarial_increase_fails_for_finite_K_exactly(cli):
    res = cli("falsify", "adversarial-increase-finite-K", "--json")
    code = res.code
    res = json.loads(res.out)
    assert code == 1 and res["found"]
    p, s, st, c1, c2 = _exact(res["counterexample"])
    E, Et = _dot(p, s), _dot(p, st)
    cov = _dot(p, [a * b for a, b in zip(s, st)]) - E * Et
    assert cov >= 0                                          # exactly in the claim's scope
    drops = [E - ((1 - F(k, 40)) * _dot(c1, s) + F(k, 40) * _dot(c2, s)) for k in range(41)]
    assert max(drops) > 0                                     # an exact decrease
    assert float(max(drops)) == pytest.approx(res["violation"], rel=1e-9)
    # at K = inf T11 gives the increase on the same instance, for every phi
    var = _dot(p, [a * a for a in s]) - E ** 2
    assert all((1 - F(k, 40)) * var / E + F(k, 40) * cov / Et >= 0 for k in range(41))
