"""Scenarios with curation rules: TOML ``[[curators]]`` (numerics/scenario_config.py) and the
built-in ``mog8-two-users`` and ``adversarial`` (numerics/scenarios.py)."""

import math

import numpy as np
import pytest

import numerics
from numerics import curation_factor
from numerics.curators import BradleyTerry, Filtering, Mixture, PlackettLuce, TopK
from numerics.scenario_config import ConfigError, load_config
from numerics.scenarios import get_scenario, list_scenarios

HEAD = 'K = 3\nstart = "exp(-x^2/2)"\nreward = "-x^2"\n[grid]\naxes = [[-2, 2, 9]]\n'
X = np.linspace(-2, 2, 9)


def write(tmp_path, text):
    path = tmp_path / "sc.toml"
    path.write_text(text)
    return path


def bt_factor_loop(mass, r, K):
    """L2 for K = 2 by a hand loop: H(x) = 2 sum_y p(y) e^r(x) / (e^r(x) + e^r(y))."""
    assert K == 2
    p = mass / mass.sum()
    return np.array([2 * sum(p[j] * math.exp(r[i]) / (math.exp(r[i]) + math.exp(r[j]))
                             for j in range(len(p))) for i in range(len(p))])


def test_curators_build_a_mixture_with_its_weights_rewards_and_keys(tmp_path):
    sc = load_config(write(tmp_path, HEAD + """
[[curators]]
weight = 3
rule = "bradley_terry"
K = 2
reward = "x"
[[curators]]
weight = 1
rule = "filtering"
accept = "exp(-x^2)"
[[curators]]
weight = 0
rule = "top_k"
keep = 2
"""))
    assert isinstance(sc.rule, Mixture)
    (w0, r0), (w1, r1) = sc.rule.components()       # the weight-0 entry is dropped
    assert (w0, w1) == (0.75, 0.25)
    assert isinstance(r0, BradleyTerry) and r0.K == 2 and isinstance(r1, Filtering)
    np.testing.assert_array_equal(sc.reward, -X ** 2)    # the reported reward stays
    assert math.isinf(sc.K)                               # filtering has K = inf
    # H = 3/4 H_BT(x, K=2) + 1/4 a / E[a], against a hand loop and the closed form of L6
    a = np.exp(-X ** 2)
    p = sc.mass
    want = 0.75 * bt_factor_loop(p, X, 2) + 0.25 * a / np.dot(p, a)
    np.testing.assert_allclose(curation_factor(p, sc.rule), want, rtol=1e-10)


def test_one_entry_is_the_rule_itself_with_top_level_reward_and_K(tmp_path):
    sc = load_config(write(tmp_path, HEAD + '[[curators]]\nrule = "plackett_luce"\nkeep = 2\n'))
    assert isinstance(sc.rule, PlackettLuce) and (sc.rule.K, sc.rule.keep) == (3, 2)
    np.testing.assert_array_equal(sc.rule.rewards_at(0, (9,))[0], -X ** 2)
    sc = load_config(write(tmp_path, HEAD + '[[curators]]\nrule = "top_k"\nkeep = 1\nK = 2\n'))
    assert isinstance(sc.rule, TopK) and sc.K == 2.0
    # top-1-of-2 with distinct rewards: H(x) = 2 P[Y < x] + P[Y = x] (hand count)
    p = sc.mass
    r = -X ** 2
    want = np.array([2 * p[r < r[i]].sum() + p[r == r[i]].sum() for i in range(9)])
    np.testing.assert_allclose(curation_factor(p, sc.rule), want, rtol=1e-12)


def test_plain_config_has_no_rule():
    from pathlib import Path
    ring = Path(__file__).resolve().parents[1] / "docs" / "examples" / "ring.toml"
    assert load_config(ring, grid=9).rule is None


@pytest.mark.parametrize("body, message", [
    ('[[curators]]\nrule = "plackett_luce"\nkeep = 5\n', r"curators\[0\]\.keep: keep must be <= K"),
    ('[[curators]]\nrule = "plackett_luce"\nkeep = 1.5\n', r"curators\[0\]\.keep: must be an integer"),
    ('[[curators]]\nrule = "plackett_luce"\n', r"curators\[0\]\.keep: missing"),
    ('[[curators]]\nrule = "bradley_terry"\n[[curators]]\nrule = "top_k"\nkeep = 0\n',
     r"curators\[1\]\.keep: keep must be >= 1"),
    ('[[curators]]\nrule = "bradley_terry"\nkeep = 2\n', r"curators\[0\]\.keep: not a key of rule 'bradley_terry'"),
    ('[[curators]]\nrule = "filtering"\naccept = "2 + x"\n', r"curators\[0\]\.accept: must lie in \[0, 1\]"),
    ('[[curators]]\nrule = "filtering"\n', r"curators\[0\]\.accept: missing"),
    ('[[curators]]\nrule = "filtering"\naccept = "z"\n', r"curators\[0\]\.accept: unknown symbol 'z'"),
    ('[[curators]]\nrule = "bradley_terry"\nreward = "foo(x)"\n', r"curators\[0\]\.reward: function 'foo'"),
    ('[[curators]]\nrule = "bradley_terry"\nK = 0.5\n', r"curators\[0\]\.K must be >= 1"),
    ('[[curators]]\nrule = "bradley_terry"\nK = "lots"\n', r"curators\[0\]\.K: must be a number"),
    ('[[curators]]\nrule = "top_k"\nK = "inf"\nkeep = 1\n', r"curators\[0\]\.K: top_k needs a finite"),
    ('[[curators]]\nrule = "softmax"\n', r"curators\[0\]\.rule: must be one of bradley_terry"),
    ('[[curators]]\nweight = 1\n', r"curators\[0\]\.rule: missing"),
    ('[[curators]]\nrule = "bradley_terry"\nweight = -1\n', r"curators\[0\]\.weight: must be a finite"),
    ('[[curators]]\nrule = "bradley_terry"\nwieght = 1\n', r"curators\[0\]: unknown key\(s\) 'wieght'"),
    ('[[curators]]\nrule = "bradley_terry"\nweight = 0\n', r"curators: the weights sum to 0"),
    ('curators = 3\n', r"curators: must be an array of tables"),
])
def test_bad_curator_entries_name_the_key(tmp_path, body, message):
    head = HEAD if not body.startswith("curators =") else HEAD.replace("[grid]", body + "[grid]")
    text = head + ("" if body.startswith("curators =") else body)
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, text))


def bt2_loop_flat(mass, r):
    return bt_factor_loop(mass.ravel(), r.ravel(), 2).reshape(mass.shape)


def test_builtins_are_listed_with_a_rule_and_the_plain_ones_have_none():
    names = [n for n, _ in list_scenarios()]
    assert "mog8-two-users" in names and "adversarial" in names
    assert get_scenario("mog8", grid=8).rule is None


def test_mog8_two_users_is_two_disc_rewards_with_weights_w_and_1_minus_w():
    sc = get_scenario("mog8-two-users", w=0.3, K=2, grid=10)
    x = sc.axes[0]
    X, Y = np.meshgrid(x, x, indexing="ij")
    ang = 2 * np.pi * np.array([0, 3]) / 8
    r = [-np.maximum(0.0, np.hypot(X - 4 * np.cos(a), Y - 4 * np.sin(a)) - 1.0) for a in ang]
    (w0, u0), (w1, u1) = sc.rule.components()
    assert (w0, w1) == pytest.approx((0.3, 0.7), abs=1e-15) and u0.K == u1.K == 2
    np.testing.assert_allclose(u0.rewards_at(0, X.shape)[0], r[0], atol=1e-12)
    np.testing.assert_allclose(u1.rewards_at(0, X.shape)[0], r[1], atol=1e-12)
    np.testing.assert_allclose(sc.reward, np.maximum(r[0], r[1]), atol=1e-12)  # mog8's reward
    want = 0.3 * bt2_loop_flat(sc.mass, r[0]) + 0.7 * bt2_loop_flat(sc.mass, r[1])
    np.testing.assert_allclose(curation_factor(sc.mass, sc.rule), want, rtol=1e-10)
    # w = 1: a single user type, Bradley-Terry on the first disc
    one = get_scenario("mog8-two-users", w=1.0, grid=10).rule
    assert isinstance(one, BradleyTerry) and one.K == 4


def test_adversarial_uses_minus_r_with_probability_phi():
    sc = get_scenario("adversarial", phi=0.25, K=2, grid=41)
    x = np.linspace(-6, 6, 41)
    r = -0.5 * (x - 1) ** 2
    np.testing.assert_allclose(sc.reward, r, atol=1e-14)
    want = 0.75 * bt_factor_loop(sc.mass, r, 2) + 0.25 * bt_factor_loop(sc.mass, -r, 2)
    np.testing.assert_allclose(curation_factor(sc.mass, sc.rule), want, rtol=1e-10)
    assert isinstance(get_scenario("adversarial", phi=0.0).rule, BradleyTerry)
    with pytest.raises(ValueError, match="phi"):
        get_scenario("adversarial", phi=1.5)


def test_evolve_a_rule_scenario_matches_a_hand_loop():
    """Three steps of p -> p H (lam = inf) by the hand loop against numerics.evolve."""
    sc = get_scenario("adversarial", phi=0.25, K=2, grid=41, steps=3)
    r = sc.reward
    p = sc.mass.copy()
    for _ in range(3):
        H = 0.75 * bt_factor_loop(p, r, 2) + 0.25 * bt_factor_loop(p, -r, 2)
        p = p * H
        p /= p.sum()
    traj = numerics.evolve(sc.mass, sc.rule, sc.steps, sc.lam, sc.data)
    np.testing.assert_allclose(traj.masses[-1], p, rtol=1e-9, atol=1e-300)
    assert traj.expected_reward[-1] == pytest.approx(float(p @ r), rel=1e-9)
