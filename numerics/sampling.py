r"""The sample-based retraining loop, to cross-check the exact solvers (THEORY.md section 6).

Generation ``t`` (model ``q_t``, ``q_0`` = the start masses):

1. draw ``n = samples`` curated samples: each is the generalized Bradley-Terry winner among
   ``K`` fresh i.i.d. draws ``X_1..X_K ~ q_t``, ``X_k`` kept with probability
   ``e^{r(X_k)} / sum_j e^{r(X_j)}`` (L1).  Drawn with the Gumbel-max trick:
   ``k* = argmax_k r(X_k) + G_k`` with ``G_k = -log E_k`` i.i.d. Gumbel(0, 1),
   ``E_k ~ Exp(1)``; ``P(k* = k) = e^{r(X_k)} / sum_j e^{r(X_j)}`` exactly.
2. for a finite ``lam``, draw ``m = round(n / lam)`` real samples from ``p_d``;
3. refit ``q_{t+1}`` to the ``n + m`` samples: ``"histogram"`` (the MLE on the grid: counts /
   total), ``"gaussian"`` (moment matching: mean and covariance of the grid coordinates,
   re-discretized on the grid; section 5), or ``"kde"`` (Gaussian kernel density on the
   grid, bandwidth by Scott's rule, as a separable convolution of the histogram).

With the histogram model, ``E[q_{t+1} | q_t] = (p_d + lam' C_K(q_t)) / (1 + lam')`` with
``lam' = n / m`` (``= lam`` when ``n / lam`` is an integer): one step of the exact dynamics
(:func:`numerics.retrain_step`); the loop is a Markov chain whose law concentrates on the
exact iterates as ``n -> inf`` (fluctuations ``O(n^{-1/2})``, drift of the mean ``O(1/n)``).

Example
-------
>>> import numpy as np
>>> from numerics.sampling import simulate
>>> x = np.linspace(-4, 4, 81)
>>> sim = simulate(np.exp(-x**2 / 2), -x**2 / 2, K=3, steps=2, samples=10_000, seed=1)
>>> len(sim.masses), sim.sample_mean_reward.shape
(3, (2,))
>>> bool(sim.expected_reward[2] > sim.expected_reward[0])   # curation raises E[r]
True
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import numpy as np

from .sampling_backends import get_backend
from .validation import (ValidationError, ValidationTypeError, as_mass, as_reward, check_K,
                         check_lam, check_data, check_steps)

__all__ = ["simulate", "Simulation", "compare_with_exact", "CrossCheck", "MODELS",
           "gumbel_max_winners", "fit_histogram", "fit_gaussian", "fit_kde"]

#: accepted values of ``simulate(model=...)``
MODELS = ("histogram", "gaussian", "kde")

#: draws (tuples x K) per chunk: bounds the memory of one generation to a few tens of MB
CHUNK_DRAWS = 1 << 20

#: the KDE kernel is cut at this many standard deviations (mass beyond: < 1e-15)
KDE_TRUNCATE = 8.0


@dataclass
class Simulation:
    """Result of :func:`simulate`.

    - ``masses[t]``: the fitted model ``q_t`` on the grid (shaped like ``mass``),
      ``t = 0..steps`` (``q_0`` = the normalized start masses);
    - ``expected_reward[t] = E_{q_t}[r]``, ``t = 0..steps``;
    - ``sample_mean_reward[t]``, ``sample_se[t]``: mean of ``r`` over the ``samples`` curated
      samples drawn from ``q_t`` (used to fit ``q_{t+1}``) and its standard error
      ``sd / sqrt(n)`` (``sd`` with ``ddof = 1``), ``t = 0..steps-1``;
    - ``real_samples``: ``m = round(samples / lam)`` real samples per generation (0 for
      ``lam = inf``), ``effective_lam = samples / m``: the ``lam`` of the exact dynamics whose
      step the histogram model reproduces in expectation;
    - ``bandwidths``: KDE bandwidths per generation and axis (coordinate units), else None;
    - ``info``: for the gaussian model, ``"mean"`` and ``"cov"`` (the fitted parameters of
      ``q_1..q_steps``, after the eigenvalue floor of :func:`fit_gaussian`).
    """

    masses: list
    expected_reward: np.ndarray
    sample_mean_reward: np.ndarray
    sample_se: np.ndarray
    K: int
    lam: float
    effective_lam: float
    samples: int
    real_samples: int
    steps: int
    seed: int
    model: str
    backend: str
    reward: np.ndarray
    data: np.ndarray | None
    bandwidths: np.ndarray | None = None
    info: dict = field(default_factory=dict)


# ---------------------------------------------------------------- curation by Gumbel-max

def gumbel_max_winners(xp, rng, cells, reward):
    r"""The Bradley-Terry winners of the rows of ``cells`` (shape ``(n, K)``, grid cells).

    ``argmax_k r(X_k) + G_k`` with ``G_k = -log E_k``, ``E_k ~ Exp(1)`` drawn as
    ``rng.standard_exponential((n, K))``: the winner is ``X_k`` with probability
    ``e^{r(X_k)} / sum_j e^{r(X_j)}`` (L1).  Works in ``r`` directly, so rewards spanning
    thousands of nats cannot overflow.  Returns the winning cells, shape ``(n,)``."""
    score = reward[cells] - xp.log(rng.standard_exponential(cells.shape))
    k = xp.argmax(score, axis=1)
    return xp.take_along_axis(cells, k[:, None], axis=1)[:, 0]


def _chunks(total, size):
    done = 0
    while done < total:
        step = min(size, total - done)
        yield step
        done += step


def _curated_counts(be, law, reward, n, K, size):
    xp = be.xp
    counts = None
    per = max(1, CHUNK_DRAWS // K)
    for c in _chunks(n, per):
        if K == 1:  # the winner of one draw is the draw
            add = be.draw_counts(law, c)
        else:
            cells = be.draw_cells(law, c * K).reshape(c, K)
            add = xp.bincount(gumbel_max_winners(xp, be.rng, cells, reward), minlength=size)
        counts = add if counts is None else counts + add
    return counts


def _real_counts(be, law, m, size):
    counts = None
    for c in _chunks(m, CHUNK_DRAWS):
        add = be.draw_counts(law, c)
        counts = add if counts is None else counts + add
    return counts


# ---------------------------------------------------------------- model refits

def fit_histogram(xp, counts, shape):
    """The histogram MLE on the grid: ``counts / total``."""
    return (counts / counts.sum()).reshape(shape).astype(np.float64)


def _grid_axes(xp, coords, shape):
    """The coordinate arrays broadcast along their axis (``X_i`` of shape ``[1,..,n_i,..,1]``)."""
    out = []
    for i, c in enumerate(coords):
        s = [1] * len(shape)
        s[i] = shape[i]
        out.append(xp.asarray(c, dtype=np.float64).reshape(s))
    return out


def _weighted_moments(xp, w, X):
    mu = [float((w * x).sum()) for x in X]
    D = len(X)
    cov = np.empty((D, D))
    for i in range(D):
        for j in range(i, D):
            cov[i, j] = cov[j, i] = float((w * (X[i] - mu[i]) * (X[j] - mu[j])).sum())
    return np.array(mu), cov


def _cell_widths(c):
    c = np.asarray(c, dtype=float)
    return np.abs(np.gradient(c)) if c.size > 1 else np.ones(1)


def fit_gaussian(xp, counts, shape, coords):
    r"""Moment matching (the Gaussian MLE, THEORY.md section 5) re-discretized on the grid.

    ``mu = E_w[x]``, ``Sigma = Cov_w[x]`` (``ddof = 0``, the MLE) with ``w = counts / total``
    at the grid coordinates; masses ``q(x) prop. to exp(-(x-mu)^T Sigma^{-1} (x-mu)/2)``
    times the cell volume (product of ``np.gradient`` of the axes).  The eigenvalues of
    ``Sigma`` are floored at ``h^2 / 12`` (``h`` = smallest cell width: the variance of a
    uniform law on one cell), so that samples all in one cell give a law of about one cell
    rather than a singular one.  Returns ``(masses, mu, Sigma)``."""
    w = (counts / counts.sum()).reshape(shape)
    X = _grid_axes(xp, coords, shape)
    mu, cov = _weighted_moments(xp, w, X)
    h = min(float(_cell_widths(c).min()) for c in coords)
    vals, vecs = np.linalg.eigh(cov)
    vals = np.maximum(vals, h * h / 12.0)
    prec = (vecs / vals) @ vecs.T
    quad = 0.0
    for i in range(len(X)):
        for j in range(len(X)):
            quad = quad + prec[i, j] * (X[i] - mu[i]) * (X[j] - mu[j])
    logq = -0.5 * quad + sum(xp.log(xp.asarray(_cell_widths(c)).reshape(x.shape))
                             for c, x in zip(coords, X))
    q = xp.exp(logq - logq.max())
    q = xp.broadcast_to(q, shape)
    return q / q.sum(), mu, (vecs * vals) @ vecs.T


def scott_bandwidth(sd, n, dim):
    """Scott's rule, as in ``scipy.stats.gaussian_kde``: ``h_i = n^{-1/(d+4)} sd_i``."""
    return np.asarray(sd) * float(n) ** (-1.0 / (dim + 4))


def fit_kde(be, counts, shape, coords, bandwidth=None, truncate=KDE_TRUNCATE):
    r"""Gaussian kernel density estimate of the samples, on the grid.

    ``q = normalize(w * phi_{h_1} * ... * phi_{h_d})``: the histogram ``w = counts / total``
    convolved, axis by axis, with a sampled Gaussian kernel of standard deviation ``h_i``
    (``scipy.ndimage.gaussian_filter1d``, kernel cut at ``truncate`` sd, zero outside the
    grid: the kernel mass falling off the grid is dropped and the result renormalized).
    ``bandwidth`` (coordinate units; scalar or one per axis), default Scott's rule on the
    per-axis standard deviations (``ddof = 1``, as scipy).  A diagonal kernel keeps the
    convolution separable.  Needs uniformly spaced axes.  Returns ``(masses, h)``."""
    xp = be.xp
    n = float(counts.sum())
    w = (counts / n).reshape(shape)
    if bandwidth is None:
        X = _grid_axes(xp, coords, shape)
        _, cov = _weighted_moments(xp, w, X)
        sd = np.sqrt(np.maximum(np.diag(cov), 0.0) * (n / (n - 1.0) if n > 1 else 1.0))
        h = scott_bandwidth(sd, n, len(shape))
    else:
        h = np.broadcast_to(np.asarray(bandwidth, dtype=float), (len(shape),)).copy()
    q = w
    for axis, c in enumerate(coords):
        dx = abs(float(c[1] - c[0])) if len(c) > 1 else 1.0
        sigma = h[axis] / dx
        if int(truncate * sigma + 0.5) >= 1:  # radius 0: the kernel is the identity
            q = be.gaussian_filter1d(q, sigma, axis, truncate)
    q = xp.maximum(q, 0.0)
    return q / q.sum(), h


# ---------------------------------------------------------------- argument checks

def _check_K_integer(K):
    K = check_K(K)
    if math.isinf(K) or K != int(K):
        raise ValidationError(f"K must be an integer >= 1 for simulate (the number of draws "
                              f"compared), got {K!r}")
    return int(K)


def _check_positive_int(value, name):
    value = check_steps(value, name)
    if value < 1:
        raise ValidationError(f"{name} must be >= 1, got {value}")
    return value


def _check_seed(seed):
    if isinstance(seed, bool) or not isinstance(seed, (numbers.Integral, np.integer)) or seed < 0:
        raise ValidationError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def _check_coords(coords, shape, model):
    if coords is None:
        return tuple(np.arange(n, dtype=np.float64) for n in shape)
    try:
        coords = tuple(np.asarray(c, dtype=np.float64) for c in coords)
    except (TypeError, ValueError) as exc:
        raise ValidationTypeError(f"coords must be a tuple of 1-D arrays of real numbers: "
                                  f"{exc}") from None
    if len(coords) != len(shape):
        raise ValidationError(f"coords has {len(coords)} axes, expected {len(shape)} "
                              f"(mass has shape {shape})")
    for i, (c, n) in enumerate(zip(coords, shape)):
        if c.shape != (n,):
            raise ValidationError(f"coords[{i}] has shape {c.shape}, expected ({n},)")
        if not np.all(np.isfinite(c)):
            raise ValidationError(f"coords[{i}] contains NaN or an infinite value")
        d = np.diff(c)
        if n > 1 and not (np.all(d > 0) or np.all(d < 0)):
            raise ValidationError(f"coords[{i}] must be strictly monotone")
        if model == "kde" and n > 2 and not np.allclose(d, d[0], rtol=1e-9, atol=0):
            raise ValidationError(f"coords[{i}] must be uniformly spaced for model='kde'")
    return coords


def _check_bandwidth(bandwidth, ndim):
    if bandwidth is None:
        return None
    try:
        h = np.asarray(bandwidth, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValidationTypeError(f"bandwidth must be a positive number or one per axis: "
                                  f"{exc}") from None
    if h.ndim > 1 or (h.ndim == 1 and h.shape[0] != ndim):
        raise ValidationError(f"bandwidth must be a number or {ndim} numbers, got shape {h.shape}")
    if not np.all(np.isfinite(h)) or np.any(h <= 0):
        raise ValidationError(f"bandwidth must be finite and > 0, got {bandwidth!r}")
    return h


# ---------------------------------------------------------------- the loop

def simulate(mass, reward, K, steps, samples, lam=math.inf, data=None, seed=0,
             model="histogram", backend="auto", progress=None, *, coords=None,
             bandwidth=None):
    r"""Run the sample-based retraining loop for ``steps`` generations (THEORY.md sec. 6).

    Parameters
    ----------
    mass, reward : array_like, same shape (any)
        start masses ``q_0`` (normalized internally) and rewards ``r`` on the grid.
    K : int
        draws compared per curated sample, an integer ``>= 1``.
    steps : int
        generations, ``>= 0``.
    samples : int
        curated samples ``n`` per generation, ``>= 1``.
    lam : float
        ratio of curated to real samples, ``> 0`` or ``math.inf`` (curated only);
        ``round(samples / lam)`` real samples per generation.
    data : array_like or None
        real-data masses ``p_d``; ``None`` with a finite ``lam`` means ``p_d = mass``.
    seed : int
        seeds the backend's generator (``numpy.random.default_rng(seed)`` on the CPU).
    model : {"histogram", "gaussian", "kde"}
        the refit, see the module doc and :func:`fit_histogram`, :func:`fit_gaussian`,
        :func:`fit_kde`.
    backend : {"auto", "numpy", "cupy"} or SamplingBackend
        see :mod:`numerics.sampling_backends`.
    progress : callable ``(generation, steps)`` or None
        called after every generation.
    coords : tuple of 1-D arrays, optional
        grid coordinates per axis (gaussian and kde models); default the cell indices.
    bandwidth : float or sequence, optional
        KDE bandwidth per axis (coordinate units); default Scott's rule.

    Returns
    -------
    Simulation

    Notes
    -----
    Random stream (one generator for the whole run; numpy backend).  Per generation, in
    order: for each chunk of ``c = min(remaining, 2^20 // K)`` curated samples, the ``c K``
    candidate cells (``rng.multinomial(c K, q_t)`` then ``rng.shuffle``; for ``K = 1`` only
    ``rng.multinomial(c, q_t)``) and ``rng.standard_exponential((c, K))`` for Gumbel-max;
    then the real samples (``rng.multinomial`` per chunk of ``2^20``).  The cupy backend
    and :class:`numerics.sampling_backends.ArrayBackend` draw cells by inverse CDF instead
    (``rng.random``).  Same seed, backend and inputs -> the same result, bit for bit.
    """
    m = as_mass(mass)
    r = as_reward(reward, m.shape)
    K = _check_K_integer(K)
    steps = check_steps(steps)
    samples = _check_positive_int(samples, "samples")
    lam = check_lam(lam)
    if lam == 0:
        raise ValidationError("lam must be > 0 for simulate (lam = 0 is real data only: nothing "
                              "is curated)")
    m = m / m.sum()
    d = check_data(data, lam, m.shape, default=m)
    seed = _check_seed(seed)
    if not isinstance(model, str) or model not in MODELS:
        raise ValidationError(f"model must be one of {MODELS}, got {model!r}")
    coords = _check_coords(coords, m.shape, model)
    h_fixed = _check_bandwidth(bandwidth, m.ndim)
    be = get_backend(backend, seed)
    xp = be.xp

    n_real = 0 if d is None else int(round(samples / lam))
    eff_lam = math.inf if n_real == 0 else samples / n_real
    size = m.size
    shape = m.shape
    r_dev = be.asarray(r.ravel())
    r_shifted = r_dev - float(r.max())  # Gumbel-max is shift invariant (P5)
    q = be.asarray(m.ravel())
    data_law = None
    if n_real:
        dn = d.ravel() / d.sum()
        data_law = be.set_law(be.asarray(dn))

    masses = [m.copy()]
    exp_r = np.empty(steps + 1)
    mean_r = np.empty(steps)
    se_r = np.empty(steps)
    bws = np.empty((steps, m.ndim)) if model == "kde" else None
    info = dict(mean=np.empty((steps, m.ndim)), cov=np.empty((steps, m.ndim, m.ndim))) \
        if model == "gaussian" else {}
    exp_r[0] = float(np.dot(m.ravel(), r.ravel()))

    for t in range(steps):
        cur = _curated_counts(be, be.set_law(q), r_shifted, samples, K, size)
        mu = float((cur * r_dev).sum()) / samples
        var = float((cur * (r_dev - mu) ** 2).sum()) / (samples - 1) if samples > 1 else 0.0
        mean_r[t] = mu
        se_r[t] = math.sqrt(max(var, 0.0) / samples)
        counts = cur if n_real == 0 else cur + _real_counts(be, data_law, n_real, size)
        if model == "histogram":
            qn = fit_histogram(xp, counts, shape)
        elif model == "gaussian":
            qn, info["mean"][t], info["cov"][t] = fit_gaussian(xp, counts, shape, coords)
        else:
            qn, bws[t] = fit_kde(be, counts, shape, coords, h_fixed)
        q = qn.ravel()
        host = be.to_host(qn).astype(np.float64).reshape(shape)
        masses.append(host)
        exp_r[t + 1] = float(np.dot(host.ravel(), r.ravel()))
        if progress is not None:
            progress(t + 1, steps)

    return Simulation(masses, exp_r, mean_r, se_r, K, lam, eff_lam, samples, n_real, steps,
                      seed, model, be.name, r, None if d is None else d / d.sum(), bws, info)


# ---------------------------------------------------------------- comparison with the engine

@dataclass
class CrossCheck:
    r"""Result of :func:`compare_with_exact`; per-generation arrays, ``t = 0..steps-1``
    unless said otherwise.

    - ``sample_mean_reward``, ``sample_se``: from the simulation (curated samples of gen. t);
    - ``conditional_reward[t] = E_{C_K(q_t)}[r]``: the exact curated mean of the CURRENT
      fitted model (``numerics.curate(q_t, r, K)``);
    - ``z_conditional = (sample mean - conditional_reward) / se``: the CLT test;
    - ``exact_curated_reward[t] = E_{C_K(p_t)}[r]``, ``p_t`` the exact iterates
      (``numerics.evolve`` with ``lam = effective_lam``); ``z_exact`` likewise;
    - ``exact_expected_reward[t] = E_{p_t}[r]`` and ``tv[t] = TV(q_t, p_t)``, ``t = 0..steps``;
    - ``passed``: ``max |z_conditional| <= z_limit``.
    """

    simulation: Simulation
    exact_expected_reward: np.ndarray
    exact_curated_reward: np.ndarray
    conditional_reward: np.ndarray
    z_conditional: np.ndarray
    z_exact: np.ndarray
    tv: np.ndarray
    z_limit: float
    passed: bool


def _z(diff, se):
    with np.errstate(divide="ignore", invalid="ignore"):
        z = diff / se
    # se = 0: every curated sample had the same reward; exact agreement is z = 0
    return np.where(se > 0, z, np.where(np.abs(diff) <= 1e-12 * (1 + np.abs(diff)), 0.0,
                                        np.copysign(np.inf, diff)))


def compare_with_exact(sim, z_limit=5.0, *, method="auto"):
    r"""Hold a :class:`Simulation` against the exact engine.

    Which comparison is a valid 5-standard-error test?  The curated samples of generation
    ``t`` are i.i.d. from ``C_K(q_t)`` GIVEN the fitted model ``q_t``, so their mean of ``r``
    satisfies, by the CLT, ``(mean - E_{C_K(q_t)}[r]) / se ~ N(0, 1)`` approximately: that is
    ``z_conditional``, exact up to the normal approximation for every model and every
    generation, and ``passed`` tests ``|z_conditional| <= z_limit`` at every generation
    (for 5 SE and 50 generations a false alarm has probability ~ 3e-5).  The exact iterate
    ``p_t`` differs from ``q_t`` for ``t >= 1`` by the sampling noise of earlier generations
    (also ``O(n^{-1/2})``, so NOT small against ``se``): ``z_exact`` (against
    ``E_{C_K(p_t)}[r]``) is reported, and the drift is measured by ``tv[t] = TV(q_t, p_t)``,
    but neither is a calibrated test.  With the gaussian and kde models ``p_t`` is the
    infinite-capacity dynamics, which they do not follow (finite capacity, section 5): hold a
    gaussian-model run against the exact parametric dynamics with
    :func:`numerics.parametric.simulation_check.compare_gaussian_with_parametric` (what
    ``selfconsume simulate --model gaussian`` does).
    """
    from .curation import curate
    from .evolution import evolve

    if not isinstance(sim, Simulation):
        raise ValidationTypeError(f"sim must be a Simulation (from simulate), got "
                                  f"{type(sim).__name__}")
    r = sim.reward
    lam = sim.effective_lam
    traj = evolve(sim.masses[0], r, sim.K, sim.steps, lam, sim.data, method=method)
    er = np.asarray(traj.expected_reward)
    if math.isinf(lam):
        exact_cur = er[1:]
    else:  # p_{t+1} = (p_d + lam C(p_t)) / (1 + lam)  =>  E_C[r] = ((1+lam) E_{t+1} - E_d) / lam
        e_d = float(np.dot(sim.data.ravel(), r.ravel()))
        exact_cur = ((1 + lam) * er[1:] - e_d) / lam
    cond = np.array([float(np.dot(curate(sim.masses[t], r, sim.K, method=method).ravel(),
                                  r.ravel())) for t in range(sim.steps)])
    tv = np.array([0.5 * float(np.abs(sim.masses[t] - traj.masses[t]).sum())
                   for t in range(sim.steps + 1)])
    z_c = _z(sim.sample_mean_reward - cond, sim.sample_se)
    z_e = _z(sim.sample_mean_reward - exact_cur, sim.sample_se)
    passed = bool(np.all(np.abs(z_c) <= z_limit))
    return CrossCheck(sim, er, exact_cur, cond, z_c, z_e, tv, float(z_limit), passed)
