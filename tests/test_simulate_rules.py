"""simulate() for every curation rule (L4-L6, mixtures, rewards changing with t) and for a
user model object, held against the exact engine with the CLT test of compare_with_exact
(z_conditional: the kept samples' mean of a grid statistic f against E_{numerics.curate(q_t,
rule_t)}[f], |z| <= 5).  Each check is also run on a deliberately wrong sampler (K+1, keep-k
with replacement, mixture weighted per event instead of per kept sample, a frozen reward,
a wrong acceptance): the same test must then fail, which shows it has power."""

import math

import numpy as np
import pytest

import numerics.sampling as sampling
from numerics.curators import bradley_terry, filtering, mixture, plackett_luce, top_k
from numerics.sampling import compare_with_exact, simulate

Z = 5.0
X = np.linspace(-3.0, 3.0, 25)
MASS = np.exp(-0.5 * X ** 2) * (1.2 + np.sin(X))
REWARD = np.round(X)           # integer rewards: many ties (top-k tie breaking matters)
STAT = X                       # the tested statistic: E[x] of the curated samples
N = 60_000
STEPS = 3


def zc(sampled_rule, reference_rule, seed, n=N, steps=STEPS, **kw):
    """max |z_conditional| of a run sampled with ``sampled_rule``, tested against the exact
    curated law of ``reference_rule``."""
    sim = simulate(MASS, sampled_rule, steps=steps, samples=n, seed=seed, statistic=STAT, **kw)
    sim.rule = reference_rule
    cc = compare_with_exact(sim)
    assert cc.passed == (np.max(np.abs(cc.z_conditional)) <= Z)
    return cc


def test_plackett_luce_keep_k():
    rule = plackett_luce(REWARD, 5, 3)
    cc = zc(rule, rule, seed=1)
    assert cc.passed, cc.z_conditional
    # K+1 draws per event: the test fails
    assert not zc(plackett_luce(REWARD, 6, 3), rule, seed=1).passed


def test_plackett_luce_with_replacement_is_rejected(monkeypatch):
    rule = plackett_luce(REWARD, 4, 3)
    real = sampling.select_kept

    def with_replacement(xp, rng, values, kind, keep):
        if kind != "pl":
            return real(xp, rng, values, kind, keep)
        # keep-k drawn WITH replacement: k independent Bradley-Terry winners of the K
        return np.concatenate([real(xp, rng, values, "bt", 1) for _ in range(keep)], axis=1)

    assert zc(rule, rule, seed=2).passed
    monkeypatch.setattr(sampling, "select_kept", with_replacement)
    cc = zc(rule, rule, seed=2)
    assert not cc.passed, cc.z_conditional


def test_samples_counts_kept_samples_and_se_is_cluster_robust():
    # keep 3 of 5, n = 10 (not a multiple of 3): 4 events, 10 kept samples
    rng = np.random.default_rng(0)
    cells, pts, ev = sampling._curate_rule_generation(
        rng, lambda c: (rng.integers(0, 25, c), None), [(1.0, plackett_luce(REWARD, 5, 3))],
        [REWARD], 10)
    assert cells.size == 10 and pts is None and np.array_equal(np.bincount(ev), [3, 3, 3, 1])
    # cluster-robust SE against a direct computation over the 3 clusters of equal size
    stat = np.array([1.0, 2, 3, 4, 6, 8, 0, 0, 3])
    ev = np.repeat([0, 1, 2], 3)
    mu, se = sampling._cluster_se(stat, ev, 9)
    means = stat.reshape(3, 3).mean(axis=1)
    assert mu == pytest.approx(3.0)
    assert se == pytest.approx(means.std(ddof=1) / math.sqrt(3), rel=1e-12)


def test_top_k_with_ties():
    rule = top_k(REWARD, 4, 2)
    cc = zc(rule, rule, seed=3)
    assert cc.passed, cc.z_conditional
    assert not zc(top_k(REWARD, 5, 2), rule, seed=3).passed


def test_top_k_ties_are_broken_uniformly():
    # all rewards equal: top-1 of 3 is a uniformly random column
    rng = np.random.default_rng(4)
    sel = sampling.select_kept(np, rng, np.zeros((90_000, 3)), "topk", 1)[:, 0]
    counts = np.bincount(sel, minlength=3)
    assert np.all(np.abs(counts - 30_000) < 5 * math.sqrt(90_000 * (1 / 3) * (2 / 3)))
    # distinct rewards: exactly the keep highest
    v = rng.permutation(np.arange(6.0))[None, :].repeat(2, axis=0)
    sel = np.sort(sampling.select_kept(np, rng, v, "topk", 2), axis=1)
    assert np.array_equal(np.sort(v[0][sel[0]]), [4.0, 5.0])


def test_filtering():
    accept = 1.0 / (1.0 + np.exp(-2.0 * X))
    accept[:3] = 0.0            # never kept there (log a = -inf)
    rule = filtering(accept)
    cc = zc(rule, rule, seed=5)
    assert cc.passed, cc.z_conditional
    assert not zc(filtering(np.sqrt(accept)), rule, seed=5).passed
    sim = simulate(MASS, rule, steps=1, samples=20_000, seed=6)
    assert np.all(sim.masses[1][:3] == 0) and sim.masses[1].sum() == pytest.approx(1.0)


def test_mixture_of_user_types():
    pl, bt = plackett_luce(-REWARD, 5, 3), bradley_terry(REWARD, 3)
    rule = mixture([(0.6, bt), (0.4, pl)])
    cc = zc(rule, rule, seed=7)
    assert cc.passed, cc.z_conditional
    # types drawn per curation EVENT (a keep-3 event adds 3 samples): weights pi_u k_u
    per_event = mixture([(0.6 * 1, bt), (0.4 * 3, pl)])
    assert not zc(per_event, rule, seed=7).passed


def test_reward_changing_with_t():
    rewards = [REWARD, -REWARD, 0.5 * REWARD]
    rule = bradley_terry(rewards, 3)
    cc = zc(rule, rule, seed=8)
    assert cc.passed, cc.z_conditional
    # a sampler that keeps the reward of step 0
    frozen = bradley_terry(REWARD, 3)
    assert not zc(frozen, rule, seed=8).passed


def test_rule_runs_with_real_data_and_other_grid_models():
    rule = mixture([(0.5, top_k(REWARD, 3, 1)), (0.5, filtering(np.full(X.shape, 0.5)))])
    cc = zc(rule, rule, seed=9, lam=2, data=np.ones_like(X))
    assert cc.passed and cc.simulation.real_samples == N // 2
    for model in ("gaussian", "kde"):
        sim = simulate(MASS, rule, steps=2, samples=5_000, seed=1, model=model,
                       coords=(X,))
        assert compare_with_exact(sim).passed


# ---------------------------------------------------------------- a user model (issue 16)

class JitteredHistogram:
    """A user model written here: it samples the grid masses exactly, then a uniform point
    inside the cell; fit = histogram of the binned samples (np.digitize on its own edges)."""

    def __init__(self, mass, x):
        self.q = np.asarray(mass, float) / np.sum(mass)
        h = x[1] - x[0]
        self.edges = np.concatenate([x - h / 2, [x[-1] + h / 2]])
        self.fitted_with = []

    def sample(self, n, rng):
        cells = rng.choice(self.q.size, size=n, p=self.q)
        return (self.edges[cells] + rng.random(n) * np.diff(self.edges)[cells])[:, None]

    def fit(self, samples, weights=None):
        self.fitted_with.append(np.asarray(samples))
        cells = np.clip(np.digitize(samples[:, 0], self.edges) - 1, 0, self.q.size - 1)
        self.q = np.bincount(cells, minlength=self.q.size) / len(samples)

    def grid_masses(self, edges):
        return self.q


@pytest.mark.parametrize("rule", [plackett_luce(REWARD, 4, 2),
                                  mixture([(0.7, bradley_terry(REWARD, 3)),
                                           (0.3, bradley_terry(-REWARD, 3))])])
def test_user_model_reproduces_the_exact_dynamics(rule):
    model = JitteredHistogram(MASS, X)
    sim = simulate(MASS, rule, steps=4, samples=N, seed=10, model=model, coords=(X,),
                   statistic=STAT)
    cc = compare_with_exact(sim)
    assert cc.passed, cc.z_conditional
    assert sim.info["masses_estimated"] is False and sim.model == "JitteredHistogram"
    # the model was fitted to continuous points, not grid coordinates
    pts = model.fitted_with[0][:, 0]
    assert pts.shape == (N,) and not np.isin(pts, X).any()
    # fluctuations O(n^-1/2) around the exact iterates: TV well below 0.05 after 4 steps
    assert cc.tv[-1] < 0.05
    # the same test fails when the model's sampler is wrong (K+1)
    wrong = simulate(MASS, plackett_luce(REWARD, 5, 2) if rule.K == 4 else
                     mixture([(0.7, bradley_terry(REWARD, 4)),
                              (0.3, bradley_terry(-REWARD, 4))]),
                     steps=4, samples=N, seed=10, model=JitteredHistogram(MASS, X),
                     coords=(X,), statistic=STAT)
    wrong.rule = rule
    assert not compare_with_exact(wrong).passed


def test_reward_fn_piecewise_constant_equals_the_default():
    def cell_reward(x):       # the grid reward of the nearest coordinate, computed by hand
        return REWARD[np.abs(x[:, :1] - X[None, :]).argmin(axis=1)]
    a = simulate(MASS, REWARD, 3, 2, 20_000, seed=11, model=JitteredHistogram(MASS, X),
                 coords=(X,))
    b = simulate(MASS, REWARD, 3, 2, 20_000, seed=11, model=JitteredHistogram(MASS, X),
                 coords=(X,), reward_fn=cell_reward)
    assert np.array_equal(a.masses[-1], b.masses[-1])
    assert compare_with_exact(a).passed


def test_builtin_histogram_through_the_protocol_and_bad_models():
    model = sampling.GridHistogramModel(MASS, coords=(X,))
    sim = simulate(MASS, top_k(REWARD, 3, 2), steps=2, samples=20_000, seed=12, model=model,
                   coords=(X,))
    assert compare_with_exact(sim).passed
    with pytest.raises(TypeError, match="fit"):
        simulate(MASS, REWARD, 3, 1, 10, model=object())
    with pytest.raises(TypeError, match="K is given"):
        simulate(MASS, top_k(REWARD, 3, 2), 3, 1, 10)
    with pytest.raises(ValueError, match="integer number K"):
        simulate(MASS, bradley_terry(REWARD, math.inf), steps=1, samples=10)


def test_cluster_robust_z_is_calibrated_over_seeds():
    # keep 3 of 4: the kept samples of an event are dependent; over 40 seeds the z-scores
    # of one generation have mean ~ 0 and sd ~ 1 (sd of the sd estimate ~ 0.11)
    rule = plackett_luce(REWARD, 4, 3)
    z = np.array([compare_with_exact(simulate(MASS, rule, steps=1, samples=10_000, seed=s,
                                              statistic=STAT)).z_conditional[0]
                  for s in range(40)])
    assert abs(z.mean()) < 5 / math.sqrt(40)
    assert 0.55 < z.std(ddof=1) < 1.5
