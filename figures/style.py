"""Shared look of the figures: font sizes readable when a figure is shown ~800 px wide in a
README, and the colour scales.

Figures are plain :class:`matplotlib.figure.Figure` objects (no pyplot state, nothing to
close, never a window): saving one picks the canvas for its file format, so importing
``figures`` never selects a backend (a notebook user's stays as it is).

Densities that span orders of magnitude are drawn on a logarithmic colour scale
(:func:`log_norm`) whose floor is a fixed fraction of the maximum; cells below the floor
(including exact zeros, e.g. outside the optimal set) take the floor colour.
"""

from __future__ import annotations

import functools

from matplotlib import colormaps, colors, rc_context
from matplotlib.figure import Figure

__all__ = ["RC", "DENSITY_FLOOR", "log_norm", "density_cmap", "new_figure", "styled"]

#: ratio of the lowest to the highest density resolved by the colour scale
DENSITY_FLOOR = 1e-6

RC = {
    "font.size": 11,
    "axes.titlesize": 11,
    "axes.labelsize": 11,
    "xtick.labelsize": 9.5,
    "ytick.labelsize": 9.5,
    "legend.fontsize": 9,
    "figure.titlesize": 13,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "image.interpolation": "nearest",
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.08,
}


def styled(func):
    """Run a plotting function under :data:`RC` (text sizes are fixed when text is made)."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with rc_context(RC):
            return func(*args, **kwargs)
    return wrapper


def log_norm(vmax, floor=DENSITY_FLOOR):
    """``LogNorm(floor * vmax, vmax)``: one colour scale for every panel that shares it."""
    vmax = float(vmax)
    return colors.LogNorm(vmin=floor * vmax, vmax=vmax, clip=False)


def density_cmap(name="magma"):
    """The density colour map, with values below the floor and zeros (masked by the log
    scale) in the floor colour: an empty region reads as 'no mass', not as missing data."""
    cmap = colormaps[name]
    return cmap.with_extremes(under=cmap(0.0), bad=cmap(0.0))


def new_figure(width, height):
    """A :class:`~matplotlib.figure.Figure` of ``width x height`` inches, constrained layout."""
    return Figure(figsize=(width, height), layout="constrained")
