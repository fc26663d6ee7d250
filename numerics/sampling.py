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
           "gumbel_max_winners", "fit_histogram", "fit_gaussian", "fit_kde", "select_kept",
           "rule_at", "GridHistogramModel", "cell_edges", "bin_points", "jitter_cells"]

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
      ``q_1..q_steps``, after the eigenvalue floor of :func:`fit_gaussian`); for a model
      object, ``"masses_estimated"`` (True when it has no ``grid_masses``: ``masses`` are then
      histograms of fresh samples, and the conditional z-test carries their noise too);
    - ``rule``, ``statistics``: for a run with a curation rule or a model object (see
      :func:`simulate`): the rule, and per generation the grid statistic ``f_t`` (default the
      rule's first user type's reward at step ``t``, ``-inf`` read as 0) whose mean over the
      kept samples is ``sample_mean_reward[t]`` (``sample_se``: cluster-robust, clusters = the
      curation events); ``reward`` is then ``f_0`` and ``expected_reward[t] = E_{q_t}[f_t]``.
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
    #: the curation rule sampled (``None``: Bradley-Terry with ``reward`` and ``K``)
    rule: object | None = None
    #: the statistic whose curated mean is tested, per generation (rule runs; rewards may
    #: change with ``t``): ``sample_mean_reward[t]`` is its mean over the kept samples
    statistics: list | None = None


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

def simulate(mass, reward, K=None, steps=None, samples=None, lam=math.inf, data=None, seed=0,
             model="histogram", backend="auto", progress=None, *, coords=None,
             bandwidth=None, reward_fn=None, statistic=None):
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
    reward_fn : callable ``x -> r(x)``, optional
        with a model object: the reward at continuous points ``x`` (shape ``(n, d)``) of the
        single user type; default the grid reward of the cell holding ``x`` (piecewise
        constant), which makes the binned loop exactly the grid dynamics (so that
        :func:`compare_with_exact` is exact); a smooth ``reward_fn`` makes the binned
        comparison approximate (``O(cell width)``).
    statistic : array_like, optional
        rule runs: the grid function whose curated mean is tested (default the first user
        type's reward at each step).

    ``reward`` may be a curation rule of :mod:`numerics.curators` (``K`` left out:
    ``simulate(mass, rule, steps=..., samples=...)``): Plackett-Luce keep-k (Gumbel-top-k),
    hard top-k (ties uniformly at random), filtering, mixtures of user types, rewards that
    change with ``t``.  ``samples`` counts the KEPT samples (keep-k: ``ceil(n / k)`` events,
    a uniformly random subset of the last one's; filtering: draws until ``n`` are kept;
    mixtures: each kept sample's user type is drawn with ``pi_u``).  See the section
    "every curation rule" of this module.

    ``model`` may be an object with ``fit(samples, weights=None)`` (samples: shape
    ``(n, d)``) and ``sample(n, rng) -> (n, d)``, optionally ``grid_masses(edges)`` (its mass
    per grid cell; cell edges at the midpoints of ``coords``): the object as given is
    ``q_0``; candidates are its continuous samples, binned on the grid for the reward (see
    ``reward_fn``) and the statistics; real samples are data cells with a uniform point
    inside; it is refitted to the pooled points each generation.  :class:`GridHistogramModel`
    is the histogram model in this form.  Rules and model objects run on the numpy backend.

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
    from .curators import Rule, bradley_terry
    if steps is None or samples is None:
        raise ValidationTypeError("simulate needs steps and samples")
    m = as_mass(mass)
    rule = reward if isinstance(reward, Rule) else None
    if rule is not None and K is not None:
        raise ValidationTypeError("K is given by the curation rule: pass K=None with a rule")
    if rule is None:
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
    if isinstance(model, str):
        if model not in MODELS:
            raise ValidationError(f"model must be one of {MODELS}, got {model!r}")
    else:
        _check_model_object(model)
    coords = _check_coords(coords, m.shape, model if isinstance(model, str) else "object")
    h_fixed = _check_bandwidth(bandwidth, m.ndim)
    be = get_backend(backend, seed)
    xp = be.xp
    if rule is not None or not isinstance(model, str) or reward_fn is not None:
        if rule is None:
            rule = bradley_terry(r, K)
        return _simulate_general(m, rule, steps, samples, lam, d, seed, model, be, progress,
                                 coords, h_fixed, reward_fn, statistic)
    if statistic is not None:
        raise ValidationError("statistic is for rule runs (the (reward, K) run tests the reward)")

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


# ---------------------------------------------------------------- every curation rule (L1-L6)
#
# A rule of numerics.curators is sampled event by event.  A curation EVENT of a user type:
#
# - bradley_terry(r, K): K fresh draws, the Gumbel-max winner is kept (1 sample per event);
# - plackett_luce(r, K, keep): K fresh draws, the ``keep`` smallest of the exponential clocks
#   ``E_k e^{-r_k}`` (E_k ~ Exp(1)) are kept, i.e. the ``keep`` largest ``r_k - log E_k``
#   (Gumbel-top-k): ``keep`` samples per event, drawn without replacement;
# - top_k(r, K, keep): K fresh draws, the ``keep`` highest rewards are kept, ties broken
#   uniformly at random (a uniformly random column order, then a stable sort);
# - filtering(a): one fresh draw, kept with probability a(x) (U < a): 0 or 1 sample per event.
#
# ``samples = n`` counts KEPT samples (what enters the training set).  For a keep-k type,
# ceil(n_u / keep) events are run and, in the last one, a uniformly random subset of its kept
# samples is used (each kept sample of an event has the marginal law C_u(q): the subset does
# not change it).  For filtering, draws continue until n are kept (the first n kept draws).
# mixture([(pi_u, rule_u)]): C = sum_u pi_u C_u is a mixture PER KEPT SAMPLE, so each kept
# sample's type is drawn with probabilities pi_u (n_u ~ Multinomial(n, pi)) and type u's
# events produce its n_u samples; when every type keeps one sample per event (Bradley-Terry,
# filtering, keep = 1) this is exactly "the user type is drawn per curation event".
# The samples of one keep-k event are dependent: the standard error of a mean over the kept
# samples is the cluster-robust one, clusters = events (see _cluster_se).

def _rule_kind(rule):
    from .curators import BradleyTerry, PlackettLuce, TopK, Filtering
    if isinstance(rule, Filtering):
        return "filter", 1
    if isinstance(rule, (BradleyTerry, PlackettLuce, TopK)):
        K = rule.K
        if math.isinf(K) or K != int(K):
            raise ValidationError(f"simulate draws an integer number K of samples per curation "
                             f"event; {rule!r} has K = {K:g}")
        keep = getattr(rule, "keep", 1)
        if isinstance(rule, BradleyTerry) or keep == 1 and isinstance(rule, PlackettLuce):
            return "bt", 1
        return ("pl" if isinstance(rule, PlackettLuce) else "topk"), int(keep)
    raise ValidationTypeError(f"simulate cannot sample the curation rule {rule!r}")


def rule_at(rule, t, shape):
    """``rule`` with every user type's reward frozen at its value for the step ``t``
    (an array rule that :func:`numerics.curate` applies exactly)."""
    from .curators import (BradleyTerry, PlackettLuce, TopK, Filtering, Mixture,
                           bradley_terry, plackett_luce, top_k, filtering, mixture)
    parts = []
    for w, r in rule.components():
        arr = r.reward_spec.at(t, shape)
        if isinstance(r, Filtering):
            nr = filtering(np.exp(arr))
        elif isinstance(r, PlackettLuce):
            nr = plackett_luce(arr, r.K, r.keep)
        elif isinstance(r, TopK):
            nr = top_k(arr, r.K, r.keep)
        elif isinstance(r, BradleyTerry):
            nr = bradley_terry(arr, r.K)
        else:
            raise ValidationTypeError(f"simulate cannot sample the curation rule {r!r}")
        parts.append((w, nr))
    if isinstance(rule, Mixture):
        return mixture(parts)
    return parts[0][1]


def select_kept(xp, rng, values, kind, keep):
    r"""Column indices (shape ``(c, keep)``) kept from each row of ``values`` (the rewards of
    the ``K`` draws of ``c`` events, shape ``(c, K)``).

    ``"bt"``: Gumbel-max (one per row); ``"pl"``: Gumbel-top-``keep``, the ``keep`` largest
    ``r_k + G_k`` = the ``keep`` first rings of exponential clocks of rates ``e^{r_k}``
    (Plackett-Luce without replacement, L4); ``"topk"``: the ``keep`` largest ``r_k``, ties
    in a uniformly random order (L5)."""
    c, K = values.shape
    if kind == "bt" or keep == 1 and kind == "pl":
        score = values - xp.log(rng.standard_exponential((c, K)))
        return xp.argmax(score, axis=1)[:, None]
    if kind == "pl":
        score = values - xp.log(rng.standard_exponential((c, K)))
        if keep >= K:
            return xp.broadcast_to(xp.arange(K)[None, :], (c, K))
        return xp.argpartition(-score, keep - 1, axis=1)[:, :keep]
    if kind == "topk":
        perm = xp.argsort(rng.random((c, K)), axis=1)       # uniformly random column order
        v = xp.take_along_axis(values, perm, axis=1)
        order = xp.argsort(-v, axis=1, kind="stable")[:, :keep]
        return xp.take_along_axis(perm, order, axis=1)
    raise ValueError(f"unknown selection {kind!r}")


def _cluster_se(stat, event, n):
    """Mean of ``stat`` over the ``n`` kept samples and its cluster-robust standard error
    (clusters = curation events ``event``): ``se^2 = G/(G-1) sum_g (S_g - n_g mean)^2 / n^2``
    with ``G`` events, ``S_g``, ``n_g`` the sum and count of event ``g``.  With one sample per
    event it is ``sd / sqrt(n)`` (``ddof = 1``)."""
    mu = float(stat.sum()) / n
    _, inv = np.unique(event, return_inverse=True)
    G = int(inv.max()) + 1 if inv.size else 0
    S = np.bincount(inv, weights=stat, minlength=G)
    cnt = np.bincount(inv, minlength=G)
    if G < 2:
        return mu, 0.0
    var = G / (G - 1.0) * float(((S - cnt * mu) ** 2).sum()) / (n * n)
    return mu, math.sqrt(max(var, 0.0))


# ---------------------------------------------------------------- continuous samples (model protocol)

def cell_edges(coords):
    """Cell edges per axis: midpoints between the (increasing) coordinates, the outer cells
    as wide as their neighbour gap (``np.gradient``)."""
    out = []
    for c in coords:
        c = np.asarray(c, dtype=np.float64)
        if c.size > 1 and not np.all(np.diff(c) > 0):
            raise ValidationError("a model object needs increasing coords (cell edges are the "
                             "midpoints)")
        w = _cell_widths(c)
        mid = 0.5 * (c[1:] + c[:-1])
        out.append(np.concatenate([[c[0] - 0.5 * w[0]], mid, [c[-1] + 0.5 * w[-1]]]))
    return tuple(out)


def bin_points(points, edges):
    """Flat grid-cell index of each point (rows of ``points``, shape ``(n, d)``); points
    outside the grid fall in the nearest boundary cell."""
    points = np.asarray(points, dtype=np.float64)
    idx = []
    for i, e in enumerate(edges):
        j = np.searchsorted(e, points[:, i], side="right") - 1
        idx.append(np.clip(j, 0, e.size - 2))
    return np.ravel_multi_index(tuple(idx), tuple(e.size - 1 for e in edges))


def jitter_cells(rng, cells, edges):
    """Points uniform inside the given flat cells, shape ``(n, d)``."""
    shape = tuple(e.size - 1 for e in edges)
    idx = np.unravel_index(np.asarray(cells), shape)
    u = rng.random((len(cells), len(edges)))
    cols = [e[j] + u[:, i] * (e[j + 1] - e[j]) for i, (e, j) in enumerate(zip(edges, idx))]
    return np.stack(cols, axis=1)


class GridHistogramModel:
    """The histogram model through the model protocol (continuous samples): ``sample`` draws a
    cell from the masses and a uniform point inside it; ``fit`` bins the samples on the grid
    (the histogram MLE of the binned points); ``grid_masses`` returns the masses.  Its
    dynamics, binned, are those of ``model="histogram"``."""

    def __init__(self, mass, coords=None):
        m = np.asarray(mass, dtype=np.float64)
        self.shape = m.shape
        self.masses = m / m.sum()
        self.edges = cell_edges(_check_coords(coords, m.shape, "histogram"))

    def fit(self, samples, weights=None):
        cells = bin_points(samples, self.edges)
        counts = np.bincount(cells, weights=weights, minlength=self.masses.size)
        self.masses = (counts / counts.sum()).reshape(self.shape)
        return self

    def sample(self, n, rng):
        cells = rng.choice(self.masses.size, size=n, p=self.masses.ravel())
        return jitter_cells(rng, cells, self.edges)

    def grid_masses(self, edges):
        return self.masses


def _check_model_object(model):
    for name in ("fit", "sample"):
        if not callable(getattr(model, name, None)):
            raise ValidationTypeError(f"model must be one of {MODELS} or an object with fit(samples, "
                            f"weights=None) and sample(n, rng); {type(model).__name__} has no "
                            f"{name}()")
    return model


def _model_masses(model, edges, shape, rng, probe):
    """``(masses on the grid, estimated?)``: ``model.grid_masses(edges)`` when the model has it
    (exact), else the histogram of ``probe`` fresh samples (an estimate)."""
    gm = getattr(model, "grid_masses", None)
    if callable(gm):
        m = np.asarray(gm(edges), dtype=np.float64).reshape(shape)
        return m / m.sum(), False
    pts = np.asarray(model.sample(probe, rng), dtype=np.float64).reshape(probe, len(shape))
    c = np.bincount(bin_points(pts, edges), minlength=int(np.prod(shape)))
    return (c / c.sum()).reshape(shape), True


def _curate_rule_generation(rng, draw, parts, values, n, value_fn=None):
    """One generation of ``n`` kept samples under the frozen rule ``parts`` (``[(pi_u,
    rule_u)]``, ``values[u]``: type ``u``'s flat grid reward, ``log a`` for a filter).
    ``draw(c) -> (cells, points or None)``.  ``value_fn(points)``: the reward of type 0 at
    continuous points (replaces its grid reward).  Returns ``(cells, points or None, event)``,
    ``event``: the curation event of each kept sample."""
    pis = np.array([w for w, _ in parts], dtype=np.float64)
    n_u = rng.multinomial(n, pis / pis.sum()) if len(parts) > 1 else [n]
    cells_out, pts_out, ev_out = [], [], []
    ev0 = 0
    for u, ((_, r), nu) in enumerate(zip(parts, n_u)):
        nu = int(nu)
        if nu == 0:
            continue
        kind, keep = _rule_kind(r)
        val = values[u]

        def value_at(cells, pts):
            if u == 0 and value_fn is not None and pts is not None:
                return np.asarray(value_fn(pts), dtype=np.float64).reshape(len(cells))
            return val[cells]

        if kind == "filter":
            got, drawn, acc = 0, 0, 0
            while got < nu:
                rate = acc / drawn if drawn else 1.0
                c = int(min(CHUNK_DRAWS, max(1024, (nu - got) / max(rate, 1e-3) * 1.2 + 16)))
                cells, pts = draw(c)
                a = np.exp(value_at(cells, pts))
                ok = np.nonzero(rng.random(c) < a)[0]
                drawn += c
                acc += ok.size
                ok = ok[:nu - got]
                cells_out.append(cells[ok])
                if pts is not None:
                    pts_out.append(pts[ok])
                ev_out.append(ev0 + np.arange(ok.size))
                ev0 += ok.size
                got += ok.size
                if got == 0 and drawn >= 100 * CHUNK_DRAWS:
                    raise ValidationError("filtering: no draw accepted in 1e8 draws (accept ~ 0 on "
                                     "the model's support)")
            continue
        K = int(r.K)
        events = -(-nu // keep)
        remaining = nu
        for c in _chunks(events, max(1, CHUNK_DRAWS // K)):
            cells, pts = draw(c * K)
            vals = value_at(cells, pts).reshape(c, K)
            sel = select_kept(np, rng, vals, kind, keep)                 # (c, keep)
            k = sel.shape[1]
            flat = (np.arange(c)[:, None] * K + sel).ravel()
            ev = np.repeat(ev0 + np.arange(c), k)
            mask = np.ones(flat.size, dtype=bool)
            surplus = c * k - remaining
            if surplus > 0:  # the last event: a uniformly random subset of its kept samples
                drop = rng.permutation(k)[:surplus]
                mask[flat.size - k + drop] = False
            flat = flat[mask]
            cells_out.append(cells[flat])
            if pts is not None:
                pts_out.append(pts[flat])
            ev_out.append(ev[mask])
            ev0 += c
            remaining -= flat.size
    cells = np.concatenate(cells_out)
    pts = np.concatenate(pts_out) if pts_out else None
    return cells, pts, np.concatenate(ev_out)


def _finite_statistic(a):
    a = np.asarray(a, dtype=np.float64)
    return np.where(np.isfinite(a), a, 0.0)


def _simulate_general(m, rule, steps, samples, lam, d, seed, model, be, progress, coords,
                      h_fixed, reward_fn, statistic):
    """The loop for a curation rule and/or a model object (see :func:`simulate`)."""
    from .curators import Mixture
    if be.xp is not np:
        raise ValidationError("curation rules other than (reward, K) and model objects run on the "
                         "numpy backend only")
    rng = be.rng
    shape, size = m.shape, m.size
    obj = None if isinstance(model, str) else model
    if reward_fn is not None:
        if obj is None:
            raise ValidationError("reward_fn needs a model object (continuous samples); the grid "
                             "models use the grid reward")
        if isinstance(rule, Mixture) or not callable(reward_fn):
            raise ValidationError("reward_fn must be a callable and the rule a single user type")
    for _, r in rule.components():
        _rule_kind(r)
    edges = cell_edges(coords) if obj is not None else None
    n_real = 0 if d is None else int(round(samples / lam))
    eff_lam = math.inf if n_real == 0 else samples / n_real
    data_law = None if not n_real else be.set_law(d.ravel() / d.sum())

    def stat_at(t):
        if statistic is not None:
            return _finite_statistic(statistic).reshape(shape)
        return _finite_statistic(rule.primary.reward_spec.at(t, shape))

    info = {}
    if obj is not None:
        q_mass, est = _model_masses(obj, edges, shape, rng, samples)
        info["masses_estimated"] = est
    else:
        q_mass = m
    masses = [q_mass.copy()]
    stats = [stat_at(t) for t in range(max(steps, 1))]
    exp_r = np.empty(steps + 1)
    mean_r, se_r = np.empty(steps), np.empty(steps)
    bws = np.empty((steps, m.ndim)) if model == "kde" else None
    if model == "gaussian":
        info.update(mean=np.empty((steps, m.ndim)), cov=np.empty((steps, m.ndim, m.ndim)))
    exp_r[0] = float(np.dot(q_mass.ravel(), stats[0].ravel()))
    for t in range(steps):
        frozen = rule_at(rule, t, shape)
        parts = frozen.components()
        values = [np.asarray(r.reward_spec.at(0, shape), dtype=np.float64).ravel()
                  for _, r in parts]
        if obj is None:
            law = be.set_law(q_mass.ravel() / q_mass.sum())

            def draw(c, law=law):
                return np.asarray(be.draw_cells(law, c)), None
        else:
            def draw(c):
                pts = np.asarray(obj.sample(c, rng), dtype=np.float64).reshape(c, len(shape))
                return bin_points(pts, edges), pts
        cells, pts, ev = _curate_rule_generation(rng, draw, parts, values, samples, reward_fn)
        mean_r[t], se_r[t] = _cluster_se(stats[t].ravel()[cells], ev, samples)
        if obj is None:
            counts = np.bincount(cells, minlength=size).astype(np.float64)
            if n_real:
                counts = counts + _real_counts(be, data_law, n_real, size)
            if model == "histogram":
                qn = fit_histogram(np, counts, shape)
            elif model == "gaussian":
                qn, info["mean"][t], info["cov"][t] = fit_gaussian(np, counts, shape, coords)
            else:
                qn, bws[t] = fit_kde(be, counts, shape, coords, h_fixed)
            q_mass = np.asarray(qn, dtype=np.float64).reshape(shape)
        else:
            if n_real:
                real = np.asarray(be.draw_cells(data_law, n_real))
                pts = np.concatenate([pts, jitter_cells(rng, real, edges)])
            obj.fit(pts)
            q_mass, est = _model_masses(obj, edges, shape, rng, samples)
            info["masses_estimated"] = info["masses_estimated"] or est
        masses.append(q_mass.copy())
        exp_r[t + 1] = float(np.dot(q_mass.ravel(), stats[min(t + 1, steps - 1)].ravel()))
        if progress is not None:
            progress(t + 1, steps)
    name = model if obj is None else type(obj).__name__
    return Simulation(masses, exp_r, mean_r, se_r, rule.K, lam, eff_lam, samples, n_real, steps,
                      seed, name, be.name, stats[0], None if d is None else d / d.sum(), bws,
                      info, rule=rule, statistics=stats[:steps])


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
    if sim.rule is not None:
        return _compare_rule(sim, z_limit, method)
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


def _compare_rule(sim, z_limit, method):
    """:func:`compare_with_exact` for a rule run (or a model object): per generation the rule
    frozen at step ``t`` (:func:`rule_at`), ``cond[t] = E_{C(q_t)}[f_t]`` with
    ``numerics.curate(q_t, rule_t)``, and the exact iterates ``p_{t+1} = (p_d + lam' C(p_t)) /
    (1 + lam')`` from the same ``curate``; ``exact_expected_reward[t] = E_{p_t}[f_t]``."""
    from .curation import curate

    shape = sim.masses[0].shape
    lam = sim.effective_lam
    stats = sim.statistics
    f_end = stats[-1] if stats else sim.reward
    p = np.asarray(sim.masses[0], dtype=np.float64)
    p = p / p.sum()
    er = np.empty(sim.steps + 1)
    exact_cur, cond = np.empty(sim.steps), np.empty(sim.steps)
    tv = np.empty(sim.steps + 1)
    tv[0] = 0.5 * float(np.abs(sim.masses[0] - p).sum())
    er[0] = float(np.dot(p.ravel(), (stats[0] if stats else sim.reward).ravel()))
    for t in range(sim.steps):
        rt = rule_at(sim.rule, t, shape)
        f = stats[t].ravel()
        c_p = curate(p, rt, method=method)
        exact_cur[t] = float(np.dot(c_p.ravel(), f))
        cond[t] = float(np.dot(curate(sim.masses[t], rt, method=method).ravel(), f))
        p = c_p if math.isinf(lam) else (sim.data + lam * c_p) / (1.0 + lam)
        tv[t + 1] = 0.5 * float(np.abs(sim.masses[t + 1] - p).sum())
        er[t + 1] = float(np.dot(p.ravel(), (stats[t + 1] if t + 1 < sim.steps
                                             else f_end).ravel()))
    z_c = _z(sim.sample_mean_reward - cond, sim.sample_se)
    z_e = _z(sim.sample_mean_reward - exact_cur, sim.sample_se)
    passed = bool(np.all(np.abs(z_c) <= z_limit))
    return CrossCheck(sim, er, exact_cur, cond, z_c, z_e, tv, float(z_limit), passed)
