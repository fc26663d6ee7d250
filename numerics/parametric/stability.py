r"""Fixed points of parametric retraining and their stability (THEORY.md section 5, S1-S3).

:func:`stability` solves ``G(theta) = theta`` (the fixed point ``theta^lam``; solved by Newton,
not iterated, so unstable fixed points are found too), computes ``DG`` there
(:meth:`RetrainingMap.jacobian`) and its spectral radius, and reports it beside

- S1: ``lam / (1 + lam)``, the exact spectral radius without curation;
- S2 (paper, Theorem 2.2, and Bertrand et al.): ``rho = lam (alpha + eps L) / (alpha + lam
  (alpha - eps L))`` and ``rho_B = lam (alpha + eps L) / (alpha - lam (alpha + eps L))``.  For
  an exponential family ``Hess_theta log p_theta(x) = -Cov_theta[T]`` does not depend on
  ``x``: ``L = 0`` exactly, so ``rho = lam/(1+lam)`` and ``rho_B = lam/(1-lam)`` (a
  contraction bound only for ``lam < 1/2``; ``None`` for ``lam >= 1`` where the formula has no
  meaning).  ``alpha = lambda_min(Cov_{theta*}[T])`` at the data MLE ``theta*`` in the
  family's natural parametrization (parametrization dependent; it cancels from ``rho``);
  ``eps`` is not needed (``L = 0``) and is reported as ``None``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .families import ExponentialFamily, FitError
from .retraining_map import RetrainingMap

__all__ = ["stability", "Stability", "evolve", "ParametricTrajectory", "s2_constants"]


@dataclass
class Stability:
    r"""Result of :func:`stability`.

    ``exists``: a fixed point was found (``reason`` says why not otherwise); ``theta``,
    ``mean``: its natural and mean parameters; ``residual``: ``max_j |G(m)_j - m_j| /
    sd_theta(T_j)`` (in units of the model's spread); ``jacobian``: ``DG`` in mean parameters; ``eigenvalues``;
    ``spectral_radius`` and ``radius_error`` (an error bound from the Jacobian's error
    estimate, 0 for the analytic routes); ``method``; ``stable``: True if ``radius +
    error < 1``, False if ``radius - error > 1``, None if undecided or no fixed point;
    ``uncurated_radius = lam/(1+lam)`` (S1); ``rho``, ``rho_B`` and ``s2`` (the constants
    ``alpha``, ``L``, ``eps``) of S2; ``start``: the Newton start that converged (the given
    start, else an iterate of ``G``: see :data:`RESTART_AFTER`).  Several fixed points may
    exist; the one reported is the first found in that order.
    """

    family: tuple
    K: float
    lam: float
    exists: bool
    reason: str = ""
    theta: np.ndarray | None = None
    mean: np.ndarray | None = None
    residual: float | None = None
    newton_steps: int = 0
    jacobian: np.ndarray | None = None
    eigenvalues: np.ndarray | None = None
    spectral_radius: float | None = None
    radius_error: float | None = None
    method: str = ""
    stable: bool | None = None
    uncurated_radius: float | None = None
    rho: float | None = None
    rho_B: float | None = None
    s2: dict = field(default_factory=dict)
    mean_cov: tuple | None = None
    start: str = ""

    def as_dict(self):
        def num(x):  # inf stays inf (the command line writes it "inf", as everywhere)
            return None if x is None else float(x)
        eig = None if self.eigenvalues is None else [
            [float(e.real), float(e.imag)] for e in self.eigenvalues]
        out = dict(family=list(self.family), K=num(self.K), lam=num(self.lam),
                   exists=self.exists, reason=self.reason,
                   theta=None if self.theta is None else self.theta.tolist(),
                   mean=None if self.mean is None else self.mean.tolist(),
                   residual=num(self.residual), newton_steps=self.newton_steps,
                   jacobian=None if self.jacobian is None else self.jacobian.tolist(),
                   eigenvalues=eig, spectral_radius=num(self.spectral_radius),
                   radius_error=num(self.radius_error), method=self.method,
                   stable=self.stable, start=self.start, uncurated_radius=num(self.uncurated_radius),
                   rho=num(self.rho), rho_B=num(self.rho_B),
                   s2={k: (v if isinstance(v, str) or v is None else num(v))
                       for k, v in self.s2.items()})
        if self.mean_cov is not None:
            out["mu"] = self.mean_cov[0].tolist()
            out["cov"] = self.mean_cov[1].tolist()
        return out


def s2_constants(family, data, lam):
    r"""S2's constants for an exponential family: ``L = 0`` (the log-likelihood Hessian
    ``-Cov_theta[T]`` is constant in ``x``), ``alpha = lambda_min(Cov_{theta*}[T])`` at the data
    MLE ``theta*``, ``eps`` not needed.  Returns ``(rho, rho_B, constants)``; ``rho_B`` is
    None where its denominator ``alpha - lam alpha`` is not positive (``lam >= 1``).

    Raises
    ------
    FitError
        (a ``ValueError``) the data MLE does not exist.

    See Also
    --------
    stability : reports them beside the spectral radius.

    References
    ----------
    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    Theorem 2.2 (S2, reconstructed).

    Bertrand et al. (2024), ICLR 2024 (stability of iterative retraining; ``rho_B``).

    docs/theory.md section 5 (S1-S3).
    """
    if data is None or math.isinf(lam):
        return None, None, dict(alpha=None, L=0.0, eps=None,
                                note="S2 needs real data and a finite lam")
    theta_star = family.fit(family.moments(data))
    alpha = float(np.linalg.eigvalsh(family.cov(theta_star))[0])
    L, eps = 0.0, 0.0
    rho = lam * (alpha + eps * L) / (alpha + lam * (alpha - eps * L))
    den = alpha - lam * (alpha + eps * L)
    rho_B = lam * (alpha + eps * L) / den if den > 0 else None
    return rho, rho_B, dict(alpha=alpha, L=0.0, eps=None,
                            note="exponential family: Hess_theta log p_theta(x) = -Cov_theta[T] "
                                 "for every x, so L = 0 and eps drops out")


def _solve_fixed_point(G, theta0, tol, max_iter):
    """Damped Newton on ``R(theta') = F'(theta') - E_{theta'}[T']`` (standardized), with
    ``dR/dtheta' = DF' - Cov_{theta'}[T']``.  Returns ``(theta_std, residual, steps)``."""
    fam = G.family
    th = fam.to_std(theta0)

    def resid(t):
        # in units of the model's own spread: G(m) - m divided by sd_theta(T_j), so that the
        # test does not pass trivially when the model concentrates on a few cells
        p = fam.probs_std(t)
        mean, cov = fam.moments_cov_std(p)
        return (G._F_std(t, p) - mean) / np.sqrt(np.diag(cov))

    R = resid(th)
    nr = float(np.max(np.abs(R)))
    steps = 0
    for steps in range(1, max_iter + 1):
        if nr <= tol:
            if _degenerate(fam, th):
                raise FitError("the model collapses onto one cell: no fixed point inside the "
                               "family on this grid")
            return th, nr, steps - 1
        DF, _, _ = G._DF_std(th) if not (1 < G.K < math.inf) else (_quick_DF(G, th), 0, "")
        _, cov = fam.moments_cov_std(fam.probs_std(th))
        J = (DF - cov) / np.sqrt(np.diag(cov))[:, None]
        try:
            delta = np.linalg.solve(J, R)
        except np.linalg.LinAlgError:
            raise FitError("singular Jacobian of G - id: the fixed point is degenerate")
        t = 1.0
        while t > 1e-10:
            cand = th - t * delta
            with np.errstate(over="ignore", invalid="ignore"):
                Rc = resid(cand)
            nc = float(np.max(np.abs(Rc)))
            if np.isfinite(nc) and nc < nr * (1 - 1e-4 * t) or nc <= tol:
                break
            t *= 0.5
        else:
            raise FitError(f"Newton stalled at residual {nr:.3g}: no fixed point found near "
                           f"the start")
        th, R, nr = cand, Rc, nc
        if _degenerate(fam, th):
            raise FitError("the model collapses (its covariance of T degenerates): no fixed "
                           "point inside the family on this grid")
    if nr <= tol and not _degenerate(fam, th):
        return th, nr, max_iter
    raise FitError(f"Newton did not converge in {max_iter} steps (residual {nr:.3g})")


def _quick_DF(G, th):
    """One-level central differences (for Newton steps only; accuracy ~1e-6 suffices)."""
    fam = G.family
    _, cov = fam.moments_cov_std(fam.probs_std(th))
    h = 1e-4 / np.sqrt(np.diag(cov))
    D = np.empty((fam.dim, fam.dim))
    for j in range(fam.dim):
        e = np.zeros(fam.dim)
        e[j] = h[j]
        D[:, j] = (G._F_std(th + e) - G._F_std(th - e)) / (2 * h[j])
    return D


def _degenerate(fam, th):
    """The model has left the family: not finite, or (numerically) a point mass on one cell
    (``max p >= 1 - 1e-6``: below the grid's resolution; the boundary ``|theta| -> inf``), or ``Cov[T]`` singular."""
    p = fam.probs_std(th)
    if not np.isfinite(p).all() or p.max() >= 1 - 1e-6:
        return True
    _, cov = fam.moments_cov_std(p)
    ev = np.linalg.eigvalsh(cov)
    return not ev[0] > 1e-14 * max(ev[-1], 1e-300)


#: iterates of G after which Newton is restarted when it fails from the given start
RESTART_AFTER = (10, 50, 200)


def _starts(G, start):
    """The start, then iterates ``theta_t`` of the map (``t`` in :data:`RESTART_AFTER`),
    generated lazily: Newton from the data MLE can stall where the fixed point moved far
    away, and an iterate near a stable fixed point is a good start."""
    yield "the given start", start
    th, t = start, 0
    for target in RESTART_AFTER:
        try:
            while t < target:
                th = G.step(th)
                t += 1
        except FitError:
            return
        yield f"iterate {t} of G", th


def stability(family, reward, K, lam=math.inf, data=None, *, start=None, tol=1e-12,
              max_iter=100, method="auto"):
    r"""The fixed point ``theta^lam`` of parametric retraining, ``DG`` there and its spectral
    radius (THEORY.md S3), beside ``lam/(1+lam)`` (S1), ``rho`` and ``rho_B`` (S2).

    Parameters
    ----------
    family : ExponentialFamily (e.g. ``Gaussian(scenario.axes)``)
    reward, K, lam, data : as :func:`numerics.retrain_step` (``data`` = ``p_d`` masses).
    start : natural parameters to start Newton from (default: the data MLE; for
        ``lam = inf`` without data, required).
    tol : Newton stops when ``max_j |G(m)_j - m_j| / sd_theta(T_j) <= tol``.

    Returns
    -------
    Stability

    Raises
    ------
    TypeError
        ``family`` not an :class:`ExponentialFamily`.
    ValidationError, ValidationTypeError
        invalid ``reward``, ``K``, ``lam`` or ``data`` (:mod:`numerics.validation`).
    ValueError
        ``start`` missing without data (``lam = inf``), or of the wrong shape, NaN or
        infinite.
    FitError
        (a ``ValueError``) the data MLE does not exist.  A fixed point Newton cannot find is
        reported in the result (``exists = False``, ``reason``), not raised.

    See Also
    --------
    evolve : the parametric trajectory.
    s2_constants : S2's ``rho``, ``rho_B``.
    theory.parametric_checks.check_s1 : S1 checked.

    References
    ----------
    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    Theorem 2.2 (S2, reconstructed).

    Bertrand et al. (2024), ICLR 2024 (stability of iterative retraining; ``rho_B``).

    docs/theory.md section 5 (S1-S3).
    """
    G = RetrainingMap(family, reward, K, lam, data, method=method)
    fam = family
    lam = G.lam
    res = Stability(family=fam.names, K=G.K, lam=lam, exists=False,
                    uncurated_radius=(lam / (1 + lam) if math.isfinite(lam) else 1.0))
    try:
        res.rho, res.rho_B, res.s2 = s2_constants(fam, G.data, lam)
    except FitError as exc:
        res.s2 = dict(alpha=None, L=0.0, eps=None, note=f"no data MLE: {exc}")
    if start is None:
        if G.data is None:
            raise ValueError("start is required when there are no data (lam = inf)")
        start = fam.fit(fam.moments(G.data))
    start = fam.check_theta(start, "start")
    found, reasons = None, []
    for label, theta0 in _starts(G, start):
        try:
            found = _solve_fixed_point(G, theta0, tol, max_iter)
            res.start = label
            break
        except FitError as exc:
            reasons.append(f"from {label}: {exc}")
    if found is None:
        res.reason = ("no fixed point found (Newton " + "; ".join(reasons) + ")")
        return res
    th_std, resid, steps = found
    theta = fam.from_std(th_std)
    res.exists, res.theta, res.residual, res.newton_steps = True, theta, resid, steps
    res.mean = fam.mean(theta)
    if hasattr(fam, "mean_cov"):
        res.mean_cov = fam.mean_cov(res.mean)
    jac = G.jacobian(theta)
    res.jacobian, res.method = jac.matrix, jac.method
    eig = np.linalg.eigvals(jac.matrix_std)
    res.eigenvalues = eig[np.argsort(-np.abs(eig))]
    res.spectral_radius = float(np.max(np.abs(eig)))
    # |rho(A) - rho(B)| <= ||A - B||_2 <= d max|entries| (error of a non-normal spectrum can be
    # larger for defective eigenvalues; the bound holds for the radius of normal parts)
    res.radius_error = float(jac.error * fam.dim) + 1e-12 * max(1.0, res.spectral_radius)
    if res.spectral_radius + res.radius_error < 1:
        res.stable = True
    elif res.spectral_radius - res.radius_error > 1:
        res.stable = False
    return res


@dataclass
class ParametricTrajectory:
    """Result of :func:`evolve`: ``theta[t]`` (natural parameters), ``mean[t]`` (mean
    parameters ``E_{q_t}[T]`` of the model), ``t = 0..steps``; ``expected_reward[t]``;
    ``family`` names."""

    theta: np.ndarray
    mean: np.ndarray
    expected_reward: np.ndarray
    family: tuple


def evolve(family, reward, K, steps, lam=math.inf, data=None, *, start=None, method="auto",
           fit="mle"):
    r"""The trajectory of parametric retraining, ``m_{t+1} = E_{q_t}[T]``, ``theta_{t+1}`` its
    MLE (THEORY.md section 5).

    ``start``: masses on the grid (the first generation is curated from these masses
    themselves, as in :func:`numerics.simulate`; ``theta[0]`` is their MLE) or natural
    parameters (length ``family.dim``).  Default: the data.  ``fit``: ``"mle"`` or
    ``"plugin"`` (see :class:`RetrainingMap`).

    Raises
    ------
    TypeError
        ``family`` not an :class:`ExponentialFamily`.
    ValidationError, ValidationTypeError
        invalid ``reward``, ``K``, ``lam`` or ``data`` (:mod:`numerics.validation`).
    ValueError
        ``start`` missing without data (``lam = inf``), or of the wrong shape, NaN or
        infinite.
    ValidationError, ValidationTypeError
        ``steps`` not an integer ``>= 0``.
    FitError
        (a ``ValueError``) a generation's moment equation has no solution.

    See Also
    --------
    stability : the fixed point and its spectral radius.
    numerics.evolve : the infinite-capacity loop.

    References
    ----------
    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    Theorem 2.2 (S2, reconstructed).

    Bertrand et al. (2024), ICLR 2024 (stability of iterative retraining; ``rho_B``).

    docs/theory.md section 5 (S1-S3).
    """
    from ..validation import check_steps
    G = RetrainingMap(family, reward, K, lam, data, method=method, fit=fit)
    steps = check_steps(steps)
    fam = family
    if start is None:
        if G.data is None:
            raise ValueError("start is required when there are no data (lam = inf)")
        start = G.data
    st = np.asarray(start, dtype=float)
    if st.shape == (fam.dim,):
        theta0 = fam.check_theta(st, "start")
        p0 = fam.masses(theta0).ravel()
    else:
        if st.shape != fam.shape:
            raise ValueError(f"start must be natural parameters of shape ({fam.dim},) or "
                             f"masses of shape {fam.shape}, got shape {st.shape}")
        fam.moments(st, "start")                     # validates the masses
        p0 = st.ravel() / st.sum()
        theta0 = G.model_theta(fam.stats_flat @ p0)
    thetas = [theta0]
    means = [fam.stats_flat @ p0]
    er = [float(p0 @ G.reward.ravel())]
    p = p0
    th = theta0
    for _ in range(steps):
        q = G.mix(G.curated(p)) if G.lam != 0 else G.data.ravel()
        m = fam.stats_flat @ q
        th = G.model_theta(m, theta0=th)
        p = fam.masses(th).ravel()
        thetas.append(th)
        means.append(m)
        er.append(float(p @ G.reward.ravel()))
    return ParametricTrajectory(np.array(thetas), np.array(means), np.array(er), fam.names)
