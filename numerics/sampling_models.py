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
