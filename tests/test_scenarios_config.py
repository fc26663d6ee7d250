"""TOML scenario files (numerics/scenario_config.py)."""

import math
import os
from pathlib import Path

import numpy as np
import pytest

from numerics.scenario_config import ConfigError, load_config

RING = Path(__file__).resolve().parents[1] / "docs" / "examples" / "ring.toml"
GRID1 = '\n[grid]\naxes = [[-1, 1, 5]]\n'


def write(tmp_path, text, name="sc.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_example_ring_loads_and_matches_its_formulas():
    sc = load_config(RING)
    assert (sc.name, sc.K, sc.lam, sc.steps) == ("ring", 4.0, 1.0, 50)
    x = np.linspace(-3, 3, 121)
    X, Y = np.meshgrid(x, x, indexing="ij")
    dens = np.exp(-(np.sqrt(X**2 + Y**2) - 2) ** 2 / (2 * 0.3**2))
    np.testing.assert_allclose(sc.mass, dens / dens.sum(), rtol=1e-13)
    np.testing.assert_allclose(sc.reward, -2 * np.hypot(X - 2, Y), rtol=1e-14, atol=1e-15)
    assert sc.data is None
    assert len(sc.axes) == 2 and np.array_equal(sc.axes[1], x)


def test_grid_override_replaces_every_axis():
    sc = load_config(RING, grid=9)
    assert sc.mass.shape == (9, 9)
    with pytest.raises(ConfigError, match="grid"):
        load_config(RING, grid=1)


def test_one_dimensional_with_data_and_infinities(tmp_path):
    path = write(tmp_path, 'K = "inf"\nlam = 2.5\nsteps = 3\nstart = "exp(-x^2/2)"\n'
                           'data = "1 + Abs(x)"\nreward = "Min(x, 0) + 1/2"' + GRID1)
    sc = load_config(path)
    x = np.linspace(-1, 1, 5)
    assert sc.name == "sc" and math.isinf(sc.K) and sc.lam == 2.5 and sc.steps == 3
    np.testing.assert_allclose(sc.mass, np.exp(-x**2 / 2) / np.exp(-x**2 / 2).sum(), rtol=1e-15)
    np.testing.assert_allclose(sc.data, (1 + abs(x)) / (1 + abs(x)).sum(), rtol=1e-15)
    np.testing.assert_array_equal(sc.reward, np.minimum(x, 0) + 0.5)
    sc = load_config(write(tmp_path, 'K = inf\nstart = 1\nreward = "x"' + GRID1))
    assert math.isinf(sc.K) and math.isinf(sc.lam) and sc.steps == 50   # defaults


@pytest.mark.parametrize("body, message", [
    ('start = "1"\nreward = "z"', "reward: unknown symbol 'z' (grid coordinates are x)"),
    ('start = "1"\nreward = "y"', "reward: unknown symbol 'y'"),
    ('start = "1"\nreward = "foo(x)"', "reward: function 'foo' is not allowed"),
    ('start = "1"\nreward = "x.real"', "reward: 'x.real' is not allowed"),
    ('start = "1"\nreward = "exp"', "reward: function 'exp' must be called"),
    ('start = "1"\nreward = "exp(x, 2)"', "reward: cannot parse"),
    ('start = "1"\nreward = "2x"', "reward: cannot parse"),
    ('start = "1"\nreward = "log(x)"', "reward: not finite"),
    ('start = "1"\nreward = "x < 1"', "reward: 'x < 1' is not allowed"),
    ('start = "x"\nreward = "x"', "start: negative density"),
    ('start = "0"\nreward = "x"', "start: the density is zero"),
    ('start = "1"\ndata = "sqrt(x)"\nreward = "x"', "data: not finite"),
    ('start = "1"\nreward = true', "reward: must be a formula"),
    ('K = 0.5\nstart = "1"\nreward = "x"', "K must be >= 1"),
    ('lam = "lots"\nstart = "1"\nreward = "x"', "lam: must be a number or \"inf\""),
    ('lam = -1\nstart = "1"\nreward = "x"', "lam must be >= 0"),
    ('steps = 1.5\nstart = "1"\nreward = "x"', "steps must be an integer"),
    ('colour = 1\nstart = "1"\nreward = "x"', "unknown key(s) 'colour'"),
    ('reward = "x"', "start: missing"),
    ('name = 3\nstart = "1"\nreward = "x"', "name: must be a string"),
])
def test_errors_name_the_key_in_one_line(tmp_path, body, message):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, body + GRID1))
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("grid, message", [
    ('[grid]\naxes = [[1, 1, 5]]', "grid.axes[0]: need lo < hi"),
    ('[grid]\naxes = [[0, 1, 1]]', "grid.axes[0]: n must be an integer >= 2"),
    ('[grid]\naxes = [[0, 1, 3], [0, 1, 3], [0, 1, 3]]', "grid.axes: must be a list of 1 or 2"),
    ('[grid]\naxs = [[0, 1, 3]]', "grid: unknown key(s) 'axs'"),
    ('grid = 3', "grid: must be a table"),
])
def test_grid_errors(tmp_path, grid, message):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, 'start = "1"\nreward = "x"\n' + grid))
    assert message in str(info.value)


def test_keys_written_after_the_grid_table_are_explained(tmp_path):
    with pytest.raises(ConfigError, match=r"grid: unknown key\(s\) 'reward', 'start'.*before"):
        load_config(write(tmp_path, '[grid]\naxes = [[0, 1, 3]]\nstart = "1"\nreward = "x"'))


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_config(tmp_path / "absent.toml")
    with pytest.raises(ConfigError, match=r"malformed TOML: .*line 1") as info:
        load_config(write(tmp_path, "start = \nreward = 'x'"))
    assert "\n" not in str(info.value)


def test_no_python_code_runs(tmp_path):
    marker = tmp_path / "pwned"
    body = f'start = "1"\nreward = "__import__(\'os\').system(\'touch {marker}\')"' + GRID1
    with pytest.raises(ConfigError, match="reward: function .*__import__.* is not allowed"):
        load_config(write(tmp_path, body))
    assert not marker.exists()
    assert not os.path.exists(marker)


def test_two_dimensional_coordinates(tmp_path):
    sc = load_config(write(tmp_path, 'start = "exp(-x^2 - y^2)"\nreward = "atan2(y, x) + pi"\n'
                                     '[grid]\naxes = [[-1, 1, 4], [0, 2, 3]]'))
    X, Y = np.meshgrid(np.linspace(-1, 1, 4), np.linspace(0, 2, 3), indexing="ij")
    assert sc.mass.shape == (4, 3)
    np.testing.assert_allclose(sc.reward, np.arctan2(Y, X) + np.pi, rtol=1e-15)


def test_caret_is_power_with_its_precedence(tmp_path):
    sc = load_config(write(tmp_path, 'start = "1"\nreward = "(x - 2)^2 + 3^-1 - x^2^3 - -x^2"'
                                     + GRID1))
    x = np.linspace(-1, 1, 5)
    np.testing.assert_allclose(sc.reward, (x - 2) ** 2 + 1 / 3 - x ** 8 + x ** 2, rtol=1e-15)


def test_huge_numbers_fail_fast_instead_of_hanging(tmp_path):
    with pytest.raises(ConfigError, match="reward: not finite"):
        load_config(write(tmp_path, 'start = "1"\nreward = "x + 10^10^10"' + GRID1))
    with pytest.raises(ConfigError, match="reward: number too large"):
        load_config(write(tmp_path, 'start = "1"\nreward = "x + 1' + "0" * 400 + '"' + GRID1))
