"""The models the sample-based loop refits each generation: the grid fits
(``"histogram"``: the MLE on the grid, ``"gaussian"``: moment matching, ``"kde"``: Gaussian
kernel density; :data:`MODELS`; ``"flow"`` is a model object, :mod:`numerics.neural_flow`) and the model-object protocol (``fit``, ``sample``, optionally
``grid_masses``; continuous samples binned on the grid, :class:`GridHistogramModel`)."""

from __future__ import annotations

import numpy as np

from .sampling_checks import check_coords
from .validation import ValidationError, ValidationTypeError

__all__ = ["MODELS", "KDE_TRUNCATE", "fit_histogram", "fit_gaussian", "scott_bandwidth",
           "fit_kde", "cell_edges", "bin_points", "jitter_cells", "GridHistogramModel",
           "check_model_object", "model_masses"]

#: accepted values of ``simulate(model=...)`` (``"flow"``: the flow-matching network of
#: :mod:`numerics.neural_flow`, which needs the optional extra ``selfconsume[neural]``)
MODELS = ("histogram", "gaussian", "kde", "flow")

#: the KDE kernel is cut at this many standard deviations (mass beyond: < 1e-15)
KDE_TRUNCATE = 8.0


# ---------------------------------------------------------------- model refits

def fit_histogram(xp, counts, shape):
    """The histogram MLE on the grid: ``counts / total``.

    Raises
    ------
    ValueError
        ``counts`` does not have ``prod(shape)`` entries (numpy's reshape).  Counts of zero
        total give NaN masses, not an error: they are trusted (from
        :func:`numerics.sampling.simulate`, ``samples >= 1``).

    See Also
    --------
    fit_gaussian, fit_kde : the other grid models.
    numerics.sampling.simulate : the loop that refits it every generation.

    References
    ----------
    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    retraining with infinite capacity, maximum likelihood on the curated samples (L1).

    docs/theory.md section 6 (its expectation is one exact step, ``numerics.retrain_step``).
    """
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
    rather than a singular one.  Returns ``(masses, mu, Sigma)``.

    Raises
    ------
    ValueError
        ``counts`` does not have ``prod(shape)`` entries, or a ``coords`` axis is not as
        long as its side (numpy's reshape).  The arguments are otherwise trusted (checked by
        :func:`numerics.sampling.simulate`); counts of zero total give NaN.

    See Also
    --------
    fit_histogram, fit_kde : the other grid models.
    numerics.parametric : the exact dynamics of the Gaussian family (section 5).

    References
    ----------
    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    Theorem 2.2 (S2: retraining a parametric family by maximum likelihood).

    docs/theory.md section 5 (S1-S3) and section 6.
    """
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
    """Scott's rule, as in ``scipy.stats.gaussian_kde``: ``h_i = n^{-1/(d+4)} sd_i``.

    Raises
    ------
    ZeroDivisionError
        ``n = 0`` or ``dim = -4``.
    TypeError
        ``sd`` not numeric (numpy's product).

    See Also
    --------
    fit_kde : uses it when no bandwidth is given.
    scipy.stats.gaussian_kde : the same rule.

    References
    ----------
    Scott (1992), *Multivariate Density Estimation: Theory, Practice, and Visualization*,
    Wiley (the rule).

    docs/theory.md section 6 (the kde model of the sample-based loop).
    """
    return np.asarray(sd) * float(n) ** (-1.0 / (dim + 4))


def fit_kde(be, counts, shape, coords, bandwidth=None, truncate=KDE_TRUNCATE):
    r"""Gaussian kernel density estimate of the samples, on the grid.

    ``q = normalize(w * phi_{h_1} * ... * phi_{h_d})``: the histogram ``w = counts / total``
    convolved, axis by axis, with a sampled Gaussian kernel of standard deviation ``h_i``
    (``scipy.ndimage.gaussian_filter1d``, kernel cut at ``truncate`` sd, zero outside the
    grid: the kernel mass falling off the grid is dropped and the result renormalized).
    ``bandwidth`` (coordinate units; scalar or one per axis), default Scott's rule on the
    per-axis standard deviations (``ddof = 1``, as scipy).  A diagonal kernel keeps the
    convolution separable.  Needs uniformly spaced axes.  Returns ``(masses, h)``.

    Raises
    ------
    ValueError
        ``counts`` does not have ``prod(shape)`` entries; ``bandwidth`` not numeric or not
        one number per axis.  The bandwidth's sign and the axes' spacing are trusted
        (checked by :func:`numerics.sampling.simulate`).
    ZeroDivisionError
        counts of zero total with the default bandwidth (Scott's rule with ``n = 0``).

    See Also
    --------
    scott_bandwidth : the default bandwidth.
    fit_histogram, fit_gaussian : the other grid models.

    References
    ----------
    Scott (1992), *Multivariate Density Estimation: Theory, Practice, and Visualization*,
    Wiley (the default bandwidth).

    docs/theory.md section 6 (the kde model of the sample-based loop).
    """
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


# ---------------------------------------------------------------- continuous samples (model protocol)

def cell_edges(coords):
    """Cell edges per axis: midpoints between the (increasing) coordinates, the outer cells
    as wide as their neighbour gap (``np.gradient``).

    Raises
    ------
    ValidationError
        (a ``ValueError``) an axis not strictly increasing (a model object needs increasing
        coords).
    ValueError
        an axis not numeric.

    See Also
    --------
    bin_points : the cell of a point, from these edges.
    jitter_cells : uniform points inside cells.
    numerics.sampling.simulate : model objects are binned on these cells.

    References
    ----------
    docs/theory.md section 6 (model objects: continuous samples binned on the grid).
    """
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
    outside the grid fall in the nearest boundary cell.

    Raises
    ------
    IndexError
        ``points`` not 2-D.
    ValueError
        ``points`` not numeric.  The number of columns is trusted (``d``, from
        :func:`numerics.sampling.simulate`).

    See Also
    --------
    cell_edges : the edges.
    jitter_cells : the converse: points inside given cells.

    References
    ----------
    docs/theory.md section 6 (model objects: continuous samples binned on the grid).
    """
    points = np.asarray(points, dtype=np.float64)
    idx = []
    for i, e in enumerate(edges):
        j = np.searchsorted(e, points[:, i], side="right") - 1
        idx.append(np.clip(j, 0, e.size - 2))
    return np.ravel_multi_index(tuple(idx), tuple(e.size - 1 for e in edges))


def jitter_cells(rng, cells, edges):
    """Points uniform inside the given flat cells, shape ``(n, d)``.

    Raises
    ------
    ValueError
        a flat cell index outside the grid the edges span (numpy's ``unravel_index``).

    See Also
    --------
    bin_points : the converse: the cell of each point.
    cell_edges : the edges.

    References
    ----------
    docs/theory.md section 6 (real samples enter a model object's refit as uniform points
    inside their cells).
    """
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
        self.edges = cell_edges(check_coords(coords, m.shape, "histogram"))

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


def check_model_object(model):
    for name in ("fit", "sample"):
        if not callable(getattr(model, name, None)):
            raise ValidationTypeError(f"model must be one of {MODELS} or an object with fit(samples, "
                            f"weights=None) and sample(n, rng); {type(model).__name__} has no "
                            f"{name}()")
    return model


def model_masses(model, edges, shape, rng, probe):
    """``(masses on the grid, estimated?)``: ``model.grid_masses(edges)`` when the model has it
    (exact), else the histogram of ``probe`` fresh samples (an estimate)."""
    gm = getattr(model, "grid_masses", None)
    if callable(gm):
        m = np.asarray(gm(edges), dtype=np.float64).reshape(shape)
        return m / m.sum(), False
    pts = np.asarray(model.sample(probe, rng), dtype=np.float64).reshape(probe, len(shape))
    c = np.bincount(bin_points(pts, edges), minlength=int(np.prod(shape)))
    return (c / c.sum()).reshape(shape), True
