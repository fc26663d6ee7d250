r"""The parametric retraining map ``G`` and its Jacobian (THEORY.md section 5, S1, S3).

One generation: the model ``p_theta`` (a member of an :class:`ExponentialFamily` on the
grid), the training law ``q = (p_d + lam C_K(p_theta)) / (1 + lam)`` (``q = C_K(p_theta)`` for
``lam = inf``), the next model its MLE: moment matching ``E_{theta'}[T] = E_q[T]``.  In mean
parameters ``m = E_theta[T]``:

    G(m) = E_q[T] = (m_d + lam E_{C_K(p_theta(m))}[T]) / (1 + lam),   m_d = E_{p_d}[T].

Everything is a finite sum over the grid; the curation is one call to
:func:`numerics.curate` (so another curation rule can be substituted there).

Jacobian.  With ``F(theta) = E_q[T]`` (a function of the natural parameters) and
``dm/dtheta = Cov_theta[T]``, ``DG = DF(theta) Cov_theta[T]^{-1}`` (similar to the Jacobian
of the map in natural parameters, so the same spectrum).  ``DF`` is computed

- ``K = inf`` (analytic): ``C(p_theta) ∝ h e^{theta . T + r}`` is the tilted family, so
  ``d E_C[T] / dtheta = Cov_{C(p_theta)}[T]`` and
  ``DG = lam/(1+lam) Cov_{C(p)}[T] Cov_p[T]^{-1}``;
- ``K = 1`` (analytic, no curation): ``DG = lam/(1+lam) I`` (S1);
- any other ``K`` (or rule): Richardson-extrapolated central differences in the natural
  parameters, steps ``h, h/2, h/4`` (``h_j = 0.05 / sd_theta(T_j)`` in standardized
  statistics), extrapolated twice (error ``O(h^6)``); the reported error estimate is the
  largest difference between the last two extrapolation levels.

All of it runs in standardized statistics (see :mod:`numerics.parametric.families`); the
mean-parameter Jacobian returned is in the original units (``diag(s) DG' diag(1/s)``).
"""

from __future__ import annotations

import math

import numpy as np

from ..curation import curate
from ..validation import as_reward, check_K, check_lam, check_data
from .families import ExponentialFamily

__all__ = ["RetrainingMap", "JacobianResult"]

#: relative size of the first difference step (in standard deviations of theta . T)
DIFF_STEP = 0.05


class JacobianResult:
    """``matrix``: ``DG`` in mean parameters (original units); ``matrix_std``: the same in
    standardized statistics (similar matrix); ``error``: the estimated absolute error of the
    entries of ``matrix_std`` (0 for the analytic routes: rounding only); ``method``."""

    def __init__(self, matrix, matrix_std, error, method):
        self.matrix, self.matrix_std, self.error, self.method = matrix, matrix_std, error, method


class RetrainingMap:
    r"""``G``: one generation of parametric retraining (THEORY.md section 5).

    Parameters
    ----------
    family : ExponentialFamily
    reward : array_like shaped like the family's grid
    K : float, real ``>= 1`` or ``math.inf``
    lam : float, ``>= 0`` or ``math.inf`` (curated data only)
    data : array_like or None
        the real-data masses ``p_d`` (required for a finite ``lam``).
    method : passed to :func:`numerics.curate`.
    fit : {"mle", "plugin"}
        how the next model is obtained from the mean parameters ``m``: ``"mle"`` (default)
        solves ``E_theta[T] = m`` on the grid; ``"plugin"`` (Gaussian families only) takes
        ``N(mu, Sigma)`` with the moments of ``m`` as parameters and discretizes it, as
        ``simulate(model="gaussian")`` does (its grid moments differ from ``m`` by the
        discretization error).  The Jacobian of the plug-in map is computed by Richardson
        differences in mean parameters.
    """

    def __init__(self, family, reward, K, lam=math.inf, data=None, *, method="auto",
                 fit="mle"):
        if fit not in ("mle", "plugin"):
            raise ValueError(f"fit must be 'mle' or 'plugin', got {fit!r}")
        if fit == "plugin" and not hasattr(family, "natural_from_mean_cov"):
            raise ValueError("fit='plugin' needs a Gaussian family")
        self.fit = fit
        if not isinstance(family, ExponentialFamily):
            raise TypeError(f"family must be an ExponentialFamily (e.g. Gaussian(axes)), got "
                            f"{type(family).__name__}")
        self.family = family
        self.reward = as_reward(reward, family.shape)
        self.K = check_K(K)
        self.lam = check_lam(lam)
        d = check_data(data, self.lam, family.shape)
        self.data = None if d is None else d / d.sum()
        self.method = method
        fam = family
        self._md_std = None if self.data is None else fam.std_stats @ self.data.ravel()
        w = self.lam / (1.0 + self.lam) if math.isfinite(self.lam) else 1.0
        self.weight = w                         # the weight of the curated part in q

    # ---------------------------------------------------------------- the map
    def curated(self, p):
        """``C_K(p)`` (flat masses), one call to :func:`numerics.curate`."""
        return curate(p.reshape(self.family.shape), self.reward, self.K,
                      method=self.method).ravel()

    def training_law(self, theta):
        """``q = (p_d + lam C_K(p_theta)) / (1 + lam)`` on the grid."""
        p = self.family.masses(theta).ravel()
        return self.mix(self.curated(p)).reshape(self.family.shape)

    def mix(self, c):
        """The next model's masses from the curated masses ``c``: ``(p_d + lam c)/(1 + lam)``
        (``c`` itself without real data, ``p_d`` for ``lam = 0``), flat."""
        if self.data is None:
            return c
        if self.lam == 0:
            return self.data.ravel()
        return (self.data.ravel() + self.lam * c) / (1.0 + self.lam)

    def _F_std(self, theta_std, p=None):
        """``E_q[T']`` (standardized) as a function of standardized natural parameters."""
        fam = self.family
        if p is None:
            p = fam.probs_std(theta_std)
        if self.lam == 0:
            return self._md_std.copy()
        c = self.curated(p)
        mc = fam.std_stats @ c
        if self.data is None:
            return mc
        return (self._md_std + self.lam * mc) / (1.0 + self.lam)

    def next_mean(self, theta):
        """``F(theta) = E_q[T]``: the mean parameters of the next model."""
        th = self.family.check_theta(theta)
        return self.family.mean_from_std(self._F_std(self.family.to_std(th)))

    def model_theta(self, m, theta0=None):
        """The natural parameters of the model fitted to mean parameters ``m`` (MLE or
        plug-in, see ``fit``)."""
        if self.fit == "plugin":
            return self.family.natural_from_mean_cov(*self.family.mean_cov(m))
        return self.family.fit(m, theta0)

    def __call__(self, m, theta0=None):
        """``G(m)``: mean parameters to mean parameters (the fit of ``m`` first)."""
        return self.next_mean(self.model_theta(m, theta0))

    def step(self, theta):
        """The next natural parameters: the fit of ``q`` (``theta_{t+1}``)."""
        return self.model_theta(self.next_mean(theta), theta0=theta)

    # ---------------------------------------------------------------- the Jacobian
    def _DF_std(self, theta_std):
        """``dF'/dtheta'`` in standardized coordinates, its error estimate and the method."""
        fam = self.family
        p = fam.probs_std(theta_std)
        w = self.weight
        if self.lam == 0:
            return np.zeros((fam.dim, fam.dim)), 0.0, "analytic (lam = 0: G is constant)"
        if self.K == 1:
            _, cov = fam.moments_cov_std(p)
            return w * cov, 0.0, "analytic (K = 1: no curation, S1)"
        if math.isinf(self.K):
            c = self.curated(p)
            _, cov_c = fam.moments_cov_std(c)
            return w * cov_c, 0.0, "analytic (K = inf: d E_C[T]/d theta = Cov_C[T])"
        return self._richardson(theta_std, p)

    def _richardson(self, theta_std, p):
        fam = self.family
        _, cov = fam.moments_cov_std(p)
        h0 = DIFF_STEP / np.sqrt(np.diag(cov))
        d = fam.dim
        levels = []                              # central differences at h, h/2, h/4
        for k in range(3):
            D = np.empty((d, d))
            for j in range(d):
                e = np.zeros(d)
                e[j] = h0[j] / 2 ** k
                D[:, j] = (self._F_std(theta_std + e) - self._F_std(theta_std - e)) / (2 * e[j])
            levels.append(D)
        R1a = (4 * levels[1] - levels[0]) / 3
        R1b = (4 * levels[2] - levels[1]) / 3
        R2 = (16 * R1b - R1a) / 15
        err = float(np.max(np.abs(R2 - R1b)))
        return R2, err, ("Richardson-extrapolated central differences (h, h/2, h/4; error "
                         "estimate = largest |last two extrapolation levels|)")

    def _plugin_jacobian(self, theta):
        """Richardson differences of ``m -> G(m)`` in standardized mean parameters (plug-in)."""
        fam = self.family
        p = fam.probs_std(fam.to_std(theta))
        m0, cov = fam.moments_cov_std(p)
        h0 = DIFF_STEP * np.sqrt(np.diag(cov))

        def G_std(ms):
            return fam.mean_to_std(self(fam.mean_from_std(ms)))
        levels = []
        for k in range(3):
            D = np.empty((fam.dim, fam.dim))
            for j in range(fam.dim):
                e = np.zeros(fam.dim)
                e[j] = h0[j] / 2 ** k
                D[:, j] = (G_std(m0 + e) - G_std(m0 - e)) / (2 * e[j])
            levels.append(D)
        R1a = (4 * levels[1] - levels[0]) / 3
        R1b = (4 * levels[2] - levels[1]) / 3
        R2 = (16 * R1b - R1a) / 15
        err = float(np.max(np.abs(R2 - R1b)))
        s = fam.stat_scale
        return JacobianResult((s[:, None] * R2) / s[None, :], R2, err,
                              "Richardson differences of the plug-in map in mean parameters")

    def jacobian(self, theta):
        """``DG`` in mean parameters at the model ``p_theta`` (see the module doc)."""
        fam = self.family
        if self.fit == "plugin":
            return self._plugin_jacobian(fam.check_theta(theta))
        th_std = fam.to_std(fam.check_theta(theta))
        DF, err, method = self._DF_std(th_std)
        _, cov = fam.moments_cov_std(fam.probs_std(th_std))
        DG_std = np.linalg.solve(cov.T, DF.T).T          # DF Cov^{-1}
        if err:
            # propagate the entrywise error of DF through Cov^{-1} (row sums of |Cov^{-1}|)
            err = float(err * np.max(np.abs(np.linalg.inv(cov)).sum(axis=0)))
        s = fam.stat_scale
        DG = (s[:, None] * DG_std) / s[None, :]
        return JacobianResult(DG, DG_std, err, method)
