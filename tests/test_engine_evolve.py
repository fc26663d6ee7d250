"""evolve against independent direct computations, cell by cell (issue: 1e-9 relative)."""

import math

import numpy as np
import pytest
from scipy.special import expit

from numerics import evolve, tilt, EvolutionInterrupted

from _references import pairwise_k2_step


def _levels_k3_step(p, level_of_cell, level_s, lam=math.inf, data=None):
    """Independent route for K = 3 on a reward with few levels: L1 with the two other draws
    enumerated over the levels, H(x) = 3 sum_{a,b} q_a q_b s_x / (s_x + s_a + s_b)."""
    q = np.bincount(level_of_cell, weights=p, minlength=level_s.size)
    sx = level_s[:, None, None]
    H_level = 3.0 * (q[None, :, None] * q[None, None, :] * sx
                     / (sx + level_s[None, :, None] + level_s[None, None, :])).sum(axis=(1, 2))
    c = p * H_level[level_of_cell]
    c /= c.sum()
    if math.isinf(lam):
        return c
    return (data + lam * c) / (1.0 + lam)


@pytest.mark.parametrize("lam", [math.inf, 0.5])
@pytest.mark.parametrize("method", ["direct", "compressed"])
def test_k2_distinct_rewards_3000_cells(lam, method):
    x = np.linspace(-3, 3, 3000)
    p0 = np.exp(-0.5 * x**2) * (1.2 + np.sin(3 * x))
    p0 /= p0.sum()
    reward = -0.7 * (x - 0.5) ** 2 + 0.3 * np.cos(5 * x)
    s = np.exp(reward - reward.max())
    data = np.exp(-0.5 * (x + 1) ** 2)
    data /= data.sum()
    traj = evolve(p0, reward, 2, 8, lam=lam, data=None if math.isinf(lam) else data,
                  method=method)
    p = p0
    for t in range(1, 9):
        p = pairwise_k2_step(p, s, lam, data)
        got = traj.masses[t]
        assert np.abs(got / p - 1).max() < 1e-9, t
        assert abs(traj.expected_exp_reward[t] / float(p @ np.exp(reward)) - 1) < 1e-12


@pytest.mark.parametrize("lam", [math.inf, 2.0])
def test_k3_two_dimensional_grid_with_levels(lam):
    n = 64
    x = np.linspace(-2, 2, n)
    X, Y = np.meshgrid(x, x, indexing="ij")
    p0 = np.exp(-(X**2 + 2 * Y**2))
    p0 /= p0.sum()
    level_s = np.array([1.0, 0.5, 0.2, 0.05, 0.01])
    level = np.minimum((np.hypot(X - 0.5, Y) * 2).astype(int), 4)
    reward = np.log(level_s[level]) + 3.0
    data = np.ones_like(p0) / p0.size
    traj = evolve(p0, reward, 3, 6, lam=lam, data=None if math.isinf(lam) else data)
    p = p0.ravel()
    for t in range(1, 7):
        p = _levels_k3_step(p, level.ravel(), level_s, lam, data.ravel())
        assert np.abs(traj.masses[t].ravel() / p - 1).max() < 1e-9


@pytest.mark.slow
def test_200000_cells_compressed_vs_direct_and_pairwise():
    """A 1-D grid of 200000 cells with distinct rewards: the compressed reward law against
    the direct per-atom computation, cell by cell; one step of the direct computation
    against the pairwise K = 2 formula at 300 sampled cells."""
    n = 200_000
    x = np.linspace(0.0, 1.0, n)
    reward = -6.0 * x + 0.5 * np.sin(40 * x)
    p0 = np.exp(-((x - 0.6) ** 2) / 0.05)
    a = evolve(p0, reward, 2, 4, method="direct", record_every=1)
    b = evolve(p0, reward, 2, 4, method="compressed", record_every=1)
    for t in range(5):
        assert np.abs(a.masses[t] / b.masses[t] - 1).max() < 1e-9
    p = p0 / p0.sum()
    s = np.exp(reward - reward.max())
    idx = np.random.default_rng(0).choice(n, 300, replace=False)
    H = 2.0 * (s[idx, None] / (s[idx, None] + s[None, :])) @ p
    c = p[idx] * H
    assert np.abs(a.masses[1][idx] / c - 1).max() < 1e-12


def test_k_inf_without_data_is_the_tilt():
    x = np.linspace(-4, 4, 801)
    p0 = np.exp(-0.5 * x**2)
    reward = -np.abs(x - 1)
    traj = evolve(p0, reward, math.inf, 30, record_every=10)
    assert list(traj.recorded_steps) == [0, 10, 20, 30]
    for t, m in zip(traj.recorded_steps, traj.masses):
        ref = p0 * np.exp(t * reward)
        ref /= ref.sum()
        assert np.abs(m / ref - 1).max() < 1e-12
        assert abs(traj.expected_exp_reward[t] / float(ref @ np.exp(reward)) - 1) < 1e-12
    assert np.allclose(tilt(p0, reward, 7.5).sum(), 1.0, rtol=0, atol=1e-15)


@pytest.mark.slow
def test_thousands_of_nats_hundreds_of_steps():
    """Rewards spanning 4000 nats, a top mass of 1e-300: finite, normalized, and the
    dynamics ends on the top atom (T3), with E[r] non-decreasing (T2).  While it is tiny the
    top atom's mass grows by H ~ K = 3 a step, so it reaches O(1) after log_3(1e300) ~ 629
    steps; 700 steps see it through."""
    reward = np.array([0.0, -5.0, -300.0, -2000.0, -4000.0])
    mass = np.array([1e-300, 0.2, 0.3, 0.3, 0.2])
    traj = evolve(mass, reward, 3, 700, record_every=175)
    assert np.all(np.isfinite(traj.expected_reward))
    assert np.all(np.diff(traj.expected_reward) >= -1e-9)
    for m in traj.masses:
        assert np.isfinite(m).all() and abs(m.sum() - 1) < 1e-14
    assert traj.masses[-1][0] > 1 - 1e-12
    # with real data the law stays spread: p_t >= p_d / (1 + lam) (T5)
    mixed = evolve(mass, reward, 3, 300, lam=2.0, record_every=300)
    assert np.all(mixed.masses[-1] >= mass / mass.sum() / 3.0 * (1 - 1e-12))


def test_huge_rewards_shift_exp_statistics():
    reward = np.array([10000.0, 9990.0, 9000.0])
    traj = evolve(np.ones(3), reward, 2, 3)
    assert traj.exp_reward_shift == 10000.0
    assert np.all(np.isfinite(traj.expected_exp_reward))
    s = np.exp(reward - 10000.0)
    assert abs(traj.expected_exp_reward[0] - s.mean()) < 1e-15


def test_interrupt_keeps_completed_steps():
    x = np.linspace(-3, 3, 101)

    def stop_at_3(step, total):
        if step == 3:
            raise KeyboardInterrupt

    with pytest.raises(EvolutionInterrupted) as info:
        evolve(np.exp(-x**2), -x**2, 3, 50, record_every=10, progress=stop_at_3)
    traj = info.value.trajectory
    assert traj.steps == 3 and list(traj.recorded_steps) == [0, 3]
    full = evolve(np.exp(-x**2), -x**2, 3, 3)
    assert np.array_equal(traj.masses[-1], full.masses[-1])
    assert np.array_equal(traj.expected_reward, full.expected_reward)


def test_reward_spanning_3000_nats_on_a_grid():
    """20000 cells whose rewards span 3000 nats: direct and compressed agree cell by cell,
    and the first step matches the pairwise K = 2 formula at sampled cells."""
    x = np.linspace(0.0, 1.0, 20_000)
    reward = -3000.0 * x
    p0 = np.exp(-5.0 * x)
    a = evolve(p0, reward, 2, 3, method="direct")
    b = evolve(p0, reward, 2, 3, method="compressed")
    for t in range(4):
        big = a.masses[t] > 1e-250
        assert np.abs(b.masses[t][big] / a.masses[t][big] - 1).max() < 1e-9
    p = p0 / p0.sum()
    idx = np.random.default_rng(1).choice(x.size, 200, replace=False)
    # s_x / (s_x + s_j) = expit(r_x - r_j): no underflow of e^{r} below -745
    H = 2.0 * expit(reward[idx, None] - reward[None, :]) @ p
    ref = p[idx] * H
    keep = ref > 1e-250
    assert np.abs(a.masses[1][idx][keep] / ref[keep] - 1).max() < 1e-12


@pytest.mark.parametrize("method", ["direct", "compressed"])
def test_a_base_without_mass_where_the_weight_overflows_gives_no_nan(method):
    """Found by hypothesis (T5): p_0 = [1, 0], p_d = [1, 1e-300], rewards 119 nats apart,
    K = inf, lam = 1.  The weight of p_0's base at the high reward grows like e^{119 t} and
    exceeds float64 at t = 6, where p_0 has no mass: 0 * inf must not reach the result.
    Reference: the cell-wise recurrence p <- (p_d + lam p s / E_p[s]) / (1 + lam) (L3)."""
    m, d, r = np.array([1.0, 0.0]), np.array([1.0, 1e-300]), np.array([0.0, 119.0])
    traj = evolve(m, r, math.inf, 8, lam=1.0, data=d, method=method)
    p, dd, s = m.copy(), d / d.sum(), np.exp(r - r.max())
    for t in range(1, 9):
        q = p * s
        p = (dd + q / q.sum()) / 2.0
        got = traj.masses[t]
        assert np.all(np.isfinite(got))
        assert np.all(np.abs(got - p) <= 1e-12 * p)


def test_stacking_the_recorded_masses_makes_no_second_copy():
    """np.asarray(traj.masses) fills one array step by step: its peak allocation is the
    result plus one step's working memory (issue 17's bar: <= 1.1 x the result)."""
    import tracemalloc
    x = np.linspace(-3, 3, 128)
    X, Y = np.meshgrid(x, x, indexing="ij")
    traj = evolve(np.exp(-(X**2 + Y**2) / 2), -np.hypot(X - 1, Y), 4, 100, lam=0.5)
    first = traj.masses[0]
    tracemalloc.start()
    try:
        stacked = np.asarray(traj.masses)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stacked.shape == (101, 128, 128)
    assert np.array_equal(stacked[0], first) and np.array_equal(stacked[-1], traj.masses[-1])
    assert peak <= 1.1 * stacked.nbytes


@pytest.mark.parametrize("method", ["direct", "compressed"])
def test_top_cells_are_the_supports_cells_at_the_top_reward(method):
    """CurationEngine.top_cells (the top panel's runs or the distinct-reward index) is the
    set of support cells whose reward is the top one, ties included; cells at or above that
    reward outside the support are not in it."""
    from numerics.engine import CurationEngine
    rng = np.random.default_rng(3)
    n = 20_000
    reward = np.round(rng.normal(0, 1, n), 2)
    mass = rng.random(n) * (rng.random(n) < 0.7)
    top_sup = reward[mass > 0].max()
    reward[np.flatnonzero(mass > 0)[::1000]] = top_sup       # ties at the top
    reward[np.flatnonzero(mass == 0)[:5]] = top_sup + 1.0   # higher, outside the support
    eng = CurationEngine(reward, mass, None, 3.0, 0.5, method=method)
    want = np.flatnonzero((reward == top_sup) & (mass > 0))
    assert eng.method == method and want.size > 1
    assert np.array_equal(eng.top_cells(), want)


def test_rewards_spanning_20000_nats_use_four_byte_panel_ids():
    """Past 65535 raw panels (a reward range of 16000 nats in 0.25-nat panels) the engine keeps
    four-byte panel ids; the compressed run agrees with the direct one cell by cell (1e-9,
    the engine's bar; observed 7e-14)."""
    from numerics.engine import CurationEngine
    rng = np.random.default_rng(0)
    n = 20_000
    reward = np.sort(rng.uniform(-20_000, 0, n))[::-1].copy()
    reward[:3000] = np.linspace(0, -3, 3000)
    mass = rng.random(n)
    assert CurationEngine(reward, mass, None, 3, 0.5, method="compressed")._ids.dtype == np.uint32
    a = evolve(mass, reward, 3, 20, lam=0.5, method="compressed").masses[-1]
    b = evolve(mass, reward, 3, 20, lam=0.5, method="direct").masses[-1]
    big = b > 1e-300
    assert np.all(a[~big] < 1e-290)
    assert np.max(np.abs(a[big] / b[big] - 1)) < 1e-9
