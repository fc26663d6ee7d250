"""The stability figure: spectral radius of ``DG`` at the fixed point of parametric
retraining against ``lam``, one line per ``K``, with S1's ``lam/(1+lam)`` (= S2's ``rho``
here) and Bertrand et al.'s ``rho_B``.  Input: :func:`figures.stability_data.stability_scan`
results (one panel each)."""

from __future__ import annotations

import math

import numpy as np

from .curves import _k_colors
from .labels import K_text
from .style import new_figure, styled

__all__ = ["plot_stability", "make_stability_figure"]


@styled
def plot_stability(*scans):
    """One panel per scan: radius (lines with dots; crosses where the fixed point is
    unstable, gaps where none was found), ``lam/(1+lam)`` (dashed, S1 and S2's ``rho``),
    ``rho_B`` (dotted, where defined) and the stability threshold 1.

    Raises
    ------
    None
        nothing of its own: it lays out the numbers of
        :func:`figures.stability_data.stability_scan`
        (a record of another kind fails with ``AttributeError``).

    See Also
    --------
    make_stability_figure : computes the scans and saves the figure.
    numerics.parametric.stability : each point.

    References
    ----------
    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    Theorem 2.2 (S2, reconstructed).

    Bertrand et al. (2024), ICLR 2024 (stability of iterative retraining; ``rho_B``).

    docs/theory.md S1-S3; docs/figures.md (figure 7).
    """
    fig = new_figure(5.6 * len(scans), 4.4)
    axes = np.atleast_1d(fig.subplots(1, len(scans)))
    for ax, sc in zip(axes, scans):
        cols = _k_colors(sc.Ks)
        for i, K in enumerate(sc.Ks):
            ax.plot(sc.lams, sc.radius[i], color=cols[K], marker="o", ms=3, lw=1.5,
                    label=K_text(K))
            bad = sc.stable[i] == 0
            ax.plot(sc.lams[bad], sc.radius[i][bad], ls="none", marker="x", ms=9, mew=2,
                    color=cols[K])
        ax.plot(sc.lams, sc.s1, color="0.4", ls="--", lw=1.2,
                label="λ/(1+λ): S1, = S2's ρ (L = 0)")
        ax.plot(sc.lams, sc.rho_B, color="0.4", ls=":", lw=1.2, label="S2 ρ_B (λ < 1)")
        ax.axhline(1.0, color="red", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlabel("λ (curated : real)")
        ax.set_ylabel("spectral radius of DG at the fixed point")
        ax.set_ylim(0, max(1.5, float(np.nanmax(sc.radius, initial=0)) * 1.05))
        ax.set_title(f"{sc.scenario.name}: Gaussian family (× = unstable)")
        ax.legend(loc="upper left", fontsize=8)
    fig.suptitle("Parametric retraining on curated data: stability of the fixed point")
    return fig


def make_stability_figure(out_dir, names=("gauss1d", "mog8"), formats=("png",), *,
                          lams=None, Ks=None):
    """Compute the scans (:func:`figures.stability_data.stability_scan`, defaults: ``lam`` in
    [0.05, 20], ``K`` in {2, 3, 8, inf}) and save ``stability.<fmt>`` in ``out_dir``; returns
    ``(paths, scans)``.  About a minute with the 128 x 128 mog8 grid: not in the gallery.

    Raises
    ------
    ValueError
        a name in ``names`` is not a built-in scenario; an unknown format.
    OSError
        ``out_dir`` not writable.

    See Also
    --------
    plot_stability : the figure.
    figures.stability_data.stability_scan : the scans.

    References
    ----------
    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    Theorem 2.2 (S2, reconstructed).

    Bertrand et al. (2024), ICLR 2024 (stability of iterative retraining; ``rho_B``).

    docs/theory.md S1-S3.
    """
    from numerics.scenarios import get_scenario
    from .saving import save_figure
    from .stability_data import DEFAULT_KS, DEFAULT_LAMS, stability_scan

    scans = [stability_scan(get_scenario(n), DEFAULT_LAMS if lams is None else lams,
                            DEFAULT_KS if Ks is None else Ks) for n in names]
    paths = save_figure(plot_stability(*scans), out_dir, "stability", formats)
    return paths, scans
