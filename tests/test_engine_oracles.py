"""curation_factor against independent routes: exact rationals (L1 enumeration, integer K),
40-digit mpmath quadrature of L2 (real K), the closed form L3 (K = inf)."""

import math
from fractions import Fraction

import mpmath as mp
import numpy as np
import pytest

from numerics import curation_factor, curate, retrain_step
from numerics.exact import curation_factor_exact, curate_exact, retrain_step_exact

LAWS = [
    # (masses, s = e^{r - c} as exact rationals)
    ([1, 2, 3], [Fraction(1), Fraction(1, 2), Fraction(1, 3)]),
    ([5, 1, 1, 3], [Fraction(7, 8), Fraction(1, 100), Fraction(1), Fraction(2, 5)]),
    ([1, 1], [Fraction(1), Fraction(1, 10**6)]),
    ([1, 10**-12, 3, 2, 1], [Fraction(1, 3), Fraction(1), Fraction(1, 7), Fraction(5, 7), Fraction(1, 50)]),
]


def _float_law(masses, s):
    return np.array(masses, dtype=float), np.log(np.array([float(x) for x in s]))


@pytest.mark.parametrize("K", [2, 3, 5])
@pytest.mark.parametrize("law", LAWS)
def test_integer_k_matches_exact_rationals(law, K):
    masses, s = law
    mass, reward = _float_law(masses, s)
    H = curation_factor(mass, reward, K)
    exact = curation_factor_exact([Fraction(m) for m in masses], s, K)
    rel = np.abs(H / np.array([float(e) for e in exact]) - 1)
    assert rel.max() < 1e-12


def _mp_curation_factor(masses, s, K, x, dps=40):
    """L2 by mpmath quadrature at ``dps`` digits: K int_0^inf x e^{-ux} M(u)^{K-1} du."""
    with mp.workdps(dps):
        p = [mp.mpf(m) for m in masses]
        tot = sum(p)
        p = [v / tot for v in p]
        sv = [mp.mpf(v.numerator) / v.denominator for v in s]
        x = mp.mpf(x.numerator) / x.denominator
        K = mp.mpf(K)
        M = lambda u: sum(pi * mp.exp(-u * si) for pi, si in zip(p, sv))  # noqa: E731
        f = lambda u: x * mp.exp(-u * x) * M(u) ** (K - 1)  # noqa: E731
        mean = sum(pi * si for pi, si in zip(p, sv))
        scale = 1 / (x + (K - 1) * mean)
        pts = sorted({mp.mpf(0), scale / 10, scale, 10 * scale, *[1 / v for v in sv]})
        return K * mp.quad(f, pts + [mp.inf])


@pytest.mark.parametrize("K", [1.5, 2.75, 40.2, 1e6])
def test_real_k_matches_mpmath(K):
    masses, s = LAWS[1]
    mass, reward = _float_law(masses, s)
    H = curation_factor(mass, reward, K)
    ref = np.array([float(_mp_curation_factor(masses, s, K, x, dps=40)) for x in s])
    assert np.abs(H / ref - 1).max() < 1e-12


def test_k_inf_is_l3():
    masses, s = LAWS[3]
    mass, reward = _float_law(masses, s)
    H = curation_factor(mass, reward, math.inf)
    p = [Fraction(m).limit_denominator(10**15) for m in mass]
    tot = sum(p)
    mean = sum(pi * si for pi, si in zip(p, s)) / tot
    ref = np.array([float(si / mean) for si in s])
    assert np.abs(H / ref - 1).max() < 1e-13


def test_large_k_tends_to_l3():
    """H^K -> H^inf with error O(1/K): at K = 1e6 the two agree to ~1e-5 and the gap
    shrinks tenfold with K tenfold."""
    mass, reward = _float_law(*LAWS[0])
    h_inf = curation_factor(mass, reward, math.inf)
    gaps = [np.abs(curation_factor(mass, reward, K) / h_inf - 1).max() for K in (1e5, 1e6)]
    assert gaps[1] < 1e-5
    assert 8 < gaps[0] / gaps[1] < 12


def test_curate_and_retrain_step_match_exact():
    masses, s = LAWS[1]
    mass, reward = _float_law(masses, s)
    data = np.array([1.0, 1.0, 2.0, 4.0])
    exact_c = curate_exact([Fraction(m) for m in masses], s, 3)
    assert np.abs(curate(mass, reward, 3) / np.array([float(v) for v in exact_c]) - 1).max() < 1e-12
    exact_t = retrain_step_exact([Fraction(m) for m in masses], s, 4, Fraction(1, 2),
                                 [Fraction(int(v)) for v in data])
    got = retrain_step(mass, reward, 4, 0.5, data)
    assert np.abs(got / np.array([float(v) for v in exact_t]) - 1).max() < 1e-12


def test_shape_is_kept_and_zero_mass_cells_get_h():
    """Any shape; H is defined at zero-mass cells through r(x) (checked against L1 with
    that cell's reward as the first draw)."""
    mass = np.array([[1.0, 0.0], [2.0, 3.0]])
    s = [Fraction(1, 2), Fraction(1), Fraction(1, 3), Fraction(1, 5)]
    reward = np.log(np.array([float(v) for v in s])).reshape(2, 2)
    H = curation_factor(mass, reward, 3)
    assert H.shape == (2, 2)
    # exact H at every cell: enumerate the other draws over the support, first draw = cell
    p = [Fraction(1, 6), Fraction(0), Fraction(2, 6), Fraction(3, 6)]
    for idx, si in enumerate(s):
        ref = sum(pj * pk * 3 * si / (si + s[j] + s[k])
                  for j, pj in enumerate(p) for k, pk in enumerate(p))
        assert abs(H.ravel()[idx] / float(ref) - 1) < 1e-12


def test_direct_and_compressed_agree_on_a_large_law():
    rng = np.random.default_rng(3)
    n = 20000
    reward = np.sort(rng.uniform(-12.0, 0.0, n))
    mass = rng.random(n) * np.exp(-0.3 * reward)
    for K in (2.0, 7.5, math.inf):
        a = curation_factor(mass, reward, K, method="direct")
        b = curation_factor(mass, reward, K, method="compressed")
        assert np.abs(a / b - 1).max() < 1e-10
