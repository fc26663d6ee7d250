r"""Fixed points of ``T(p) = (p_d + lam C(p)) / (1 + lam)`` for curation rules that have no
fixed-point system of their own (THEORY.md L4, L5, section 7 with finite ``K``): Anderson-
accelerated iteration of the exact engine's step.

The state is the engine's log weights ``L`` of ``p = p_d e^L`` (at the Chebyshev points and
Gauss nodes of the compressed reward law, or per joint atom), and one step of the engine is
the map ``Phi: L -> L'``.  Anderson's method (type II, depth ``m``; Walker and Ni, *SIAM J.
Numer. Anal.* 49, 2011) extrapolates from the last ``m`` residuals ``f = Phi(L) - L``:

    gamma = argmin |f_k - Delta F gamma|,    L_{k+1} = Phi(L_k) - Delta G gamma,

and falls back to the plain step ``L_{k+1} = Phi(L_k)`` (history cleared) whenever the
residual grows, so it never does worse than iterating for long.  It stops when
``max |f| <= STATE_TOL`` (log weights: relative masses).  The result is then judged
independently, as T9's is: ``TV(T(p), p)`` on the reward law, one more exact step, must be
below :data:`ACCEPT_TV`.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["anderson_fixed_point", "one_step_tv", "ANDERSON_DEPTH", "STATE_TOL", "MAX_STEPS",
           "ACCEPT_TV"]

#: residuals kept by Anderson's method
ANDERSON_DEPTH = 6
#: stop when one step moves no log weight by more than this
STATE_TOL = 1e-13
#: at most this many steps of the engine
MAX_STEPS = 3000
#: a fixed point is accepted when one exact step moves it by less than this (TV)
ACCEPT_TV = 1e-10


def _flat(weights):
    return np.concatenate(weights)


def _split(x, like):
    out, i = [], 0
    for w in like:
        out.append(x[i:i + w.size])
        i += w.size
    return tuple(out)


def anderson_fixed_point(engine, tol=STATE_TOL, max_steps=MAX_STEPS, depth=ANDERSON_DEPTH):
    """Drive ``engine`` (a :class:`~numerics.engine.CurationEngine` or
    :class:`~numerics.joint.JointEngine` set up for ``T``) to its fixed point.

    Returns ``(steps, residual)``: engine steps taken and the last ``max |Phi(L) - L|``; the
    engine is left at ``Phi`` of the last iterate.  A re-tilt of the compressed law (new
    Gauss nodes) clears the history."""
    like = engine.log_weights()
    x = _flat(like)
    dF, dG = [], []
    f_prev = g_prev = None
    best = math.inf
    res = math.inf
    for step in range(1, max_steps + 1):
        engine.set_log_weights(_split(x, like))
        tilts = getattr(engine, "rebuilds", 0)
        engine.advance()
        new = engine.log_weights()
        if getattr(engine, "rebuilds", 0) != tilts:   # new nodes: start the history again
            like, x = new, _flat(new)
            dF, dG, f_prev, g_prev, best = [], [], None, None, math.inf
            continue
        g = _flat(new)
        f = g - x
        res = float(np.max(np.abs(f))) if f.size else 0.0
        if not math.isfinite(res):
            raise ArithmeticError("the fixed-point iteration produced non-finite log weights")
        if res <= tol:
            return step, res
        if f_prev is not None:
            dF.append(f - f_prev)
            dG.append(g - g_prev)
            del dF[:-depth], dG[:-depth]
        f_prev, g_prev = f, g
        if res > 2.0 * best:             # extrapolation went astray: a plain step, afresh
            dF, dG, f_prev, g_prev = [], [], None, None
            x = g
            continue
        best = min(best, res)
        if dF:
            F = np.stack(dF, axis=1)
            gamma = np.linalg.lstsq(F, f, rcond=None)[0]
            x = g - np.stack(dG, axis=1) @ gamma
        else:
            x = g
    return max_steps, res


def one_step_tv(engine, log_p, mass=None, materialize=None):
    """``TV`` between the law ``log_p`` (normalized log masses on the engine's nodes or atoms)
    and the law after one more step of ``engine`` (which is left there).  If that step
    re-tilts the compressed law (new nodes: the two laws are no longer on the same points),
    the distance is taken on the grid instead: ``mass`` (the density before the step)
    against ``materialize(engine)`` (after it)."""
    tilts = getattr(engine, "rebuilds", 0)
    engine.advance()
    nxt = _law(engine)
    if getattr(engine, "rebuilds", 0) != tilts or nxt.shape != log_p.shape:
        if mass is None or materialize is None:
            raise ValueError("one_step_tv: the step re-tilted the law; give mass and "
                             "materialize to compare on the grid")
        return 0.5 * float(np.abs(materialize(engine) - mass).sum())
    return 0.5 * float(np.abs(np.exp(nxt) - np.exp(log_p)).sum())


def _law(engine):
    if hasattr(engine, "law"):
        return engine.law().log_p
    return engine.log_p()
