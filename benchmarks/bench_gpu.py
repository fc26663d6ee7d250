"""Benchmark (not a test): the sample-based loop and the flow-matching network, GPU against
CPU, in one run (issue 16; docs/neural.md, docs/simulate.md).

    python benchmarks/bench_gpu.py [--samples 1000000] [--steps 10] [--train-steps 500]

1. ``simulate`` on ``mog8`` (K = 4, curated only), histogram model, ``--samples`` curated
   samples per generation: the numpy backend against ``backend="cupy"``.  Printed: the time of
   each, their ratio, and :func:`numerics.sampling.compare_with_exact`'s CLT test (the largest
   ``|z|`` of the curated sample means against the exact curated means of the fitted models;
   it passes within 5 standard errors).
2. The flow-matching network (``numerics.neural_flow.FlowMatchingModel``): ``--train-steps``
   training steps on 10^4 points of ``mog8``'s data, then 10^5 samples, on the CPU and on
   ``cuda``.  Printed: the times and their ratio.

Where cupy or a CUDA device is missing, its rows say so and the CPU rows still print: the
script runs as is on a machine without a GPU.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from numerics.sampling import compare_with_exact, simulate
from numerics.sampling_models import cell_edges, jitter_cells
from numerics.scenarios import get_scenario


def timed(f):
    t = time.perf_counter()
    out = f()
    return out, time.perf_counter() - t


def sampling_rows(samples, steps):
    sc = get_scenario("mog8")
    rows = {}
    for backend in ("numpy", "cupy"):
        try:
            sim, t = timed(lambda: simulate(sc.mass, sc.reward, 4, steps, samples, seed=1,
                                            backend=backend))
        except (ValueError, ImportError) as exc:
            rows[backend] = f"not available ({str(exc).splitlines()[0][:90]})"
            continue
        cmp = compare_with_exact(sim)
        rows[backend] = (t, float(np.max(np.abs(cmp.z_conditional))), cmp.passed)
    return rows


def network_rows(train_steps):
    try:
        import torch
        from numerics.neural_flow import FlowMatchingModel
    except ImportError as exc:
        return {"cpu": f"not available ({exc})"}
    sc = get_scenario("mog8")
    rng = np.random.default_rng(0)
    edges = cell_edges(tuple(sc.axes))
    cells = rng.choice(sc.mass.size, size=10_000, p=(sc.mass / sc.mass.sum()).ravel())
    pts = jitter_cells(rng, cells, edges)
    rows = {}
    for device in ("cpu", "cuda"):
        if device == "cuda" and not torch.cuda.is_available():
            rows[device] = "not available (torch.cuda.is_available() is False)"
            continue
        fm = FlowMatchingModel(initial_steps=train_steps, device=device, seed=0)
        _, t_fit = timed(lambda: fm.fit(pts))
        _, t_sample = timed(lambda: fm.sample(100_000, np.random.default_rng(1)))
        rows[device] = (t_fit, t_sample)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=1_000_000)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--train-steps", type=int, default=500)
    args = ap.parse_args()
    rows = sampling_rows(args.samples, args.steps)
    print(f"simulate mog8, K=4, {args.samples} samples x {args.steps} generations:")
    for name, row in rows.items():
        if isinstance(row, str):
            print(f"  {name:6s} {row}")
        else:
            print(f"  {name:6s} {row[0]:8.2f} s   max |z| = {row[1]:.2f} "
                  f"({'passed' if row[2] else 'FAILED'} at 5 SE)")
    if all(not isinstance(r, str) for r in rows.values()):
        print(f"  cupy is {rows['numpy'][0] / rows['cupy'][0]:.1f}x faster than numpy")
    rows = network_rows(args.train_steps)
    print(f"flow-matching network: fit {args.train_steps} steps on 10^4 points, sample 10^5:")
    for name, row in rows.items():
        if isinstance(row, str):
            print(f"  {name:6s} {row}")
        else:
            print(f"  {name:6s} fit {row[0]:7.2f} s   sample {row[1]:7.2f} s")
    if all(not isinstance(r, str) for r in rows.values()) and "cuda" in rows:
        print(f"  cuda: fit {rows['cpu'][0] / rows['cuda'][0]:.1f}x, sample "
              f"{rows['cpu'][1] / rows['cuda'][1]:.1f}x faster than the CPU")


if __name__ == "__main__":
    main()
