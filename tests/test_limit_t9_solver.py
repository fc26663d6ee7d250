"""The T9 solver on grids (numerics.limits.finite_k, numerics.limits.t9_iteration): its pieces
against independent routes.  The Jacobian against central differences of the residuals; the
top mass of the T9 map against a direct sum of the masses; the iterates of T on the node law
against the engine's own steps (its refined L2 rule); the Anderson-accelerated T9 map against
Gauss-Newton from the same start; the limit of raw masses against the limit of a normalized
copy."""

import math

import numpy as np
import pytest

from numerics import laplace, limit
from numerics.engine import CurationEngine
from numerics.limits import finite_k, t9_iteration

from _references import benchmark_grid


def _grid(n=96):
    """The benchmark grid (tests/_references.py): ``(mass, reward)``, the first reward."""
    mass, reward, _ = benchmark_grid(n)
    return mass, reward


def _system(K, lam, n=96):
    mass, reward = _grid(n)
    eng = CurationEngine(reward.ravel(), (mass / mass.sum()).ravel(), None, K, lam)
    law = eng.law()
    order = np.argsort(-law.log_s, kind="stable")
    return finite_k.T9System(-law.log_s[order], np.exp(law.log_p[order]), K, lam), eng


@pytest.mark.parametrize("mode", ["grid", "regular", "condensed", "critical"])
def test_jacobian_matches_central_differences(mode):
    rng = np.random.default_rng(3)
    depth = np.concatenate([[0.0], np.sort(rng.uniform(0.01, 6.0, 60))])
    d = rng.uniform(0.1, 1.0, depth.size)
    if mode != "grid":
        d[0] = 0.0          # a continuous law: no data on the top atom
    system = finite_k.T9System(depth, d, 3.0, 2.0)
    lam = 0.3
    y = system.start(c=None if mode == "grid" else 0.0)
    if mode == "grid":
        z = np.append(y, math.log(1.3 * system.top))
    else:
        z = {"regular": y.copy(), "condensed": np.append(y, 0.05),
             "critical": np.append(y, lam)}[mode]
    z = z + 1e-3 * rng.standard_normal(z.size)
    R, J, d_lam = system.residual(z, mode, lam, want_jacobian=True)
    eps = 1e-6
    numeric = np.empty_like(J)
    for i in range(z.size):
        up, down = z.copy(), z.copy()
        up[i] += eps
        down[i] -= eps
        numeric[:, i] = (system.residual(up, mode, lam) - system.residual(down, mode, lam)) \
            / (2 * eps)
    assert np.abs(J - numeric).max() <= 1e-6 * np.abs(J).max()
    if mode != "critical":  # there lam is an unknown: d_lam is J's last column
        numeric_lam = (system.residual(z, mode, lam + eps)
                       - system.residual(z, mode, lam - eps)) / (2 * eps)
        assert np.abs(d_lam - numeric_lam).max() <= 1e-6 * np.abs(d_lam).max()


@pytest.mark.parametrize("K,lam", [(3.0, 0.4), (4.0, 0.5), (2.0, 50.0)])
def test_top_mass_of_the_t9_map_normalizes_the_law(K, lam):
    system, _ = _system(K, lam)
    y, c0 = system.iterate(lam, 2)
    sums = []
    for guess in (1e-30 * system.top, c0, 0.999):   # far below, the iterate's, far above
        c = system.normalized_top_mass(y, lam, guess)
        p, _, _ = system.masses(y, lam, "grid", c)
        sums.append(math.fsum(p) + c)
        assert c > 0
    assert np.abs(np.array(sums) - 1.0).max() <= 1e-14


@pytest.mark.parametrize("steps", [1, 2, 5])
def test_iterates_of_t_on_the_node_law_match_the_engine_steps(steps):
    K, lam = 3.0, 0.4
    system, eng = _system(K, lam)
    y, c = system.iterate(lam, steps)
    for _ in range(steps):
        eng.advance()
    law = eng.law()
    keep = np.isfinite(law.log_p)
    y_engine = laplace.log_laplace(system.v, law.log_s[keep], law.log_p[keep])
    c_engine = float(np.exp(law.log_p[law.log_s == 0.0]).sum())
    assert np.abs(y - y_engine).max() <= 1e-12
    assert c == pytest.approx(c_engine, rel=1e-12)


@pytest.mark.parametrize("K,lam", [(3.0, 0.4), (4.0, 0.5), (3.0, 5.0)])
def test_anderson_and_newton_reach_the_same_fixed_point(K, lam):
    system, _ = _system(K, lam)
    y, c = system.iterate(lam, 2)
    z_a, res_a, _, converged = t9_iteration.anderson_grid(system, lam, y, c,
                                                          finite_k.RESIDUAL_TOL)
    assert converged and res_a <= finite_k.RESIDUAL_TOL
    newton = system.newton(np.append(y, math.log(c)), "grid", lam)
    assert newton is not None
    assert np.abs(z_a - newton[0]).max() <= 1e-11
    # a stalled iteration (one iterate allowed) hands its best iterate to Newton
    z_b, res_b, _, converged_b = t9_iteration.anderson_grid(system, lam, y, c,
                                                            finite_k.RESIDUAL_TOL,
                                                            max_iterates=1)
    assert not converged_b and res_b > finite_k.RESIDUAL_TOL
    z_c, res_c, _ = system.newton(z_b, "grid", lam)
    assert res_c <= finite_k.RESIDUAL_TOL and np.abs(z_c - z_a).max() <= 1e-11
    sol = finite_k.solve_t9(system, lam, start=(y, c))
    assert sol.path == "the T9 map with Anderson acceleration"
    assert np.abs(sol.y - z_a[:-1]).max() == 0.0


@pytest.mark.parametrize("n", [41, 97])   # the direct and the compressed reward law
@pytest.mark.parametrize("K, lam", [(3.0, 0.4), (4.0, 0.5)])   # regular and condensing
def test_limit_of_raw_masses_agrees_with_limit_of_a_normalized_copy(n, K, lam):
    """The engine normalizes the masses itself (their log total enters its rules), so raw
    masses at any scale give the limit of the normalized copy up to rounding: measured at most
    3.2e-14 relative per cell (K = 4: the condensing solve amplifies the rounding; K = 3:
    4e-15), 1e-14 on the top mass."""
    mass, reward = _grid(n)
    b = limit(mass / mass.sum(), reward, K=K, lam=lam)
    sup = b.mass > 0
    for scale in (1.0, 1e-3, 7.3e5):
        a = limit(mass * scale, reward, K=K, lam=lam)
        assert np.array_equal(a.mass > 0, sup)
        assert np.abs(a.mass[sup] / b.mass[sup] - 1.0).max() <= 1e-13
        assert a.top_mass == pytest.approx(b.top_mass, rel=1e-14)
