"""The spectral radius of parametric retraining over ``(lam, K)`` (THEORY.md S1-S3): the
numbers of the stability figure, computed by :func:`numerics.parametric.stability`; the
plotting is in :mod:`figures.stability_plot`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from numerics.parametric import Gaussian, stability

__all__ = ["StabilityScan", "stability_scan", "DEFAULT_LAMS", "DEFAULT_KS"]

#: the issue's range: lam in [0.05, 20], K in {2, 3, 8, inf}
DEFAULT_LAMS = tuple(float(v) for v in np.geomspace(0.05, 20.0, 15))
DEFAULT_KS = (2.0, 3.0, 8.0, math.inf)


@dataclass
class StabilityScan:
    """``radius[i, j]``, ``radius_error[i, j]``, ``stable[i, j]`` (1 stable, 0 unstable,
    -1 undecided, NaN no fixed point found) at ``K = Ks[i]``, ``lam = lams[j]``;
    ``s1 = lam/(1+lam)`` (= S2's ``rho`` for exponential families, ``L = 0``); ``rho_B``
    (NaN where void, ``lam >= 1``); ``results[i][j]``: the :class:`Stability` records."""

    scenario: object
    lams: np.ndarray
    Ks: tuple
    radius: np.ndarray
    radius_error: np.ndarray
    stable: np.ndarray
    s1: np.ndarray
    rho: np.ndarray
    rho_B: np.ndarray
    results: list = field(repr=False, default_factory=list)


def stability_scan(scenario, lams=DEFAULT_LAMS, Ks=DEFAULT_KS, progress=None):
    """The Gaussian family's fixed point and spectral radius at every ``(K, lam)``; the data
    are ``scenario.data`` (or its start masses)."""
    fam = Gaussian(tuple(scenario.axes))
    data = scenario.mass if scenario.data is None else scenario.data
    lams = np.asarray(lams, dtype=float)
    shape = (len(Ks), lams.size)
    radius, err, stable = (np.full(shape, np.nan) for _ in range(3))
    rho, rho_B = np.full(lams.size, np.nan), np.full(lams.size, np.nan)
    results = []
    for i, K in enumerate(Ks):
        row = []
        for j, lam in enumerate(lams):
            st = stability(fam, scenario.reward, K, float(lam), data)
            row.append(st)
            rho[j] = st.rho
            rho_B[j] = np.nan if st.rho_B is None else st.rho_B
            if st.exists:
                radius[i, j], err[i, j] = st.spectral_radius, st.radius_error
                stable[i, j] = {True: 1.0, False: 0.0, None: -1.0}[st.stable]
            if progress is not None:
                progress(i * lams.size + j + 1, lams.size * len(Ks))
        results.append(row)
    return StabilityScan(scenario, lams, tuple(Ks), radius, err, stable, lams / (1 + lams),
                         rho, rho_B, results)
