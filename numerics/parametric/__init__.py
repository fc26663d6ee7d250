r"""Finite capacity: parametric retraining on curated data (THEORY.md section 5, S1-S3).

An exponential family on the grid (:class:`Gaussian` or :class:`ExponentialFamily` from
user-given sufficient statistics), the retraining map ``G`` (the MLE of
``(p_d + lam C_K(p_theta)) / (1 + lam)``, exactly by quadrature on the grid), its fixed
points and their stability (:func:`stability`), and trajectories (:func:`evolve`).

>>> import numpy as np
>>> from numerics.parametric import Gaussian, stability
>>> x = np.linspace(-8, 8, 801)
>>> data = np.exp(-x**2 / 2)
>>> st = stability(Gaussian((x,)), -(x - 1)**2 / 2, K=1, lam=2.0, data=data)
>>> round(st.spectral_radius, 12), round(st.uncurated_radius, 12)     # S1: lam/(1+lam)
(0.666666666667, 0.666666666667)
"""

from .families import ExponentialFamily, Gaussian, FitError
from .retraining_map import RetrainingMap, JacobianResult
from .stability import stability, Stability, evolve, ParametricTrajectory, s2_constants

__all__ = ["ExponentialFamily", "Gaussian", "FitError", "RetrainingMap", "JacobianResult",
           "stability", "Stability", "evolve", "ParametricTrajectory", "s2_constants"]
