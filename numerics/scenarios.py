"""Built-in scenarios (THEORY.md section 8): a grid, a start density, real data, a reward,
and the loop parameters ``K``, ``lam``, ``steps``.

>>> from numerics.scenarios import get_scenario, list_scenarios
>>> sc = get_scenario("gauss1d", K=3, steps=10)
>>> sc.mass.shape == sc.reward.shape
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from .validation import check_K, check_lam, check_steps

__all__ = ["Scenario", "get_scenario", "list_scenarios", "register_scenario", "DEFAULT_SCENARIO"]

DEFAULT_SCENARIO = "gauss1d"


@dataclass
class Scenario:
    """Everything a run needs.  ``data = None`` means the real data are the start (``p_d =
    p_0``).  ``axes``: the grid coordinates along each axis (for plots); ``labels``: an
    integer class per cell where the scenario has classes (``label_names`` names them);
    ``continuous``: a :class:`numerics.ContinuousRewardLaw` where the scenario has one."""

    name: str
    description: str
    mass: np.ndarray
    reward: np.ndarray
    K: float
    lam: float
    steps: int
    data: np.ndarray | None = None
    axes: tuple = ()
    labels: np.ndarray | None = None
    label_names: tuple = ()
    continuous: object | None = None
    params: dict = field(default_factory=dict)

    def with_overrides(self, K=None, lam=None, steps=None):
        """A copy with ``K``, ``lam`` or ``steps`` replaced (validated)."""
        return replace(self,
                       K=self.K if K is None else check_K(K, "K"),
                       lam=self.lam if lam is None else check_lam(lam, "lam"),
                       steps=self.steps if steps is None else check_steps(steps, "steps"))


#: name -> (one-line description, builder(grid=None, **params) -> Scenario)
_REGISTRY: dict[str, tuple[str, Callable[..., Scenario]]] = {}


def register_scenario(name, description):
    """Decorator: register ``builder(grid=None, **params) -> Scenario`` under ``name``."""
    def deco(builder):
        _REGISTRY[name] = (description, builder)
        return builder
    return deco


def list_scenarios():
    """``[(name, one-line description), ...]`` of the built-in scenarios."""
    return [(name, desc) for name, (desc, _) in _REGISTRY.items()]


def get_scenario(name, *, K=None, lam=None, steps=None, grid=None, **params):
    """The built-in scenario ``name`` with optional overrides (``grid`` = cells per axis)."""
    if name not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY))
        raise ValueError(f"unknown scenario {name!r} (known: {known})")
    if grid is not None and (isinstance(grid, bool) or not isinstance(grid, (int, np.integer))
                             or grid < 2):
        raise ValueError(f"grid must be an integer >= 2, got {grid!r}")
    sc = _REGISTRY[name][1](grid=grid, **params)
    return sc.with_overrides(K=K, lam=lam, steps=steps)


@register_scenario("gauss1d", "1-D Gaussian start N(0,1) on [-6, 6], smooth reward -(x-1)^2/2")
def _gauss1d(grid=None, mean=0.0, sd=1.0, center=1.0, width=6.0):
    n = grid or 1201
    x = np.linspace(-width, width, n)
    mass = np.exp(-0.5 * ((x - mean) / sd) ** 2)
    mass /= mass.sum()
    reward = -0.5 * (x - center) ** 2
    return Scenario("gauss1d", _REGISTRY["gauss1d"][0], mass, reward, K=3.0, lam=math.inf,
                    steps=50, axes=(x,), params=dict(mean=mean, sd=sd, center=center))
