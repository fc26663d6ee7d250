"""The figure of :mod:`figures.neural_loop`: for one scenario, one row per ``lam``; in each
row the network's histogram ``q_t`` beside the exact density ``p_t`` at a few generations
(one logarithmic colour scale per figure, floor ``1e-3`` of the largest density: a histogram
of ``10^4`` samples resolves no less), and the ``E[r]`` curves of both.  Nothing is
computed here beyond layout."""

from __future__ import annotations

import math

import numpy as np

from .heatmaps import _image, _mark_optimal_set
from .heatmap_data import cell_volume
from .labels import K_text, axis_labels, lam_text
from .style import density_cmap, log_norm, new_figure, styled

__all__ = ["plot_neural_loops", "shown_steps"]

#: colour-scale floor, as a fraction of the largest density drawn
FLOOR = 1e-3


def shown_steps(wanted, steps):
    """The generations of ``wanted`` that a run of ``steps`` generations has, and the last."""
    return tuple(sorted({int(t) for t in wanted if 0 <= t <= steps} | {int(steps)}))


def _row_label(lam):
    return "curated only\n(λ = ∞)" if math.isinf(lam) else f"with real data\n({lam_text(lam)})"


@styled
def plot_neural_loops(runs, wanted=(0, 3, 10)):
    """``runs``: the :class:`figures.neural_loop.LoopRun` of one scenario (one per ``lam``)."""
    sc = runs[0].scenario
    steps = len(runs[0].rows) - 1
    shown = shown_steps(wanted, steps)
    vol = cell_volume(sc)
    nr, nc = len(runs), 2 * len(shown) + 1
    fig = new_figure(2.1 * nc + 1.0, 2.25 * nr + 0.8)
    grid = fig.add_gridspec(nr, nc, width_ratios=[1] * (nc - 1) + [1.6])
    vmax = max(float(np.max(m)) for run in runs for ms in (run.model_masses, run.exact_masses)
               for m in ms) / vol
    norm, cmap = log_norm(vmax, FLOOR), density_cmap()
    xl, yl = axis_labels(sc)
    im, images = None, []
    for i, run in enumerate(runs):
        first = None
        for j, t in enumerate(shown):
            for k, (masses, who) in enumerate(((run.model_masses, "network"),
                                               (run.exact_masses, "exact"))):
                ax = fig.add_subplot(grid[i, 2 * j + k], sharex=first, sharey=first)
                first = first or ax
                images.append(ax)
                im, extent = _image(ax, masses[t] / vol, sc, norm, cmap)
                _mark_optimal_set(ax, sc, extent)
                ax.set_title(f"{who}, t = {t}", fontsize=9.5)
                ax.tick_params(labelsize=7.5)
                if i == nr - 1:
                    ax.set_xlabel(xl)
                if 2 * j + k == 0:
                    ax.set_ylabel(f"{_row_label(run.lam)}\n{yl}")
                else:
                    ax.tick_params(labelleft=False)
        ax = fig.add_subplot(grid[i, nc - 1])
        t = [row["t"] for row in run.rows]
        ax.plot(t, [row["er_exact"] for row in run.rows], "k-", lw=1.6, label="exact engine")
        ax.plot(t, [row["er_model"] for row in run.rows], "o--", color="#d9531e", ms=3.5,
                lw=1.2, label="flow matching")
        ax.set_xlabel("generation t")
        ax.set_ylabel("E[r]")
        ax.set_title(f"E[r]; optimal-set mass at t = {steps}:\nnetwork "
                     f"{run.rows[-1]['opt_model']:.3f}, exact {run.rows[-1]['opt_exact']:.3f}",
                     fontsize=9)
        ax.legend(loc="lower right", fontsize=8)
    cb = fig.colorbar(im, ax=images, shrink=0.8, extend="min", pad=0.01)
    cb.set_label("density (log scale)")
    fig.suptitle(f"{sc.name}, {K_text(runs[0].info['K'])}: flow-matching network (histogram of "
                 f"{runs[0].info['samples']} samples) beside the exact density; blue: the "
                 f"reward maximum r = r_*")
    return fig
