"""Text of titles and axis labels: numbers as the paper writes them (``lam = inf`` as ∞)."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["num", "lam_text", "K_text", "limit_title", "axis_labels", "image_extent"]


def num(x):
    """``inf`` -> ``∞``; integers without a decimal point; else 3 significant digits."""
    x = float(x)
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    if x == round(x) and abs(x) < 1e6:
        return str(int(round(x)))
    return f"{x:.3g}"


def lam_text(lam):
    return f"λ = {num(lam)}"


def K_text(K):
    return f"K = {num(K)}"


def limit_title(K, lam, limit=None):
    """What the limit panel shows, with the docs/theory.md id of the statement that gives it
    (``limit``: the :class:`numerics.Limit` drawn, which names the statement when a curation
    rule's limit is not one of T3, T8, T9: T12/T13 or the iterated fixed point)."""
    kind = (getattr(limit, "info", None) or {}).get("kind")
    if kind == "T12":
        return "limit: maximizer of $\\sum_u \\pi_u \\log E[e^{r_u}]$ (T12)"
    if kind == "T13":
        return f"fixed point $p^\\lambda$ (T13), {lam_text(lam)}"
    if kind == "iterated":
        return f"fixed point $p^\\lambda$ (iterated, sec. 7), {lam_text(lam)}"
    if kind == "T3.rules":
        return "limit: $p_0$ restricted to $r = r_*$ (T3.rules)"
    if math.isinf(lam):
        return "limit: $p_0$ restricted to $r = r_*$ (T3)"
    if lam == 0 or K == 1:
        return "limit: $p_d$"
    if math.isinf(K):
        return f"fixed point $p^\\lambda$ (T8), {lam_text(lam)}"
    return f"fixed point $p^\\lambda$ (T9), {lam_text(lam)}"


def axis_labels(scenario):
    """``(xlabel, ylabel)`` of a 2-D scenario's image (axis 0 horizontal)."""
    if scenario.labels is not None:
        return "class", "classifier confidence q"
    return "$x_1$", "$x_2$"


def image_extent(axes):
    """``(left, right, bottom, top)`` cell edges for ``imshow`` of ``mass.T`` with
    ``origin="lower"``, from uniform cell-centre coordinates ``axes = (x, y)``."""
    x, y = (np.asarray(a, dtype=float) for a in axes)
    dx, dy = x[1] - x[0], y[1] - y[0]
    return (x[0] - dx / 2, x[-1] + dx / 2, y[0] - dy / 2, y[-1] + dy / 2)
