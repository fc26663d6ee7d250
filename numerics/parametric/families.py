r"""Exponential families discretized on a grid (THEORY.md section 5).

A family is ``p_theta(cell) = h(cell) exp(theta . T(cell)) / Z(theta)`` over the cells of a
grid: ``h >= 0`` the base masses (for a density on a grid: the cell volumes) and ``T`` the
``d`` sufficient statistics evaluated at the cell centres.  Everything is computed exactly by
quadrature over the cells (sums), in log space:

- ``log Z(theta) = log sum_cells h e^{theta . T}``;
- mean parameters ``m(theta) = E_theta[T] = grad log Z``;
- ``Cov_theta[T] = Hess log Z`` (positive definite when the statistics are affinely
  independent on the support of ``h``);
- the MLE of a law ``q`` on the grid is moment matching, ``E_theta[T] = E_q[T]``, solved as the
  convex problem ``min_theta log Z(theta) - theta . m`` by damped Newton with the exact
  gradient and Hessian above (:meth:`ExponentialFamily.fit`).

Internally the statistics are standardized, ``T' = (T - c) / s`` (``c``, ``s`` the mean and
standard deviation of each statistic under ``h``): the same family, better conditioned; the
natural parameters users see are those of ``T`` (``theta = theta' / s``).

>>> import numpy as np
>>> from numerics.parametric import Gaussian
>>> x = np.linspace(-20, 20, 4001)
>>> g = Gaussian((x,))
>>> theta = g.natural_from_mean_cov([0.5], [[2.0]])
>>> mu, cov = g.mean_cov(g.mean(theta))
>>> round(float(mu[0]), 12), round(float(cov[0, 0]), 12)
(0.5, 2.0)
"""

from __future__ import annotations

import numpy as np

from ..laplace import log_sum_exp
from ..validation import as_mass

__all__ = ["ExponentialFamily", "Gaussian", "FitError"]


class FitError(ValueError):
    """The moment equation ``E_theta[T] = m`` has no solution (``m`` is not in the interior
    of the convex hull of ``T`` over the support of ``h``) or Newton did not converge."""


class ExponentialFamily:
    r"""``p_theta(cell) ∝ h(cell) exp(theta . T(cell))`` on a grid (THEORY.md section 5).

    Parameters
    ----------
    stats : array_like, shape ``(d, *grid)``
        the sufficient statistics ``T_1..T_d`` at every cell (finite).
    base : array_like, shape ``grid``, optional
        the base masses ``h >= 0`` (default 1 at every cell).
    names : sequence of str, optional
        a name per statistic (for reports).

    Attributes
    ----------
    stats_flat : ndarray, shape ``(d, N)``
        the statistics ``T`` at the ``N`` cells (flattened grid).
    std_stats : ndarray, shape ``(d, N)``
        the standardized statistics ``T' = (T - c) / s``.
    stat_scale : ndarray, shape ``(d,)``
        ``s``, the standard deviation of each statistic under ``h``.
    """

    def __init__(self, stats, base=None, names=None):
        try:
            T = np.asarray(stats, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"stats must be an array of real numbers: {exc}") from None
        if T.ndim < 2 or T.shape[0] < 1 or T[0].size < 2:
            raise ValueError(f"stats must have shape (d, *grid) with d >= 1 and at least 2 "
                             f"cells, got shape {T.shape}")
        if not np.isfinite(T).all():
            raise ValueError("stats contains NaN or an infinite value")
        self.shape = T.shape[1:]
        self.dim = T.shape[0]
        if base is None:
            h = np.ones(self.shape)
        else:
            h = as_mass(base, "base")
            if h.shape != self.shape:
                raise ValueError(f"base has shape {h.shape}, expected {self.shape} (the grid "
                                 f"of stats)")
        self.names = tuple(names) if names is not None else tuple(f"T{i}" for i in
                                                                   range(self.dim))
        if len(self.names) != self.dim:
            raise ValueError(f"names has {len(self.names)} entries, expected {self.dim}")
        flat = T.reshape(self.dim, -1)
        keep = h.ravel() > 0
        self.stats_flat = flat                   # original statistics (d, N)
        self._log_h = np.full(flat.shape[1], -np.inf)
        self._log_h[keep] = np.log(h.ravel()[keep] / h.max())
        w = np.exp(self._log_h)
        w /= w.sum()
        c = flat @ w
        s = np.sqrt(((flat - c[:, None]) ** 2) @ w)
        if not np.all(s > 0):
            bad = [self.names[i] for i in np.flatnonzero(~(s > 0))]
            raise ValueError(f"stats: statistic(s) {bad} are constant on the support of base")
        self._c, self.stat_scale = c, s
        self.std_stats = (flat - c[:, None]) / s[:, None]    # standardized T' (d, N)
        cov = (self.std_stats * w) @ self.std_stats.T
        if np.linalg.eigvalsh(cov)[0] <= 1e-12:
            raise ValueError("stats are affinely dependent on the support of base (the "
                             "family is not identifiable)")

    # ---------------------------------------------------------------- conversions
    def to_std(self, theta):
        """Natural parameters of the standardized statistics: ``theta' = theta s``."""
        return np.asarray(theta, dtype=float) * self.stat_scale

    def from_std(self, theta_std):
        """Natural parameters of ``T`` from those of ``T'``: ``theta = theta' / s``."""
        return np.asarray(theta_std, dtype=float) / self.stat_scale

    def mean_to_std(self, m):
        """Mean parameters of ``T'`` from those of ``T``: ``(m - c) / s``."""
        return (np.asarray(m, dtype=float) - self._c) / self.stat_scale

    def mean_from_std(self, m_std):
        """Mean parameters of ``T`` from those of ``T'``: ``m' s + c``."""
        return np.asarray(m_std, dtype=float) * self.stat_scale + self._c

    def check_theta(self, theta, name="theta"):
        """``theta`` as ``d`` finite floats; ``ValueError`` naming ``name`` otherwise."""
        th = np.asarray(theta, dtype=float)
        if th.shape != (self.dim,):
            raise ValueError(f"{name} must have shape ({self.dim},), got {th.shape}")
        if not np.isfinite(th).all():
            raise ValueError(f"{name} contains NaN or an infinite value")
        return th

    # ---------------------------------------------------------------- quadrature
    def _log_weights_std(self, theta_std):
        return self._log_h + theta_std @ self.std_stats

    def probs_std(self, theta_std):
        """The flat normalized masses ``p_theta`` for standardized parameters ``theta'``."""
        a = self._log_weights_std(theta_std)
        a = a - a.max()
        p = np.exp(a)
        return p / p.sum()

    def masses(self, theta):
        """The masses ``p_theta`` on the grid (normalized, shaped like the grid)."""
        th = self.check_theta(theta)
        return self.probs_std(self.to_std(th)).reshape(self.shape)

    def log_partition(self, theta):
        """``log Z(theta) = log sum h e^{theta . T}`` (with ``h`` scaled to max 1)."""
        th = self.check_theta(theta)
        return float(log_sum_exp(self._log_h + th @ self.stats_flat))

    def moments(self, mass, name="mass"):
        """``E_q[T]`` for masses ``q`` on the grid (normalized internally)."""
        q = as_mass(mass, name)
        if q.shape != self.shape:
            raise ValueError(f"{name} has shape {q.shape}, expected {self.shape}")
        q = q.ravel() / q.sum()
        return self.stats_flat @ q

    def moments_cov_std(self, q):
        """``E_q[T']`` and ``Cov_q[T']`` (standardized statistics) for flat masses ``q``."""
        m = self.std_stats @ q
        d = self.std_stats - m[:, None]
        return m, (d * q) @ d.T

    def mean(self, theta):
        """Mean parameters ``m(theta) = E_theta[T]``."""
        th = self.check_theta(theta)
        return self.stats_flat @ self.probs_std(self.to_std(th))

    def cov(self, theta):
        """``Cov_theta[T]`` = the Hessian of ``log Z`` = ``-Hess_theta log p_theta(x)`` at
        every ``x`` (so the Hessian of the log-likelihood does not depend on ``x``: ``L = 0``
        in S2)."""
        th = self.check_theta(theta)
        return self.cov_of(self.probs_std(self.to_std(th)))

    def cov_of(self, mass):
        """``Cov_q[T]`` for masses ``q`` on the grid."""
        q = np.asarray(mass, dtype=float).ravel()
        q = q / q.sum()
        d = self.stats_flat - (self.stats_flat @ q)[:, None]
        return (d * q) @ d.T

    # ---------------------------------------------------------------- MLE
    def fit(self, target, theta0=None, *, tol=1e-13, max_iter=200):
        r"""The MLE of a law with mean parameters ``target = E_q[T]``: the ``theta`` with
        ``E_theta[T] = target``, by damped Newton on ``log Z(theta) - theta . m`` (convex;
        gradient ``E_theta[T] - m``, Hessian ``Cov_theta[T]``, both exact sums over the grid).
        Stops when the standardized gradient is below ``tol``.  Raises :class:`FitError`
        when no solution exists or Newton stalls."""
        m = np.asarray(target, dtype=float)
        if m.shape != (self.dim,) or not np.isfinite(m).all():
            raise ValueError(f"target must be {self.dim} finite mean parameters, got {m!r}")
        ms = self.mean_to_std(m)
        th = np.zeros(self.dim) if theta0 is None else self.to_std(self.check_theta(
            theta0, "theta0"))

        def objective(t):
            return float(log_sum_exp(self._log_weights_std(t))) - float(t @ ms)

        f = objective(th)
        for _ in range(max_iter):
            p = self.probs_std(th)
            mean, cov = self.moments_cov_std(p)
            g = mean - ms
            if np.max(np.abs(g)) <= tol:
                return self.from_std(th)
            try:
                step = np.linalg.solve(cov, g)
            except np.linalg.LinAlgError:
                break
            if not np.isfinite(step).all():
                break
            dec = float(g @ step)                      # Newton decrement squared
            t = 1.0
            while t > 1e-12:
                cand = th - t * step
                fc = objective(cand)
                if np.isfinite(fc) and fc <= f - 0.25 * t * dec + 1e-15 * abs(f):
                    break
                t *= 0.5
            else:
                break
            th, f = cand, fc
        p = self.probs_std(th)
        g = self.std_stats @ p - ms
        if np.max(np.abs(g)) <= 1e3 * tol:
            return self.from_std(th)
        raise FitError(f"no MLE: the mean parameters {m.tolist()} are not attained by the "
                       f"family on this grid (gradient {np.max(np.abs(g)):.3g} after Newton; "
                       f"they must lie inside the convex hull of T over the support)")


class Gaussian(ExponentialFamily):
    r"""The Gaussian family on a 1-D or 2-D grid, full covariance, discretized:
    ``p(cell) ∝ vol(cell) exp(-(x - mu)^T Sigma^{-1} (x - mu) / 2)`` at the cell centres,
    ``vol`` the product of ``np.gradient`` of the axes (as ``simulate --model gaussian``).

    Statistics ``T = (x_1, .., x_D, x_i x_j for i <= j)``; natural parameters
    ``theta = (P mu, -P_ii/2 on x_i^2, -P_ij on x_i x_j for i < j)`` with ``P = Sigma^{-1}``.

    Parameters
    ----------
    axes : tuple of 1-D arrays
        the cell centres along each axis (``Scenario.axes``); 1 or 2 axes.
    """

    def __init__(self, axes):
        if isinstance(axes, np.ndarray) and axes.ndim == 1:
            axes = (axes,)
        try:
            axes = tuple(np.asarray(a, dtype=float) for a in axes)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"axes must be a tuple of 1-D arrays: {exc}") from None
        if len(axes) not in (1, 2) or any(a.ndim != 1 or a.size < 3 for a in axes):
            raise ValueError("axes must be 1 or 2 one-dimensional arrays of >= 3 cell centres")
        if any(not np.isfinite(a).all() for a in axes):
            raise ValueError("axes contain NaN or an infinite value")
        self.axes = axes
        D = len(axes)
        grids = np.meshgrid(*axes, indexing="ij")
        vol = np.ones(grids[0].shape)
        for i, a in enumerate(axes):
            w = np.abs(np.gradient(a))
            s = [1] * D
            s[i] = a.size
            vol = vol * w.reshape(s)
        self.pairs = [(i, j) for i in range(D) for j in range(i, D)]
        stats = [g for g in grids] + [grids[i] * grids[j] for i, j in self.pairs]
        names = [f"x{i}" for i in range(D)] + [f"x{i}x{j}" for i, j in self.pairs]
        super().__init__(np.stack(stats), vol, names)
        self.D = D

    def mean_cov(self, m):
        """``(mu, Sigma)`` from mean parameters ``m = (E[x], E[x_i x_j])``."""
        m = np.asarray(m, dtype=float)
        D = self.D
        mu = m[:D]
        second = np.empty((D, D))
        for k, (i, j) in enumerate(self.pairs):
            second[i, j] = second[j, i] = m[D + k]
        return mu.copy(), second - np.outer(mu, mu)

    def mean_params(self, mu, cov):
        """Mean parameters ``(mu, E[x_i x_j] = Sigma_ij + mu_i mu_j)``."""
        mu = np.asarray(mu, dtype=float).reshape(self.D)
        S = np.asarray(cov, dtype=float).reshape(self.D, self.D) + np.outer(mu, mu)
        return np.concatenate([mu, [S[i, j] for i, j in self.pairs]])

    def natural_from_mean_cov(self, mu, cov):
        """The natural parameters of the discretized ``N(mu, Sigma)`` (plug-in: the grid
        moments equal ``mu, Sigma`` only up to the discretization error)."""
        mu = np.asarray(mu, dtype=float).reshape(self.D)
        P = np.linalg.inv(np.asarray(cov, dtype=float).reshape(self.D, self.D))
        quad = [-P[i, i] / 2 if i == j else -P[i, j] for i, j in self.pairs]
        return np.concatenate([P @ mu, quad])
