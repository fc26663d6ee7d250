"""Built-in claims for the paper's remaining statements and their sharper forms (docs/theory.md
P3.strict, T3.kl, T6.increment with T6.sharp, T10, T7.uniform): the falsification side of
:mod:`theory.bound_checks`, each a violation predicate on an
:class:`~theory.instances.Instance` that must survive every search.

Each predicate is built by a small factory whose default arguments are the statement's
constants; a test builds a deliberately wrong variant (a larger coefficient, the opposite
sign) from the same factory and shows that the search refutes it.  Closed forms:
:mod:`theory.formulas`; distances: :mod:`theory.distances`.
"""

from __future__ import annotations

import math

import numpy as np

import numerics

from . import formulas
from .claim_registry import register_theorem
from .claim_statements import moments_s
from .distances import kl_divergence, normalized, tv_distance
from .instances import InstanceSpace, exp_reward_ratio

__all__ = ["p3_strict_violation", "t3_kl_violation", "t6_increment_violation",
           "t10_violation", "t7_uniform_violation"]


def p3_strict_violation(scale=1.0):
    r"""P3.strict: at consecutive distinct reward levels ``r1 < r2`` of the support,
    ``H(r2) - H(r1) >= scale K (s2 - s1) max_c P(s >= c)^{K-1} min(g((K-1) c), g(K-1))``
    (:func:`theory.formulas.p3_strict_lower_bound`, ``scale = 1``).  Violation: the largest
    ``margin - (H2 - H1)`` relative to the larger ``H`` of the pair; ``-1`` when ``p`` is
    carried by one reward level (nothing to compare).  The margin is 0 for ``K = 1``."""
    def violation(inst):
        p = normalized(inst.mass)
        H = numerics.curation_factor(inst.mass, inst.reward, inst.K)
        sup = np.flatnonzero(p > 0)
        levels, first = np.unique(inst.reward[sup], return_index=True)
        if levels.size < 2:
            return -1.0
        h = H[sup[first]]
        s = np.exp(levels - levels[-1])
        ds = -s[1:] * np.expm1(-np.diff(levels))    # s2 - s1: no cancellation, no overflow
        mass = np.bincount(np.searchsorted(levels, inst.reward[sup]), weights=p[sup],
                           minlength=levels.size)
        tail = np.cumsum(mass[::-1])[::-1]          # P(s >= s_j)
        if inst.K == 1:    # the margin is 0 (H = 1)
            margin = np.zeros(levels.size - 1)
        else:              # a threshold c whose s underflowed to 0 adds g(0) = 0: dropped
            c = s > 0
            margin = scale * formulas.p3_strict_lower_bound(s[:-1], s[1:], ds, s[c], tail[c],
                                                            inst.K)
        return float(np.max((margin - np.diff(h)) / np.maximum(h[:-1], h[1:])))
    return violation


def t3_kl_violation(sign=1.0):
    r"""T3.kl (``lam = inf``): ``KL(p_* || p_t)``, ``p_* = p_0( . | r = r_*)``, by
    ``rel_entr``, equals ``-log p_t(r = r_*)`` and is non-increasing in ``t`` (``sign = 1``;
    ``sign = -1`` claims non-decreasing).  Violation: the largest of
    ``|KL_t + log p_t(r_*)| / (1 + KL_t)`` and ``sign (KL_{t+1} - KL_t) / (1 + KL_t)``
    (nats relative to ``1 + KL``: masses are accurate relatively, their logs absolutely)."""
    def violation(inst):
        P = inst.masses()
        p0 = normalized(inst.mass)
        top = inst.reward == inst.reward[p0 > 0].max()
        p_star = normalized(np.where(top, p0, 0.0))
        kl = np.array([kl_divergence(p_star, p) for p in P])
        exact = -np.log(P[:, top].sum(axis=1))
        identity = float(np.max(np.abs(kl - exact) / (1.0 + exact)))
        monotone = float(np.max(sign * np.diff(kl) / (1.0 + kl[:-1])))
        return max(identity, monotone)
    return violation


def t6_increment_violation(scale=1.0):
    r"""T6.increment and T6.sharp (``p_0 = p_d``, ``lam`` finite): for ``t >= 1``,
    ``E_t[s] >= E_d[s] + scale c_t ((K-1)/K) Var_d[s]`` in units of ``e^{r_*}``
    (``s = e^{r - r_*}``), with the paper's ``c_t = lam/(1+lam)^3`` and the sharp ``c_1 =
    lam/(1+lam)``, ``c_t = lam/(1+lam)^2`` (:func:`theory.formulas.t6_increment_coefficient`;
    the sharp ones are the larger, so they decide).  Violation: ``max_t bound - E_t[s]``."""
    def violation(inst):
        E, V = moments_s(inst.masses(), exp_reward_ratio(inst))
        t = np.arange(1, E.size)
        base = formulas.t1_increment_lower_bound(V[0], inst.K, 1.0)
        worst = -math.inf
        for sharp in (False, True):
            c = np.atleast_1d(formulas.t6_increment_coefficient(inst.lam, t, sharp=sharp))
            worst = max(worst, float(np.max(E[0] + scale * c * base - E[1:])))
        return worst
    return violation


def t10_violation(g_scale=1.0):
    r"""T10 (``lam (K-1) < 1``, ``p_0 = p_d``): ``p_t <= B p_d`` at every cell and
    ``KL(p_t || p_d) <= log B``, ``B = 1/(1 - g)``, ``g = g_scale lam (K-1)``
    (:func:`theory.formulas.t10_bound`, :func:`theory.formulas.t10_kl_bound`; ``g_scale =
    1``).  Violation: the largest of ``p_t / (B p_d) - 1`` on the support of ``p_d``, ``p_t``
    off it, and the KL excess (nats), over ``1 <= t <= step``."""
    def violation(inst):
        P = inst.masses()[1:]
        d = normalized(inst.data)
        lam = g_scale * inst.lam    # g_scale lam (K - 1) is the g of the bound
        B = formulas.t10_bound(lam, inst.K)
        on = d > 0
        ratio = float(np.max(P[:, on] / (B * d[on]) - 1.0))
        off = float(np.max(P[:, ~on], initial=0.0))
        kl = max(kl_divergence(p, d) for p in P) - formulas.t10_kl_bound(lam, inst.K)
        return max(ratio, off, kl)
    return violation


def t7_uniform_violation(scale=1.0):
    r"""T7.uniform (any ``K``): ``TV(C_K(p), C_K(q)) <= scale L TV(p, q)``, ``L = 2 e^Delta
    (2 + e^Delta)`` (:func:`theory.formulas.t7_uniform_factor`, ``scale = 1``), ``Delta`` the
    reward range on the union of the supports, ``p = mass``, ``q = data``.  Violation:
    ``TV(C p, C q) - min(1, scale L TV(p, q))`` (a TV is at most 1; ``L`` may overflow)."""
    def violation(inst):
        p, q = normalized(inst.mass), normalized(inst.data)
        tv0 = tv_distance(p, q)
        tv1 = tv_distance(numerics.curate(p, inst.reward, inst.K),
                          numerics.curate(q, inst.reward, inst.K))
        if tv0 == 0.0:
            return tv1
        on = (p > 0) | (q > 0)
        L = formulas.t7_uniform_factor(float(inst.reward[on].max() - inst.reward[on].min()))
        return tv1 - min(1.0, scale * L * tv0)
    return violation


register_theorem(("P3.strict",), p3_strict_violation(),
                 InstanceSpace(K="integer", K_max=64), 1e-10,
                 "violation: the largest margin - (H(r2) - H(r1)) over consecutive distinct "
                 "reward levels of the support, relative to the larger H (-1 for a single "
                 "level); H is accurate to ~1e-13 relative, so 1e-10 is rounding room.",
                 scope="integer K (K = 1: the margin is 0), K <= 64 (for larger K the "
                       "factor P(s >= c)^{K-1} underflows and the margin is 0)")
register_theorem(("T3.kl",), t3_kl_violation(), InstanceSpace(steps=(1, 10)), 1e-10,
                 "violation: |KL - (-log p_t(r_*))| and the step-to-step rise of KL, both "
                 "relative to 1 + KL (masses are accurate relatively, their logs absolutely).",
                 scope="curated data only (lam = inf), every step t <= step (up to 10)")
register_theorem(("T6.increment", "T6.sharp"), t6_increment_violation(),
                 InstanceSpace(K="any", lam="finite", data="model", steps=(1, 20)), 1e-10,
                 "violation in units of e^{r_*}: max_t (E_d + c_t ((K-1)/K) Var_d) - E_t, the "
                 "sharp c_t (which imply the paper's).",
                 scope="p_0 = p_d, every step 1 <= t <= step (up to 20); lam = 0 (c_t = 0) "
                       "drawn now and then")
register_theorem(("T10",), t10_violation(),
                 InstanceSpace(K="finite", lam="contraction", data="model", steps=(1, 20)),
                 1e-10,
                 "violation: max of p_t/(B p_d) - 1 (relative), p_t off the support of p_d, "
                 "and the KL excess (nats), over 1 <= t <= step.",
                 scope="finite K (real or integer), lam (K-1) < 1, p_0 = p_d")
register_theorem(("T7.uniform",), t7_uniform_violation(),
                 InstanceSpace(K="any", lam="inf", data="independent"), 1e-10,
                 "violation: TV(C p, C q) - min(1, L TV(p, q)) (absolute).",
                 scope="any K; p = mass, q = data, one curation step")
