"""Cost and accuracy of the sample-based loop against the exact engine (THEORY.md sec. 6).

    python benchmarks/bench_simulate.py [--samples 1e4,1e5,1e6] [--steps 50] [--tv 1e-3]

For each scenario, in one run:

1. the exact engine: ``numerics.evolve`` for ``steps`` steps, materializing every step's
   masses (the sampled loop produces a density per generation too); its own error is
   ~1e-12 (tests of the engine against the rational oracle), far below anything sampling
   reaches;
2. the sampled loop (histogram model) at each sample size ``n``: its time and
   ``TV_n = max_t TV(q_t, p_t)`` against the exact masses;
3. "equal accuracy", defined as reaching a target ``TV`` (default 1e-3, a generous target
   for sampling: the exact engine is a billion times more accurate): ``TV_n = C n^{-1/2}``
   (the slope is fitted and printed; ``C`` from the fit with the slope fixed at -1/2), so
   ``n_* = (C / TV)^2``; the sampled loop's time is linear in ``n`` (``a n + b``, fitted),
   so ``time(n_*) = a n_* + b``.  Printed: ``time(n_*) / time(exact)``.

Not a timed test: it prints ratios measured in one run on this machine.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from numerics import evolve
from numerics.sampling import simulate
from numerics.scenarios import get_scenario

CASES = (("gauss1d", 3, math.inf), ("mog8", 4, 1.0))


def timed(f):
    t = time.perf_counter()
    out = f()
    return out, time.perf_counter() - t


def bench(name, K, lam, steps, sizes, target):
    sc = get_scenario(name, K=K, lam=lam, steps=steps)

    def exact():
        traj = evolve(sc.mass, sc.reward, K, steps, lam=lam, data=sc.data)
        return [traj.masses[t] for t in range(steps + 1)]

    exact()  # warm-up (numba compilation, caches)
    p, t_exact = timed(exact)
    tvs, times = [], []
    for n in sizes:
        sim, t_sim = timed(lambda: simulate(sc.mass, sc.reward, K, steps, n, lam=lam,
                                            data=sc.data, seed=1))
        tv = max(0.5 * float(np.abs(sim.masses[t] - p[t]).sum()) for t in range(1, steps + 1))
        tvs.append(tv)
        times.append(t_sim)
    logn, logtv = np.log(sizes), np.log(tvs)
    slope = np.polyfit(logn, logtv, 1)[0]
    C = math.exp(np.mean(logtv + 0.5 * logn))
    a, b = np.polyfit(np.asarray(sizes, float), np.asarray(times), 1)
    a = max(a, times[-1] / sizes[-1] / 2)  # guard a noisy fit: at least half the last rate
    n_star = (C / target) ** 2
    t_star = a * n_star + max(b, 0.0)
    shape = "x".join(map(str, sc.mass.shape))
    lam_s = "inf" if math.isinf(lam) else f"{lam:g}"
    print(f"\n{name} (grid {shape}, K={K}, lam={lam_s}, {steps} generations)")
    print(f"  exact engine: {t_exact:.3f} s (all {steps + 1} densities)")
    print(f"  {'samples':>10} {'time [s]':>10} {'max_t TV':>10} {'TV sqrt(n)':>11}")
    for n, t, tv in zip(sizes, times, tvs):
        print(f"  {n:>10.0e} {t:>10.3f} {tv:>10.3g} {tv * math.sqrt(n):>11.3g}")
    print(f"  TV slope (log-log fit): {slope:.3f} (theory -0.5); TV = {C:.3g} n^(-1/2)")
    print(f"  sampled cost: {a * 1e9 / steps:.1f} ns per curated sample per generation "
          f"(K = {K} draws each)")
    print(f"  for TV = {target:g}: n = {n_star:.3g} samples per generation, "
          f"~{t_star:.3g} s (extrapolated)")
    ratio = t_star / t_exact
    print(f"  RATIO sampled / exact at TV = {target:g}: {ratio:.3g}  "
          f"(exact engine >= 1000x cheaper: {'yes' if ratio >= 1000 else 'NO'})")
    return ratio


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", default="1e4,1e5,1e6")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--tv", type=float, default=1e-3)
    args = ap.parse_args()
    sizes = [int(float(s)) for s in args.samples.split(",")]
    ratios = [bench(name, K, lam, args.steps, sizes, args.tv) for name, K, lam in CASES]
    print(f"\nminimum ratio over scenarios: {min(ratios):.3g}")


if __name__ == "__main__":
    main()
