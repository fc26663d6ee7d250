"""Built-in claims about two user types (docs/theory.md section 7: T11, T12) and their
finite-``K`` versions, which are false.

An instance carries the second user type's reward in ``data``: ``e^{r~ - r~_*} = data /
max(data)`` (``lam = inf``, so ``data`` is not real data here).  The weight ``phi`` (T11) or
``pi_1`` (T12) is swept over :data:`WEIGHT_GRID`: ``C(p) = (1 - w) C_{K,r}(p) + w C_{K,r~}(p)``
is linear in ``w``, so the two curated laws are computed once per instance.
"""

from __future__ import annotations

import math

import numpy as np

import numerics

from . import formulas
from .claim_registry import register_claim, register_theorem
from .distances import normalized
from .instances import InstanceSpace

__all__ = ["WEIGHT_GRID"]

#: the weights ``w = k/40`` the two-type claims quantify over
WEIGHT_GRID = tuple(k / 40 for k in range(41))


def _two_types(inst):
    """``(p, s, s~, C_{K,r}(p), C_{K,r~}(p))`` normalized, ``s = e^{r - max_{supp p} r}``;
    ``None`` when ``data`` has a zero (then ``r~ = -inf`` somewhere: outside the claims)."""
    if inst.data is None or not np.all(inst.data > 0):
        return None
    p = normalized(inst.mass)
    on = p > 0
    s = np.exp(inst.reward - float(inst.reward[on].max()))
    st = inst.data / float(inst.data.max())
    rt = np.log(st)
    c1 = normalized(numerics.curate(p, inst.reward, inst.K))
    c2 = normalized(numerics.curate(p, rt, inst.K))
    return p, s, st, c1, c2


def _cov_p(p, x, y):
    """``Cov_p(x, y)`` (one law, two functions: theory.distances/formulas have no such helper)."""
    return float(p @ ((x - p @ x) * (y - p @ y)))


def _t11_two_types(inst):
    got = _two_types(inst)
    if got is None:
        return -1.0
    p, s, st, c1, c2 = got
    E, E1, E2 = float(p @ s), float(c1 @ s), float(c2 @ s)
    var, cov = _cov_p(p, s, s), _cov_p(p, s, st)
    worst = -math.inf
    for w in WEIGHT_GRID:
        inc = (1 - w) * E1 + w * E2 - E
        if math.isinf(inst.K):
            worst = max(worst, abs(inc - ((1 - w) * formulas.kinf_increment(E, var)
                                          + w * cov / float(p @ st))))
        else:
            bound = (1 - w) * formulas.t1_increment_lower_bound(var, inst.K, 1.0) + w * (E2 - E)
            worst = max(worst, bound - inc)
    return worst


def _phi_drop(inst):
    got = _two_types(inst)
    if got is None:
        return -1.0
    p, s, st, c1, c2 = got
    worst = -math.inf
    for w in WEIGHT_GRID:
        q = (1 - w) * c1 + w * c2
        before = (1 - w) * math.log(float(p @ s)) + w * math.log(float(p @ st))
        after = (1 - w) * math.log(float(q @ s)) + w * math.log(float(q @ st))
        worst = max(worst, before - after)
    return worst


def _adversarial_drop(inst):
    got = _two_types(inst)
    if got is None:
        return -1.0
    p, s, st, c1, c2 = got
    if _cov_p(p, s, st) < 0:
        return -1.0
    E = float(p @ s)
    return max(E - ((1 - w) * float(c1 @ s) + w * float(c2 @ s)) for w in WEIGHT_GRID)


def _false(name, statement, source, expected, fn, space, tolerance, note):
    register_claim(name, statement, fn, space=space, source=source, expected=expected,
                   tolerance=tolerance, note=note)


_TWO = ("the second reward r~ is log(data/max data) (data > 0; instances with a zero are "
        "outside the claim: violation -1); the weight is swept over k/40, k = 0..40.")

register_theorem(("T11", "T11.bound"), _t11_two_types,
         InstanceSpace(K="any", lam="inf", data="independent"), 1e-10,
         "violation in units of e^{r_*}: |increment - identity| (K = inf) or bound - "
         "increment (finite K), max over phi. " + _TWO,
         scope="two user types, C = (1-phi) C_{K,r} + phi C_{K,r~}; one curation step")
register_theorem(("T12",), _phi_drop,
         InstanceSpace(K="inf", lam="inf", data="independent"), 1e-10,
         "violation: Phi(p) - Phi(C(p)) in nats, max over pi. " + _TWO,
         scope="two user types with weights (1-pi, pi); one curation step")
_false("potential-monotone-finite-K",
         "finite K, two user types: Phi(p) = (1-pi) log E_p[e^r] + pi log E_p[e^{r~}] never "
         "decreases under one curation step (T12 beyond K = inf)",
         "false claim (T12 needs K = inf)", "false", _phi_drop,
         InstanceSpace(K="integer", K_max=6, lam="inf", data="independent"), 1e-10,
         "violation: Phi(p) - Phi(C(p)) in nats, max over pi. " + _TWO)
_false("adversarial-increase-finite-K",
         "finite K: with an adversarial fraction phi of users with reward r~ and "
         "Cov_p(e^r, e^{r~}) >= 0, E_{C(p)}[e^r] >= E_p[e^r] (T11's K = inf consequence)",
         "false claim (T11's corollary needs K = inf)", "false", _adversarial_drop,
         InstanceSpace(K="integer", K_max=6, lam="inf", data="independent"), 1e-10,
         "violation in units of e^{r_*}: E_p[e^r] - E_{C(p)}[e^r], max over phi, where "
         "Cov >= 0 (else -1). " + _TWO)
