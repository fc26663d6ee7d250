"""Benchmark of the compressed joint law of two rewards (not a test): prints ratios measured in
one run.

    python benchmarks/bench_pair.py [--n 2048] [--steps 100] [--repeat 3]

1. ``evolve`` of a mixture of two Bradley-Terry user types (weights 0.6 / 0.4, K = 4,
   lam = 0.5, each reward smooth with every cell distinct) on an n x n grid, ``steps`` steps,
   building the law and materializing the final density, against ``evolve`` with the first
   user type's reward alone (the one-reward engine) on the same grid: best of ``repeat``
   each, the two alternated, with numba's default threads and with one thread.  Issue 11's
   bar: at most 3x.
2. The two-user run's phases (building the joint law, the steps, the materialization), as
   multiples of one numpy pass ``p * exp(r - r.max())`` over the grid.
3. Its agreement with the exact joint-atom engine on a 128 x 128 grid (per cell, after the
   same number of steps): as benchmarked, with ``lam = inf`` (re-tilted bases) and with real
   data (a data base: the model's masses rolled by 37 cells).
"""

from __future__ import annotations

import argparse
import math
import time

import numba
import numpy as np

from numerics import curators as cur
from numerics import evolve
from numerics.joint import JointEngine
from numerics.pair_law import PairEngine


def scenario(n):
    """bench_engine.py's grid (8 Gaussians on a circle, a smooth reward with almost every cell
    distinct) and a second smooth reward."""
    from bench_engine import scenario as one_reward
    mass, r1 = one_reward(n)
    x = np.linspace(-6, 6, n)
    X, Y = np.meshgrid(x, x, indexing="ij")
    r2 = -0.7 * np.hypot(X + 3.0, Y + 1.5) + 0.05 * np.cos(2 * X)
    return mass / mass.sum(), r1, r2


def two_users(r1, r2, K):
    return cur.mixture([(0.6, cur.bradley_terry(r1, K)), (0.4, cur.bradley_terry(r2, K))])


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def compare(mass, r1, r2, steps, K, lam, repeat):
    rule = two_users(r1, r2, K)
    pair = lambda: evolve(mass, rule, steps=steps, lam=lam).masses[-1]      # noqa: E731
    one = lambda: evolve(mass, r1, K=K, steps=steps, lam=lam).masses[-1]    # noqa: E731
    pair()
    one()
    tp, to = [], []
    for _ in range(repeat):
        tp.append(timed(pair))
        to.append(timed(one))
    return min(tp), min(to)


def phases(mass, r1, r2, steps, K, lam, repeat):
    flat = mass.ravel()
    rule = two_users(r1, r2, K)
    best = {"build": math.inf, "steps": math.inf, "materialize": math.inf}
    for _ in range(repeat):
        t0 = time.perf_counter()
        eng = PairEngine(rule, flat, None, lam, mass.shape)
        t1 = time.perf_counter()
        for _ in range(steps):
            eng.advance()
        t2 = time.perf_counter()
        eng.materialize()
        t3 = time.perf_counter()
        for k, v in zip(best, (t1 - t0, t2 - t1, t3 - t2)):
            best[k] = min(best[k], v)
    one_pass = min(timed(lambda: mass * np.exp(r1 - r1.max())) for _ in range(5))
    return best, one_pass, eng


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2048)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--K", type=float, default=4.0)
    ap.add_argument("--lam", type=float, default=0.5)
    args = ap.parse_args()
    mass, r1, r2 = scenario(args.n)
    print(f"grid {args.n}^2, {args.steps} steps, K = {args.K:g}, lam = {args.lam:g}")
    default = numba.get_num_threads()
    for threads in sorted({default, 1}, reverse=True):
        numba.set_num_threads(threads)
        tp, to = compare(mass, r1, r2, args.steps, args.K, args.lam, args.repeat)
        print(f"  threads {threads}: two users {tp:.3f} s, one reward {to:.3f} s, "
              f"ratio {tp / to:.2f} (bar 3)")
    numba.set_num_threads(default)
    best, one_pass, eng = phases(mass, r1, r2, args.steps, args.K, args.lam, args.repeat)
    print(f"  phases (one numpy pass = {one_pass * 1e3:.1f} ms; {eng.n_boxes} boxes, "
          f"{eng.points} state points, {eng.rebuilds} re-tilts):")
    for k, v in best.items():
        print(f"    {k:12s} {v:.3f} s = {v / one_pass:6.1f} passes")
    m, a, b = scenario(128)
    rule = two_users(a, b, args.K)
    for name, lam, data in (("as benchmarked", args.lam, None), ("lam = inf", math.inf, None),
                            ("real data", args.lam, np.roll(m.ravel(), 37))):
        pe = PairEngine(rule, m.ravel(), data, lam, m.shape)
        je = JointEngine(rule, m.ravel(), data, lam, m.shape)
        for _ in range(args.steps):
            pe.advance()
            je.advance()
        p, q = pe.materialize(), je.materialize()
        sig = q > 1e-12 * q.max()
        print(f"  128^2 against the exact joint-atom engine after {args.steps} steps, {name}: "
              f"max relative difference per cell {np.max(np.abs(p[sig] / q[sig] - 1)):.1e} "
              f"({pe.rebuilds} re-tilts)")


if __name__ == "__main__":
    main()
