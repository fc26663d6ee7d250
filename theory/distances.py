"""Distances between grid laws and their reward laws, used by the checks (T3, T5-T7, P6).

All inputs are non-negative mass arrays of one shape (normalized here)."""

from __future__ import annotations

import numpy as np
from scipy.special import rel_entr

__all__ = ["normalized", "tv_distance", "kl_divergence", "reward_cdfs"]


def normalized(mass):
    m = np.asarray(mass, dtype=float).ravel()
    return m / m.sum()


def tv_distance(p, q):
    r"""``TV(p, q) = sum |p - q| / 2``."""
    return 0.5 * float(np.abs(normalized(p) - normalized(q)).sum())


def kl_divergence(p, q):
    r"""``KL(p || q) = sum p log(p / q)`` (``inf`` if ``p`` is not absolutely continuous with
    respect to ``q``), by ``scipy.special.rel_entr``."""
    return float(rel_entr(normalized(p), normalized(q)).sum())


def reward_cdfs(reward, *masses):
    r"""The reward levels ``a_1 < ... < a_L`` of ``reward`` and, for each mass, its reward
    law's CDF ``F(a_j) = p(r <= a_j)`` at every level (one array per mass).  A reward law
    stochastically dominates another iff its CDF is everywhere below (P6, T6)."""
    levels, inv = np.unique(np.asarray(reward, dtype=float).ravel(), return_inverse=True)
    out = [np.cumsum(np.bincount(inv, weights=normalized(m), minlength=len(levels)))
           for m in masses]
    return levels, out
