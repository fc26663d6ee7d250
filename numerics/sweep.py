r"""Sweeps: a measure (:mod:`numerics.sweep_measures`) evaluated over a grid of parameters,
on Dask, with results as an ``xarray.Dataset`` (DESIGN.md "Sweeps").

Parameters a sweep can vary: ``K``, ``lam`` (the curation rule's and the loop's, THEORY.md
section 4), ``steps``, ``grid`` (cells per axis) and the scenario's own parameters
(:func:`numerics.scenarios.scenario_parameters`, e.g. kingman's ``b``).  The grid is the outer
product of the axes, in the order given; the Dataset has one dimension per axis, the values as
coordinates, one variable per output of the measure, ``state`` (0 pending, 1 done, 2 failed)
and ``error`` (the failed point's exception, one line).

>>> from numerics.sweep import SweepSpec, sweep
>>> spec = SweepSpec("condensate", {"lam": [3.0, 4.0]}, scenario="kingman")
>>> ds = sweep(spec)
>>> ds["condensate"].round(10).values.tolist()   # T8's example at lam = 3
[0.4845455716, 0.5876364573]

Runs on Dask: the threaded local scheduler (``workers`` threads; ``workers > 1`` uses the
process scheduler, since numba's kernels must not be entered from two threads), or a running
``dask.distributed`` scheduler (``scheduler="tcp://host:port"``; its workers need only this
package).  With ``out``, the Dataset is written atomically as netCDF (scipy's netCDF3 engine)
every few seconds and at the end; a second call with the same spec and ``out`` computes only
the points not yet in the file (an interrupted sweep resumes).  A point whose measure raises
an ``Exception`` is recorded as failed with its error; it never stops the sweep.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from .atomic import atomic_path
from .sweep_measures import Measure, get_measure

__all__ = ["SweepSpec", "parse_values", "sweep", "load_spec", "evaluate_point",
           "LOOP_PARAMETERS", "PENDING", "DONE", "FAILED"]

#: parameters of every scenario (besides its own)
LOOP_PARAMETERS = ("K", "lam", "steps", "grid")
PENDING, DONE, FAILED = 0, 1, 2
_INTEGER = ("steps", "grid")


def parse_values(text, name="value"):
    """Axis values from text: ``start:stop:num`` (``num`` evenly spaced, ends included),
    ``start:stop:num:log`` (geometric) or a comma list (``inf`` allowed).

    Raises
    ------
    ValueError
        a value not a number; a range not ``start:stop:num[:log]``, with a non-integer ``num``,
        ``num < 1``, infinite ends, or (``:log``) ends not positive; no values.

    See Also
    --------
    SweepSpec : the axes it builds.

    References
    ----------
    docs/sweeps.md (the ``--param`` syntax).
    """
    def real(t):
        try:
            return float(t)
        except ValueError:
            raise ValueError(f"{name}: not a number: {t.strip()!r}") from None
    text = str(text).strip()
    if ":" in text:
        parts = text.split(":")
        log = len(parts) == 4 and parts[3].strip() == "log"
        if len(parts) not in (3, 4) or (len(parts) == 4 and not log):
            raise ValueError(f"{name}: expected start:stop:num or start:stop:num:log, "
                             f"got {text!r}")
        lo, hi = real(parts[0]), real(parts[1])
        try:
            num = int(parts[2])
        except ValueError:
            raise ValueError(f"{name}: num must be an integer, got {parts[2]!r}") from None
        if num < 1 or not (math.isfinite(lo) and math.isfinite(hi)):
            raise ValueError(f"{name}: needs finite ends and num >= 1, got {text!r}")
        if log and not (lo > 0 and hi > 0):
            raise ValueError(f"{name}: a log range needs positive ends, got {text!r}")
        vals = np.geomspace(lo, hi, num) if log else np.linspace(lo, hi, num)
        return [float(v) for v in vals]
    vals = [real(t) for t in text.split(",") if t.strip()]
    if not vals:
        raise ValueError(f"{name}: no values in {text!r}")
    return vals


def _axis(name, values):
    vals = parse_values(values, name) if isinstance(values, str) else list(np.ravel(values))
    if not vals:
        raise ValueError(f"axis {name!r} has no values")
    if name in _INTEGER:
        if any(float(v) != int(v) for v in vals):
            raise ValueError(f"{name} values must be integers, got {vals}")
        return tuple(int(v) for v in vals)
    if len(set(vals)) != len(vals):
        raise ValueError(f"axis {name!r} repeats a value")
    return tuple(float(v) for v in vals)


@dataclass(frozen=True)
class SweepSpec:
    """What to sweep: ``measure`` (a registered name) over ``axes`` (``{name: values}``, in
    order; values a sequence or text for :func:`parse_values`), on ``scenario`` (built-in
    name) or ``config`` (TOML file), with ``fixed`` parameters and measure ``options``."""

    measure: str
    axes: dict
    scenario: str | None = None
    config: str | None = None
    fixed: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.scenario is not None and self.config is not None:
            raise ValueError("give scenario or config, not both")
        if not self.axes:
            raise ValueError("axes: a sweep needs at least one parameter")
        object.__setattr__(self, "axes", {str(k): _axis(k, v) for k, v in self.axes.items()})
        both = sorted(set(self.axes) & set(self.fixed))
        if both:
            raise ValueError(f"{', '.join(both)}: both swept and fixed")
        m = get_measure(self.measure)
        object.__setattr__(self, "options", m.resolve_options(dict(self.options)))
        if self.config is None:
            from .scenarios import DEFAULT_SCENARIO, scenario_parameters
            object.__setattr__(self, "scenario", self.scenario or DEFAULT_SCENARIO)
            allowed = set(LOOP_PARAMETERS) | set(scenario_parameters(self.scenario))
        else:
            allowed = set(LOOP_PARAMETERS)
        allowed |= set(m.options)   # a measure option can be swept too (e.g. moments' t)
        unknown = sorted((set(self.axes) | set(self.fixed)) - allowed)
        if unknown:
            raise ValueError(f"unknown parameter(s) {', '.join(map(repr, unknown))} for "
                             f"{self.scenario or self.config!r} (parameters: "
                             f"{', '.join(sorted(allowed))})")

    @property
    def shape(self):
        return tuple(len(v) for v in self.axes.values())

    def points(self):
        """Every point as ``{name: value}``, in C order over the axes."""
        names = list(self.axes)
        return [dict(zip(names, vals)) for vals in itertools.product(*self.axes.values())]

    def to_json(self):
        """Canonical JSON (what ``resume`` compares)."""
        return json.dumps({"measure": self.measure, "scenario": self.scenario,
                           "config": self.config, "axes": {k: list(v) for k, v in
                                                           self.axes.items()},
                           "fixed": self.fixed, "options": self.options},
                          sort_keys=True, default=str)


def load_spec(path):
    """A :class:`SweepSpec` from TOML: top-level ``measure``, ``scenario`` or ``config``,
    tables ``[axes]`` (``name = "start:stop:num"`` or a list), ``[fixed]``, ``[options]``.

    Raises
    ------
    OSError
        ``path`` cannot be read.
    ValueError
        not valid TOML; unknown keys; no ``measure``; any error of :class:`SweepSpec` (unknown
        measure or parameter, an axis without values or with repeats, a parameter both swept
        and fixed).

    See Also
    --------
    sweep : run the spec.
    SweepSpec : the same in Python.

    References
    ----------
    docs/sweeps.md.
    """
    from .scenario_config import tomllib
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(doc) - {"measure", "scenario", "config", "axes", "fixed", "options"})
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {', '.join(unknown)}")
    if "measure" not in doc:
        raise ValueError(f"{path}: missing key 'measure'")
    fixed = {k: (float(v) if isinstance(v, str) else v) for k, v in doc.get("fixed", {}).items()}
    return SweepSpec(doc["measure"], doc.get("axes", {}), scenario=doc.get("scenario"),
                     config=doc.get("config"), fixed=fixed, options=doc.get("options", {}))


def build_scenario(scenario, config, params):
    """The scenario at one point: ``params`` splits into loop overrides and the scenario's
    own parameters."""
    loop = {k: params[k] for k in LOOP_PARAMETERS if k in params}
    own = {k: v for k, v in params.items() if k not in LOOP_PARAMETERS}
    grid = loop.pop("grid", None)
    if config is not None:
        from .scenario_config import load_config
        sc = load_config(config, grid=grid)
        return sc.with_overrides(**loop)
    from .scenarios import get_scenario
    return get_scenario(scenario, grid=grid, **loop, **own)


def evaluate_point(measure, scenario, config, params, options, index):
    """Run on a worker: ``(index, values, error)``; an ``Exception`` becomes ``error``.
    ``params`` that name one of the measure's options go to the measure, the rest build the
    scenario.

    Raises
    ------
    ValueError
        ``measure`` not a registered measure.  Any exception of the point itself is returned
        as ``error``, never raised.

    See Also
    --------
    sweep : evaluates every point with it.
    numerics.sweep_measures.register_measure : add a measure.

    References
    ----------
    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    the dynamics swept (T7-T9).

    Kingman (1978), *A simple model for the balance between selection and mutation*,
    J. Appl. Prob. 15:
    T8's condensation.

    docs/theory.md T7-T9.
    """
    measure = get_measure(measure)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sc = build_scenario(scenario, config, {k: v for k, v in params.items()
                                                   if k not in measure.options})
            opts = {**options, **{k: v for k, v in params.items() if k in measure.options}}
            out = measure(sc, **opts)
        return index, [out[k] for k in measure.outputs], ""
    except Exception as exc:  # a failed point is recorded, never fatal
        text = " ".join(f"{type(exc).__name__}: {exc}".split())
        return index, [math.nan] * len(measure.outputs), text


class _Results:
    """The sweep's state: values per output, state and error per point; to/from Dataset."""

    def __init__(self, spec, measure):
        self.spec, self.measure = spec, measure
        n = int(np.prod(spec.shape))
        self.values = np.full((len(measure.outputs), n), np.nan)
        self.state = np.zeros(n, dtype=np.int8)
        self.error = np.array([""] * n, dtype=object)

    def set(self, i, values, error):
        self.values[:, i] = values
        self.state[i] = FAILED if error else DONE
        self.error[i] = error

    def dataset(self):
        import xarray as xr
        spec, shape, dims = self.spec, self.spec.shape, list(self.spec.axes)
        data = {name: (dims, self.values[j].reshape(shape),
                       {"measure": self.measure.name})
                for j, name in enumerate(self.measure.outputs)}
        data["state"] = (dims, self.state.reshape(shape),
                         {"meaning": "0 pending, 1 done, 2 failed (see error)"})
        data["error"] = (dims, self.error.astype(str).reshape(shape))
        done = int((self.state != PENDING).sum())
        attrs = {"measure": self.measure.name, "measure_description": self.measure.description,
                 "outputs": ",".join(self.measure.outputs),
                 "scenario": spec.scenario or "", "config": spec.config or "",
                 "fixed": json.dumps(spec.fixed, default=str),
                 "options": json.dumps(spec.options, default=str),
                 "sweep_spec": spec.to_json(), "points_done": done,
                 "complete": int(done == self.state.size)}
        return xr.Dataset(data, coords={k: list(v) for k, v in spec.axes.items()}, attrs=attrs)

    def load(self, path):
        import xarray as xr
        with xr.open_dataset(path, engine="scipy") as ds:
            if ds.attrs.get("sweep_spec") != self.spec.to_json():
                raise ValueError(f"out: {path} holds a different sweep (remove it, or pass "
                                 f"another output file)")
            for j, name in enumerate(self.measure.outputs):
                self.values[j] = ds[name].values.ravel()
            self.state[:] = ds["state"].values.ravel()
            self.error[:] = ds["error"].values.astype(str).ravel()
            self.error[self.state != FAILED] = ""

    def save(self, path):
        """netCDF (scipy's netCDF3 engine), written atomically (:func:`numerics.atomic.
        atomic_path`): a reader never sees a half-written file."""
        with atomic_path(path) as tmp:
            self.dataset().to_netcdf(tmp, engine="scipy")


def _run_local(tasks, workers, on_result):
    import dask
    from dask.callbacks import Callback

    class _Posttask(Callback):
        def _posttask(self, key, result, dsk, state, id):
            if isinstance(result, tuple) and len(result) == 3:
                on_result(*result)

    delayed = [dask.delayed(evaluate_point, pure=False)(*t) for t in tasks]
    with _Posttask():
        if workers > 1:
            dask.compute(*delayed, scheduler="processes", num_workers=workers)
        else:
            dask.compute(*delayed, scheduler="threads", num_workers=1)


def _run_distributed(tasks, address, on_result, timeout):
    from distributed import Client, as_completed
    with Client(address, timeout=timeout) as client:
        futures = client.map(evaluate_point, *zip(*tasks), pure=False)
        try:
            for fut in as_completed(futures):
                on_result(*fut.result())
        finally:
            client.cancel(futures)


def sweep(spec, *, out=None, scheduler=None, workers=1, progress=None, retry_failed=False,
          save_every=2.0, connect_timeout=30.0):
    """Evaluate ``spec.measure`` at every point of ``spec`` and return the ``xarray.Dataset``.

    ``out``: netCDF path, written atomically (every ``save_every`` seconds, on interrupt,
    and at the end); existing points of the same spec are kept, not recomputed
    (``retry_failed`` recomputes failed ones).  ``scheduler``: ``None`` (local Dask) or a
    ``dask.distributed`` address (``OSError`` if not reached within ``connect_timeout``
    seconds).  ``progress(done, total)``: called after every point.

    Raises
    ------
    ValueError
        ``spec.measure`` not registered; ``out`` holds a different sweep.
    OSError
        ``scheduler`` not reached within ``connect_timeout`` seconds; ``out`` not writable.
    ImportError
        dask, distributed or xarray missing (the ``sweep`` extra).
    KeyboardInterrupt
        re-raised after the finished points are saved to ``out``.

    See Also
    --------
    SweepSpec, load_spec : what to sweep.
    figures.sweep_phase.plot_sweep : draw a 2-D sweep.

    References
    ----------
    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    the dynamics swept (T7-T9).

    Kingman (1978), *A simple model for the balance between selection and mutation*,
    J. Appl. Prob. 15:
    T8's condensation.

    docs/theory.md T7-T9.
    """
    measure = get_measure(spec.measure)
    res = _Results(spec, measure)
    if out is not None and os.path.exists(out):
        res.load(out)
    todo = res.state == PENDING
    if retry_failed:
        todo |= res.state == FAILED
    points = spec.points()
    fixed = spec.fixed
    tasks = [(measure, spec.scenario, spec.config, {**fixed, **points[i]}, spec.options, int(i))
             for i in np.nonzero(todo)[0]]
    total, last, changed = res.state.size, [time.monotonic()], [False]
    if progress:
        progress(int((~todo).sum()), total)

    def on_result(i, values, error):
        res.set(i, values, error)
        changed[0] = True
        if progress:
            progress(int((res.state != PENDING).sum()), total)
        if out is not None and time.monotonic() - last[0] >= save_every:
            res.save(out)
            last[0] = time.monotonic()

    try:
        if tasks:
            if scheduler is None:
                _run_local(tasks, int(workers), on_result)
            else:
                _run_distributed(tasks, scheduler, on_result, connect_timeout)
    except BaseException:
        if out is not None and changed[0]:
            res.save(out)   # keep the finished points (Ctrl-C, a lost scheduler)
        raise
    if out is not None and (changed[0] or not os.path.exists(out)):
        res.save(out)
    return res.dataset()

