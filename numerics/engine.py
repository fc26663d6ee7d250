"""The curation dynamics on the reward law (DESIGN.md "everything is a function of the reward").

A model is ``p_t = sum_b w_{b,t}(r) base_b`` with bases ``p_0`` (and ``p_d`` when the real
data differ from the start).  The recurrences (THEORY.md L1-L3, sections 3-4) act on the
weights only:

- curated data only:  ``w_{t+1} = w_t H_{p_t}^K / E_{p_t}[H]``;
- with real data, ``p_{t+1} = (p_d + lam C_K(p_t)) / (1 + lam)``:
  ``w_{0,t+1} = lam w_{0,t} H / ((1+lam) E[H])`` and
  ``w_{d,t+1} = (1 + lam w_{d,t} H / E[H]) / (1 + lam)``.

The weights are tracked in log space at a few points per reward panel (Chebyshev points,
for interpolation to the cells; Gauss nodes of each base, for the integrals ``M_p(u)`` and the
moments, see :mod:`numerics.quadrature_rules`).  A step costs O(points x v-nodes), independent
of the grid size; densities on the grid are materialized only when asked, in O(N m).

When a weight varies by more than ``TILT_LIMIT`` nats across a panel (long runs without real
data, where ``w_t ~ e^{t r}``), the base measure of that panel is re-tilted: its cell masses
absorb the current weight and its Gauss rule is rebuilt (O(N m), rarely).
"""

from __future__ import annotations

import math

import numpy as np

from . import laplace, quadrature_rules as qr

__all__ = ["CurationEngine", "DEFAULT_PANEL_WIDTH", "DEFAULT_NODES", "AUTO_DIRECT_CELLS"]

#: panel width in nats of reward (compressed mode)
DEFAULT_PANEL_WIDTH = 0.25
#: Gauss nodes and Chebyshev points per panel (with 0.25-nat panels: 1e-14 relative against
#: the direct per-atom computation on smooth grids; 6 nodes give 6e-9, 8 give 8e-12)
DEFAULT_NODES = 10
#: below this many cells in the support, ``method="auto"`` uses the direct per-atom mode
AUTO_DIRECT_CELLS = 4096
#: largest variation (nats) of a weight across one panel before its base is re-tilted
TILT_LIMIT = 6.0


def _lse(a):
    return laplace._logsumexp(a)


class _Base:
    """One base measure: tilted cell log-masses, its Gauss rules, and its log weights.

    ``L`` (full log weight ``log dp_t/d base``) and ``T`` (the tilt already absorbed into
    ``cell_log_mass`` and the rule) are kept at ``[chebyshev points, own Gauss nodes]``.
    """

    __slots__ = ("cell_log_mass", "rules", "L", "T", "is_data")

    def __init__(self, cell_log_mass, rules, L, T, is_data):
        self.cell_log_mass = cell_log_mass
        self.rules = rules
        self.L = L
        self.T = T
        self.is_data = is_data


class Snapshot:
    """What is needed to materialize the masses of one step on the grid (lazily)."""

    __slots__ = ("engine", "cell_log_masses", "weights")

    def __init__(self, engine, cell_log_masses, weights):
        self.engine = engine
        self.cell_log_masses = cell_log_masses
        self.weights = weights

    def materialize(self):
        return self.engine._materialize(self.cell_log_masses, self.weights)


class CurationEngine:
    """State of ``p_t`` on the reward law of ``reward`` with bases ``bases`` (flat arrays).

    Parameters
    ----------
    reward : (N,) float array
    model : (N,) non-negative float array, the start ``p_0`` (normalized here)
    data : (N,) non-negative float array or None
        the real-data law ``p_d``; ``None`` with a finite ``lam`` means ``p_d = p_0``.
    K : float, ``>= 1`` or ``inf``
    lam : float, ``>= 0`` or ``inf``
    method : ``"auto"``, ``"direct"`` (one node per distinct reward: exact reward law) or
        ``"compressed"`` (Gauss rules per panel of ``panel_width`` nats).
    """

    def __init__(self, reward, model, data, K, lam, method="auto", panel_width=None,
                 nodes=DEFAULT_NODES, step=laplace.DEFAULT_STEP, use_numba=True):
        self.K = float(K)
        self.lam = float(lam)
        self.step_h = step
        self.use_numba = use_numba
        self.reward = reward
        self.shape = reward.shape
        two_bases = data is not None and not math.isinf(lam)
        masses = [model] if not two_bases else [model, data]
        width = float(panel_width or DEFAULT_PANEL_WIDTH)
        support = model > 0
        if two_bases:
            support = support | (data > 0)
        self.r_max = float(np.max(reward, where=support, initial=-np.inf))
        if method == "auto":
            # compressed tracks ~2 x nodes points per panel: worth it only with fewer points
            # than cells (wide reward spans on small grids are cheaper per atom)
            n_cells = int(support.sum())
            span = self.r_max - float(np.min(reward, where=support, initial=np.inf))
            n_points = 2 * int(nodes) * (span / width + 1) * len(masses)
            method = ("direct" if n_cells <= AUTO_DIRECT_CELLS or n_points >= n_cells
                      else "compressed")
        if method not in ("direct", "compressed"):
            raise ValueError(f"method must be 'auto', 'direct' or 'compressed', got {method!r}")
        self.method = method
        self.cell_panel, self.cell_x, self.centers, self.half_widths = qr.panel_index(
            reward, support, self.r_max, 0.0 if method == "direct" else width,
            use_numba=use_numba)
        del support
        self.nodes = 1 if method == "direct" else int(nodes)
        (self.cheb_ptr, self.cheb_r, self.cheb_x,
         self.cheb_bary) = qr.chebyshev_points(self.centers, self.half_widths, self.nodes)
        self.n_cheb = self.cheb_r.shape[0]
        self.bases = []
        single_data = (not math.isinf(lam)) and not two_bases
        log_norm = qr.log_normalized if use_numba else qr.log_normalized_numpy
        for i, m in enumerate(masses):
            clm = log_norm(m, float(m.sum()))
            rules = self._rules(clm)
            L = np.zeros(self.n_cheb + rules.size)
            if i == 1:  # the data base starts with weight 0 (p_0 = model)
                L[:] = -np.inf
            self.bases.append(_Base(clm, rules, L, np.zeros_like(L),
                                    is_data=(i == 1) or single_data))
        self.rebuilds = 0

    # ------------------------------------------------------------------------------------
    def _rules(self, cell_log_mass):
        return qr.build_rules(self.cell_panel, self.cell_x, cell_log_mass, self.centers,
                              self.half_widths, self.nodes, use_numba=self.use_numba)

    def _pooled(self):
        """Normalized pooled law of ``p_t`` on the Gauss nodes: ``(log_s, log_p, logZ)``."""
        log_p = np.concatenate([b.rules.log_w + (b.L - b.T)[self.n_cheb:] for b in self.bases])
        log_s = np.concatenate([b.rules.r for b in self.bases]) - self.r_max
        log_z = _lse(log_p)
        return log_s, log_p - log_z, log_z

    def _eval_points(self):
        """Log ``s`` at every point where ``H`` is needed: Chebyshev points, then each
        base's Gauss nodes (in direct mode the nodes are Chebyshev points: not repeated)."""
        if self.method == "direct":
            return self.cheb_r - self.r_max
        return np.concatenate([self.cheb_r] + [b.rules.r for b in self.bases]) - self.r_max

    def _split_h(self, log_h):
        """Per base, ``log H`` at ``[chebyshev points, own nodes]``."""
        out = []
        if self.method == "direct":
            for b in self.bases:
                rows = np.repeat(np.arange(len(b.rules.ptr) - 1), np.diff(b.rules.ptr))
                out.append(np.concatenate([log_h, log_h[rows]]))
            return out
        off = self.n_cheb
        for b in self.bases:
            n = b.rules.size
            out.append(np.concatenate([log_h[:self.n_cheb], log_h[off:off + n]]))
            off += n
        return out

    def log_curation_factor(self, log_s_eval, log_s, log_p):
        return laplace.log_curation_factor_nodes(log_s, log_p, self.K, log_s_eval,
                                                 h=self.step_h, use_numba=self.use_numba)

    def moments(self):
        """``(E[s], Var[s], E[r])`` of the current ``p_t``, ``s = e^{r - r_max}``."""
        log_s, log_p, _ = self._pooled()
        p = np.exp(log_p)
        s = np.exp(log_s)
        mean_s = float(np.dot(p, s))
        var_s = float(np.dot(p, (s - mean_s) ** 2))
        mean_r = float(np.dot(p, log_s)) + self.r_max
        return mean_s, var_s, mean_r

    def advance(self):
        """One step of the recurrence (curated only, or mixed with real data)."""
        log_s, log_p, log_z = self._pooled()
        log_h_all = self.log_curation_factor(self._eval_points(), log_s, log_p)
        per_base = self._split_h(log_h_all)
        node_h = np.concatenate([h[self.n_cheb:] for h in per_base])
        log_eh = _lse(log_p + node_h)  # log E_p[H] (= 0 by P1, up to rounding)
        lam = self.lam
        log_lam = math.log(lam) if lam > 0 else -math.inf
        for b, lh in zip(self.bases, per_base):
            curated = b.L - log_z + lh - log_eh
            if math.isinf(lam):
                b.L = curated
            elif b.is_data:
                b.L = np.logaddexp(0.0, log_lam + curated) - math.log1p(lam)
            else:
                b.L = curated + log_lam - math.log1p(lam)
        if self.method == "compressed":
            self._retilt()

    def _retilt(self):
        for b in self.bases:
            g = (b.L - b.T)[:self.n_cheb]
            if not np.all(np.isfinite(g)):
                continue
            ptr = self.cheb_ptr
            spread = np.maximum.reduceat(g, ptr[:-1]) - np.minimum.reduceat(g, ptr[:-1])
            if spread.max() <= TILT_LIMIT:
                continue
            new_clm = self._interp(g)
            new_clm += b.cell_log_mass  # in place: one grid-sized array, not two
            b.cell_log_mass = new_clm
            b.rules = self._rules(new_clm)
            L_nodes = self._interp_at_nodes(b.L[:self.n_cheb], b.rules)
            b.L = np.concatenate([b.L[:self.n_cheb], L_nodes])
            b.T = b.L.copy()
            self.rebuilds += 1

    def _interp(self, values_at_cheb):
        f = qr.interpolate if self.use_numba else qr.interpolate_numpy
        return f(self.cell_panel, self.cell_x, self.cheb_ptr, self.cheb_x, self.cheb_bary,
                 values_at_cheb)

    def _interp_at_nodes(self, values_at_cheb, rules):
        rows = np.repeat(np.arange(len(rules.ptr) - 1), np.diff(rules.ptr))
        hw = np.where(self.half_widths > 0, self.half_widths, 1.0)
        x = (rules.r - self.centers[rows]) / hw[rows]
        f = qr.interpolate if self.use_numba else qr.interpolate_numpy
        return f(rows, x, self.cheb_ptr, self.cheb_x, self.cheb_bary, values_at_cheb)

    def snapshot(self):
        return Snapshot(self, tuple(b.cell_log_mass for b in self.bases),
                        tuple((b.L - b.T)[:self.n_cheb].copy() for b in self.bases))

    def _materialize(self, cell_log_masses, weights):
        """Normalized masses on the grid: ``sum_b exp(cell_log_mass_b + g_b(r))``."""
        out = None
        for clm, g in zip(cell_log_masses, weights):
            if not np.any(np.isfinite(g)):
                continue
            if self.use_numba:
                lm = qr.interpolate_log_mass(self.cell_panel, self.cell_x, self.cheb_ptr,
                                             self.cheb_x, self.cheb_bary, g, clm)
            else:
                with np.errstate(invalid="ignore"):
                    lm = np.nan_to_num(self._interp(g) + clm, nan=-np.inf)
            out = lm if out is None else np.logaddexp(out, lm)
        top = float(out.max())
        if self.use_numba:
            qr.exp_normalize(out, top)
        else:
            out = np.exp(out - top)
            out /= out.sum()
        return out

    def log_curation_factor_at_cells(self):
        """``log H_{p_t}^K`` at every cell of the support (interpolated from the Chebyshev
        points; exact per-atom values in direct mode)."""
        log_s, log_p, _ = self._pooled()
        log_h = self.log_curation_factor(self.cheb_r - self.r_max, log_s, log_p)
        return self._interp(log_h)
