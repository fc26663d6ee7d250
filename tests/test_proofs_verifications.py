"""proofs_check: every verification passes on THEORY.md's formulas, and the same machinery
reports ``failed`` when a formula is replaced by a wrong one."""

from __future__ import annotations

import math

import mpmath
import pytest
import sympy as sp

from proofs_check import run, run_all, PROVED, CHECKED, FAILED
from proofs_check.algebra import sign_certificate, vanishes


@pytest.fixture(scope="module")
def results():
    return run_all()


@pytest.mark.slow
def test_at_least_twelve_verifications_covering_the_statements(results):
    assert len(results) >= 12
    ids = [v.id for v in results]
    assert len(set(ids)) == len(ids)
    for prefix in ("L1", "L2", "L3", "P1", "T1", "T3", "T4", "T5", "T7", "T8"):
        assert any(i.startswith(prefix) or i == "L1=L2" for i in ids if prefix in i), prefix
    # symbolic proofs, not samples, for the core statements
    by_id = {v.id: v for v in results}
    for i in ("L1=L2", "P1", "L3", "T1.identity", "T1.empvar", "T1.Kinf", "T3.rate",
              "T3.rate-below-1", "T3.rate-limit", "T4.gauss-1d", "T4.gauss-2d", "T5.floor",
              "T5.KL-TV", "T7.kappa-below-1", "T7.coupling", "T8.fixed-point",
              "T8.condensate", "T8.example"):
        assert by_id[i].status == PROVED, (i, by_id[i].detail)


@pytest.mark.slow
def test_no_verification_fails(results):
    bad = [(v.id, v.detail) for v in results if v.status == FAILED]
    assert not bad, bad


@pytest.mark.slow
def test_records_say_what_and_how(results):
    for v in results:
        assert v.status in (PROVED, CHECKED, FAILED)
        assert v.statement and v.method and v.detail
        assert v.seconds >= 0


# -- the same machinery on wrong formulas ---------------------------------------------------

WRONG = {
    "T3.rate": dict(rho=lambda d, K: (K + 1) * sp.exp(-d) / (sp.exp(-d) + K)),
    "T3.rate-below-1": dict(rho=lambda d, K: K / (sp.exp(-d) + K - 1)),
    "T3.rate-limit": dict(rho=lambda d, K: K * sp.exp(-2 * d) / (sp.exp(-d) + K - 1)),
    "T1.identity": dict(rhs=lambda a: (len(a) - 1) * sum((x - sum(a) / len(a)) ** 2 for x in a)
                        / len(a) / sum(a)),
    "T1.empvar": dict(factor=lambda K: sp.Integer(1)),
    "T1.Kinf": dict(increment=lambda mean, var: var / mean ** 2),
    "T1.bound": dict(factor=lambda K: sp.Integer(K)),
    "T2.budget": dict(budget=lambda K, s, m0: K * s * (s - m0) / (K + 1)),
    "L2.laplace": dict(reciprocal=lambda a: 1 / a ** 2),
    "L1=L2": dict(integrand=lambda u, s, M, K: K * s * sp.exp(-u * s) * M ** K),
    "P1": dict(kernel=lambda s, others, K: (K - 1) * s / (s + others)),
    "L3": dict(claimed=lambda s, m: s / m ** 2),
    "T3.Kinf-TV": dict(bound=lambda m, d, t: (1 - m) * sp.exp(-t * d)),
    "T4.gauss-1d": dict(tilt=lambda m, S, c, A, t: ((S.inv() - t * A).inv() * (S.inv() * m
                                                    + t * A * c), (S.inv() - t * A).inv())),
    "T4.gauss-2d": dict(tilt=lambda m, S, c, A, t: ((S.inv() + t * A).inv() * (m + t * A * c),
                                                    (S.inv() + t * A).inv())),
    "T4.iterate": dict(tilted=lambda p0, r, t: [pj * sp.exp(t * rj / 2) for pj, rj in zip(p0, r)]),
    "T5.floor": dict(floor=lambda p_d, lam: p_d / lam),
    "T5.KL-TV": dict(kl_bound=lambda lam: sp.log(lam)),
    "T7.kappa": dict(kappa=lambda lam, K: lam * (K - 1) / (1 + lam)),
    "T7.kappa-below-1": dict(kappa=lambda lam, K: lam * (K + 1) / (1 + lam)),
    "T7.coupling": dict(bound=lambda x, K: 1 - (1 - x) ** (K + 1)),
    "T7.Kinf-2atoms": dict(factor=lambda r_star, r_min: sp.Integer(1) / 2),
    "T7.Kinf-3atoms": dict(factor=lambda r_star, r_min: sp.Rational(1, 2)),
    "T8.fixed-point": dict(p_of=lambda p_d, s, lam, Z: p_d / (1 + lam + lam * s / Z)),
    "T8.condensate": dict(condensed_mass=lambda I: 1 - I / 2),
    "T8.example": dict(antiderivative=lambda r: r ** 3 / 3 - r ** 2 * sp.log(1 - sp.exp(r))
                       - 2 * r * sp.polylog(2, sp.exp(r)) + sp.polylog(3, sp.exp(r))),
}


@pytest.mark.parametrize("vid", sorted(WRONG))
def test_wrong_formula_is_reported_failed(vid):
    v = run(vid, **WRONG[vid])
    assert v.status == FAILED, (vid, v.detail)


def test_wrong_numeric_closed_forms_are_reported_failed():
    # rho_K with K+1 in place of K, off by 1e-10 relative: caught at the 1e-13 tolerance
    assert run("F.rho_K", formula=lambda d, K: (K + 1) * math.exp(-d) / (math.exp(-d) + K)
               if not math.isinf(K) else math.exp(-d)).status == FAILED
    assert run("F.rho_K", formula=lambda d, K: K * math.exp(-d) / (math.exp(-d) + K - 1)
               * (1 + 1e-12) if not math.isinf(K) else math.exp(-d)).status == FAILED
    assert run("F.t5_kl_bound", formula=lambda lam: math.log(lam + 1.0000001)).status == FAILED
    assert run("F.t8_condensate", formula=lambda I: 1.0 - float(I)).status == FAILED  # no clamp

    def prior_mean_only(mean, cov, center, A, t):   # forgets the t A c term of the mean
        from theory.formulas import gaussian_tilt
        _, cov_t = gaussian_tilt(mean, cov, center, A, t)
        return gaussian_tilt(mean, cov, mean, A, t)[0], cov_t
    assert run("F.gaussian_tilt", formula=prior_mean_only).status == FAILED


def test_correct_numeric_rho_passes():
    # the direct form K q/(q + K - 1) (a sum of non-negative terms) passes every point,
    # including K = 1 and K = 1 + 2^-20 at large gaps
    def rho(d, K):
        q = math.exp(-d)
        return q if math.isinf(K) else K * q / (q + (K - 1))
    v = run("F.rho_K", formula=rho)
    assert v.status == CHECKED, v.detail


def test_engine_comparisons_catch_perturbed_engines():
    from numerics import curation_factor
    from numerics.exact import curation_factor_exact
    bumped = lambda m, r, K: curation_factor(m, r, K) * (1 + 1e-12)
    assert run("E.curation_factor", formula=bumped).status == FAILED
    off_by_one = lambda m, s, K: curation_factor_exact(m, s, K + 1)
    assert run("E.exact-oracle", formula=off_by_one).status == FAILED


def test_a_raising_verification_is_failed_not_an_error():
    def boom(*args):
        raise ZeroDivisionError("deliberate")
    v = run("T3.rate-limit", rho=boom)
    assert v.status == FAILED and "deliberate" in v.detail


def test_unknown_id_is_rejected_naming_it():
    with pytest.raises(ValueError, match="id must be one of"):
        run("T99")


# -- the tools themselves -------------------------------------------------------------------

def test_sign_certificate():
    x, y = sp.symbols("x y", positive=True)
    assert sign_certificate((x - y) ** 2 * (x + 1) / (y + 2))[0]
    assert not sign_certificate(x - y)[0]
    assert not sign_certificate(-(x + y))[0]
    assert not sign_certificate(sp.Symbol("z") ** 2)[0]   # symbol not declared positive


def test_vanishes():
    x = sp.Symbol("x", positive=True)
    assert vanishes(sp.exp(2 * sp.log(x)) - x ** 2)
    assert vanishes(sp.expand_func(sp.polylog(1, x / (1 + x))) + sp.log(1 - x / (1 + x)))
    assert not vanishes(x / (x + 1) - 1)


def test_condensate_value_matches_the_engine_and_independent_quadrature():
    # the 30-digit value of T8.example, against scipy's quadrature in the engine (T8 solver)
    from numerics import limit_continuous, ContinuousRewardLaw
    from proofs_check.condensation import example_I
    with mpmath.workdps(40):
        closed = 1 - mpmath.mpf(str(sp.N(example_I(), 40)))
        # independent route: series 1/(1-e^r) = sum_n e^{n r} integrated termwise in closed
        # form, int_{-1}^0 r^2 e^{n r} dr = 2/n^3 - e^{-n}(1/n + 2/n^2 + 2/n^3), n >= 1
        # sum 2/n^3 = 2 zeta(3); the rest is geometric: 120 terms leave < e^-120
        series = mpmath.mpf(1) / 3 + 2 * mpmath.zeta(3) - mpmath.fsum(
            mpmath.exp(-n) * (mpmath.mpf(1) / n + mpmath.mpf(2) / n ** 2
                              + mpmath.mpf(2) / n ** 3) for n in range(1, 121))
        assert abs(closed - (1 - mpmath.mpf(3) / 4 * series)) < mpmath.mpf(10) ** -30
    lim = limit_continuous(ContinuousRewardLaw(lambda r: 3 * r ** 2, -1.0, 0.0), K=math.inf, lam=3)
    assert abs(lim.condensate - float(closed)) < 1e-12
    assert mpmath.nstr(closed, 8) == "0.48454557"
