"""Built-in claims: the statements of docs/theory.md that quantify over discrete laws (P1-P6,
T1, T2 on a finite horizon, T5, T6, T7 and T7.coupling), each a violation predicate on an
:class:`~theory.instances.Instance`.  They must survive every search (``selfconsume falsify``).

Violations are stated in units of ``e^{r_*}`` (``s = e^{r - r_*}``, ``r_*`` the top reward of
the instance's support, :func:`~theory.instances.exp_reward_ratio`) or on probabilities; the
closed forms are :mod:`theory.formulas`, the distances :mod:`theory.distances`.
"""

from __future__ import annotations

import math

import numpy as np

import numerics

from . import formulas
from .claim_registry import register_theorem
from .distances import kl_divergence, normalized, reward_cdfs, tv_distance
from .instances import InstanceSpace, exp_reward_ratio

__all__ = ["P5_SHIFTS", "ENGINE_TOL_NOTE", "moments_s", "cdf_excess", "tv_rows"]

_GENERIC = InstanceSpace()


def moments_s(P, s):
    """``E_t[s]`` and ``Var_t[s]`` for each row of ``P`` (two-pass variance).  Kept apart from
    the trajectory's moments: those are in units of the engine's shift, these of ``e^{r_*}``
    on this instance's support (the units the violations are stated in).  Atoms no row
    charges are left out (off the support ``s`` may be ~1e300: its square would overflow)."""
    on = np.any(P > 0, axis=0)
    P, s = P[:, on], s[on]
    E = P @ s
    V = (P * (s[None, :] - E[:, None]) ** 2).sum(axis=1)
    return E, V


def cdf_excess(reward, p, q):
    r"""``max_a P_p(r <= a) - P_q(r <= a)`` over the reward levels ``a``: how far the reward
    law of ``p`` fails to dominate that of ``q`` (``<= 0`` iff it does; P6, T6)."""
    _, (Fp, Fq) = reward_cdfs(reward, p, q)
    return float(np.max(Fp - Fq))


def _p1(inst):
    p = normalized(inst.mass)
    H = numerics.curation_factor(inst.mass, inst.reward, inst.K)
    return abs(float(np.dot(p, H)) - 1.0)


def _p2(inst):
    p = normalized(inst.mass)
    H = numerics.curation_factor(inst.mass, inst.reward, inst.K)
    on = p > 0
    s = exp_reward_ratio(inst)[on]
    Es = float(np.dot(p[on], s))
    if math.isinf(inst.K):
        lower = s / Es
        upper_excess = 0.0
    else:
        lower = inst.K * s / (s + (inst.K - 1) * Es)
        upper_excess = float(np.max(H[on] / inst.K - 1.0))
    lower_excess = float(np.max(lower / H[on] - 1.0))
    return max(lower_excess, upper_excess)


def _p3(inst):
    H = numerics.curation_factor(inst.mass, inst.reward, inst.K)
    order = np.argsort(inst.reward, kind="stable")
    r, h = inst.reward[order], H[order]
    drop = np.maximum.accumulate(h) - h  # how far H falls below an earlier (lower-r) value
    # ties: equal rewards must give equal H (non-decreasing both ways)
    tie = np.abs(np.diff(h))[np.diff(r) == 0]
    return float(max(np.max(drop / np.max(h)), np.max(tie, initial=0.0) / np.max(h)))


def _p4(inst):
    H1 = numerics.curation_factor(inst.mass, inst.reward, 1.0)
    const = np.full_like(inst.reward, inst.reward[0])
    Hc = numerics.curation_factor(inst.mass, const, inst.K)
    return float(max(np.max(np.abs(H1 - 1.0)), np.max(np.abs(Hc - 1.0))))


#: shifts (nats) used by P5: small, large positive (e^r overflows), large negative
P5_SHIFTS = (-1234.5, -0.75, 3.25, 987.0)


def _p5(inst):
    H = numerics.curation_factor(inst.mass, inst.reward, inst.K)
    worst = 0.0
    for c in P5_SHIFTS:
        Hc = numerics.curation_factor(inst.mass, inst.reward + c, inst.K)
        worst = max(worst, float(np.max(np.abs(Hc / H - 1.0))))
    return worst


def _p6(inst):
    c = numerics.curate(inst.mass, inst.reward, inst.K)
    return cdf_excess(inst.reward, c, inst.mass)


def _t1(inst):
    P = inst.masses()
    E, V = moments_s(P, exp_reward_ratio(inst))
    gain = np.diff(E)
    worst = float(np.max(formulas.t1_increment_lower_bound(V[:-1], inst.K, 1.0) - gain))
    if math.isinf(inst.K):  # the K = inf identity E' = E + Var / E
        worst = max(worst, float(np.max(np.abs(gain - formulas.kinf_increment(E[:-1],
                                                                              V[:-1])))))
    return worst


def _t2(inst):
    P = inst.masses()
    E, V = moments_s(P, exp_reward_ratio(inst))
    monotone = float(np.max(-np.diff(E)))
    if inst.K == 1:  # no budget (H = 1, nothing moves)
        return monotone
    budget = float(V[:-1].sum() - formulas.t2_variance_budget(inst.K, 1.0, E[0]))
    return max(monotone, budget)


def _t5(inst):
    P = inst.masses()[1:]
    d = normalized(inst.data)
    lam = inst.lam
    on = d > 0
    floor = float(np.max(1.0 - (1.0 + lam) * P[:, on] / d[on]))
    kl_excess = max(kl_divergence(d, p) for p in P) - formulas.t5_kl_bound(lam)
    tv_excess = max(tv_distance(p, d) for p in P) - formulas.t5_tv_bound(lam)
    return max(floor, kl_excess, tv_excess)


def _t6(inst):
    return max(cdf_excess(inst.reward, p, inst.data) for p in inst.masses())


def _t7_coupling(inst):
    p, q = normalized(inst.mass), normalized(inst.data)
    cp = numerics.curate(p, inst.reward, inst.K)
    cq = numerics.curate(q, inst.reward, inst.K)
    tv0, tv1 = tv_distance(p, q), tv_distance(cp, cq)
    if math.isinf(inst.K):
        on = (p > 0) | (q > 0)
        spread = float(inst.reward[on].max() - inst.reward[on].min())
        if tv0 == 0.0:
            return tv1
        # formulas.t7_kinf_factor's 2 e^{spread} overflows past 709 nats: compare in logs
        log_bound = math.log(2.0) + spread + math.log(tv0)
        return tv1 - (1.0 if log_bound >= 0.0 else math.exp(log_bound))
    return tv1 - float(formulas.t7_coupling_bound(tv0, inst.K))


def tv_rows(P, Q):
    """``TV(P[t], Q[t])`` for each row ``t`` (:func:`theory.distances.tv_distance`)."""
    return np.array([tv_distance(p, q) for p, q in zip(P, Q)])


def _t7_contraction(inst):
    P = inst.masses()                     # p_t from p_0 = mass, real data p_d = data
    Q = inst.masses(start=inst.data)      # q_t from q_0 = p_d
    kappa = formulas.t7_kappa(inst.lam, inst.K)
    tv = tv_rows(P, Q)
    t = np.arange(tv.size)
    return float(np.max(tv - kappa ** t * tv[0]))


#: why most built-in claims allow 1e-10
ENGINE_TOL_NOTE = ("tolerance 1e-10: the engine's H is documented to ~1e-13 relative (L2 "
                   "trapezoid vs 40-digit mpmath), and the largest rounding excess measured "
                   "over 3000 random instances per claim was 4.6e-13 (P5); a larger violation "
                   "is an engine defect (one was found: 4e-10 for real K near 1, see the "
                   "report)")

register_theorem(("P1",), _p1, _GENERIC, 1e-10,
                 "violation: |E_p[H] - 1| (absolute). " + ENGINE_TOL_NOTE,
                 scope="every discrete law p, reward r and K >= 1 (or inf)")
register_theorem(("P2",), _p2, _GENERIC, 1e-10,
                 "violation: largest relative excess over either bound. " + ENGINE_TOL_NOTE,
                 scope="on the support, s = e^{r - r_*}")
register_theorem(("P3",), _p3, _GENERIC, 1e-10,
                 "violation: largest drop of H along increasing r, relative to max H. "
                 + ENGINE_TOL_NOTE, scope="equal rewards must give equal H")
register_theorem(("P4",), _p4, _GENERIC, 1e-10,
                 "violation: max |H - 1| over both cases (the constant reward is r[0] "
                 "everywhere).", scope="any K for the constant reward")
register_theorem(("P5",), _p5, _GENERIC, 1e-10,
                 "violation: max relative change of H. " + ENGINE_TOL_NOTE,
                 scope="c in P5_SHIFTS, up to 1234.5 nats")
register_theorem(("P6",), _p6, _GENERIC, 1e-10,
                 "violation: max over thresholds of the tail-mass deficit (absolute).",
                 scope="P_{C_K(p)}(r >= c) >= P_p(r >= c) at every reward level c")
register_theorem(("T1",), _t1, InstanceSpace(steps=(1, 5)), 1e-10,
                 "violation in units of e^{r_*}: (K-1)/K Var_t[s] - (E_{t+1}[s] - E_t[s]), max "
                 "over t < step; for K = inf also |gain - Var/E|.",
                 scope="curated data only, every step t < step (up to 5)")
register_theorem(("T2", "T2.budget"), _t2, InstanceSpace(steps=(1, 30)), 1e-10,
                 "violation in units of e^{r_*} (resp. e^{2 r_*} for the variance budget).",
                 scope="curated data only, a finite horizon T <= 30 (the budget: the sum over "
                       "t < T)")
register_theorem(("T5", "T5.kl", "T5.tv"), _t5,
                 InstanceSpace(K="any", lam="finite", data="independent", steps=(1, 10)), 1e-9,
                 "violation: max of the relative floor deficit 1 - (1+lam) p_t/p_d, the KL "
                 "excess (nats) and the TV excess; masses are accurate to ~1e-13 relative.",
                 scope="any p_0 = mass, real data p_d = data, every step 1 <= t <= step")
register_theorem(("T6",), _t6,
                 InstanceSpace(K="any", lam="finite", data="model", steps=(1, 20)), 1e-10,
                 "violation: max over t and thresholds of the tail-mass deficit (absolute).",
                 scope="P_{p_t}(r >= c) >= P_{p_d}(r >= c) at every level c and every step t")
register_theorem(("T7.coupling", "T7.kinf"), _t7_coupling,
                 InstanceSpace(K="integer_or_inf", lam="inf", data="independent"), 1e-10,
                 "the coupling needs K draws: integer K (or inf). violation: TV excess "
                 "(absolute).",
                 scope="integer K (T7.coupling) or K = inf (T7.kinf); p = mass, q = data")
register_theorem(("T7",), _t7_contraction,
                 InstanceSpace(K="integer", lam="contraction", data="independent",
                               steps=(1, 10)),
                 1e-10, "violation: max over t of the TV excess (absolute).",
                 scope="integer K; checked as the contraction behind it, TV(p_t, q_t) <= "
                       "kappa^t TV(p_0, q_0) for p_0 = mass, q_0 = p_d = data")
