"""Points per second of a sweep (numerics.sweep) with 1 and 2 dask.distributed workers on the
same sweep, and a plain serial loop over the points as the baseline, all in one run.

    NUMBA_NUM_THREADS=1 python benchmarks/bench_sweep.py [--measure contraction]
        [--scenario gauss1d] [--grid 81] [--steps 60] [--K 1.25:32:12:log]
        [--lam 0.05:10:10:log]

Each cluster is a real ``dask scheduler`` plus N ``dask worker --nthreads 1`` processes on
127.0.0.1 (started and stopped here); the time counted is the sweep's alone (cluster start
excluded).  Not a timed test: it prints rates and their ratio, measured on this machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

import theory  # noqa: E402,F401
from numerics.sweep import SweepSpec, evaluate_point, sweep  # noqa: E402
from numerics.sweep_measures import get_measure  # noqa: E402
from test_sweep_distributed import dask_cluster  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--measure", default="contraction")
    ap.add_argument("--scenario", default="gauss1d")
    ap.add_argument("--grid", type=int, default=81)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--K", default="1.25:32:12:log")
    ap.add_argument("--lam", default="0.05:10:10:log")
    a = ap.parse_args()
    spec = SweepSpec(a.measure, {"K": a.K, "lam": a.lam}, scenario=a.scenario,
                     fixed={"grid": a.grid, "steps": a.steps})
    n = int(np.prod(spec.shape))
    print(f"sweep: {a.measure} on {a.scenario} (grid {a.grid}, steps {a.steps}), "
          f"{spec.shape[0]} K x {spec.shape[1]} lam = {n} points; "
          f"NUMBA_NUM_THREADS={os.environ.get('NUMBA_NUM_THREADS', 'unset')}, "
          f"{os.cpu_count()} CPUs")
    measure = get_measure(a.measure)
    t0 = time.perf_counter()
    serial = [evaluate_point(measure, spec.scenario, None, {**spec.fixed, **p}, spec.options, i)
              for i, p in enumerate(spec.points())]
    rates = {"serial loop": n / (time.perf_counter() - t0)}
    results = {}
    for workers in (1, 2):
        with dask_cluster(workers) as address:
            t0 = time.perf_counter()
            results[workers] = sweep(spec, scheduler=address)
            rates[f"{workers} worker(s)"] = n / (time.perf_counter() - t0)
    same = all(np.array_equal(results[1][v].values, results[2][v].values, equal_nan=True)
               for v in measure.outputs)
    ref = np.array([s[1] for s in serial]).T.reshape(len(measure.outputs), *spec.shape)
    same_serial = all(np.array_equal(results[1][v].values, ref[j], equal_nan=True)
                      for j, v in enumerate(measure.outputs))
    for name, rate in rates.items():
        print(f"  {name:12s} {rate:8.2f} points/s")
    print(f"  2 workers / 1 worker: {rates['2 worker(s)'] / rates['1 worker(s)']:.2f}x; "
          f"1 worker / serial loop: {rates['1 worker(s)'] / rates['serial loop']:.2f}x")
    print(f"  identical results: 1 vs 2 workers {same}, distributed vs serial {same_serial}")


if __name__ == "__main__":
    main()
