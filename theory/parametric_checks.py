r"""Checks of THEORY.md section 5, finite capacity (S1, and the Gaussian ``K = inf`` closed
form of S3).

They take a family and data, not a run of the nonparametric loop, so they are not in
:data:`theory.STATEMENTS` (whose checks run on every :func:`theory.check`); each returns a
:class:`theory.report.CheckResult`.

- :func:`check_s1`: without curation (``K = 1``, ``H = 1``) the map in mean parameters is
  ``m -> (m_d + lam m)/(1+lam)``, so ``DG = lam/(1+lam) I``.  The Jacobian is measured by
  central differences of the map itself in mean parameters (MLE by Newton, curation by
  :func:`numerics.curate`, mixing), not by the analytic shortcut of
  :class:`numerics.parametric.RetrainingMap`; since the map is affine, differences are exact up
  to rounding (``~1e-13`` per entry, divided by the step ``1e-2``).
- :func:`check_gaussian_kinf`: ``K = inf``, ``r(x) = -(x-c)^T A (x-c)/2``, Gaussian data: the
  tilt of ``N(mu, S)`` is ``N(mu', S')``, ``S'^{-1} = S^{-1} + A``, ``mu' = S'(S^{-1} mu + A c)``
  (T4 with ``t = 1``), ``q`` the two-Gaussian mixture, the MLE its moments
  (:func:`gaussian_kinf_map`, in mpmath at 40 digits).  The map at a point, the fixed point
  (``mpmath.findroot`` on the closed form) and the Jacobian there (``mpmath.diff`` of the closed
  form) are held against the grid computation.  Discretization: on a uniform grid of step
  ``h`` wide enough that the Gaussian mass outside is negligible, the cell sums of a Gaussian's
  moments equal the integrals up to the aliasing term ``exp(-2 pi^2 sigma^2 / h^2)`` (Poisson
  summation), below ``1e-300`` for the grids used (``sigma / h >= 10``); so the continuous
  closed form is the reference.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np

from .report import CheckResult

__all__ = ["check_s1", "check_gaussian_kinf", "gaussian_kinf_map", "S1_STATEMENT",
           "S3_GAUSS_STATEMENT"]

S1_STATEMENT = "no curation: DG = lam/(1+lam) I in mean parameters, spectral radius lam/(1+lam)"
S3_GAUSS_STATEMENT = ("K = inf, quadratic reward, Gaussian data: G = moment matching of "
                      "(N(mu_d,S_d) + lam N(mu',S'))/(1+lam), S'^-1 = S^-1 + A")


def _record(stmt_id, statement, predicted, measured, tol, note, **details):
    slack = float(measured) - float(predicted)
    holds = bool(math.isfinite(slack) and abs(slack) <= tol)
    return CheckResult(stmt_id, statement, True, predicted=float(predicted),
                       measured=float(measured), slack=slack, holds=holds, tolerance=float(tol),
                       relation="=", note=note, details=details)


def check_s1(family, data, lam, *, reward=None, K=1, predicted=None, tol=1e-10, step=1e-2):
    r"""S1 on ``family``: the Jacobian of ``G`` (``K = 1`` by default: no curation) at the data
    MLE, by central differences in mean parameters, against ``predicted(lam) I`` (default
    ``lam/(1+lam)``).  ``measured`` = the spectral radius; the record holds iff every entry of
    the Jacobian is within ``tol`` of the prediction (and so is the radius).  ``reward``/``K``
    exist to show the check failing on a curated map."""
    from numerics.parametric import RetrainingMap

    predicted = predicted or (lambda lam: lam / (1 + lam))
    reward = np.zeros(family.shape) if reward is None else reward
    G = RetrainingMap(family, reward, K, lam, data)
    theta = family.fit(family.moments(data), tol=1e-15)
    _, cov = family.moments_cov_std(family.probs_std(family.to_std(theta)))
    m0 = family.std_stats @ family.probs_std(family.to_std(theta))
    d = family.dim
    J = np.empty((d, d))
    for j in range(d):
        h = step * math.sqrt(cov[j, j])
        outs = []
        for sgn in (1, -1):
            m = m0.copy()
            m[j] += sgn * h
            th = family.fit(family.mean_from_std(m), theta0=theta, tol=1e-15)
            outs.append(family.mean_to_std(G.next_mean(th)))
        J[:, j] = (outs[0] - outs[1]) / (2 * h)
    pred = predicted(lam)
    radius = float(np.max(np.abs(np.linalg.eigvals(J))))
    entry_err = float(np.max(np.abs(J - pred * np.eye(d))))
    rec = _record("S1", S1_STATEMENT, pred, radius, tol,
                  f"largest entry error of DG - lam/(1+lam) I: {entry_err:.3g} "
                  f"(central differences in mean parameters, step {step:g} sd)",
                  jacobian=J.tolist(), entry_error=entry_err)
    rec.holds = rec.holds and entry_err <= tol
    return rec


# ----------------------------------------------------------------- Gaussian, K = inf
def _mat(a):
    a = np.atleast_2d(np.asarray(a, dtype=object))
    return mp.matrix([[mp.mpf(v) for v in row] for row in a.tolist()])


def gaussian_kinf_map(mu, cov, data_mu, data_cov, center, A, lam):
    r"""The closed form of ``G`` for ``K = inf``, ``r = -(x-c)^T A (x-c)/2``, ``p_d = N(mu_d,
    S_d)``, in mpmath (current precision): ``p = N(mu, S)`` is tilted to ``N(mu', S')`` with
    ``S'^{-1} = S^{-1} + A``, ``mu' = S'(S^{-1} mu + A c)``; the next model has the moments of
    ``(N(mu_d, S_d) + lam N(mu', S'))/(1+lam)``:
    ``mu+ = (mu_d + lam mu')/(1+lam)``,
    ``S+ = (S_d + mu_d mu_d^T + lam (S' + mu' mu'^T))/(1+lam) - mu+ mu+^T``.
    Arguments are mpmath matrices (column vectors / square); returns ``(mu+, S+)``."""
    Sp_inv = cov ** -1 + A
    Sp = Sp_inv ** -1
    mup = Sp * (cov ** -1 * mu + A * center)
    w = mp.mpf(lam) / (1 + lam)
    mun = (data_mu + lam * mup) / (1 + lam)
    second = (data_cov + data_mu * data_mu.T + lam * (Sp + mup * mup.T)) / (1 + lam)
    return mun, second - mun * mun.T


def _closed_form_in_mean_params(D, pairs, data_mu, data_cov, center, A, lam):
    """``G`` as a function of the mean parameters ``(mu, E[x_i x_j])`` (mpmath)."""
    def G(*m):
        mu = mp.matrix([m[i] for i in range(D)])
        second = mp.matrix(D, D)
        for k, (i, j) in enumerate(pairs):
            second[i, j] = second[j, i] = m[D + k]
        mun, Sn = gaussian_kinf_map(mu, second - mu * mu.T, data_mu, data_cov, center, A,
                                    lam)
        sec = Sn + mun * mun.T
        return [mun[i] for i in range(D)] + [sec[i, j] for i, j in pairs]
    return G


def check_gaussian_kinf(family, data_mu, data_cov, center, A, lam, *, point=None, tol=1e-9,
                        dps=40):
    r"""The grid computation for ``K = inf``, quadratic reward and Gaussian data against the
    closed form (see the module doc): the map at ``point`` (mean, cov; default the data),
    the fixed point, and the Jacobian there; ``measured`` = the largest absolute error over
    the three, relative to ``1 + |value|``.  Returns ``(record, errors)`` with ``errors`` =
    ``{"map": .., "fixed_point": .., "jacobian": .., "radius": ..}``."""
    from numerics.parametric import RetrainingMap, stability

    D = family.D
    grids = np.meshgrid(*family.axes, indexing="ij")
    X = np.stack(grids, axis=-1)
    c = np.asarray(center, dtype=float).reshape(D)
    Am = np.asarray(A, dtype=float).reshape(D, D)
    dx = X - c
    reward = -0.5 * np.einsum("...i,ij,...j->...", dx, Am, dx)
    data = family.masses(family.natural_from_mean_cov(data_mu, data_cov))
    G = RetrainingMap(family, reward, math.inf, lam, data)
    errors = {}
    with mp.workdps(dps):
        dmu = _mat(np.reshape(data_mu, (D, 1)))
        dS = _mat(np.reshape(data_cov, (D, D)))
        cm, Amp = _mat(c.reshape(D, 1)), _mat(Am)
        Gcf = _closed_form_in_mean_params(D, family.pairs, dmu, dS, cm, Amp, lam)
        # 1. the map at a point
        mu0, cov0 = (data_mu, data_cov) if point is None else point
        m0 = family.mean_params(mu0, cov0)
        grid_next = G(m0)
        cf_next = np.array([float(v) for v in Gcf(*[mp.mpf(float(v)) for v in m0])])
        errors["map"] = float(np.max(np.abs(grid_next - cf_next) / (1 + np.abs(cf_next))))
        # 2. the fixed point (closed form: findroot of G(m) - m from the data moments)
        md = family.mean_params(data_mu, data_cov)
        root = mp.findroot(lambda *m: [a - b for a, b in zip(Gcf(*m), m)],
                           [mp.mpf(float(v)) for v in md])
        cf_fix = np.array([float(v) for v in root])
        st = stability(family, reward, math.inf, lam, data)
        errors["fixed_point"] = (float(np.max(np.abs(st.mean - cf_fix) / (1 + np.abs(cf_fix))))
                                 if st.exists else math.inf)
        # 3. the Jacobian at the fixed point (mpmath.diff of the closed form)
        d = len(cf_fix)
        Jcf = np.empty((d, d))
        for i in range(d):
            for j in range(d):
                order = tuple(1 if k == j else 0 for k in range(d))
                Jcf[i, j] = float(mp.diff(lambda *m: Gcf(*m)[i], list(root), order))
    if st.exists:
        errors["jacobian"] = float(np.max(np.abs(st.jacobian - Jcf) / (1 + np.abs(Jcf))))
        errors["radius"] = abs(st.spectral_radius - float(np.max(np.abs(np.linalg.eigvals(Jcf)))))
    else:
        errors["jacobian"] = errors["radius"] = math.inf
    worst = max(errors.values())
    rec = _record("S3.gauss", S3_GAUSS_STATEMENT, 0.0, worst, tol,
                  "largest error (relative to 1 + |value|) over the map, the fixed point and "
                  "the Jacobian; " + ", ".join(f"{k} {v:.3g}" for k, v in errors.items()),
                  **errors)
    return rec, errors
