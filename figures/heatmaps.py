"""Density heatmaps of 2-D scenarios (the paper's figures, THEORY.md section 8) and the 1-D
analogue.  Input: the dataclasses of :mod:`figures.data` (engine results); output: a
:class:`matplotlib.figure.Figure`.  No numbers are computed here beyond layout.

Images are ``imshow(density.T, origin="lower")``: ``density[i, j]`` sits at
``(axes[0][i], axes[1][j])`` (indexing "ij"), so ``image.get_array().T`` is the density.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib import colormaps
from matplotlib.ticker import MaxNLocator

from .labels import K_text, axis_labels, image_extent, lam_text, limit_title
from .style import DENSITY_FLOOR, density_cmap, log_norm, new_figure, styled

__all__ = ["plot_limit_panels", "plot_iteration_rows", "plot_iterates_1d"]

#: the top level set {r = r_*} is outlined when it has at least this many cells, else marked
_OUTLINE_MIN_CELLS = 5


def _mark_optimal_set(ax, scenario, extent, color="#39d0ff"):
    """Outline ``{r = r_*}`` (or mark its point when it is a few cells) on an image axis."""
    r = np.asarray(scenario.reward, dtype=float)
    top = r == r[np.asarray(scenario.mass) > 0].max()
    x, y = (np.asarray(a, dtype=float) for a in scenario.axes)
    if top.sum() >= _OUTLINE_MIN_CELLS:
        ax.contour(x, y, top.T.astype(float), levels=[0.5], colors=[color], linewidths=0.9,
                   linestyles="--")
    else:
        i, j = np.nonzero(top)
        ax.plot(x[i], y[j], marker="x", ms=7, mew=1.6, ls="none", color=color)
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])


def _power_of_ten(v):
    e = int(round(math.log10(v)))
    return f"$10^{{{e}}}$" if 10.0 ** e == v else f"{v:g}"


def _aspect(scenario):
    """Height / width of the drawn data region (1 where the axes have other units)."""
    if scenario.labels is not None:
        return 0.8
    l, r, b, t = image_extent(scenario.axes)
    return (t - b) / (r - l)


def _image(ax, density, scenario, norm, cmap):
    extent = image_extent(scenario.axes)
    im = ax.imshow(np.asarray(density).T, origin="lower", extent=extent, norm=norm, cmap=cmap,
                   aspect="equal" if scenario.labels is None else "auto")
    return im, extent


@styled
def plot_limit_panels(panels):
    """Figure 1: reward level sets, ``p_0``, and the limit density, side by side; ``p_0``
    and the limit share one logarithmic colour scale (floor ``1e-6`` of the larger max).

    Raises
    ------
    None
        nothing of its own: it lays out the numbers of
        :func:`figures.data.limit_panels`
        (a record of another kind fails with ``AttributeError``).

    See Also
    --------
    figures.data.limit_panels : the numbers drawn.
    figures.gallery.heatmap_figure : the figure of a scenario.

    References
    ----------
    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    Theorem 2.1 (T3: the limit on the top level set) and its figure of limit densities.

    docs/figures.md (figure 1).
    """
    sc, lim = panels.scenario, panels.limit
    fig = new_figure(12.5, 4.1)
    fig.get_layout_engine().set(w_pad=0.12)
    axs = fig.subplots(1, 3, sharex=True, sharey=True)
    xl, yl = axis_labels(sc)
    extent = image_extent(sc.axes)
    x, y = (np.asarray(a, dtype=float) for a in sc.axes)
    r = np.asarray(sc.reward, dtype=float)

    im_r = axs[0].imshow(r.T, origin="lower", extent=extent, cmap="viridis",
                         aspect="equal" if sc.labels is None else "auto")
    below = r[r < lim.r_star]
    if below.size > 1:
        levels = [v for v in MaxNLocator(7).tick_values(below.min(), below.max())
                  if below.min() < v < lim.r_star]
        cs = axs[0].contour(x, y, r.T, levels=levels, colors="white", linewidths=0.6,
                            linestyles="solid", alpha=0.85)
        axs[0].clabel(cs, fmt=lambda v: f"{v:g}", fontsize=8)
    _mark_optimal_set(axs[0], sc, extent, color="#ff4d4d")
    axs[0].set_title("reward $r$ (red: optimal set $r = r_*$)")
    fig.colorbar(im_r, ax=axs[0], shrink=0.85, label="$r(x)$")

    vmax = max(float(panels.p0.max()), float(panels.p_limit.max()))
    norm, cmap = log_norm(vmax), density_cmap()
    im0, _ = _image(axs[1], panels.p0, sc, norm, cmap)
    axs[1].set_title("initial density $p_0$")
    im1, _ = _image(axs[2], panels.p_limit, sc, norm, cmap)
    _mark_optimal_set(axs[2], sc, extent)
    axs[2].set_title(limit_title(sc.K, sc.lam, lim))
    _mark_optimal_set(axs[1], sc, extent)
    cb = fig.colorbar(im1, ax=list(axs[1:]), shrink=0.85, extend="min")
    cb.set_label(f"density (log scale, floor {_power_of_ten(DENSITY_FLOOR)} × max)")
    for ax in axs:
        ax.set_xlabel(xl)
    axs[0].set_ylabel(yl)
    if sc.labels is not None and sc.label_names:
        for ax in axs:
            ax.set_xticks(np.arange(len(sc.label_names)), sc.label_names, rotation=60,
                          ha="right", fontsize=7.5)
    fig.suptitle(f"{sc.name}: {K_text(sc.K)}, {lam_text(sc.lam)} — the limit is $p_0$ "
                 "kept only where the reward is maximal" if math.isinf(sc.lam) and sc.K > 1
                 and getattr(sc, "rule", None) is None
                 else f"{sc.name}: {K_text(sc.K)}, {lam_text(sc.lam)}")
    return fig


def _row_label(lam):
    if math.isinf(lam):
        return "curated only\n(λ = ∞)"
    if lam == 0:
        return "real data only\n(λ = 0)"
    return f"with real data\n({lam_text(lam)})"


@styled
def plot_iteration_rows(rows):
    """Figures 2-3: ``p_t`` at the chosen steps (columns), one row per ``lam``; every panel on
    one logarithmic colour scale (floor ``1e-6`` of the largest density shown).

    Raises
    ------
    None
        nothing of its own: it lays out the numbers of
        :func:`figures.data.iteration_rows`
        (a record of another kind fails with ``AttributeError``).

    See Also
    --------
    figures.data.iteration_rows : the numbers drawn.

    References
    ----------
    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    the iterates with and without real data.

    docs/figures.md (figures 2, 3).
    """
    sc = rows.scenario
    nr, nc = len(rows.lams), len(rows.steps)
    w = 2.45                        # inches per column; ~2 inches of it go to the margins
    fig = new_figure(w * nc + 1.2, (w * _aspect(sc) * (1 - 2.0 / (w * nc)) + 0.3) * nr + 0.7)
    axs = np.atleast_2d(fig.subplots(nr, nc, sharex=True, sharey=True, squeeze=False))
    vmax = max(float(d.max()) for row in rows.densities for d in row)
    norm, cmap = log_norm(vmax), density_cmap()
    xl, yl = axis_labels(sc)
    im = None
    for i, lam in enumerate(rows.lams):
        for j, t in enumerate(rows.steps):
            ax = axs[i, j]
            im, extent = _image(ax, rows.densities[i][j], sc, norm, cmap)
            _mark_optimal_set(ax, sc, extent)
            ax.text(0.03, 0.03, f"$P(r = r_*)$ = {rows.top_share[i][j]:.3f}",
                    transform=ax.transAxes, color="white", fontsize=8.5, va="bottom")
            if i == 0:
                ax.set_title(f"t = {t}")
            if i == nr - 1:
                ax.set_xlabel(xl)
        axs[i, 0].set_ylabel(f"{_row_label(lam)}\n{yl}")
    cb = fig.colorbar(im, ax=axs.ravel().tolist(), shrink=0.9, extend="min")
    cb.set_label("density $p_t$ (log scale)")
    fig.suptitle(f"{sc.name}: iterates $p_t$, {K_text(rows.K)}; blue: where the reward is "
                 "maximal ($r = r_*$)")
    return fig


@styled
def plot_iterates_1d(data):
    """1-D analogue of figure 1: ``p_0``, iterates ``p_t`` and the limit on one axis (log
    density scale, floor ``1e-6`` of the largest), the reward on a second axis.

    Raises
    ------
    None
        nothing of its own: it lays out the numbers of
        :func:`figures.data.iterates_1d`
        (a record of another kind fails with ``AttributeError``).

    See Also
    --------
    figures.data.iterates_1d : the numbers drawn.
    plot_limit_panels : the 2-D figure.

    References
    ----------
    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    Theorem 2.1 (T3).

    docs/figures.md.
    """
    sc = data.scenario
    x = np.asarray(sc.axes[0], dtype=float)
    fig = new_figure(8.0, 4.2)
    ax = fig.subplots()
    colors = [colormaps["viridis"](v) for v in np.linspace(0.0, 0.85, len(data.steps))]
    for t, d, c in zip(data.steps, data.densities, colors):
        ax.plot(x, d, color=c, lw=1.6, label=f"$p_{{{t}}}$" if t else "$p_0$")
    ax.plot(x, data.p_limit, color="crimson", lw=1.3, ls="--", label=limit_title(sc.K, sc.lam, getattr(data, "limit", None)))
    vmax = max(float(data.p_limit.max()), max(float(d.max()) for d in data.densities))
    ax.set_yscale("log")
    ax.set_ylim(DENSITY_FLOOR * vmax, 3 * vmax)
    ax.set_xlabel("x")
    ax.set_ylabel("density (log scale)")
    ax2 = ax.twinx()
    ax2.spines["right"].set_visible(True)
    ax2.plot(x, sc.reward, color="0.45", lw=1.0, ls=":", label="reward $r(x)$")
    ax2.set_ylabel("reward $r(x)$", color="0.35")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper left", framealpha=0.9)
    ax.set_title(f"{sc.name}: iterates $p_t$ and the limit, {K_text(sc.K)}, {lam_text(sc.lam)}")
    return fig
