"""Built-in claims that are not theorems: conjectures (expected to hold, not proved) and claims
shown false, each under a name of its own, that ``selfconsume falsify`` settles (docs/theory.md
T6 "not a theorem", Appendix B).

Violations in units of ``e^{r_*}`` (:func:`~theory.instances.exp_reward_ratio`), of the reward
spread, or on probabilities, as each claim's note says.
"""

from __future__ import annotations

import numpy as np

from .claim_registry import register_claim
from .claim_statements import moments_s, tv_rows
from .instances import InstanceSpace, exp_reward_ratio, support_top

__all__: list[str] = []


def _exp_reward_drop(inst):
    P = inst.masses()
    E = P @ exp_reward_ratio(inst)
    return float(np.max(E[:-1] - E[1:]))


def _expected_reward_drop(inst):
    P = inst.masses()
    r0 = inst.reward - support_top(inst)
    on = P.sum(axis=0) > 0
    spread = float(max(1e-300, -r0[on].min()))
    mean_r = P[:, on] @ r0[on]
    return float(np.max(mean_r[:-1] - mean_r[1:]) / spread)


def _reward_variance_rise(inst):
    P = inst.masses()
    r0 = inst.reward - support_top(inst)
    on = P.sum(axis=0) > 0
    spread = float(max(1e-300, -r0[on].min()))
    _, var = moments_s(P[:, on], r0[on] / spread)
    return float(np.max(var[1:] - var[:-1]))


def _top_mass_drop(inst):
    P = inst.masses()
    top = inst.reward >= support_top(inst)
    m = P[:, top].sum(axis=1)
    return float(np.max((m[:-1] - m[1:]) / m[:-1]))


def _tv_growth(inst):
    tv = tv_rows(inst.masses(), inst.masses(start=inst.data))
    return float(np.max(tv[1:] - tv[:-1]))


def _builtin(name, statement, source, expected, fn, space, tolerance, note=""):
    """A conjecture (``expected="holds"``) or a false claim: its own name and text."""
    register_claim(name, statement, fn, space=space, source=source, expected=expected,
                   tolerance=tolerance, note=note)


_builtin("mixing-reward-monotone",
         "with real data (finite lam, any start p_0), E_{p_t}[e^r] is non-decreasing in t",
         "false claim (THEORY.md T6: 'not a theorem')", "false", _exp_reward_drop,
         InstanceSpace(K="any", lam="finite", data="independent", steps=(1, 10)), 1e-10,
         "violation in units of e^{r_*}: max_t E_t[s] - E_{t+1}[s]. The search refutes it "
         "with a start above the data (two atoms, one step).")
_builtin("mixing-reward-monotone-from-data",
         "with real data and p_0 = p_d, E_{p_t}[e^r] is non-decreasing in t",
         "conjecture (THEORY.md T6: open; the counterexample needs p_0 != p_d)",
         "holds", _exp_reward_drop,
         InstanceSpace(K="any", lam="finite", data="model", steps=(1, 30)), 1e-10,
         "violation as mixing-reward-monotone. No decrease found: this search, and 1.8e6 "
         "random K = inf laws and 1.2e6 exact-L1 laws (K = 2, 3, 4) over 30 steps, show "
         "none above rounding (1e-15 relative).")
_builtin("expected-reward-monotone",
         "curated data only: E_{p_t}[r] (not e^r) is non-decreasing in t",
         "conjecture (P6 with f = r)", "holds", _expected_reward_drop,
         InstanceSpace(steps=(1, 10)), 1e-10,
         "violation: max_t E_t[r] - E_{t+1}[r], relative to the reward spread.")
_builtin("reward-variance-monotone",
         "curated data only: Var_{p_t}[r] is non-increasing in t",
         "false claim", "false", _reward_variance_rise, InstanceSpace(steps=(1, 5)), 1e-10,
         "violation: max_t Var_{t+1}[r] - Var_t[r], in units of the squared reward spread.")
_builtin("top-mass-monotone",
         "with real data and p_0 = p_d, the mass of the top reward level never decreases",
         "conjecture", "holds", _top_mass_drop,
         InstanceSpace(K="any", lam="finite", data="model", steps=(1, 30)), 1e-9,
         "violation: max_t relative drop of p_t(r = r_*).")
_builtin("mixing-nonexpansive",
         "T7 beyond its condition: even when lam (K-1) >= 1, TV(p_t, q_t) never increases "
         "(p_0 = mass, q_0 = p_d = data)",
         "false claim (T7 needs lam (K-1) < 1)", "false", _tv_growth,
         InstanceSpace(K="any", lam="expanding", data="independent", steps=(1, 5)), 1e-10,
         "violation: max_t TV(p_{t+1}, q_{t+1}) - TV(p_t, q_t) (absolute).")


