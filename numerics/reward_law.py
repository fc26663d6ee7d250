r"""Continuous reward laws: the law of ``r`` under ``p_d`` given by a density on an interval
(THEORY.md T8, T9: condensation is a statement about such laws).

A :class:`ContinuousRewardLaw` has a density ``f`` on ``[lower, upper]`` (not necessarily
normalized; ``upper = r_*`` is the top of the support).  Expectations are computed by adaptive
quadrature (:meth:`~ContinuousRewardLaw.expectation`), and :meth:`~ContinuousRewardLaw.atoms`
discretizes the law by composite Gauss-Legendre rules on panels graded geometrically toward
both ends of the interval, so that densities with integrable algebraic singularities at the
ends (``(-r)^{b-1}`` with ``b < 1`` at the top, say), and the fixed-point densities
``f / (1 + lam - lam H)`` whose denominator vanishes at the top when the limit condenses,
are integrated with exponential accuracy (hp refinement; Schwab, *p- and hp-Finite Element
Methods*, 1998, sec. 4.2).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from scipy import integrate

__all__ = ["ContinuousRewardLaw"]


@dataclass
class ContinuousRewardLaw:
    """The reward law of ``p_d`` given by a density in ``r`` on ``[lower, upper]``.

    Parameters
    ----------
    density : callable
        ``density(r) >= 0`` (need not be normalized; normalized internally by quadrature).
        It is called with floats; a function that also accepts arrays is used vectorized.
    lower, upper : float
        the support; ``upper`` is ``r_*``.

    Raises
    ------
    TypeError
        if ``density`` is not callable.
    ValueError
        if ``lower < upper`` fails or the density has no positive finite integral.

    Examples
    --------
    THEORY.md T8's example, the law ``b (-r)^{b-1}`` on ``[-1, 0]`` with ``b = 3``:

    >>> law = ContinuousRewardLaw(lambda r: 3 * r**2, -1.0, 0.0)
    >>> round(law.expectation(lambda r: -r), 12)   # E[-r] = b / (b + 1)
    0.75
    """

    density: Callable[[float], float]
    lower: float
    upper: float
    _total: float = field(init=False, repr=False)

    def __post_init__(self):
        if not callable(self.density):
            raise TypeError("density must be callable")
        lo, hi = float(self.lower), float(self.upper)
        if not (math.isfinite(lo) and math.isfinite(hi)) or not lo < hi:
            raise ValueError(f"need finite lower < upper, got lower={self.lower!r}, "
                             f"upper={self.upper!r}")
        total, _ = integrate.quad(self.density, lo, hi, epsabs=0, epsrel=1e-13, limit=200)
        if not total > 0 or not math.isfinite(total):
            raise ValueError(f"density must have a positive finite integral, got {total!r}")
        self.lower, self.upper, self._total = lo, hi, total

    @property
    def r_star(self) -> float:
        return self.upper

    def pdf(self, r):
        """The normalized density at ``r`` (float or array)."""
        if np.ndim(r) == 0:
            return self.density(float(r)) / self._total
        return self._vectorized(np.asarray(r, dtype=float)) / self._total

    def _vectorized(self, r):
        try:
            out = np.asarray(self.density(r), dtype=float)
            if out.shape == r.shape:
                return out
        except (TypeError, ValueError):
            pass
        return np.array([self.density(float(v)) for v in r.ravel()]).reshape(r.shape)

    def expectation(self, f, points=None):
        """``E[f(r)]`` by adaptive quadrature (scipy's QUADPACK, relative tolerance 1e-13)."""
        val, _ = integrate.quad(lambda r: f(r) * self.density(r), self.lower, self.upper,
                                epsabs=0, epsrel=1e-13, limit=400, points=points)
        return val / self._total

    def mean_inverse_gap(self, eps=0.0, order=16):
        r"""``E[1 / (eps + 1 - e^{r - r_*})]`` for ``eps >= 0``; ``math.inf`` where it diverges.

        With ``eps = 0`` this is ``J = (1 + lam) I`` of THEORY.md T8, finite iff the density
        vanishes fast enough at ``r_*`` (``b > 1`` for ``b (-r)^{b-1}``).  The depth range
        ``d = r_* - r <= w`` is cut into dyadic shells ``[w 2^{-j-1}, w 2^{-j}]``, each
        integrated by ``order``-point Gauss-Legendre (an algebraic behaviour ``d^{b-1}`` at the
        top is smooth on every shell); the rest, ``d >= w``, by adaptive quadrature.  Shells are
        added until they are negligible (``1e-17`` of the sum, three in a row) or the depth falls
        below the resolution of ``r_*`` in float64; then the remaining shells are summed as the
        geometric series of the last ratio ``q = c_{j+1}/c_j`` (exact for a density
        ``~ d^{b-1}``, ``q = 2^{1-b}``), and the mean is ``inf`` if ``q >= 1`` (shells that do
        not decay: a divergent integral).
        """
        eps = float(eps)
        if not eps >= 0:
            raise ValueError(f"eps must be >= 0, got {eps!r}")
        span = self.upper - self.lower
        w = min(0.5, span / 4.0)

        def integrand_r(r):
            return self.density(r) / (eps - math.expm1(r - self.upper))

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", integrate.IntegrationWarning)
            regular, _ = integrate.quad(integrand_r, self.lower, self.upper - w, epsabs=0,
                                        epsrel=1e-13, limit=400)
        x, wq = np.polynomial.legendre.leggauss(order)
        # the smallest depth that float64 still tells apart from r_* (with room for the nodes)
        floor = max(4 * math.ulp(abs(self.upper)), 1e-300) if self.upper != 0 else 1e-300
        shells, total, quiet = [], regular, 0
        hi = w
        while hi / 2 > floor:
            lo = hi / 2
            d = 0.5 * (hi + lo) + 0.5 * (hi - lo) * x
            with np.errstate(over="ignore"):
                c = 0.5 * (hi - lo) * float(np.dot(wq, self._vectorized(self.upper - d)
                                                  / (eps - np.expm1(-d))))
            if not math.isfinite(c):
                return math.inf
            shells.append(c)
            total += c
            hi = lo
            quiet = quiet + 1 if c <= 1e-17 * total else 0
            if quiet >= 3:
                return total / self._total
        if len(shells) < 2 or shells[-2] <= 0:
            return total / self._total
        q = shells[-1] / shells[-2]
        if not q < 1:
            return math.inf
        return (total + shells[-1] * q / (1.0 - q)) / self._total

    def atoms(self, order=16, levels=60, width=0.5):
        """A discrete law that integrates smooth functions of ``r`` like this one.

        Composite ``order``-point Gauss-Legendre rules on panels of depth (distance to the
        nearer end) ``[w 2^{-j-1}, w 2^{-j}]``, ``j < levels``, and ``[0, w 2^{-levels}]`` next
        to each end, and uniform panels of width ``w = min(width, (upper - lower)/4)`` in
        between.

        Returns ``(depth, mass)``: depths ``upper - r`` of the atoms (increasing) and their
        normalized masses (``density x weight``, renormalized; the renormalization is the
        quadrature error of the total mass, reported by :meth:`discretization_error`).
        """
        depth, mass = self._atoms(order, levels, width)
        return depth, mass / mass.sum()

    def discretization_error(self, order=16, levels=60, width=0.5):
        """Relative error of the total mass of :meth:`atoms` against adaptive quadrature."""
        _, mass = self._atoms(order, levels, width)
        return abs(float(mass.sum()) / self._total - 1.0)

    def _atoms(self, order, levels, width):
        x, w = np.polynomial.legendre.leggauss(order)
        span = self.upper - self.lower
        wid = min(width, span / 4.0)
        scales = np.ldexp(wid, -np.arange(levels + 1))     # w, w/2, ..., w 2^-levels
        near = np.stack([np.append(scales[1:], 0.0), scales], axis=1)  # [w 2^-j-1, w 2^-j]
        n_mid = max(1, int(math.ceil((span - 2 * wid) / wid)))
        mid_edges = np.linspace(wid, span - wid, n_mid + 1)
        mid = np.stack([mid_edges[:-1], mid_edges[1:]], axis=1)
        far = span - near[:, ::-1]                          # graded toward the lower end
        edges = np.concatenate([near[::-1], mid, far[::-1]])
        half = 0.5 * (edges[:, 1] - edges[:, 0])
        centre = 0.5 * (edges[:, 1] + edges[:, 0])
        depth = (centre[:, None] + half[:, None] * x[None, :]).ravel()
        weight = (half[:, None] * w[None, :]).ravel()
        r = self.upper - depth
        dens = self._vectorized(r)
        if np.any(~np.isfinite(dens)) or np.any(dens < 0):
            raise ValueError("density must be finite and non-negative inside (lower, upper)")
        # atoms that round to the same depth (next to the lower end) are merged
        depth, inverse = np.unique(depth, return_inverse=True)
        return depth, np.bincount(inverse, weights=dens * weight)
