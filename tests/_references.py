"""Independent routes the tests hold the engine against (DESIGN.md: expected values come from
exact rationals, mpmath, closed forms, sympy), written once.  The exact rational oracle of L1
is :mod:`numerics.exact`; these are the others that several test files need."""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np


def kingman_i(b, lam=0.0, dps=30, method="tanh-sinh"):
    """Kingman's ``I = E[1/((1+lam)(1-e^r))]`` for the reward density ``b(-r)^{b-1}`` on
    ``[-1, 0]`` (T8): mpmath quadrature at ``dps`` digits, split at ``-1/2`` (an mpf).
    The engine's route is scipy's quad on the same integral; ``method`` picks mpmath's rule
    (``tanh-sinh`` or ``gauss-legendre``)."""
    with mp.workdps(dps):
        b, lam = mp.mpf(b), mp.mpf(lam)
        f = lambda r: b * (-r) ** (b - 1) / ((1 + lam) * (-mp.expm1(r)))  # noqa: E731
        return +mp.quad(f, [-1, -0.5, 0], method=method)


def kingman_condensate(b, lam, dps=30):
    """T8's condensate ``max(0, 1 - I)`` on the same law, as a float."""
    return max(0.0, float(1 - kingman_i(b, lam, dps)))


def pairwise_k2_step(p, s, lam=math.inf, data=None):
    """One retraining step for K = 2 by L1's pairwise formula (one other draw):
    ``H(x) = 2 sum_j p_j s_x / (s_x + s_j)``, an O(N^2) matrix product; ``s = e^{r - c}``.
    ``lam = inf``: the curated masses; else ``(data + lam C_2(p)) / (1 + lam)`` (``data``
    normalized)."""
    H = 2.0 * (s[:, None] / (s[:, None] + s[None, :])) @ p
    c = p * H
    c /= c.sum()
    if math.isinf(lam):
        return c
    return (np.asarray(data) + lam * c) / (1.0 + lam)


def benchmark_grid(n, shift=0.0):
    """The grid of ``benchmarks/bench_engine.py`` and ``bench_pair.py`` on ``n x n`` cells:
    ``(mass, r1, r2)``, 8 Gaussians on a circle (rotated by ``shift`` radians; not normalized) and
    two smooth rewards whose values are (almost) all distinct (the compressed laws above 4096
    cells)."""
    x = np.linspace(-6, 6, n)
    X, Y = np.meshgrid(x, x, indexing="ij")
    mass = np.zeros((n, n))
    for k in range(8):
        a = 2 * math.pi * k / 8 + shift
        mass += np.exp(-((X - 4 * math.cos(a)) ** 2 + (Y - 4 * math.sin(a)) ** 2) / 0.5)
    r1 = -np.hypot(X - 2.0, Y - 1.0) + 0.1 * np.sin(3 * X) * np.cos(2 * Y)
    r2 = -0.7 * np.hypot(X + 3.0, Y + 1.5) + 0.05 * np.cos(2 * X)
    return mass, r1, r2
