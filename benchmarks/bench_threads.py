"""Benchmark (not a test): numba's default threads against one thread, with other work running.

    python benchmarks/bench_threads.py [--busy 2] [--repeat 5]

DESIGN.md "Threads": no kernel may make a problem slower than one thread would.  Each case
runs in a fresh process (``NUMBA_NUM_THREADS`` unset, i.e. numba's default of one thread per
core, and ``NUMBA_NUM_THREADS=1``) while ``--busy`` processes spin on the CPU, started by this
script.  The child times the work itself after a warm-up call (numba's compilation and the
imports are not counted) and reports the median of ``--repeat`` runs.  Printed: each case's
time with default threads, with one thread, and their ratio (the target is <= 1.2).

Cases: a small problem (3 atoms, 100 steps, K = 4, real data lam = 0.5), ``theory.check`` on
the 1201-cell ``gauss1d`` scenario (K = 3, lam = 0.4, 50 steps), and a large one (a 1024^2 grid,
20 steps) where the parallel kernels are used.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

CHILD = r"""
import json, statistics, sys, time
import numpy as np
case, repeat = sys.argv[1], int(sys.argv[2])
if case == "small":
    from numerics import evolve
    m, r = np.array([0.5, 0.3, 0.2]), np.array([0.0, -1.0, -2.0])
    work = lambda: evolve(m, r, 4, 100, lam=0.5, record_every=100).masses[-1]
elif case == "check":
    import theory
    from numerics.scenarios import get_scenario
    sc = get_scenario("gauss1d", grid=1201, K=3, lam=0.4, steps=50)
    work = lambda: theory.check(sc)
else:
    from numerics import evolve
    n = 1024
    x = np.linspace(-4, 4, n)
    X, Y = np.meshgrid(x, x, indexing="ij")
    m, r = np.exp(-(X**2 + Y**2) / 2), -np.hypot(X - 1, Y) + 0.1 * np.sin(3 * X)
    work = lambda: evolve(m, r, 4, 20, lam=0.5, record_every=20).masses[-1]
work()  # warm-up: compilation, caches
times = []
for _ in range(repeat):
    t = time.perf_counter(); work(); times.append(time.perf_counter() - t)
print(json.dumps(statistics.median(times)))
"""


def timed(case, threads, repeat):
    env = dict(os.environ)
    env.pop("NUMBA_NUM_THREADS", None)
    if threads is not None:
        env["NUMBA_NUM_THREADS"] = str(threads)
    out = subprocess.run([sys.executable, "-c", CHILD, case, str(repeat)], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--busy", type=int, default=2, help="spinning processes started (load)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--cases", default="small,check,large")
    args = ap.parse_args(argv)
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                for _ in range(args.busy)]
    try:
        time.sleep(0.5)
        print(f"{os.cpu_count()} cores, {args.busy} busy processes running; median of "
              f"{args.repeat}")
        print(f"{'case':<8} {'default threads':>16} {'1 thread':>10} {'ratio':>7}")
        for case in args.cases.split(","):
            default = timed(case, None, args.repeat)
            one = timed(case, 1, args.repeat)
            print(f"{case:<8} {default:>15.4f}s {one:>9.4f}s {default / one:>7.2f}",
                  flush=True)
    finally:
        for p in spinners:
            p.kill()
            p.wait()


if __name__ == "__main__":
    main()
