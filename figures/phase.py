"""Phase diagrams (figure 6): T8's condensation over ``(lam, b)`` for the kingman family, and
T7's contraction region in the ``(lam, K)`` plane with measured contraction factors.
Input: :mod:`figures.data` results; ``QuadMesh.get_array()`` is the plotted grid."""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps, ticker

from .labels import num
from .style import new_figure, styled

__all__ = ["plot_condensation_phase", "plot_contraction_phase", "plot_critical_lam"]


def _edges(centres, log):
    """Cell edges around ``centres`` (geometric midpoints on a log axis)."""
    c = np.log(centres) if log else np.asarray(centres, dtype=float)
    mid = 0.5 * (c[1:] + c[:-1])
    e = np.concatenate([[2 * c[0] - mid[0]], mid, [2 * c[-1] - mid[-1]]])
    return np.exp(e) if log else e


@styled
def plot_condensation_phase(cp):
    """Figure 6a: condensate ``1 - I`` of T8 (0 where ``I >= 1``) over ``(lam, b)`` for the
    reward law ``b (-r)^{b-1}`` on ``[-1, 0]``, ``K = inf``, and the critical curve
    ``I(lam, b) = 1``, i.e. ``lam = E[1/(1 - e^r)] - 1``.

    Raises
    ------
    None
        nothing of its own: it lays out the numbers of
        :func:`figures.data.condensation_phase`
        (a record of another kind fails with ``AttributeError``).

    See Also
    --------
    figures.data.condensation_phase : the numbers drawn.
    numerics.critical_lam : the critical curve.

    References
    ----------
    Kingman (1978), *A simple model for the balance between selection and mutation*,
    J. Appl. Prob. 15:
    the condensation threshold ``I = 1``.

    docs/theory.md T8; docs/figures.md (figure 6a).
    """
    fig = new_figure(6.4, 4.8)
    ax = fig.subplots()
    mesh = ax.pcolormesh(_edges(cp.lams, True), _edges(cp.b, False), cp.condensate,
                         cmap="cividis", vmin=0.0, vmax=1.0, shading="flat")
    ax.plot(cp.boundary_lam, cp.boundary_b, color="#ff6b6b", lw=2.0,
            label="$I(\\lambda, b) = 1$: $\\lambda = E[1/(1-e^r)] - 1$")
    if cp.example is not None:
        lam, b, c = cp.example
        ax.plot([lam], [b], marker="*", ms=12, color="white", mec="black", ls="none",
                label=f"kingman scenario: λ = {num(lam)}, b = {num(b)}, condensate {c:.4f}")
    ax.set_xscale("log")
    ax.set_xlim(cp.lams.min(), cp.lams.max())
    ax.set_ylim(cp.b.min(), cp.b.max())
    ax.set_xlabel("λ (curated synthetic : real data)")
    ax.set_ylabel("b (reward law $b(-r)^{b-1}$ on $[-1, 0]$)")
    ax.text(0.97, 0.55, "condensation\n$I < 1$", transform=ax.transAxes, ha="right",
            color="black", fontsize=10)
    ax.text(0.03, 0.55, "no condensate\n$I \\geq 1$", transform=ax.transAxes, ha="left",
            color="white", fontsize=10)
    ax.legend(loc="lower left", fontsize=8, framealpha=0.9)
    fig.colorbar(mesh, ax=ax, label="condensate $1 - I$ on the top level set")
    ax.set_title("T8, K = ∞: mass condensing on $r = r_*$")
    return fig


@styled
def plot_contraction_phase(cp):
    """Figure 6b: measured per-step contraction factor of ``TV(p_t, p^lam)`` over
    ``(lam, K)``, with T7's region ``lam (K-1) < 1`` (below the curve ``K = 1 + 1/lam``)
    where ``kappa = lam K/(1+lam) < 1`` is proved; grey: ``numerics.limit`` gave no
    verified fixed point (see :func:`figures.data.contraction_phase`).

    Raises
    ------
    None
        nothing of its own: it lays out the numbers of
        :func:`figures.data.contraction_phase`
        (a record of another kind fails with ``AttributeError``).

    See Also
    --------
    figures.data.contraction_phase : the numbers drawn.
    theory.formulas.t7_kappa : T7's factor.

    References
    ----------
    docs/theory.md T7 (derived there); docs/figures.md (figure 6b).

    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    the retraining map with real data.
    """
    fig = new_figure(6.4, 4.8)
    ax = fig.subplots()
    cmap = colormaps["viridis"].with_extremes(over="#d62728", bad="0.82")
    xe, ye = _edges(cp.lams, True), _edges(cp.K, True)
    ax.set_facecolor("0.82")  # masked (NaN) cells are left transparent: no fixed point
    mesh = ax.pcolormesh(xe, ye, np.ma.masked_invalid(cp.factor), cmap=cmap, vmin=0.0,
                         vmax=1.0, shading="flat")
    lam = np.geomspace(xe[0], xe[-1], 200)
    ax.plot(lam, 1 + 1 / lam, color="white", lw=2.2)
    ax.plot(lam, 1 + 1 / lam, color="#ff6b6b", lw=1.4, label="$\\lambda (K-1) = 1$ (T7)")
    cs = ax.contour(cp.lams, cp.K, cp.kappa, levels=[0.25, 0.5, 0.75], colors="white",
                    linewidths=1.1, linestyles=":")
    ax.clabel(cs, fmt=lambda v: f"κ={v:g}", fontsize=8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_formatter(ticker.NullFormatter())
    ax.set_yticks([v for v in (1.5, 2, 4, 8, 16, 32) if ye[0] <= v <= ye[-1]])
    ax.set_xlim(xe[0], xe[-1])
    ax.set_ylim(ye[0], ye[-1])
    ax.set_xlabel("λ (curated synthetic : real data)")
    ax.set_ylabel("K (samples compared per curation)")
    ax.plot([], [], ls=":", color="0.3", label="T7 bound κ = λK/(1+λ)")
    if cp.unverified.any():
        ax.plot([], [], ls="none", marker="s", ms=8, color="0.82",
                label="numerics.limit: no verified fixed point")
    ax.legend(loc="upper right", fontsize=8, framealpha=0.9)
    fig.colorbar(mesh, ax=ax, extend="max",
                 label="measured factor $TV(p_{t+1}, p^\\lambda) / TV(p_t, p^\\lambda)$")
    ax.set_title(f"T7: contraction toward $p^\\lambda$ ({cp.scenario.name}, "
                 f"{cp.steps} steps)")
    return fig


@styled
def plot_critical_lam(curves):
    """Figure 6c: the critical ``lam`` above which the fixed point condenses (T9; T8 for
    ``K = inf``) against ``b`` for the reward law ``b (-r)^{b-1}`` on ``[-1, 0]``, one curve
    per ``K`` (condensation above each curve), with THEORY.md T9's grid examples (filled:
    the grid fixed point is condensed, with its top-cell mass).

    Raises
    ------
    None
        nothing of its own: it lays out the numbers of
        :func:`figures.data.critical_lam_curves`
        (a record of another kind fails with ``AttributeError``).

    See Also
    --------
    figures.data.critical_lam_curves : the numbers drawn.
    numerics.critical_lam : each curve's points.

    References
    ----------
    Kingman (1978), *A simple model for the balance between selection and mutation*,
    J. Appl. Prob. 15:
    ``K = inf``, T8.

    docs/theory.md T8, T9; docs/figures.md (figure 6c).
    """
    fig = new_figure(6.4, 4.8)
    ax = fig.subplots()
    colours = colormaps["viridis"](np.linspace(0.0, 0.85, len(curves.Ks)))
    for K, colour in zip(curves.Ks, colours):
        lam_c = curves.lam_c[K]
        ax.plot(curves.b, lam_c, color=colour, lw=2.0, marker="o", ms=3,
                label=f"K = {num(K)}" + (" (T8: E[1/(1-e^r)] - 1)" if np.isinf(K) else ""))
    by_k = {K: c for K, c in zip(curves.Ks, colours)}
    for b, K, lam, top, condensed in curves.grid_points:
        colour = by_k.get(float(K), "black")
        ax.plot([b], [lam], marker="s", ms=8, mec="black",
                mfc=colour if condensed else "white", ls="none")
        ax.annotate(f"{top:.3f}" if condensed else "none", (b, lam), textcoords="offset points",
                    xytext=(6, -3), fontsize=7)
    ax.plot([], [], marker="s", ms=8, mec="black", mfc="0.5", ls="none",
            label=f"{curves.grid}-cell grid limit: condensed (top-cell mass)")
    ax.plot([], [], marker="s", ms=8, mec="black", mfc="white", ls="none",
            label="grid limit: no condensate")
    ax.set_yscale("log")
    for fmt in (ax.yaxis.set_major_formatter, ax.yaxis.set_minor_formatter):
        fmt(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel("b (reward law $b(-r)^{b-1}$ on $[-1, 0]$)")
    ax.set_ylabel("critical λ (condensation above)")
    ax.legend(loc="upper right", fontsize=8, framealpha=0.9)
    ax.set_title("T9: finite-K condensation, $H(r_*) = (1+\\lambda)/\\lambda$ on the boundary")
    return fig
