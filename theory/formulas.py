"""Closed forms of THEORY.md as plain numeric functions.

Every theorem is homogeneous in ``e^r``: a trajectory reports ``E[e^{r - c}]`` and
``Var[e^{r - c}]`` with ``c = traj.exp_reward_shift``, so pass ``exp_r_star = e^{r_* - c}``
wherever a formula below says ``e^{r_*}``.  ``K = math.inf`` and ``lam = math.inf`` are
accepted wherever THEORY.md gives the limit.  The names and argument order are a contract
(:mod:`proofs_check` compares these functions with sympy derivations).

>>> import math
>>> round(rho_K(math.log(2), 2), 15)          # 2 (1/2) / (1/2 + 1) = 2/3
0.666666666666667
>>> rho_K(1.0, math.inf) == math.exp(-1.0)
True
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["rho_K", "t1_increment_lower_bound", "kinf_increment", "t2_variance_budget",
           "t3_tv_bound", "t5_kl_bound", "t5_tv_bound", "t7_kappa", "t7_coupling_bound",
           "t7_kinf_factor", "gaussian_tilt", "t8_condensate", "t6_increment_coefficient",
           "t10_bound", "t10_kl_bound", "t7_uniform_factor", "p3_strict_lower_bound"]


def _scalar_or_array(x):
    return float(x) if np.ndim(x) == 0 else x


def rho_K(delta, K):
    r"""T3 (finite ``K``, two reward levels): the asymptotic per-step factor of the low-level
    mass, ``rho_K(delta) = K e^{-delta} / (e^{-delta} + K - 1)``; ``K = inf`` gives
    ``e^{-delta}``.

    Evaluated as ``K q / (q + (K - 1))`` with ``q = e^{-delta}``: a ratio of sums of
    non-negative terms, so no digit is lost by cancellation for any ``K >= 1`` (the form
    ``q / (1 + expm1(-delta)/K)`` loses all digits for ``K`` near 1 and large ``delta``)."""
    delta = np.asarray(delta, dtype=float)
    q = np.exp(-delta)
    return _scalar_or_array(q if math.isinf(K) else K * q / (q + (K - 1.0)))


def t1_increment_lower_bound(var_exp_reward, K, exp_r_star):
    r"""T1: ``E_{p_{t+1}}[e^r] - E_{p_t}[e^r] >= ((K-1)/K) Var_{p_t}[e^r] / e^{r_*}``;
    ``K = inf`` gives ``Var / e^{r_*}``."""
    factor = 1.0 if math.isinf(K) else (K - 1.0) / K
    return _scalar_or_array(factor * np.asarray(var_exp_reward, dtype=float) / exp_r_star)


def kinf_increment(mean_exp_reward, var_exp_reward):
    r"""T1 for ``K = inf`` (an identity): ``E_{C(p)}[e^r] - E_p[e^r] = Var_p[e^r] / E_p[e^r]``."""
    return _scalar_or_array(np.asarray(var_exp_reward, dtype=float)
                            / np.asarray(mean_exp_reward, dtype=float))


def t2_variance_budget(K, exp_r_star, mean_exp_reward_0):
    r"""T2 (quantitative form): ``sum_{t>=0} Var_{p_t}[e^r] <= K e^{r_*} (e^{r_*} - E_{p_0}[e^r])
    / (K - 1)``; ``K = inf`` gives ``e^{r_*} (e^{r_*} - E_{p_0}[e^r])``, ``K = 1`` gives
    ``inf`` (no bound: ``H = 1``, nothing moves)."""
    if K == 1:
        return math.inf
    factor = 1.0 if math.isinf(K) else K / (K - 1.0)
    return factor * exp_r_star * (exp_r_star - mean_exp_reward_0)


def t3_tv_bound(m_star, delta, t):
    r"""T3 (``K = inf``): ``TV(p_t, p_*) = p_t(r < r_*) <= (1 - m_*) e^{-t delta} / m_*``,
    ``m_* = p_0(r = r_*)``, ``delta`` the reward gap below the top level set."""
    return _scalar_or_array((1.0 - m_star) * np.exp(-np.asarray(t, dtype=float) * delta)
                            / m_star)


def t5_kl_bound(lam):
    r"""T5: ``KL(p_d || p_t) <= log(1 + lam)`` for ``t >= 1``."""
    return math.log1p(lam)


def t5_tv_bound(lam):
    r"""T5: ``TV(p_t, p_d) <= lam / (1 + lam)`` for ``t >= 1`` (``lam = inf``: 1)."""
    return 1.0 if math.isinf(lam) else lam / (1.0 + lam)


def t7_kappa(lam, K):
    r"""T7: Lipschitz factor of ``T`` in total variation, ``kappa = lam K / (1 + lam)``
    (``< 1`` iff ``lam (K - 1) < 1``); ``lam = inf`` gives ``K``."""
    if math.isinf(lam):
        return float(K)
    if lam == 0:
        return 0.0
    return lam * K / (1.0 + lam)


def t7_coupling_bound(tv, K):
    r"""T7 (coupling of the K draws): ``TV(C_K(p), C_K(q)) <= 1 - (1 - TV(p, q))^K``,
    evaluated as ``-expm1(K log1p(-TV))``; ``K = inf`` gives 1 (0 when ``TV = 0``)."""
    tv = np.asarray(tv, dtype=float)
    if math.isinf(K):
        return _scalar_or_array(np.where(tv > 0, 1.0, 0.0))
    with np.errstate(divide="ignore"):
        return _scalar_or_array(-np.expm1(K * np.log1p(-tv)))


def t7_kinf_factor(r_star, r_min):
    r"""T7 (``K = inf``): ``TV(C_inf(p), C_inf(q)) <= 2 e^{r_* - r_min} TV(p, q)``."""
    return 2.0 * math.exp(r_star - r_min)


def gaussian_tilt(mean, cov, center, A, t):
    r"""T4 closed form: ``p_0 = N(m, S)`` and ``r(x) = -(x - c)^T A (x - c) / 2`` give
    ``p_t = p_0 e^{t r} / E_{p_0}[e^{t r}] = N(m_t, S_t)`` with precision
    ``S_t^{-1} = S^{-1} + t A`` and ``m_t = S_t (S^{-1} m + t A c)``.

    Scalars (1-D) or arrays (``mean``, ``center``: (d,); ``cov``, ``A``: (d, d)).
    Returns ``(mean_t, cov_t)``, scalars for scalar input."""
    scalar = np.ndim(mean) == 0
    m = np.atleast_1d(np.asarray(mean, dtype=float))
    c = np.atleast_1d(np.asarray(center, dtype=float))
    S = np.atleast_2d(np.asarray(cov, dtype=float))
    A = np.atleast_2d(np.asarray(A, dtype=float))
    prec0 = np.linalg.inv(S)
    prec_t = prec0 + t * A
    cov_t = np.linalg.inv(prec_t)
    mean_t = np.linalg.solve(prec_t, prec0 @ m + t * (A @ c))
    if scalar:
        return float(mean_t[0]), float(cov_t[0, 0])
    return mean_t, cov_t


def t8_condensate(I):
    r"""T8: the mass condensed on the top level set, ``max(0, 1 - I)`` with
    ``I = E_{p_d}[1 / ((1 + lam)(1 - e^{r - r_*}))]``."""
    return max(0.0, 1.0 - float(I))


def t6_increment_coefficient(lam, t, sharp=False):
    r"""T6.increment: ``c_t`` in ``E_{p_t}[e^r] >= E_{p_d}[e^r] + c_t ((K-1)/K) Var_{p_d}[e^r]
    / e^{r_*}`` (``p_0 = p_d``, ``t >= 1``): the paper's ``lam / (1 + lam)^3``, or (``sharp``)
    ``lam / (1 + lam)`` at ``t = 1`` and ``lam / (1 + lam)^2`` for ``t >= 2``.

    >>> t6_increment_coefficient(1.0, 3), t6_increment_coefficient(1.0, 1, sharp=True)
    (0.125, 0.5)
    """
    t = np.asarray(t, dtype=float)
    if np.any(t < 1):
        raise ValueError("T6.increment is stated for t >= 1")
    if sharp:
        c = np.where(t == 1, lam / (1.0 + lam), lam / (1.0 + lam) ** 2)
    else:
        c = np.full(t.shape, lam / (1.0 + lam) ** 3)
    return _scalar_or_array(c)


def t10_bound(lam, K):
    r"""T10: ``B = 1 / (1 - lam (K - 1))`` in ``p_t <= B p_d`` (needs ``lam (K - 1) < 1``)."""
    g = lam * (K - 1.0)
    if not g < 1.0:
        raise ValueError(f"T10 needs lam (K - 1) < 1, got {g!r}")
    return 1.0 / (1.0 - g)


def t10_kl_bound(lam, K):
    r"""T10: ``KL(p_t || p_d) <= -log(1 - lam (K - 1)) = log B``, as ``-log1p(-lam (K-1))``."""
    g = lam * (K - 1.0)
    if not g < 1.0:
        raise ValueError(f"T10 needs lam (K - 1) < 1, got {g!r}")
    return -math.log1p(-g)


def t7_uniform_factor(delta):
    r"""T7.uniform: ``L = 2 e^Delta (2 + e^Delta)`` (``Delta`` = the reward range on the
    support); ``inf`` once it overflows."""
    with np.errstate(over="ignore"):
        e = float(np.exp(float(delta)))
    return 2.0 * e * (2.0 + e)


def p3_strict_lower_bound(s1, s2, ds, s_levels, tail, K):
    r"""P3.strict, quantitative (integer ``K > 1``; ``s = e^{r - r_*}`` on the support, so
    ``S = sum_{i<K} s(X_i) <= b = K - 1``):

    ``H(s2) - H(s1) = E[K S (s2 - s1) / ((s1 + S)(s2 + S))]
    >= K (s2 - s1) max_c P(s >= c)^{K-1} min(g((K-1) c), g(K-1))``

    with ``g(S) = S / ((s1 + S)(s2 + S))``: with probability ``P(s >= c)^{K-1}`` all ``K-1``
    other draws have ``s >= c``, so ``S`` is in ``[(K-1) c, K-1]``, where ``g`` (increasing,
    then decreasing) is at least its value at an end.  ``s_levels``: the thresholds ``c``
    tried, ``tail[j] = P_p(s >= s_levels[j])``.  ``ds = s2 - s1`` is passed separately (form
    it as ``s1 expm1(r2 - r1)``: no cancellation).

    >>> p3_strict_lower_bound(0.5, 1.0, 0.5, [0.5], [1.0], 2)   # S = s(X) >= 1/2 surely
    0.3333333333333333
    """
    scalar = np.ndim(s1) == 0
    s1, s2, ds = (np.atleast_1d(np.asarray(v, dtype=float)) for v in (s1, s2, ds))
    c = np.asarray(s_levels, dtype=float)[None, :]
    w = np.asarray(tail, dtype=float)[None, :] ** (K - 1.0)
    b = K - 1.0

    def g(S):  # S/(s1 + S) first: the product (s1 + S)(s2 + S) can underflow to 0
        with np.errstate(over="ignore", invalid="ignore"):
            v = S / (s1[:, None] + S) / (s2[:, None] + S)  # ~1/s2 for tiny s: inf, min takes g(b)
        # 0/0 where S and s1 both underflowed (levels > 745 nats below the top): 0 keeps the
        # result a lower bound (a smaller margin), never a NaN
        return np.where(np.isnan(v), 0.0, v)

    best = np.max(w * np.minimum(g((K - 1.0) * c), g(b)), axis=1)
    out = K * ds * best
    return float(out[0]) if scalar else out
