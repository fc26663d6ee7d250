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

This module holds the loop (:func:`simulate`: one generation after another, drawing,
curating and refitting); it re-exports the names of the modules it is made of, so that
``numerics.sampling`` keeps its whole public interface:

- :mod:`numerics.simulation`: the run's record :class:`Simulation`;
- :mod:`numerics.sampling_checks`: the argument checks of :func:`simulate`;
- :mod:`numerics.sampling_selection`: which draws each curation rule keeps;
- :mod:`numerics.sampling_models`: the refits and the model-object protocol;
- :mod:`numerics.sampling_crosscheck`: :func:`compare_with_exact` and its CLT statistics;
- :mod:`numerics.sampling_backends`: where the draws happen (numpy, cupy).

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

import numpy as np

from .sampling_backends import get_backend
from .sampling_checks import (check_bandwidth, check_coords, check_K_integer,
                              check_positive_int, check_seed)
from .sampling_crosscheck import CrossCheck, cluster_se, compare_with_exact
from .sampling_models import (KDE_TRUNCATE, MODELS, GridHistogramModel, bin_points, cell_edges,
                              check_model_object, fit_gaussian, fit_histogram, fit_kde,
                              jitter_cells, model_masses, scott_bandwidth)
from .sampling_selection import gumbel_max_winners, rule_at, rule_kind, select_kept
from .simulation import Simulation
from .validation import (ValidationError, ValidationTypeError, as_mass, as_reward, check_lam,
                         check_data, check_steps)

__all__ = ["simulate", "Simulation", "compare_with_exact", "CrossCheck", "MODELS",
           "gumbel_max_winners", "fit_histogram", "fit_gaussian", "fit_kde", "select_kept",
           "rule_at", "GridHistogramModel", "cell_edges", "bin_points", "jitter_cells",
           "scott_bandwidth", "KDE_TRUNCATE", "CHUNK_DRAWS"]

#: the name before the split (tests call it)
_cluster_se = cluster_se

#: draws (tuples x K) per chunk: bounds the memory of one generation to a few tens of MB
CHUNK_DRAWS = 1 << 20


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

# ---------------------------------------------------------------- the loop

def simulate(mass, reward, K=None, steps=None, samples=None, lam=math.inf, data=None, *, seed=0,
             model="histogram", backend="auto", progress=None, coords=None,
             bandwidth=None, reward_fn=None, statistic=None, model_options=None):
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
    seed : int, keyword-only (as every option after ``data``)
        seeds the backend's generator (``numpy.random.default_rng(seed)`` on the CPU).
    model : {"histogram", "gaussian", "kde", "flow"} or a model object
        the refit, see the module doc and :func:`fit_histogram`, :func:`fit_gaussian`,
        :func:`fit_kde`; ``"flow"``: a flow-matching network
        (:class:`numerics.neural_flow.FlowMatchingModel`, needs ``pip install
        'selfconsume[neural]'``) fitted first to ``samples`` points of ``mass`` (uniform
        inside their cells, :func:`numerics.neural_flow.flow_from_masses`), then run as a
        model object (below); ``backend="auto"`` is then numpy (the network picks its own
        device: CUDA when available).
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
    model_options : dict, optional
        ``model="flow"``: parameters of :class:`numerics.neural_flow.FlowMatchingModel`
        (e.g. ``train_steps``, ``hidden``, ``device``; ``seed`` defaults to ``seed``).

    ``reward`` may be a curation rule of :mod:`numerics.curators` (``K`` left out:
    ``simulate(mass, rule, steps=..., samples=...)``): Plackett-Luce keep-k (Gumbel-top-k),
    hard top-k (ties uniformly at random), filtering, mixtures of user types, rewards that
    change with ``t``.  ``samples`` counts the KEPT samples (keep-k: ``ceil(n / k)`` events,
    a uniformly random subset of the last one's; filtering: draws until ``n`` are kept;
    mixtures: each kept sample's user type is drawn with ``pi_u``).  See the section
    "every curation rule" of :mod:`numerics.sampling_selection`.

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

    Raises
    ------
    ValidationError
        (a ``ValueError``) ``mass`` empty, negative, NaN, infinite or of zero total; ``reward``
        not shaped like ``mass``, NaN or infinite; ``K`` not an integer ``>= 1`` (``math.inf``
        included), or a rule's user type with such a ``K``; ``steps < 0``; ``samples < 1``;
        ``lam`` NaN, ``< 0`` or ``0`` (nothing is curated); ``data`` missing with a finite
        ``lam``, or invalid like ``mass``; ``seed`` negative or not an integer; ``model`` not
        one of :data:`MODELS`; ``coords`` with the wrong number of axes or lengths, not
        finite, not strictly monotone (not increasing for a model object), or not uniformly
        spaced for ``model="kde"``; ``bandwidth`` not finite and ``> 0`` or not one per
        axis; ``backend`` unknown, or ``"cupy"`` without CuPy or a GPU; ``statistic`` without
        a rule, ``model_options`` without ``model="flow"``, ``reward_fn`` without a model
        object (or not callable, or with a mixture); a rule or a model object on the cupy
        backend; a filter that accepts no draw in ``1e8``.
    ValidationTypeError
        (a ``TypeError``) ``steps`` or ``samples`` missing or not an integer; ``mass``,
        ``reward`` or ``coords`` not arrays of real numbers; ``K`` not a real number, or given
        with a curation rule; ``lam`` not a real number; ``model`` an object without
        ``fit`` and ``sample``; ``model_options`` not a dict, or naming an unknown parameter
        of :class:`numerics.neural_flow.FlowMatchingModel`; a rule's user type that cannot be
        sampled.
    ImportError
        ``model="flow"`` without PyTorch (``pip install 'selfconsume[neural]'``).

    See Also
    --------
    compare_with_exact : hold the run against the exact engine (CLT z-scores).
    numerics.evolve : the exact dynamics the loop fluctuates around.
    numerics.parametric.simulation_check.compare_gaussian_with_parametric : the gaussian
        model against the exact parametric dynamics (section 5).

    Notes
    -----
    Random stream (one generator for the whole run; numpy backend).  Per generation, in
    order: for each chunk of ``c = min(remaining, 2^20 // K)`` curated samples, the ``c K``
    candidate cells (``rng.multinomial(c K, q_t)`` then ``rng.shuffle``; for ``K = 1`` only
    ``rng.multinomial(c, q_t)``) and ``rng.standard_exponential((c, K))`` for Gumbel-max;
    then the real samples (``rng.multinomial`` per chunk of ``2^20``).  The cupy backend
    and :class:`numerics.sampling_backends.ArrayBackend` draw cells by inverse CDF instead
    (``rng.random``).  Same seed, backend and inputs -> the same result, bit for bit.

    References
    ----------
    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    Lemma 2.1 (L1: the law of the kept sample, drawn here by Gumbel-max); the paper's loops
    retrain on samples.

    Zhao, Fu, Pham (2025), arXiv 2511.09002, and Wei, Zhang (2025), ICML 2025, arXiv
    2505.09768: mixtures of user types (heterogeneous, noisy or adversarial curators).

    docs/theory.md section 6 (the sample-based loop), L4-L6 (the other curation rules).
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
        K = check_K_integer(K)
    steps = check_steps(steps)
    samples = check_positive_int(samples, "samples")
    lam = check_lam(lam)
    if lam == 0:
        raise ValidationError("lam must be > 0 for simulate (lam = 0 is real data only: nothing "
                              "is curated)")
    m = m / m.sum()
    d = check_data(data, lam, m.shape, default=m)
    seed = check_seed(seed)
    if isinstance(model, str):
        if model not in MODELS:
            raise ValidationError(f"model must be one of {MODELS}, got {model!r}")
    else:
        check_model_object(model)
    if model_options is not None and not (isinstance(model, str) and model == "flow"):
        raise ValidationError("model_options is for model='flow' (pass a model object's "
                              "parameters to its constructor)")
    coords = check_coords(coords, m.shape, model if isinstance(model, str) else "object")
    h_fixed = check_bandwidth(bandwidth, m.ndim)
    name = None
    if isinstance(model, str) and model == "flow":
        from .neural_flow import flow_from_masses, flow_options
        flow_options(model_options)
        cell_edges(coords)  # increasing coords, before any training
        if backend == "auto":
            backend = "numpy"
        name = model
        model = flow_from_masses(m, coords, samples, seed, model_options)
    be = get_backend(backend, seed)
    xp = be.xp
    if rule is not None or not isinstance(model, str) or reward_fn is not None:
        if rule is None:
            rule = bradley_terry(r, K)
        return _simulate_general(m, rule, steps, samples, lam, d, seed, model, be, progress,
                                 coords, h_fixed, reward_fn, statistic, name)
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
        kind, keep = rule_kind(r)
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
                      h_fixed, reward_fn, statistic, name=None):
    """The loop for a curation rule and/or a model object (see :func:`simulate`); ``name``:
    the model's name in the record (default the object's class name)."""
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
        rule_kind(r)
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
        q_mass, est = model_masses(obj, edges, shape, rng, samples)
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
        mean_r[t], se_r[t] = cluster_se(stats[t].ravel()[cells], ev, samples)
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
            q_mass, est = model_masses(obj, edges, shape, rng, samples)
            info["masses_estimated"] = info["masses_estimated"] or est
        masses.append(q_mass.copy())
        exp_r[t + 1] = float(np.dot(q_mass.ravel(), stats[min(t + 1, steps - 1)].ravel()))
        if progress is not None:
            progress(t + 1, steps)
    if obj is not None and name is not None:
        info["model_object"] = obj
    name = model if obj is None else (name or type(obj).__name__)
    return Simulation(masses, exp_r, mean_r, se_r, rule.K, lam, eff_lam, samples, n_real, steps,
                      seed, name, be.name, stats[0], None if d is None else d / d.sum(), bws,
                      info, rule=rule, statistics=stats[:steps])
