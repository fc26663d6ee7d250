"""The statements of THEORY.md sections 2-4 (P1-P6, T1-T9) as data: id, one-line statement,
hypotheses, what a check measures, and why its tolerance has the size it has.

Some statements have several parts checked separately (``T2``, ``T2.budget``, ``T2.tail``):
each part is its own :class:`Statement`.  The checks themselves live in
:mod:`theory.operator_checks` (P1-P6), :mod:`theory.curated_checks` (T1-T4) and
:mod:`theory.mixed_checks` (T5-T9) and are attached with :func:`register_check`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from .hypotheses import always

__all__ = ["Statement", "STATEMENTS", "register_check", "statement_ids"]


@dataclass(frozen=True)
class Statement:
    """One statement: ``hypotheses`` in words and ``applies`` as the predicate of a run
    (``applies(ctx)``: ``None`` when the statement applies to the run, else the reason it
    does not; :mod:`theory.hypotheses`), what ``check(ctx)`` measures, and its tolerance."""

    id: str
    statement: str
    hypotheses: str
    measured: str
    tolerance: str
    check: Callable | None = None
    applies: Callable[..., str | None] = always


_ENGINE = "1e-12 relative: the engine's L2 quadrature error (< 1e-14 direct, ~1e-13 compressed)"
_PROB = "1e-12 absolute on probabilities (engine accuracy; sums of <= 1e6 terms)"

_TABLE = [
    # --- the run itself (before any theorem) -------------------------------------------------
    ("run.masses", "every p_t (and p_d) is finite, non-negative and sums to 1", "none",
     "the sum of the masses at every recorded step; NaN, inf, negative or zero-sum masses fail "
     "with the step and the reason (never renormalized silently)",
     "max(64, N) ulps (N cells): the rounding of normalizing N masses in float64"),
    ("run.step", "p_{t+1} = T(p_t) at every step (the loop is the retraining map)",
     "a trajectory of your own (Trajectory.from_masses), every step recorded",
     "TV(p_{t+1}, T(p_t)) at every step, T(p_t) by the engine from the given p_t",
     "1e-12 + N ulps: the engine's accuracy of masses plus the rounding of an exact float64 "
     "loop over N cells"),
    # --- section 2: the curation operator (checked on p_0 and a few iterates) ----------------
    ("P1", "E_p[H_p^K] = 1", "none (any p, K)",
     "E_p[H] on p_0 and iterates", _ENGINE),
    ("P2", "K s/(s + (K-1) E_p[s]) <= H_p^K <= K", "none",
     "H at every cell of the support vs both bounds", _ENGINE + ", relative to H at each cell"),
    ("P3", "H_p^K(x) is non-decreasing in r(x)", "none",
     "H at consecutive reward levels", _ENGINE + ", relative to the larger H of the pair"),
    ("P3.strict", "K > 1: H_p^K strictly increasing in r, with a margin > 0",
     "integer K > 1, p not carried by one reward level",
     "H at consecutive distinct reward levels of the support vs the margin "
     "K (s2 - s1) max_c P(s >= c)^{K-1} min(g((K-1) c), g(K-1)), g(S) = S/((s1 + S)(s2 + S))",
     _ENGINE + ", relative to the larger H of the pair"),
    ("P4", "K = 1, or a reward constant on the support, gives H = 1", "none",
     "H for K = 1 and for r = 0 on the run's p", _ENGINE),
    ("P5", "H_p^K is invariant under r -> r + c", "none",
     "H(r + c) vs H(r), c = 10.25 and c = 1000 (> 700: shifted exponentials)",
     _ENGINE + " plus 8 ulps of max|r| + |c| (the rounding of r + c), relative to H"),
    ("P6", "the reward law of C_K(p) stochastically dominates that of p",
     "none", "CDFs of r at every reward level, C_K(p) vs p", _PROB),
    # --- section 3: curated data only ------------------------------------------------------
    ("T1", "E_{t+1}[e^r] - E_t[e^r] >= ((K-1)/K) Var_t[e^r] / e^{r_*} (K = inf: = Var/E)",
     "lam = inf", "the increment at every step vs the bound (identity for K = inf)",
     _ENGINE + " of E_t[e^r] (the increment is a difference of two of them)"),
    ("T2", "E_t[e^r] is non-decreasing", "lam = inf",
     "E_{t+1} vs E_t at every step", _ENGINE + " of E_t[e^r]"),
    ("T2.budget", "sum_t Var_t[e^r] <= K e^{r_*}(e^{r_*} - E_0[e^r])/(K-1)", "lam = inf, K > 1",
     "sum of Var_t over the run (a finite horizon) vs the budget", _ENGINE + " of the budget"),
    ("T2.tail", "P_t(r < r_* - eps) is non-increasing (and -> 0)", "lam = inf",
     "P_t(r < r_* - eps), eps = (r_* - r_min)/10, at every step; the last value in the note",
     _PROB),
    ("T3", "p_t = p_0 w_t(r) with w_t non-decreasing in r", "lam = inf",
     "log(p_t/p_0) at consecutive reward levels, every recorded step",
     "1e-12 (1 + |log w|): the engine's relative accuracy of masses"),
    ("T3.kl", "KL(p_* || p_t) = -log p_t(r = r_*) is non-increasing (and -> 0)",
     "lam = inf, m_* > 0 (on a grid: always)",
     "KL(p_* || p_t) by rel_entr at every recorded step: vs -log p_t(r = r_*), and step to step",
     "1e-12 (1 + KL): masses are accurate relatively, their logs absolutely"),
    ("T3.tv", "TV(p_t, p_*) = p_t(r < r_*) <= (1 - m_*) e^{-t delta} / m_*",
     "lam = inf, K = inf, a reward gap delta > 0 below r_*",
     "p_t(r < r_*) at every recorded step vs the bound", _PROB),
    ("T3.rate", "two reward levels: low-level mass shrinks by rho_K(delta) per step",
     "lam = inf, exactly two reward levels, run long enough that the pre-asymptotic "
     "deviation (1 - rho) m_low / (1 - m_low) is below 1e-6",
     "m_low(T) / m_low(T-1) at the last step vs rho_K(delta)",
     "1e-6: the asymptotic statement, checked once the deviation bound is below it"),
    ("T4", "K = inf: p_t = p_0 e^{t r} / E_{p_0}[e^{t r}]", "lam = inf, K = inf",
     "E_t[e^r], E_t[r] of the iterated engine vs the tilted closed form, every step; "
     "TV(p_t, closed form)", _ENGINE + " of E_t[e^r] and E_t[r] (times 1 + |E_t[r]|)"),
    ("T4.gauss", "Gaussian p_0 and quadratic r: p_t = N(m_t, S_t), S_t^{-1} = S^{-1} + t A",
     "lam = inf, K = inf, 1-D grid, log p_0 and r quadratic in x",
     "mean and variance of p_t on the grid vs gaussian_tilt",
     "grid discretization: Gaussian mass outside the grid (times width, width^2) plus the "
     "aliasing term 4 L^2 exp(-2 pi^2 S_t / h^2) of the Poisson summation formula, plus 1e-12"),
    # --- section 4: real and curated data --------------------------------------------------
    ("T5", "t >= 1: p_t >= p_d / (1 + lam) pointwise", "finite lam",
     "min over cells of p_t (1 + lam) / p_d - 1, every recorded step t >= 1",
     "1e-12 relative: the engine's accuracy of masses"),
    ("T5.kl", "t >= 1: KL(p_d || p_t) <= log(1 + lam)", "finite lam",
     "KL(p_d || p_t) at every recorded step t >= 1", _PROB),
    ("T5.tv", "t >= 1: TV(p_t, p_d) <= lam / (1 + lam)", "finite lam",
     "TV(p_t, p_d) at every recorded step t >= 1", _PROB),
    ("T6", "p_0 = p_d: the reward law of p_t dominates that of p_d",
     "finite lam, p_0 = p_d", "CDFs of r at every level, every recorded step; and "
     "E_t[e^r] >= E_0[e^r]", _PROB),
    ("T6.increment", "t >= 1: E_t[e^r] >= E_d[e^r] + c_t ((K-1)/K) Var_d[e^r]/e^{r_*}, "
     "c_t = lam/(1+lam)^3 (the paper's Theorem 2.3)", "0 < lam < inf, p_0 = p_d",
     "E_t[e^r] at every step t >= 1 vs the bound", _ENGINE + " of E_t, E_d and the increment"),
    ("T6.sharp", "t >= 1: the same with c_1 = lam/(1+lam), c_t = lam/(1+lam)^2 (t >= 2)",
     "0 < lam < inf, p_0 = p_d",
     "E_t[e^r] at every step t >= 1 vs the bound", _ENGINE + " of E_t, E_d and the increment"),
    ("T10", "p_t <= p_d/(1 - lam(K-1)) pointwise and KL(p_t || p_d) <= -log(1 - lam(K-1))",
     "finite lam, lam (K-1) < 1, p_0 = p_d",
     "p_t at every cell and KL(p_t || p_d), every recorded step t >= 1",
     "1e-12 relative to the bound at each cell (0 off the support of p_d); 1e-12 on the KL"),
    ("T7", "TV(p_t, p^lam) <= kappa^t TV(p_0, p^lam), kappa = lam K/(1+lam)",
     "finite lam, finite K, lam (K-1) < 1",
     "TV(p_t, p^lam) at every recorded step; the largest per-step factor next to kappa",
     "e_lim (1 + kappa^t) + 1e-12, e_lim = TV(T(p^lam), p^lam) / (1 - kappa): the a-posteriori "
     "error of the computed limit (contraction)"),
    ("T7.coupling", "TV(C_K(p), C_K(q)) <= 1 - (1 - TV(p, q))^K", "finite K",
     "pairs (p_t, p_{t+1}) of iterates (and (p_0, p^lam))", _PROB),
    ("T7.kinf", "K = inf: TV(C(p), C(q)) <= 2 e^{r_* - r_min} TV(p, q)", "K = inf",
     "pairs (p_t, p_{t+1}) of iterates", _PROB),
    ("T7.uniform", "TV(C_K(p), C_K(q)) <= L TV(p, q), L = 2 e^Delta (2 + e^Delta)",
     "none (any K; Delta = the reward range on the supports)",
     "pairs (p_t, p_{t+1}) of iterates, (p_0, p_T), and (p_T, p^lam) for 0 < lam < inf", _PROB),
    ("T8", "K = inf: E_{p_d}[1 / (1 + lam - lam e^r / Z)] = 1 at the limit",
     "K = inf, 0 < lam < inf",
     "the scalar equation at the solver's Z (stable form with eps = Z(1+lam)/(lam e^{r_*}) - 1)",
     "64 ulps: a sum of positive terms evaluated in float64"),
    ("T8.fixed", "K = inf: p^lam = (p_d + lam C_inf(p^lam)) / (1 + lam)",
     "K = inf, 0 < lam < inf", "TV(T(p^lam), p^lam), T evaluated directly", _PROB),
    ("T8.Z", "K = inf: Z = E_{p^lam}[e^r]", "K = inf, 0 < lam < inf",
     "E_{p^lam}[e^{r-c}] vs the solver's Z", _ENGINE),
    ("T8.condensate", "continuous law, I < 1: condensate = 1 - I on the top level set",
     "K = inf, 0 < lam < inf, a continuous reward law",
     "the engine's condensate vs max(0, 1 - I), I by mpmath.quad at 30 digits",
     "1e-9: both quadratures are accurate to < 1e-12"),
    ("T9", "finite K: p^lam = p_d / (1 + lam - lam H^K_{p^lam})", "finite K > 1, 0 < lam < inf",
     "TV(T(p^lam), p^lam), T by the engine's one-step map",
     "1e-12 + 1e-10 lam K (K-1) / min(1 + lam - lam H): the T9 solver's acceptance "
     "threshold 1e-10 on log M, propagated to the masses"),
    ("T9.denominator", "lam (K-1) < 1: 1 + lam - lam H >= 1 + lam - lam K > 0",
     "finite K > 1, 0 < lam < inf, lam (K-1) < 1",
     "min over the support of 1 + lam - lam H_{p^lam}", _ENGINE + " times lam K"),
    # --- section 7: curation rules beyond one reward (checks in theory.rule_checks) ------
    ("T11", "K = inf: E_{C(p)}[e^r] - E_p[e^r] = sum_u pi_u Cov_p(e^r, e^{r_u})/E_p[e^{r_u}] "
     "(two types: (1-phi) Var/E + phi Cov(e^r, e^{r~})/E[e^{r~}])",
     "lam = inf, a mixture of Bradley-Terry K = inf users (r: the first type's reward)",
     "the increment of E_t[e^r] at every step vs the right side evaluated on p_t",
     _ENGINE + " of E_t, E_{t+1} and each term"),
    ("T11.bound", "finite K: E_{C(p)}[e^r] - E_p[e^r] >= pi_1 ((K-1)/K) Var_p[e^r]/e^{r_*} + "
     "sum_{u>1} pi_u (E_{C_u(p)}[e^r] - E_p[e^r])",
     "lam = inf, first user type Bradley-Terry with finite K",
     "the increment at every step vs the bound, C_u(p_t) by the engine", _ENGINE),
    ("T12", "K = inf, no real data: Phi(p_t) = sum_u pi_u log E_{p_t}[e^{r_u}] is non-decreasing",
     "lam = inf, every user type K = inf (Bradley-Terry or filtering)",
     "Phi at consecutive recorded steps", "2e-12 nats: each E_p[e^{r_u}] to 1e-12 relative"),
    ("T12.kkt", "K = inf, no real data: sum_u pi_u e^{r_u}/Z_u = 1 on the support of the limit, "
     "<= 1 elsewhere on supp p_0 (Z_u = E_{p*}[e^{r_u}])",
     "lam = inf, every user type K = inf",
     "g = sum_u pi_u e^{r_u}/Z_u from the solved limit's masses, at every cell of supp p_0",
     "1e-12: the solver stops at 1e-13"),
    ("T13", "K = inf with real data: p^lam = p_d / (1 + lam - lam sum_u pi_u e^{r_u}/Z_u), "
     "Z_u = E_{p^lam}[e^{r_u}]", "0 < lam < inf, every user type K = inf",
     "TV(p^lam, p_d / D), D evaluated from the solved limit's masses", _PROB),
    ("T13.approach", "the run approaches the solved fixed point: TV(p_T, p^lam) <= "
     "TV(p_0, p^lam)", "0 < lam < inf, every user type K = inf",
     "TV(p_t, p^lam) at the first and last recorded steps; the mean factor per step", _PROB),
    ("T14", "one K = inf curator is an isometry of the Hilbert metric: d_H(C(p), C(q)) = "
     "d_H(p, q), d_H(p, q) = log max(p/q) - log min(p/q)",
     "lam = inf, one Bradley-Terry user with K = inf, every step recorded",
     "d_H of the pairs (p_t, p_{t+1}) and (p_0, p_{T-1}) vs their images one step later",
     "4e-12 (1 + d_H): four log-masses, each to 1e-12"),
    ("T14.contraction", "with real data T is a strict contraction of d_H towards p^lam: "
     "d_H(p_{t+1}, p^lam) < d_H(p_t, p^lam)",
     "0 < lam < inf, one Bradley-Terry user with K = inf, supp p_0 within supp p_d",
     "the factor d_H(p_{t+1}, p^lam)/d_H(p_t, p^lam) at every step with d_H >= 1e-8; the "
     "largest reported", "4e-12 / d_H(p_t, p^lam) on the factor"),
]

STATEMENTS: dict[str, Statement] = {row[0]: Statement(*row) for row in _TABLE}


def statement_ids():
    """The ids in THEORY.md order.

    Raises
    ------
    None
        nothing of its own: it lists the keys of :data:`STATEMENTS`.

    See Also
    --------
    theory.run_checks : run the checks of some of these ids.
    theory.statements.register_check : attach a check to an id.
    theory.tables.statements_table : the statements as a table.

    References
    ----------
    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    Lemma 2.1 (L1), Lemma 2.2 (T1), Theorem 2.1 (T3), Theorem 2.3 (T6.increment),
    Theorem 2.4 (T10).

    docs/theory.md: the ids and their statements (sections 2-4 and 7).
    """
    return list(STATEMENTS)


def register_check(stmt_id, applies=always):
    """Decorator: attach ``check(ctx) -> CheckResult`` to the statement ``stmt_id``, with its
    hypotheses ``applies(ctx) -> str | None`` (:mod:`theory.hypotheses`; the check is only
    run where ``applies`` returns ``None``)."""
    def deco(fn):
        STATEMENTS[stmt_id] = replace(STATEMENTS[stmt_id], check=fn, applies=applies)
        return fn
    return deco
