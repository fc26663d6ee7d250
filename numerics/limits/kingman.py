r"""THEORY.md T8: the fixed point of ``T`` for ``K = inf`` (Kingman's selection-mutation model).

``p^lam = p_d / (1 + lam - lam e^r / Z)``.  Writing ``Z = lam e^{r_*} (1 + eps) / (1 + lam)``
the normalization ``E_{p_d}[1 / (1 + lam - lam e^r / Z)] = 1`` becomes

    F(eps) = (1 + eps) E_{p_d}[ 1 / (eps + 1 - s) ] / (1 + lam) = 1,     s = e^{r - r_*},

``F`` decreasing in ``eps``.  It is solved for ``log eps`` (relative accuracy is kept when the
solution sits within ``1e-300`` of the condensation threshold ``eps = 0``).  The same solver
serves a discrete law (``1 - s`` from ``expm1``; an atom at the top makes ``F(0+) = inf``, so
there is always a root) and a continuous one (``F(0+) = I``: if ``I = E_{p_d}[1/((1 + lam)(1 -
s))] < 1`` there is none, and the condensate ``1 - I`` sits on the top level set).

References
----------
Kingman, J. F. C. (1978). A simple model for the balance between selection and mutation.
*J. Appl. Probab.* 15(1), 1-12.
"""

from __future__ import annotations

import math

from scipy import optimize

__all__ = ["kingman_eps", "LOG_EPS_FLOOR"]

#: below this ``log eps`` a continuous law counts as condensed (``eps = 0``, ``I <= 1``)
LOG_EPS_FLOOR = -690.0


def kingman_eps(mean_inverse, lam, top_mass=0.0):
    r"""The root ``eps > 0`` of ``(1 + eps) mean_inverse(eps) / (1 + lam) = 1``, or ``0.0`` if
    there is none (a continuous law with ``I <= 1``).

    Parameters
    ----------
    mean_inverse : callable
        ``eps -> E_{p_d}[1 / (eps + 1 - s)]`` (a sum over atoms, or a quadrature).
    lam : float, ``0 < lam < inf``
    top_mass : float
        mass of ``p_d`` at ``s = 1`` (0 for a continuous law); with ``top_mass > 0`` the
        bracket starts at ``eps = top_mass / (1 + lam)``, where the top term alone is ``>= 1``.
    """
    def F(x):
        eps = math.exp(x)
        return (1.0 + eps) * mean_inverse(eps) / (1.0 + lam) - 1.0

    if top_mass > 0:
        lo = math.log(top_mass / (1.0 + lam))
        while F(lo) < 0:
            lo -= 10.0
    else:
        lo = LOG_EPS_FLOOR
        if F(lo) <= 0:
            return 0.0
    hi = math.log(2.0 / lam) + 1.0       # (1 + eps) < (1 + lam) eps there: F < 0
    while F(hi) > 0:
        hi += 10.0
    x = optimize.brentq(F, lo, hi, xtol=1e-15, rtol=4 * 2.0**-52, maxiter=500)
    return math.exp(x)
