r"""The exact engine for curation rules over several rewards (DESIGN.md, "Beyond one reward").

A mixture of user types ``C(p) = sum_u pi_u C_u(p)`` (THEORY.md section 7) keeps the density
of the form ``p_t = p_0 w_t(r_1, ..., r_U)`` (and ``+ p_d w_{d,t}(r_1, ..., r_U)`` with real
data), so the state is a pair of log weights per *joint atom*: per distinct tuple
``(r_1(x), ..., r_U(x))`` of the support.  A step is exact:

- the law of each ``r_u`` under ``p_t``: a sum of the atoms' masses per distinct value of
  ``r_u``;
- ``H_u`` at every distinct value of ``r_u``, by the user's own rule on that exact law (one
  node per distinct reward: the direct mode of :class:`numerics.engine.CurationEngine`);
- ``H = sum_u pi_u H_u`` at every atom, and the recurrences of the engine
  (``w_0 <- lam w_0 H / ((1+lam) E[H])``, ``w_d <- (1 + lam w_d H / E[H]) / (1 + lam)``).

Cost per step: O(atoms x users) plus the users' rules at their distinct rewards.  Filters
(L6, rewards ``log a`` with ``-inf``) and rewards that change with ``t`` use the same engine
(with a changing reward the atoms are the cells of the support).
"""

from __future__ import annotations

import math

import numpy as np

from . import laplace

__all__ = ["JointEngine"]


def _lse(a):
    return laplace.log_sum_exp(a)


def _scatter_lse(log_w, inv, n):
    """``out[j] = log sum_{inv_i = j} exp(log_w_i)`` (shifted by the maximum: exact to
    rounding for every term within 700 nats of the largest)."""
    finite = np.isfinite(log_w)
    out = np.full(n, -np.inf)
    if not finite.any():
        return out
    top = float(log_w[finite].max())
    w = np.bincount(inv[finite], weights=np.exp(log_w[finite] - top), minlength=n)
    with np.errstate(divide="ignore"):
        return np.log(w) + top


class JointEngine:
    """State of ``p_t`` per joint atom of the rewards of ``rule`` (flat arrays).

    Parameters
    ----------
    rule : :class:`numerics.curators.Rule`
    model, data : flat masses (``data`` None: ``p_d = p_0`` for a finite ``lam``)
    lam : float
    shape : the callers' array shape (for the rewards)
    all_cells : also make atoms of the cells outside the support (to evaluate ``H`` there)
    """

    method = "direct"

    def __init__(self, rule, model, data, lam, shape, all_cells=False, use_numba=True):
        self.rule, self.lam, self.shape = rule, float(lam), shape
        self.use_numba = use_numba
        self.parts = rule.components()
        two_bases = data is not None and not math.isinf(lam)
        masses = [model] if not two_bases else [model, data]
        sup = np.zeros(model.shape, dtype=bool)
        for m in masses:
            sup |= m > 0
        if all_cells:
            sup[:] = True
        self.cells = np.flatnonzero(sup)
        self.varies = rule.varies
        if not self.varies:
            R = np.stack([r.ravel()[self.cells] for r in rule.rewards_at(0, shape)])
            Rk = np.where(np.isfinite(R), R, -np.inf)
            _, first, inv = np.unique(Rk, axis=1, return_index=True, return_inverse=True)
            self.inv = inv.ravel()
            self.atom_r = R[:, first]
            self._user_index = [np.unique(r, return_inverse=True) for r in self.atom_r]
        else:
            self.inv = np.arange(self.cells.size)
            self.atom_r = None
        n = int(self.inv.max()) + 1 if self.inv.size else 0
        self.n_atoms = n
        single_data = (not math.isinf(lam)) and not two_bases
        self.bases = []
        for i, m in enumerate(masses):
            tot = float(m.sum())
            w = np.bincount(self.inv, weights=m[self.cells] / tot, minlength=n)
            with np.errstate(divide="ignore"):
                log_w = np.log(w)
            L = np.zeros(n) if i == 0 else np.full(n, -np.inf)
            self.bases.append({"mass": m, "total": tot, "log_w": log_w, "L": L,
                               "is_data": (i == 1) or single_data})
        self.steps_done = 0

    # ------------------------------------------------------------------ the law
    def log_p(self):
        """Normalized log masses of ``p_t`` per atom."""
        with np.errstate(invalid="ignore"):
            parts = [np.where(np.isfinite(b["log_w"]), b["log_w"] + b["L"], -np.inf)
                     for b in self.bases]
        lp = parts[0] if len(parts) == 1 else np.logaddexp(parts[0], parts[1])
        return lp - _lse(lp)

    def rewards(self, t):
        """Per user, the reward at every atom for step ``t``."""
        if not self.varies:
            return list(self.atom_r)
        return [r.ravel()[self.cells] for r in self.rule.rewards_at(t, self.shape)]

    def log_factor(self, t=None, log_p=None):
        """``log H = log sum_u pi_u H_u`` at every atom, each ``H_u`` exact on the law of its
        own reward under ``p_t`` (or the law ``log_p`` per atom)."""
        t = self.steps_done if t is None else t
        log_p = self.log_p() if log_p is None else log_p
        rewards = self.rewards(t)
        out = np.full(self.n_atoms, -np.inf)
        for u, ((pi, rule_u), r) in enumerate(zip(self.parts, rewards)):
            if self.varies:
                vals, inv = np.unique(r, return_inverse=True)
            else:
                vals, inv = self._user_index[u]
            law = _scatter_lse(log_p, inv, vals.size)
            held = np.isfinite(law)
            r_max = float(vals[held].max())
            if not np.isfinite(r_max):
                raise ValueError("accept is 0 on the whole support of mass: nothing is ever "
                                 "kept")
            with np.errstate(invalid="ignore"):
                ls = vals - r_max
            lh = rule_u.log_factor(ls, ls[held], law[held], use_numba=self.use_numba)
            out = np.logaddexp(out, math.log(pi) + lh[inv])
        return out

    def moments(self, t=None):
        """``(E[s], Var[s], E[r], r_max)`` of the first user's reward under ``p_t``,
        ``s = e^{r - r_max}`` (``r_max``: the top of that reward on the support)."""
        t = self.steps_done if t is None else t
        r = self.rewards(t)[0]
        p = np.exp(self.log_p())
        held = p > 0
        r_max = float(r[held].max())
        with np.errstate(invalid="ignore", over="ignore"):
            s = np.where(held, np.exp(r - r_max), 0.0)
            mean_s = float(p @ s)
            var_s = float(p @ (s - mean_s) ** 2)
            mean_r = float(np.sum(np.where(held, p * r, 0.0)))
        return mean_s, var_s, mean_r, r_max

    def expected_rewards(self, t=None):
        """``E_{p_t}[r_u]`` for every user type ``u`` (rewards of step ``t``); ``-inf`` where
        ``p_t`` charges an atom whose reward ``r_u`` is ``-inf`` (a filter's ``log 0``)."""
        t = self.steps_done if t is None else t
        p = np.exp(self.log_p())
        held = p > 0
        out = []
        for r in self.rewards(t):
            if np.any(held & (r == -np.inf)):
                out.append(-math.inf)
                continue
            out.append(float(np.sum(np.where(held, p * np.where(held, r, 0.0), 0.0))))
        return np.array(out)

    # ------------------------------------------------------------------ dynamics
    def advance(self):
        """One step ``p_{t+1} = C(p_t)`` or ``(p_d + lam C(p_t)) / (1 + lam)``."""
        log_p = self.log_p()
        log_h = self.log_factor(self.steps_done, log_p)
        with np.errstate(invalid="ignore"):
            log_eh = _lse(np.where(np.isfinite(log_p), log_p + log_h, -np.inf))
        log_z = _lse(np.concatenate([b["log_w"] + b["L"] for b in self.bases]))
        lam = self.lam
        log_lam = math.log(lam) if lam > 0 else -math.inf
        for b in self.bases:
            curated = b["L"] - log_z + log_h - log_eh
            if math.isinf(lam):
                b["L"] = curated
            elif b["is_data"]:
                b["L"] = np.logaddexp(0.0, log_lam + curated) - math.log1p(lam)
            else:
                b["L"] = curated + log_lam - math.log1p(lam)
        self.steps_done += 1

    def log_weights(self):
        """The state: each base's log weights per atom (copies)."""
        return tuple(b["L"].copy() for b in self.bases)

    def set_log_weights(self, weights):
        """Make ``weights`` (shaped as :meth:`log_weights` returns them) the state."""
        for b, w in zip(self.bases, weights):
            if w.shape != b["L"].shape:
                raise ValueError("set_log_weights: the weights do not match the atoms")
            b["L"] = np.array(w, dtype=np.float64)

    def snapshot(self):
        weights = tuple(b["L"].copy() for b in self.bases)
        return lambda: self.materialize(weights)

    def materialize(self, weights=None):
        """Normalized masses on the cells."""
        weights = weights or tuple(b["L"] for b in self.bases)
        n = self.bases[0]["mass"].shape[0]
        top = max(float(np.max(np.where(np.isfinite(b["log_w"]), g, -np.inf)))
                  for b, g in zip(self.bases, weights))
        out = np.zeros(n)
        for b, g in zip(self.bases, weights):
            with np.errstate(invalid="ignore", over="ignore"):
                f = np.exp(g - top)
            out[self.cells] += b["mass"][self.cells] / b["total"] * np.where(
                np.isfinite(g), f, 0.0)[self.inv]
        return out / out.sum()

    def log_factor_at_cells(self):
        """``log H`` of ``p_t`` at every atom's cells (``nan`` outside the atoms)."""
        out = np.full(self.bases[0]["mass"].shape[0], np.nan)
        out[self.cells] = self.log_factor()[self.inv]
        return out
