"""Two claims about finite K settled (issue 11), each by an explicit counterexample checked in
exact rationals with the L1 oracle (numerics.exact), independent of the float engine; the
K = inf versions (T12, T11) hold (tests/test_curators_limits.py).

1. "Phi(p) = sum_u pi_u log E_p[e^{r_u}] is non-decreasing for finite K": FALSE (K = 2).
2. "with an adversarial fraction phi, E[e^r] still increases whenever
   Cov_p(e^r, e^{r~}) >= 0": FALSE for finite K (K = 2), true for K = inf (T11).
"""

from __future__ import annotations

import math
from fractions import Fraction as F

import numpy as np

from numerics import curate
from numerics import curators as cur
from numerics.exact import curation_factor_exact


def _mix_step_exact(p, parts, K):
    """``C(p) = sum_u pi_u p H_u`` exactly (``parts``: ``[(pi_u, s_u)]``, rational ``s``)."""
    out = [F(0)] * len(p)
    for w, s in parts:
        H = curation_factor_exact(p, s, K)
        out = [o + w * pi * h for o, pi, h in zip(out, p, H)]
    return out


def test_phi_can_decrease_for_finite_K():
    p = [F(97, 100), F(3, 100)]
    s1, s2 = [F(1, 10000), F(1)], [F(1), F(1, 100)]   # each user prefers another atom
    pi = (F(1, 8), F(7, 8))
    q = _mix_step_exact(p, [(pi[0], s1), (pi[1], s2)], 2)

    def phi(z):
        return sum(float(w) * math.log(float(sum(a * b for a, b in zip(z, s))))
                   for w, s in zip(pi, (s1, s2)))

    assert sum(q) == 1
    assert phi(q) < phi(p) - 0.05          # a decrease, far beyond rounding
    # the float engine agrees with the exact step
    rule = cur.mixture([(0.125, cur.bradley_terry(np.log([1e-4, 1.0]), 2)),
                        (0.875, cur.bradley_terry(np.log([1.0, 1e-2]), 2))])
    np.testing.assert_allclose(curate(np.array([0.97, 0.03]), rule),
                               [float(v) for v in q], rtol=1e-13)


def test_adversarial_increase_can_fail_with_nonnegative_covariance():
    p = [F(3, 4), F(1, 10), F(3, 20)]
    a = [F(1, 4), F(1), F(3)]                    # e^r
    b = [F(13), F(580), F(1, 50)]                # e^{r~}: the adversary's reward
    phi = F(4, 5)
    Ea = sum(x * y for x, y in zip(p, a))
    Eb = sum(x * y for x, y in zip(p, b))
    cov = sum(x * y * z for x, y, z in zip(p, a, b)) - Ea * Eb
    assert cov >= 0
    q = _mix_step_exact(p, [(1 - phi, a), (phi, b)], 2)
    assert sum(x * y for x, y in zip(q, a)) < Ea
    # ... while at K = inf T11 gives an increase on the same instance
    inc = (1 - phi) * (sum(x * y * y for x, y in zip(p, a)) - Ea ** 2) / Ea + phi * cov / Eb
    assert inc > 0
