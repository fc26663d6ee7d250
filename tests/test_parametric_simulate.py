"""simulate(model="gaussian") against the exact parametric dynamics (THEORY.md sections 5-6)."""

import dataclasses
import json

import numpy as np
import pytest

from numerics.parametric.simulation_check import compare_gaussian_with_parametric
from numerics.sampling import simulate
from numerics.scenarios import get_scenario


def _run(name, K, lam, steps, samples, seed, grid=None):
    sc = get_scenario(name) if grid is None else get_scenario(name, grid=grid)
    sim = simulate(sc.mass, sc.reward, K, steps, samples, lam=lam, seed=seed,
                   model="gaussian", coords=sc.axes)
    return sc, sim


def test_gauss1d_within_5_standard_errors_of_the_parametric_trajectory():
    sc, sim = _run("gauss1d", 3, 1.0, 8, 20000, seed=0)
    cc = compare_gaussian_with_parametric(sim, sc.axes)
    assert cc.passed
    assert np.max(np.abs(cc.z_trajectory)) <= 5 and np.max(np.abs(cc.z_conditional)) <= 5
    assert cc.z_trajectory.shape == (8, 2)
    # on this fine, wide grid the plug-in and the grid-MLE dynamics agree to < 1e-3 SE
    assert cc.mle_gap < 1e-3


def test_mog8_2d_within_5_standard_errors_and_far_from_the_old_comparison():
    sc, sim = _run("mog8", 4, 2.0, 4, 20000, seed=0, grid=64)
    cc = compare_gaussian_with_parametric(sim, sc.axes)
    assert cc.passed and cc.z_trajectory.shape == (4, 5)
    # the coarse grid makes the plug-in model differ from the grid MLE by many SE: the
    # comparison must follow the simulation's own (plug-in) model
    assert cc.mle_gap > 5


def test_a_wrong_K_is_caught():
    sc, sim = _run("gauss1d", 3, 1.0, 4, 20000, seed=0)
    wrong = dataclasses.replace(sim, K=1)          # as if no curation had happened
    cc = compare_gaussian_with_parametric(wrong, sc.axes)
    assert not cc.passed and np.max(np.abs(cc.z_conditional)) > 5


def test_simulate_cli_gaussian_uses_the_parametric_comparison(cli):
    res = cli("simulate", "--scenario", "gauss1d", "--K", "3", "--lam", "1", "--steps", "3",
              "--samples", "20000", "--model", "gaussian", "--json")
    code = res.code
    out = json.loads(res.out)
    assert code == 0 and out["passed"]
    assert out["compared_with"].startswith("exact parametric")
    assert out["max_abs_z_trajectory"] <= 5 and len(out["generations"]) == 3 * 2


def test_requires_a_gaussian_simulation():
    sc = get_scenario("gauss1d")
    sim = simulate(sc.mass, sc.reward, 3, 1, 100, seed=0)
    with pytest.raises(TypeError, match="gaussian"):
        compare_gaussian_with_parametric(sim, sc.axes)
