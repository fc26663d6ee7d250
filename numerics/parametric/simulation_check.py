r"""``simulate(model="gaussian")`` held against the exact parametric dynamics (THEORY.md
sections 5 and 6).

The Gaussian model of :func:`numerics.simulate` refits, each generation, the mean and
covariance of the ``N = n + m`` pooled samples (``n`` curated from ``q_t``, ``m`` real) and
re-discretizes ``N(mu, Sigma)`` on the grid: the sample version of the parametric map ``G``
with ``lam' = n / m`` (:attr:`Simulation.effective_lam`).  Work in mean parameters
``T = (x, x_i x_j)``: the pooled sample moments ``hat m_{t+1}`` are unbiased for
``E_{q_t}[T]``, ``q_t`` the mixture built on the CURRENT fitted model, with covariance
``Sigma_t / N^2``, ``Sigma_t = n Cov_{C(p)}[T] + m Cov_{p_d}[T]``.

Two tests, both at ``z_limit`` standard errors, component by component:

- conditional (exact up to the CLT): ``hat m_{t+1}`` against ``G``'s training-law moments of
  the fitted model ``q_t`` (``sim.masses[t]``);
- trajectory (to first order, the delta method): ``hat m_t`` against the exact parametric
  trajectory ``m_t`` of the simulation's model (:func:`numerics.parametric.evolve` from the
  same start masses, ``fit="plugin"``: the fitted moments are plugged in as ``mu, Sigma``), with
  the sampling noise of all earlier generations propagated through the Jacobian:
  ``V_{t+1} = DG(m_t) V_t DG(m_t)^T + Sigma_t / N^2``, ``V_0 = 0``.

The simulation plugs the sample moments in as the Gaussian's parameters rather than solving
the grid MLE; on coarse or truncating grids the two dynamics differ (``mle_gap``: the largest
distance, in trajectory standard errors, between the plug-in and the MLE trajectories).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .families import Gaussian
from .retraining_map import RetrainingMap
from .stability import evolve

__all__ = ["GaussianCrossCheck", "compare_gaussian_with_parametric"]


@dataclass
class GaussianCrossCheck:
    """Per generation ``t = 1..steps`` (rows), per mean parameter (columns, ``names``):
    ``sampled`` (the fitted model's moments), ``exact`` (the parametric trajectory),
    ``se_trajectory`` and ``z_trajectory``; ``conditional`` (the exact training-law moments of
    the previous fitted model), ``se_conditional`` and ``z_conditional``; ``mle_gap``;
    ``passed``: every ``|z|`` of both tests within ``z_limit``."""

    names: tuple
    sampled: np.ndarray
    exact: np.ndarray
    se_trajectory: np.ndarray
    z_trajectory: np.ndarray
    conditional: np.ndarray
    se_conditional: np.ndarray
    z_conditional: np.ndarray
    mle_gap: float
    z_limit: float
    passed: bool


def _pooled_cov(fam, G, p, n, m):
    c = G.curated(p)
    cov = n * fam.cov_of(c)
    if m:
        cov = cov + m * fam.cov_of(G.data)
    return cov / (n + m) ** 2, c


def compare_gaussian_with_parametric(sim, axes, z_limit=5.0, *, method="auto"):
    """Hold a ``simulate(..., model="gaussian", coords=axes)`` run against the exact
    parametric dynamics (see the module doc).  ``axes``: the grid coordinates the simulation
    used (its ``coords``).

    Raises
    ------
    TypeError
        ``sim`` not a simulation of the gaussian model.
    ValueError
        ``axes`` give a grid of another shape than the simulation's.

    See Also
    --------
    numerics.sampling.simulate : the sample-based loop.
    evolve : the exact parametric dynamics it is held against.

    References
    ----------
    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    Theorem 2.2 (S2, reconstructed).

    Bertrand et al. (2024), ICLR 2024 (stability of iterative retraining; ``rho_B``).

    docs/theory.md sections 5 and 6.
    """
    from ..sampling import Simulation
    if not isinstance(sim, Simulation) or sim.model != "gaussian":
        raise TypeError("sim must be a Simulation of the gaussian model (simulate(..., "
                        "model='gaussian'))")
    fam = Gaussian(axes)
    if fam.shape != sim.masses[0].shape:
        raise ValueError(f"axes give a grid of shape {fam.shape}, the simulation has "
                         f"{sim.masses[0].shape}")
    lam = sim.effective_lam
    n, m = sim.samples, sim.real_samples
    data = sim.data if m else None
    G = RetrainingMap(fam, sim.reward, sim.K, lam, data, method=method, fit="plugin")
    traj = evolve(fam, sim.reward, sim.K, sim.steps, lam, data, start=sim.masses[0],
                  method=method, fit="plugin")
    mle = evolve(fam, sim.reward, sim.K, sim.steps, lam, data, start=sim.masses[0],
                 method=method)
    steps, d = sim.steps, fam.dim
    sampled = np.array([fam.mean_params(sim.info["mean"][t], sim.info["cov"][t])
                        for t in range(steps)])
    exact = traj.mean[1:]
    cond = np.empty((steps, d))
    se_c = np.empty((steps, d))
    se_t = np.empty((steps, d))
    V = np.zeros((d, d))
    for t in range(steps):
        # conditional on the fitted model q_t
        qt = sim.masses[t].ravel() / sim.masses[t].sum()
        S, c = _pooled_cov(fam, G, qt, n, m)
        mix = G.mix(c)
        cond[t] = fam.stats_flat @ mix
        se_c[t] = np.sqrt(np.diag(S))
        # along the exact trajectory
        pt = sim.masses[0].ravel() / sim.masses[0].sum() if t == 0 else \
            fam.masses(traj.theta[t]).ravel()
        S_ex, _ = _pooled_cov(fam, G, pt, n, m)
        if t > 0:
            J = G.jacobian(traj.theta[t]).matrix
            V = J @ V @ J.T
        V = V + S_ex
        se_t[t] = np.sqrt(np.diag(V))
    z_t = (sampled - exact) / se_t
    z_c = (sampled - cond) / se_c
    gap = float(np.max(np.abs(mle.mean[1:] - exact) / se_t))
    passed = bool(np.all(np.abs(z_t) <= z_limit) and np.all(np.abs(z_c) <= z_limit))
    return GaussianCrossCheck(fam.names, sampled, exact, se_t, z_t, cond, se_c, z_c, gap,
                              float(z_limit), passed)
