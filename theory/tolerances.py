"""The tolerances the checks use, each with the reason for its size.

A check compares a *measured* number with a *predicted* one and reports the slack (see
:mod:`theory.report`).  The tolerance is the error the numbers themselves may carry, never a
fudge factor:

- ``ROUNDING``: identities evaluated directly in float64 (a handful of operations and sums of
  non-negative terms): 64 ulps of the magnitude involved.
- ``ENGINE``: quantities computed by the curation engine (``numerics``): the L2 quadrature
  of ``H`` is accurate to below 1e-14 relative (trapezoid in ``v = log u``, measured against
  40-digit mpmath in the engine's tests) and the compressed reward-law mode to ~1e-13
  (measured against the direct mode); 1e-12 relative leaves a margin of 10 over the
  worst of them.  Probabilities are compared at 1e-12 absolute for the same reason.
- ``T3_RATE``: the finite-K two-level rate is an asymptotic statement; it is checked to 1e-6
  once the pre-asymptotic deviation bound ``(1 - rho) m_low / (1 - m_low)`` is below that.
- ``CONDENSATE``: the T8 condensate of a continuous law, computed by the engine with scipy
  adaptive quadrature (epsrel 1e-13) and here independently with mpmath tanh-sinh at 30
  digits; 1e-9 is four orders above both quadratures' error estimates and well within the
  six digits the command prints.
"""

from __future__ import annotations

import numpy as np

EPS = float(np.finfo(float).eps)
ROUNDING = 64 * EPS
ENGINE = 1e-12
T3_RATE = 1e-6
CONDENSATE = 1e-9

__all__ = ["EPS", "ROUNDING", "ENGINE", "T3_RATE", "CONDENSATE"]
