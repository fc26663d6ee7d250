r"""THEORY.md T9: the fixed point of ``T(p) = (p_d + lam C_K(p)) / (1 + lam)`` for finite ``K``,
condensed or not: the T9 equations, their analytic Jacobian and Gauss-Newton (on grids the
T9 map iterated with Anderson acceleration comes first, :mod:`.t9_iteration`).

The fixed point is ``p = p_d / (1 + lam - lam H_p)`` where ``p_d`` lives, plus a mass ``c`` on
the top level set.  ``H_p`` depends on ``p`` only through ``M_p(u) = E_p[e^{-u s}]`` (L2), so the
unknowns are ``y_j = log M_p(u_j)`` at the nodes ``u_j = e^{v_j}`` of the L2 trapezoid rule and the
top mass ``c``, with the equations

    F_j = log( sum_{k below the top} p_k e^{-u_j s_k} + c e^{-u_j} ) - y_j = 0,
          p_k = d_k / (1 + lam - lam H_y(s_k)),
    N   = log( sum_k p_k + c ) = 0                                    (normalization),
    G   = 1 - lam H_y(1) / (1 + lam) - d_top / ((1 + lam) c) = 0      (the top atom),

``H_y(s) = K sum_i w_i u_i s e^{-u_i s} e^{(K-1) y_i}``.  On a grid ``d_top > 0`` (the top cell),
``c = e^gamma`` is an unknown and ``G`` says ``c = d_top / (1 + lam - lam H(1))``; its residual is
formed without the cancellation in ``1 + lam - lam H(1)`` (which is ``~1e-12`` when the top cell
holds an O(1) condensate), so ``c`` is found to full relative accuracy through ``N`` and ``F``.
For a continuous law (``d_top = 0``) the fixed point is *regular* (``c = 0``, unknowns ``y``
only, valid while ``H(1) < (1 + lam)/lam``) below the critical ``lam_c`` and *condensed* above it
(``c > 0`` and ``H(1) = (1 + lam)/lam``); ``lam_c`` itself solves the system with unknowns
``(y, lam)``, ``c = 0`` and ``H(1) = (1 + lam)/lam`` (:meth:`T9System.critical`).

Derivatives (all analytic): ``dH_k/dy_i = (K-1) K w_i u_i s_k e^{-u_i s_k + (K-1) y_i}``,
``dp_k/dy_i = p_k lam (dH_k/dy_i) / (1 + lam - lam H_k)``, ``dF_j/dy = A_j. (dp/dy) - I`` with
``A_jk = e^{-u_j s_k} / M_j``, ``dp_k/dlam = p_k (H_k - 1)/(1 + lam - lam H_k)``.  The
overdetermined system (one more equation than unknowns: ``N`` is nearly implied by ``F`` at the
first nodes) is solved by Gauss-Newton with a backtracking line search and, failing that, by
continuation in ``theta = lam/(1 + lam)`` from ``p_d`` (``lam = 0``).  On grids
(:func:`solve_t9`) the T9 map ``y -> log M_{p(y)}``, ``c`` from the normalization, iterated
with Anderson acceleration from two iterates of ``T`` (:meth:`T9System.iterate`) reaches the
same fixed point for a fraction of the cost (no Jacobian); Newton takes over where it stalls.

Cost: every product is formed once per system (atoms x nodes, by :mod:`.t9_kernels`):
``H_y = kern e^{(K-1) y}``, the gap ``H_y(1) - H_y = G e^{(K-1) y}`` (``G`` scaled as
``kern``, stacked under it: the T9 map takes both in one product) and ``M = e^{ref} (W g)``
with ``g = p / p_d`` and each row of ``W`` scaled by its largest data term (no underflow, see
:meth:`T9System.__init__`), so a residual is a few matrix-vector products and a Jacobian one
matrix product.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.linalg

from .. import laplace
from . import t9_kernels

__all__ = ["T9System", "T9Solution", "solve_t9", "solve_continuous", "critical_lam"]

#: Newton stops when the largest residual is below this (the equations are O(1) in size)
RESIDUAL_TOL = 1e-13
#: at most this many Gauss-Newton iterations per solve
MAX_NEWTON = 60
#: continuation: smallest step in theta = lam / (1 + lam) before giving up
MIN_THETA_STEP = 1e-7


@dataclass
class T9Solution:
    """A fixed point on the node law: ``p`` (masses at the atoms below the top), ``c`` (top
    mass), ``y = log M_p`` at the v-nodes, ``lam``, the largest residual, Newton iterations."""

    p: np.ndarray
    c: float
    y: np.ndarray
    lam: float
    residual: float
    iterations: int
    path: str


class T9System:
    """The T9 equations on a discrete law of ``p_d``: atoms at depths ``depth`` (``r_* - r``,
    increasing, ``depth[0] = 0`` the top) with masses ``d`` (``d[0] >= 0``; 0 for a continuous
    law), for ``K`` and every ``lam <= lam_max`` (the v-nodes cover all their fixed points)."""

    def __init__(self, depth, d, K, lam_max, h=laplace.DEFAULT_STEP):
        depth = np.asarray(depth, dtype=float)
        d = np.asarray(d, dtype=float)
        if depth[0] != 0.0 or np.any(np.diff(depth) <= 0):
            raise ValueError("depth must start at 0 and increase")
        self.K = float(K)
        self.log_s = -depth
        self.s = np.exp(-depth)
        self.d = d / d.sum()
        self.top = float(self.d[0])
        self.rest = np.flatnonzero(self.d > 0)
        self.rest = self.rest[self.rest > 0]
        self._d_rest = self.d[self.rest]
        if K != math.floor(K):
            h = 0.5 * h  # as laplace.log_curation_factor_nodes: branch points of M^{K-1}
        sup = np.flatnonzero(self.d > 0)
        a = np.log(self.d[sup]) - depth[sup]
        log_mean = float(a.max() + np.log(np.exp(a - a.max()).sum()))   # log E_{p_d}[s]
        grid = laplace.v_grid(float(-depth[-1]), log_mean - math.log1p(lam_max), self.K, h)
        self.v, self.h = grid.v, grid.h
        self.u = np.exp(self.v)
        log_w = np.full(self.v.size, math.log(h))
        log_w[0] = math.log(h + h / math.expm1(h))  # the closed-form left tail (L2)
        self._log_w = log_w
        # H at the atoms as one product: H_y = kern @ e^{(K-1) y}, kern = K w_i u_i s e^{-u_i s}
        # (atoms x nodes; every term positive: the sum is accurate to rounding, and y <= 0
        # near any fixed point)
        a = log_w + self.v + math.log(self.K)
        self._a = a
        # the kernel and (formed when first needed, see gap()) the gap kernel scaled the same
        # way, stacked: the T9 map takes H and the gap at the atoms in one product
        n_atoms = depth.size
        self._stacked = np.empty((2 * n_atoms, self.v.size))
        self._gap_ready = False
        self._kern = t9_kernels.l2_kernel(a, self.log_s, self.s, self.u,
                                          out=self._stacked[:n_atoms])
        # on grids every atom below the top holds data: views, not copies
        rest = self.rest
        self._rest_at = slice(int(rest[0]), int(rest[-1]) + 1) \
            if rest.size and rest[-1] - rest[0] == rest.size - 1 else rest
        self._kern_rest = self._kern[self._rest_at]
        # M at the nodes as one product, each row scaled by its largest data term:
        # M_j = e^{ref_j} (sum_{k in rest} W_jk g_k + W_top_j t),  g_k = p_k / d_k,
        # ref_j = max_{k in supp p_d} (log d_k - u_j s_k), W_jk = d_k e^{-u_j s_k - ref_j} <= 1,
        # W_top = e^{-u_j - ref_j} d_top^[d_top > 0] and t = c / d_top (grids) or c.  Some
        # W_jk g_k is >= min g >= 1/(1 + lam) (a row's largest W is 1): no underflow.
        W, self._ref = t9_kernels.scaled_data(np.log(self.d[sup]), self.s[sup], self.u)
        self._W_top = np.exp(-self.u - self._ref) * (self.top if self.top > 0 else 1.0)
        if sup[0] == 0:
            W[:, 0] = self._W_top      # [W_top, W_rest]: the whole law's matrix (iterate())
            self._W_rest = W[:, 1:]                                       # nodes x rest
        else:
            self._W_rest = W
        self._W_all = W

    # ------------------------------------------------------------------ pieces
    def log_h(self, y, log_s=None):
        """``log H_y(s)`` at the atoms (or at ``log_s``), by the engine's L2 kernel."""
        at = self.log_s if log_s is None else np.asarray(log_s, dtype=float)
        return math.log(self.K) + laplace.log_curation_integral(self.v, self.h, y,
                                                                self.K - 1.0, at)[0]

    def log_m(self, p, c):
        """``log M`` at the v-nodes of the law ``p`` (atoms below the top) plus ``c`` at the
        top, unnormalized (``log M(0) = log |p|``)."""
        masses = p.copy()
        masses[0] = c
        keep = masses > 0
        tot = float(masses.sum())
        return laplace.log_laplace(self.v, self.log_s[keep],
                                   np.log(masses[keep] / tot)) + math.log(tot)

    def gap(self, y, log_s=None):
        r"""``H_y(1) - H_y(s)`` at the atoms (or at ``log_s``), without cancellation.

        ``H_y(1) - H_y(s) = K sum_i w_i u_i e^{(K-1) y_i} (e^{-u_i} - s e^{-u_i s})`` and, with
        ``s = e^{-d}``, ``e^{-u} - s e^{-us} = -e^{-u} expm1(-d - u expm1(-d))``: relative
        accuracy even at depths ``d ~ 1e-18``, where ``1 + lam - lam H(s)`` formed from
        ``H(s)`` is pure rounding (it is ``lam (H(1) - H(s)) ~ d`` on a condensed or critical
        fixed point).  At the atoms the matrix of these differences, scaled by ``K w_i u_i``,
        is formed once (:meth:`_gap_scaled`)."""
        if log_s is None:
            G = self._gap_scaled()
        else:   # the same kernels at other points
            at = np.asarray(log_s, dtype=float)
            G = t9_kernels.gap_kernel(-at, self.u, self._a,
                                      t9_kernels.l2_kernel(self._a, at, np.exp(at), self.u))
        e = (self.K - 1.0) * y
        top = float(e.max())
        return (G @ np.exp(e - top)) * math.exp(top)

    def _gap_scaled(self):
        """The gap kernel at the atoms times ``e^{a_i} = K w_i u_i`` (:mod:`.t9_kernels`, the
        lower half of the stacked matrix; formed once, at the first call): ``gap(y) = G
        e^{(K-1) y}``."""
        n_atoms = self.s.size
        lower = self._stacked[n_atoms:]
        if not self._gap_ready:
            t9_kernels.gap_kernel(-self.log_s, self.u, self._a, self._kern, out=lower)
            self._gap_ready = True
        return lower

    def h_atoms(self, y):
        """``H_y`` at the atoms: ``K sum_i w_i u_i s_k e^{-u_i s_k} e^{(K-1) y_i}`` as one
        product with the kernel formed at construction (the L2 rule of :meth:`log_h`)."""
        with np.errstate(over="ignore"):
            return self._kern @ np.exp((self.K - 1.0) * y)

    def masses(self, y, lam, mode="grid", c=None, gap=None):
        """``(p, H, den)``: ``p_k = d_k / den_k`` below the top (``p[0] = 0``), ``H`` at every
        atom and ``den = 1 + lam - lam H``; ``None`` if a denominator below the top is <= 0.

        Where the top atom's equation fixes ``1 + lam - lam H(1)`` (``"condensed"``,
        ``"critical"``: 0; ``"grid"``: ``d_top / c``), ``den = (1 + lam - lam H(1)) + lam (H(1)
        - H)`` with the gap from :meth:`gap`: the same at the solution, and free of the
        cancellation next to the top, where ``1 + lam - lam H`` formed from ``H`` is rounding
        (a condensed grid fixed point has ``1 + lam - lam H(1) = d_top / c``, as small as the
        top cell's data mass).  ``gap``: :meth:`gap` of ``y``, if already at hand."""
        H = self.h_atoms(y)
        if mode in ("condensed", "critical", "grid") and gap is None:
            gap = self.gap(y)
        if mode in ("condensed", "critical"):
            den = lam * gap
        elif mode == "grid":
            den = self.top / c + lam * gap
        else:
            den = 1.0 + lam - lam * H
        p = np.zeros_like(self.d)
        rest = self._rest_at
        if np.any(den[rest] <= 0):
            return None
        p[rest] = self._d_rest / den[rest]
        return p, H, den

    # ------------------------------------------------------------------ systems
    def state(self, z, mode, lam=None, gap=None):
        """The unknowns ``z`` of ``mode`` and everything the residual and the Jacobian share
        (:meth:`residual`), or ``None`` where a denominator is <= 0 or a residual is not
        finite (``gap``: :meth:`gap` of ``y``, if already at hand).

        ``log M`` at the nodes comes from the scaled product of :meth:`__init__`,
        ``log M_j = ref_j + log S_j``, ``S = W_rest g + W_top t``."""
        n = self.v.size
        y = z[:n]
        if mode == "critical":
            lam = float(z[n])
        if not lam > 0:
            return None
        if mode == "grid" and not z[n] < 1.0:
            return None   # c = e^gamma > e: far from any fixed point (|p| + c = 1)
        c = _top_mass(z, n, mode)
        if mode == "condensed" and c < 0:
            return None
        with np.errstate(over="ignore", invalid="ignore"):
            got = self.masses(y, lam, mode, c, gap)
        if got is None:
            return None
        p, H, den = got
        rest = self._rest_at
        g = 1.0 / den[rest]                                   # p_k / d_k below the top
        t = c / self.top if self.top > 0 else c               # the top's share in S
        S = self._W_rest @ g + self._W_top * t
        with np.errstate(divide="ignore", invalid="ignore"):
            log_m = self._ref + np.log(S)
        total = float(p.sum()) + c
        if not total > 0:
            return None
        F = log_m - y
        rows = [F, [math.log(total)]]
        if mode != "regular":
            G = 1.0 - lam * H[0] / (1.0 + lam)
            if mode == "grid":
                G -= self.top / ((1.0 + lam) * c)
            rows.append([G])
        R = np.concatenate(rows)
        if not np.all(np.isfinite(R)):
            return None
        return _State(z, mode, lam, y, c, p, H, den, g, S, total, R)

    def _jacobian(self, st):
        """``(J, dR/dlam)`` at the state ``st`` (:meth:`state`); see :meth:`residual`.

        ``A_jk = e^{-u_j s_k} / M_j = W_jk / (d_k S_j)``, so ``A X = (W_rest (X / d)) / S`` for
        the rows ``X`` below the top (all proportional to ``p_k = d_k g_k``)."""
        n = self.v.size
        mode, lam, y, p, H, den, g, S, total = (st.mode, st.lam, st.y, st.p, st.H, st.den,
                                                st.g, st.S, st.total)
        c = st.c
        rest = self.rest
        Km1 = self.K - 1.0
        e = np.exp(Km1 * y)
        kern_top = Km1 * self._kern[0] * e                 # B_0 = dH(1)/dy
        gap_mode = mode != "regular"   # den = (1 + lam - lam H(1)) + lam (H(1) - H): masses()
        # (A Q)_ji = sum_k W_jk a_k (B_ki - [gap_mode] B_0i) / S_j, a_k = g_k lam / den_k,
        # B_ki = (K-1) kern_ki e_i
        a = g * lam / den[rest]
        Wa = self._W_rest * a[None, :]
        AQ = (Wa @ self._kern_rest) * (Km1 * e)[None, :]
        if gap_mode:
            AQ -= np.outer(Wa.sum(axis=1), kern_top)
        AQ /= S[:, None]
        # the normalization row: sum_k Q_ki = sum_k d_k a_k (B_ki - [gap_mode] B_0i)
        da = self.d[rest] * a
        q_sum = (da @ self._kern_rest) * (Km1 * e)
        if gap_mode:
            q_sum -= da.sum() * kern_top
        cols = n + (0 if mode == "regular" else 1)
        J = np.zeros((st.R.size, cols))
        J[:n, :n] = AQ
        J[np.arange(n), np.arange(n)] -= 1.0
        J[n, :n] = q_sum / total
        if mode != "regular":
            J[n + 1, :n] = -lam / (1.0 + lam) * kern_top
        # derivative in lam at fixed z: dp_k/dlam = p_k x_k, x_k = (H_k - 1) / den_k
        if gap_mode:   # at fixed z, d den / d lam = H(1) - H = (den - den_top) / lam
            den_top = self.top / c if mode == "grid" else 0.0
            x = -(den[rest] - den_top) / (lam * den[rest])
        else:
            x = (H[rest] - 1.0) / den[rest]
        d_lam = np.zeros(st.R.size)
        d_lam[:n] = (self._W_rest @ (g * x)) / S
        d_lam[n] = float(p[rest] @ x) / total
        if mode != "regular":
            d_lam[n + 1] = -H[0] / (1.0 + lam) ** 2
            if mode == "grid":
                d_lam[n + 1] += self.top / ((1.0 + lam) * c) / (1.0 + lam)
        if mode == "grid":
            # gamma = log c enters M through the top atom and every p_k through d_top / c:
            # dp_k/dgamma = p_k (d_top / c) / den_k
            xg = (self.top / c) / den[rest]
            t = c / self.top
            J[:n, n] = (self._W_top * t + self._W_rest @ (g * xg)) / S
            J[n, n] = (c + float(p[rest] @ xg)) / total
            J[n + 1, n] = self.top / ((1.0 + lam) * c)
        elif mode == "condensed":
            J[:n, n] = self._W_top / S        # A_j0 = e^{-u_j} / M_j
            J[n, n] = 1.0 / total
        elif mode == "critical":
            J[:, n] = d_lam
        return J, d_lam

    def residual(self, z, mode, lam=None, want_jacobian=False):
        """Residuals (and Jacobian) of the T9 equations.

        ``mode``: ``"grid"`` (``z = (y, log c)``, ``d_top > 0``), ``"regular"`` (``z = y``,
        ``c = 0``), ``"condensed"`` (``z = (y, c)``, ``d_top = 0``), ``"critical"``
        (``z = (y, lam)``, ``c = 0``).  Returns ``None`` where a denominator is <= 0, else
        ``R`` or, with ``want_jacobian``, ``(R, J, dR/dlam)`` (``dR/dlam`` at fixed ``z``; for
        ``"critical"`` it is the last column of ``J``)."""
        st = self.state(z, mode, lam)
        if st is None:
            return None
        if not want_jacobian:
            return st.R
        return (st.R,) + self._jacobian(st)

    def newton(self, z, mode, lam=None):
        """Gauss-Newton with backtracking from ``z``; returns ``(z, max residual, iterations)``
        or ``None`` if it does not converge to :data:`RESIDUAL_TOL`.  The Jacobian is formed
        only where another step is needed (the residual alone decides the line search and
        the stop)."""
        st = self.state(z, mode, lam)
        if st is None:
            return None
        R = st.R
        if np.abs(R).max() <= RESIDUAL_TOL:
            return z, float(np.abs(R).max()), 0
        for it in range(1, MAX_NEWTON + 1):
            J, _ = self._jacobian(st)
            step = _least_squares_step(J, R)
            norm = float(R @ R)
            alpha = 1.0
            while alpha > 1e-6:
                trial = self.state(z + alpha * step, mode, lam)
                if trial is not None and float(trial.R @ trial.R) < norm:
                    break
                alpha *= 0.5
            else:
                return (z, float(np.abs(R).max()), it) if np.abs(R).max() <= RESIDUAL_TOL \
                    else None
            st, z, R = trial, trial.z, trial.R
            small_step = float(np.abs(alpha * step).max()) <= 1e-15 * (1 + float(np.abs(z).max()))
            if np.abs(R).max() <= RESIDUAL_TOL or (small_step
                                                   and np.abs(R).max() <= 100 * RESIDUAL_TOL):
                return z, float(np.abs(R).max()), it
        return None

    def tangent(self, z, mode, lam):
        """``dz/dlam`` along the branch through the solution ``z`` (``J dz = -dR/dlam``)."""
        got = self.residual(z, mode, lam, want_jacobian=True)
        if got is None:
            return np.zeros_like(z)
        _, J, d_lam = got
        return _least_squares_step(J, d_lam)

    def normalized_top_mass(self, y, lam, c_guess, gap=None):
        r"""The top mass ``c`` that makes the grid law of ``y`` a probability (``|p| + c = 1``):
        the root of ``phi(x) = e^x + sum_k d_k / (d_top e^{-x} + lam (H_y(1) - H_y(s_k))) - 1``
        in ``x = log c`` (the masses of :meth:`masses`, ``"grid"``), or ``None``.

        ``phi`` increases from ``-1`` (``x -> -inf``) to ``+inf`` (at ``x -> inf`` or where a
        denominator reaches 0), so the root is unique; safeguarded Newton from
        ``log c_guess``, bisection where a step leaves the bracket
        (:func:`.t9_kernels.top_mass`).  ``gap``: :meth:`gap` of ``y``, if already at
        hand."""
        if gap is None:
            with np.errstate(over="ignore", invalid="ignore"):
                gap = self.gap(y)
        top = self.top
        if not top > 0:
            return None
        c = t9_kernels.top_mass(gap[self._rest_at], lam, self._d_rest, top,
                                math.log(c_guess) if c_guess > 0 else math.log(top))
        return None if math.isnan(c) else c

    def grid_map(self, y, lam, c_guess):
        r"""The T9 map at ``y`` on a grid (``d_top > 0``): the top mass ``c`` of
        :meth:`normalized_top_mass` and the residuals of :meth:`state` (``"grid"``) at ``z =
        (y, log c)``, as ``(z, R)``; ``None`` where :meth:`state` gives ``None`` or no ``c`` is
        found.

        The same quantities in fewer passes: ``H`` and the gap at the atoms from one product
        with the stacked kernels (``e^{(K-1) y}`` unscaled, as :meth:`h_atoms`), the masses by
        :func:`.t9_kernels.grid_masses`, then ``log M = ref + log(W_rest g + W_top c /
        d_top)``.  They agree with :meth:`state` to rounding (the sums are taken in another
        order)."""
        n, n_atoms = self.v.size, self.s.size
        top = self.top
        if not (lam > 0 and top > 0):
            return None
        self._gap_scaled()
        g = np.empty(self._d_rest.size)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            HG = self._stacked @ np.exp((self.K - 1.0) * y)
            c, p_sum = t9_kernels.grid_masses(
                HG[n_atoms:][self._rest_at], lam, self._d_rest, top,
                math.log(c_guess) if c_guess > 0 else math.log(top), g)
            if math.isnan(c):
                return None
            R = np.empty(n + 2)
            F = R[:n]
            np.log(self._W_rest @ g + self._W_top * (c / top), out=F)
            np.add(self._ref, F, out=F)
            F -= y
            R[n] = math.log(p_sum + c) if p_sum + c > 0 else -math.inf
            R[n + 1] = 1.0 - lam * HG[0] / (1.0 + lam) - top / ((1.0 + lam) * c)
        if not np.all(np.isfinite(R)):
            return None
        z = np.empty(n + 1)
        z[:n] = y
        z[n] = math.log(c)
        return z, R

    def iterate(self, lam, steps):
        r"""``steps`` iterates of ``T(p) = (p_d + lam p H_p / E_p[H]) / (1 + lam)`` from ``p_d``
        on the atoms (a grid's law: ``d_top > 0``), with ``H`` by the L2 rule of :meth:`h_atoms`;
        returns ``(y, c)``: ``log M`` at the nodes and the top mass of the last iterate.

        A start for :meth:`newton`, O(nodes x atoms) per iterate: the law is held as ``p_k =
        d_k g_k`` (``g = 1`` at ``p_d``) and ``M`` is the scaled product of :meth:`state`."""
        sup = np.flatnonzero(self.d > 0)
        d = self.d[sup]
        g = np.ones(sup.size)
        kern = self._kern if sup.size == self.d.size else self._kern[sup]   # grids: all
        W = self._W_all
        for _ in range(steps):
            total = float(d @ g)
            y = self._ref + np.log(W @ g) - math.log(total)
            h = kern @ np.exp((self.K - 1.0) * y)
            eh = float((d * g) @ h) / total
            g = (1.0 + lam * g * h / (total * eh)) / (1.0 + lam)
        total = float(d @ g)
        y = self._ref + np.log(W @ g) - math.log(total)
        c = float(d[0] * g[0]) / total if self.top > 0 else 0.0
        return y, c

    def start(self, c=None):
        """The unknowns at ``lam = 0`` (``p = p_d``): ``y = log M_{p_d}``."""
        p = self.d.copy()
        p[0] = 0.0
        return self.log_m(p, self.top if c is None else c)

    def solution(self, z, mode, lam, residual, iterations, path):
        n = self.v.size
        y = z[:n]
        if mode == "critical":
            lam = float(z[n])
        p, _, _ = self.masses(y, lam, mode, _top_mass(z, n, mode))
        return T9Solution(p, _top_mass(z, n, mode), y, lam, residual, iterations, path)


@dataclass
class _State:
    """What one evaluation of the T9 equations at ``z`` shares with its Jacobian."""

    z: np.ndarray
    mode: str
    lam: float
    y: np.ndarray
    c: float
    p: np.ndarray
    H: np.ndarray
    den: np.ndarray
    g: np.ndarray
    S: np.ndarray
    total: float
    R: np.ndarray


def _least_squares_step(J, R):
    """The Gauss-Newton step ``argmin |J x + R|`` (least squares by a complete orthogonal
    factorization with column pivoting, LAPACK ``gelsy``: the system has one more equation
    than unknowns on grids, and is near-singular at a critical point, where the columns beyond
    the numerical rank, ``eps max(J.shape)`` relative, are dropped as an SVD cut would; 3-4x
    faster than the SVD of ``numpy.linalg.lstsq`` at these sizes)."""
    return scipy.linalg.lstsq(J, -R, cond=np.finfo(float).eps * max(J.shape),
                              lapack_driver="gelsy", check_finite=False)[0]


def _top_mass(z, n, mode):
    """The top mass ``c`` carried by the unknowns ``z`` of ``mode``."""
    if mode == "grid":
        return math.exp(z[n])
    if mode == "condensed":
        return float(z[n])
    return 0.0


def _continuation(system, mode, z0, lam_target, lam0=0.0, first_step=None):
    """Follow the solution from ``lam0`` (where ``z0`` solves the system) to ``lam_target``
    with a tangent predictor and a Newton corrector, in steps of ``theta = lam/(1+lam)``
    adapted to the corrector's work.  Returns ``(z, residual, iterations, lam_reached)``:
    ``lam_reached < lam_target`` where the branch ends (a denominator reaches 0) or the
    corrector fails on ever smaller steps."""
    theta_target = lam_target / (1.0 + lam_target)
    theta, z, lam = lam0 / (1.0 + lam0), z0, lam0
    dtheta = first_step or (theta_target - theta) / 4
    total_it, res = 0, math.inf
    slope = system.tangent(z, mode, lam) if lam > 0 else None
    while theta < theta_target:
        nxt = min(theta_target, theta + dtheta)
        # the last step lands on lam_target itself (theta -> lam rounds: 2/3 -> 1.9999999999999998)
        lam_next = lam_target if nxt == theta_target else nxt / (1.0 - nxt)
        guess = z if slope is None else z + slope * (lam_next - lam)
        got = system.newton(guess, mode, lam_next)
        if got is None and slope is not None:
            got = system.newton(z, mode, lam_next)
        if got is None:
            dtheta *= 0.25
            if dtheta < MIN_THETA_STEP:
                break
            continue
        z, res, it = got
        total_it += it
        theta, lam = nxt, lam_next
        slope = system.tangent(z, mode, lam)
        dtheta *= 2.0 if it <= 3 else (1.0 if it <= 6 else 0.5)
    lam_reached = lam_target if theta >= theta_target else lam
    return z, res, total_it, lam_reached


def solve_t9(system, lam, start=None):
    """The fixed point for ``lam`` on a law with a top atom (``d_top > 0``: grids).

    ``start``: ``(y, c)`` (e.g. from :meth:`T9System.iterate`; default: ``p_d``).  From there
    the T9 map iterated with Anderson acceleration (:func:`~.t9_iteration.anderson_grid`),
    then, if it stalls, Gauss-Newton from its best iterate and from ``start``, and failing
    those, continuation in ``lam`` from ``p_d``."""
    from .t9_iteration import anderson_grid
    y0, c0 = start if start is not None else (system.start(), system.top)
    got = anderson_grid(system, lam, y0, c0, RESIDUAL_TOL)
    if got is not None:
        z, res, it, converged = got
        if converged:
            return system.solution(z, "grid", lam, res, it,
                                   "the T9 map with Anderson acceleration")
        newton = system.newton(z, "grid", lam)
        if newton is not None:
            z, res, it2 = newton
            return system.solution(z, "grid", lam, res, it + it2,
                                   "Newton from the T9 map with Anderson acceleration")
    got = system.newton(np.append(y0, math.log(c0)), "grid", lam)
    if got is not None:
        z, res, it = got
        return system.solution(z, "grid", lam, res, it, "Newton from the start")
    z0 = np.append(system.start(), math.log(system.top))
    z, res, it, reached = _continuation(system, "grid", z0, lam)
    if reached < lam:
        raise ArithmeticError(f"T9: continuation in lam stalled at lam = {reached:.6g}")
    return system.solution(z, "grid", lam, res, it, "continuation in lam from p_d")


def solve_continuous(system, lam):
    """The fixed point for ``lam`` on a law without a top atom (a discretized continuous law):
    the regular branch from ``p_d`` (``lam = 0``) while it exists, then, past the critical
    ``lam_c`` (solved for), the condensed branch.  Returns ``(solution, lam_c or None)``."""
    z, res, it, reached = _continuation(system, "regular", system.start(c=0.0), lam)
    if reached >= lam:
        return system.solution(z, "regular", lam, res, it, "regular branch (no condensate)"), \
            None
    crit = system.newton(np.append(z, reached), "critical")
    if crit is None:
        raise ArithmeticError(f"T9: the regular branch ends at lam = {reached:.6g} but the "
                              "critical point could not be solved")
    zc, _, it_c = crit
    lam_c = float(zc[-1])
    n = system.v.size
    z, res, it2, reached = _continuation(system, "condensed", np.append(zc[:n], 0.0), lam,
                                         lam0=lam_c)
    if reached < lam:
        raise ArithmeticError(f"T9: the condensed branch stalled at lam = {reached:.6g}")
    return (system.solution(z, "condensed", lam, res, it + it_c + it2,
                            f"condensed branch from the critical lam_c = {lam_c:.12g}"), lam_c)


def critical_lam(system, lam_max=1e4):
    """The smallest ``lam`` at which the fixed point condenses (``math.inf`` if none up to
    ``lam_max``): the end of the regular branch, refined by Newton on the critical system
    (unknowns ``y`` and ``lam``; ``c = 0``, ``H(1) = (1 + lam)/lam``)."""
    z, _, _, reached = _continuation(system, "regular", system.start(c=0.0), lam_max)
    if reached >= lam_max:
        return math.inf
    crit = system.newton(np.append(z, reached), "critical")
    if crit is None:
        raise ArithmeticError(f"T9: the regular branch ends at lam = {reached:.6g} but the "
                              "critical point could not be solved")
    return float(crit[0][-1])
