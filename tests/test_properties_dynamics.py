"""Property tests of the retraining dynamics (THEORY.md T1, T2 on a finite horizon, T5, T6,
T7), on the float engine (``numerics.evolve``) and against the exact rational oracle
(``numerics.exact.retrain_step_exact``: L1 enumerated in Fractions, integer K).

Units: ``s = e^{r - r_*}`` (every statement is homogeneous in ``e^r``), so expectations are
O(1).  Tolerance 1e-10 absolute on these O(1) quantities (masses, TV, E[s]): the engine's
masses carry ~1e-13 relative error per step (L2 trapezoid, documented in laplace.py), so
1e-10 is 1000x that; the relative floor of T5 is checked to 1e-9 (masses down to 1e-300 are
accurate relatively, not absolutely).  Exact checks are exact (Fractions compare).
"""

import math
from fractions import Fraction

import numpy as np
from hypothesis import given, strategies as st

from numerics import evolve
from numerics.exact import curate_exact, retrain_step_exact
from numerics.testing import Ks, discrete_laws, lams, masses

from _profiles import examples

FEW = examples(40)  # the others run the profile's count (tests/_profiles.py)
TOL = 1e-10

laws = discrete_laws(max_atoms=6, max_spread=300.0)
finite_lams = lams(allow_inf=False, max_lam=1e3)


def _traj(mass, reward, K, steps, lam=math.inf, data=None, start=None):
    tr = evolve(mass if start is None else start, reward, K, steps, lam, data)
    return np.asarray(tr.masses)


def _moments(P, s):
    """``E_t[s]`` and ``Var_t[s]`` at every recorded step (rows of ``P``)."""
    E = P @ s
    return E, (P * (s - E[:, None]) ** 2).sum(axis=1)


def _s(mass, reward, data=None):
    on = mass > 0 if data is None else (mass > 0) | (data > 0)
    return np.exp(reward - reward[on].max())


def _tails(P, reward):
    levels, inverse = np.unique(reward, return_inverse=True)
    out = []
    for p in np.atleast_2d(P):
        per = np.bincount(inverse, weights=p, minlength=levels.size)
        out.append(np.cumsum(per[::-1])[::-1])
    return np.array(out)


# ----------------------------------------------------------------------------------------
# curated data only: T1, T2
# ----------------------------------------------------------------------------------------


@given(laws, Ks(), st.integers(1, 4))
def test_T1_one_step_gain(law, K, steps):
    mass, reward = law
    P = _traj(mass, reward, K, steps)
    E, V = _moments(P, _s(mass, reward))
    factor = 1.0 if math.isinf(K) else (K - 1) / K
    assert np.all(np.diff(E) >= factor * V[:-1] - TOL)
    if math.isinf(K):  # identity E' = E + Var/E
        assert np.allclose(np.diff(E), V[:-1] / E[:-1], rtol=1e-9, atol=TOL)


@given(laws, Ks(), st.integers(1, 25))
def test_T2_monotone_and_variance_budget(law, K, steps):
    mass, reward = law
    P = _traj(mass, reward, K, steps)
    E, V = _moments(P, _s(mass, reward))
    assert np.all(np.diff(E) >= -TOL)
    assert np.all(E <= 1 + TOL)                         # E[e^r] <= e^{r_*}
    if K > 1:
        factor = 1.0 if math.isinf(K) else K / (K - 1)
        assert V[:-1].sum() <= factor * (1 - E[0]) + TOL


small_laws = st.integers(1, 3).flatmap(lambda n: st.tuples(
    st.lists(st.integers(1, 9), min_size=n, max_size=n),
    st.lists(st.integers(1, 9), min_size=n, max_size=n)))


@FEW
@given(small_laws, st.integers(1, 5))
def test_T1_exact(law, K):
    mass_i, s_i = law
    p = [Fraction(m, sum(mass_i)) for m in mass_i]
    c = curate_exact(mass_i, s_i, K)
    E0 = sum(pi * si for pi, si in zip(p, s_i))
    V0 = sum(pi * (si - E0) ** 2 for pi, si in zip(p, s_i))
    E1 = sum(ci * si for ci, si in zip(c, s_i))
    top = max(s_i)
    # exact rationals: the inequality holds with no tolerance (units: s_i, e^{r_*} = top)
    assert E1 - E0 >= Fraction(K - 1, K) * V0 / top
    # and the float engine reproduces E_{p_1}[s] to 1e-12 relative
    P = _traj(np.array(mass_i, float), np.log(np.array(s_i, float)), K, 1)
    assert math.isclose(float(P[1] @ (np.array(s_i) / top)), float(E1 / top), rel_tol=1e-12)


# ----------------------------------------------------------------------------------------
# real data: T5, T6, T7
# ----------------------------------------------------------------------------------------


@given(st.integers(1, 6).flatmap(lambda n: st.tuples(
    masses(n), masses(n), st.lists(st.floats(0.0, 300.0), min_size=n, max_size=n))),
    Ks(), finite_lams, st.integers(1, 6))
def test_T5_stays_near_the_data(triple, K, lam, steps):
    mass, data, reward = triple
    reward = np.array(reward)
    P = _traj(mass, reward, K, steps, lam, data)[1:]
    d = data / data.sum()
    on = d > 0
    assert np.all(P[:, on] * (1 + lam) >= d[on] * (1 - 1e-9))       # relative floor
    kl = (d[on] * (np.log(d[on]) - np.log(P[:, on]))).sum(axis=1)
    assert np.all(kl <= math.log1p(lam) + TOL)
    assert np.all(0.5 * np.abs(P - d).sum(axis=1) <= lam / (1 + lam) + TOL)


@given(laws, Ks(), finite_lams, st.integers(1, 15))
def test_T6_reward_floor(law, K, lam, steps):
    mass, reward = law
    P = _traj(mass, reward, K, steps, lam)            # data=None: p_d = p_0
    d_tail = _tails(mass / mass.sum(), reward)[0]
    assert np.all(_tails(P, reward) >= d_tail - TOL)


@FEW
@given(small_laws, st.integers(1, 4), st.sampled_from([Fraction(1, 2), Fraction(1), 2, 3]),
       st.integers(1, 3))
def test_T6_exact(law, K, lam, steps):
    mass_i, s_i = law
    p = [Fraction(m, sum(mass_i)) for m in mass_i]
    order = sorted(range(len(s_i)), key=lambda i: s_i[i])
    q = p
    for _ in range(steps):
        q = retrain_step_exact(q, s_i, K, lam, mass_i)
        for j in range(len(order)):   # P(s >= s_(j)) can only grow, exactly
            hi = order[j:]
            assert sum(q[i] for i in hi) >= sum(p[i] for i in hi)


@given(st.integers(1, 6).flatmap(lambda n: st.tuples(
    masses(n), masses(n), st.lists(st.floats(0.0, 300.0), min_size=n, max_size=n))),
    st.integers(1, 12), st.floats(0.0, 1.0), st.integers(1, 8))
def test_T7_contraction(triple, K, frac, steps):
    p0, q0, reward = triple
    reward = np.array(reward)
    lam = 0.0 if K == 1 else frac / (K - 1) * (1 - 1e-12)   # lam (K-1) < 1
    if K == 1:
        lam = 3.0 * frac
    P = _traj(p0, reward, K, steps, lam, q0)
    Q = _traj(q0, reward, K, steps, lam, q0)
    kappa = lam * K / (1 + lam)
    tv = 0.5 * np.abs(P - Q).sum(axis=1)
    assert np.all(tv <= kappa ** np.arange(steps + 1) * tv[0] + TOL)


@given(st.integers(1, 6).flatmap(lambda n: st.tuples(
    masses(n), masses(n), st.lists(st.floats(0.0, 300.0), min_size=n, max_size=n))),
    st.one_of(st.integers(1, 30).map(float), st.just(math.inf)))
def test_T7_coupling_bound(triple, K):
    p0, q0, reward = triple
    reward = np.array(reward)
    p, q = p0 / p0.sum(), q0 / q0.sum()
    cp, cq = _traj(p, reward, K, 1)[1], _traj(q, reward, K, 1)[1]
    tv0, tv1 = 0.5 * np.abs(p - q).sum(), 0.5 * np.abs(cp - cq).sum()
    if math.isinf(K):
        on = (p > 0) | (q > 0)
        bound = min(1.0, 2 * math.exp(min(700.0, np.ptp(reward[on]))) * tv0)
    else:
        bound = 1 - (1 - tv0) ** K
    assert tv1 <= bound + TOL


@FEW
@given(small_laws.flatmap(lambda l: st.tuples(st.just(l), st.lists(
    st.integers(1, 9), min_size=len(l[0]), max_size=len(l[0])))), st.integers(1, 4))
def test_T7_coupling_exact(law_q, K):
    (mass_i, s_i), q_i = law_q
    p = [Fraction(m, sum(mass_i)) for m in mass_i]
    q = [Fraction(m, sum(q_i)) for m in q_i]
    cp, cq = curate_exact(p, s_i, K), curate_exact(q, s_i, K)
    tv0 = sum(abs(a - b) for a, b in zip(p, q)) / 2
    tv1 = sum(abs(a - b) for a, b in zip(cp, cq)) / 2
    assert tv1 <= 1 - (1 - tv0) ** K
