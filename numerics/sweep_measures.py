r"""Measures a sweep evaluates at each point (:mod:`numerics.sweep`), and their registry.

A measure is a function ``f(scenario, **options) -> {output: float}`` registered with
:func:`register_measure` under a name, with the names of its outputs (each becomes one
variable of the sweep's Dataset) and its options' defaults.  Built in here (engine only):

- ``condensate``: the limit's ``condensate`` and ``top_mass`` (THEORY.md T8, T9).  Where the
  scenario has a continuous reward law (``scenario.continuous``, e.g. ``kingman``) and
  ``0 < lam < inf``, ``K > 1``, the law itself is solved (:func:`numerics.limit_continuous`:
  T8's ``1 - I`` for ``K = inf``); otherwise the grid (:func:`numerics.limit`, where the top
  cell carries the condensate: ``condensate = 0``, see ``top_mass``).  Output
  ``continuous_law`` is 1 where the continuous law was used, 0 where the grid was.
- ``limit``: ``E[r]`` and ``E[e^{r - c}]`` at the grid limit (T3, T8, T9), ``c =
  exp_reward_shift`` (0 unless rewards exceed 700 nats).
- ``moments``: ``E_{p_t}[r]`` and ``E_{p_t}[e^{r - c}]`` at step ``t`` (option ``t``, default
  the scenario's ``steps``) by :func:`numerics.evolve`.
- ``distance_to_data``: ``TV(p^lam, p_d) = sum |p^lam - p_d| / 2`` on the grid (T5 bounds it
  by ``lam/(1+lam)``).

``import theory`` registers two more (:mod:`theory.sweep_measures`): ``contraction`` (T7's
measured factor) and ``check`` (a statement's verdict and slack).  A measure registered in a
user's module must be importable (or cloudpickle-able) on ``dask.distributed`` workers.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

__all__ = ["Measure", "register_measure", "get_measure", "list_measures"]


@dataclass(frozen=True)
class Measure:
    """A registered measure: ``func(scenario, **options)`` returns ``{output: float}``."""

    name: str
    func: Callable
    outputs: tuple
    description: str = ""
    options: dict = field(default_factory=dict)

    def resolve_options(self, options):
        """The defaults updated by ``options``; an unknown option is a ``ValueError``."""
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            raise ValueError(f"measure {self.name!r} has no option(s) "
                             f"{', '.join(map(repr, unknown))} (options: "
                             f"{', '.join(self.options) or 'none'})")
        return {**self.options, **options}

    def __call__(self, scenario, **options):
        out = self.func(scenario, **options)
        missing = [k for k in self.outputs if k not in out]
        if missing:
            raise ValueError(f"measure {self.name!r} returned no {', '.join(missing)}")
        return {k: float(out[k]) for k in self.outputs}


_MEASURES: dict[str, Measure] = {}


def register_measure(name, outputs, description="", options=None):
    """Decorator: register ``func(scenario, **options) -> {output: float}`` as measure
    ``name`` with output names ``outputs`` and option defaults ``options``.  Registering a
    name again replaces it."""
    outputs = (outputs,) if isinstance(outputs, str) else tuple(outputs)
    reserved = {"state", "error"}
    if not outputs or reserved & set(outputs):
        raise ValueError(f"outputs must be non-empty names other than {sorted(reserved)}")

    def deco(func):
        _MEASURES[name] = Measure(name, func, outputs, description or (func.__doc__ or ""),
                                  dict(options or {}))
        return func
    return deco


def get_measure(name):
    """The :class:`Measure` registered as ``name`` (a ``Measure`` passes through)."""
    if isinstance(name, Measure):
        return name
    if name not in _MEASURES:
        raise ValueError(f"unknown measure {name!r} (known: {', '.join(sorted(_MEASURES))}; "
                         f"'import theory' registers 'contraction' and 'check')")
    return _MEASURES[name]


def list_measures():
    """``[(name, outputs, description), ...]`` of the registered measures."""
    return [(m.name, m.outputs, m.description.strip().splitlines()[0])
            for m in _MEASURES.values()]


def _data(sc):
    return sc.mass if sc.data is None else sc.data


def grid_limit(sc):
    """:func:`numerics.limit` of a scenario (its ``K``, ``lam``, ``data``)."""
    from . import limit
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lim = limit(sc.mass, sc.reward, sc.K, sc.lam, data=sc.data)
    if not lim.converged:   # recorded as a failed point, never as a number
        raise ArithmeticError(f"limit did not converge: {lim.detail}")
    return lim


@register_measure("condensate", ("condensate", "top_mass", "continuous_law"),
                  "limit's condensate and top-level mass (T8, T9); the continuous law where "
                  "the scenario has one")
def _condensate(sc):
    law = sc.continuous
    if law is not None and 0 < sc.lam < math.inf and sc.K > 1:
        from scipy import integrate

        from . import limit_continuous
        with warnings.catch_warnings():
            # quad's roundoff notice near an integrable singularity at r_*
            warnings.simplefilter("ignore", integrate.IntegrationWarning)
            lim = limit_continuous(law, sc.K, sc.lam)
        return {"condensate": lim.condensate, "top_mass": lim.top_mass, "continuous_law": 1}
    lim = grid_limit(sc)
    return {"condensate": lim.condensate, "top_mass": lim.top_mass, "continuous_law": 0}


@register_measure("limit", ("expected_reward", "expected_exp_reward", "exp_reward_shift"),
                  "E[r] and E[e^(r-c)] at the grid limit (T3, T8, T9)")
def _limit(sc):
    lim = grid_limit(sc)
    m = lim.mass / lim.mass.sum()
    return {"expected_reward": float((m * sc.reward).sum()),
            "expected_exp_reward": lim.expected_exp_reward,
            "exp_reward_shift": lim.exp_reward_shift}


@register_measure("moments", ("expected_reward", "expected_exp_reward", "exp_reward_shift"),
                  "E[r] and E[e^(r-c)] at step t (default: the scenario's steps)",
                  options={"t": None})
def _moments(sc, t=None):
    from . import evolve
    steps = sc.steps if t is None else int(t)
    traj = evolve(sc.mass, sc.reward, sc.K, steps, sc.lam, sc.data, record_every=max(steps, 1))
    return {"expected_reward": traj.expected_reward[steps],
            "expected_exp_reward": traj.expected_exp_reward[steps],
            "exp_reward_shift": traj.exp_reward_shift}


@register_measure("distance_to_data", ("tv",),
                  "TV(p^lam, p_d) on the grid (T5: at most lam/(1+lam))")
def _distance_to_data(sc):
    lim = grid_limit(sc)
    p = np.ravel(lim.mass) / lim.mass.sum()
    d = np.ravel(_data(sc)).astype(float)
    return {"tv": 0.5 * float(np.abs(p - d / d.sum()).sum())}


@register_measure("spectral_radius", ("spectral_radius", "radius_error", "uncurated_radius",
                                      "stable"),
                  "parametric (Gaussian) retraining: spectral radius of DG at the fixed point "
                  "(S3) beside lam/(1+lam) (S1); stable 1/0, NaN undecided; fails where no "
                  "fixed point exists")
def _spectral_radius(sc):
    from .parametric import Gaussian, stability
    res = stability(Gaussian(sc.axes), sc.reward, sc.K, sc.lam, _data(sc))
    if not res.exists:
        raise ArithmeticError(f"no parametric fixed point: {res.reason}")
    return {"spectral_radius": res.spectral_radius, "radius_error": res.radius_error,
            "uncurated_radius": res.uncurated_radius,
            "stable": math.nan if res.stable is None else float(res.stable)}
