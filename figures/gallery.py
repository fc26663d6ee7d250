"""The gallery: every figure of the README, made by one call (``selfconsume figures``).

Each entry is a name, a caption, and a builder ``build(quick) -> Figure`` that calls
:mod:`figures.data` (the engine) and one plotting function.  ``quick=True`` shrinks grids
and step counts (for tests); the committed gallery uses ``quick=False``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from numerics.scenarios import get_scenario

from . import data
from .curves import plot_class_shares, plot_reward_bounds
from .heatmaps import plot_iterates_1d, plot_iteration_rows, plot_limit_panels
from .phase import plot_condensation_phase, plot_contraction_phase, plot_critical_lam
from .saving import save_figure

__all__ = ["Entry", "GALLERY", "make_gallery", "heatmap_figure", "demo_figure",
           "ITERATION_STEPS"]

#: the steps shown in the iterate figures (2, 3 and the 1-D analogue)
ITERATION_STEPS = (0, 1, 3, 10, 30)


@dataclass(frozen=True)
class Entry:
    name: str
    caption: str
    build: Callable[[bool], object]


def heatmap_figure(scenario):
    """Figure 1 for a 2-D scenario (reward, ``p_0``, limit); its 1-D analogue (``p_0``, a
    few iterates and the limit on one axis, reward beside) for a 1-D one.  Any other
    dimension raises ``ValueError`` naming the scenario.

    Raises
    ------
    ValueError
        a grid of another dimension than 1 or 2, an axis with fewer than 2 points, a
        non-uniform grid; a rule scenario whose limit needs ``K = inf`` (T12, T13).
    RuntimeError
        the limit does not converge or does not pass the one-step check (never a picture of a
        wrong limit).

    See Also
    --------
    demo_figure : the same, written to files.
    figures.data.limit_panels : the numbers drawn.

    References
    ----------
    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    the figures reproduced (Figure 1: limit densities on mixtures of Gaussians).

    Kingman (1978), *A simple model for the balance between selection and mutation*,
    J. Appl. Prob. 15:
    figure 6a (T8).

    docs/figures.md, docs/theory.md.
    """
    ndim = np.ndim(scenario.mass)
    if ndim == 2:
        return plot_limit_panels(data.limit_panels(scenario))
    if ndim == 1:
        steps = tuple(t for t in ITERATION_STEPS if t <= max(scenario.steps, 1))
        return plot_iterates_1d(data.iterates_1d(scenario, steps=steps))
    raise ValueError(f"scenario {scenario.name!r}: a {ndim}-D grid cannot be drawn "
                     "(1-D or 2-D only)")


def _grid(quick, full=None):
    return 32 if quick else full


def _fig1(quick):
    return heatmap_figure(get_scenario("mog8", grid=_grid(quick)))


def _iterates(name):
    def build(quick):
        sc = get_scenario(name, grid=_grid(quick))
        steps = (0, 1, 3) if quick else ITERATION_STEPS
        return plot_iteration_rows(data.iteration_rows(sc, steps=steps, lams=(math.inf, 1.0)))
    return build


def _fig4(quick):
    sc = get_scenario("gauss1d", grid=_grid(quick, 1201))
    return plot_reward_bounds(data.reward_bounds(sc, Ks=(1.5, 2.0, 4.0, 16.0, math.inf),
                                                 steps=8 if quick else 60))


def _fig5(quick):
    sc = get_scenario("classes", grid=10 if quick else None)
    return plot_class_shares(data.class_shares(sc, lams=(math.inf, 1.0),
                                               steps=6 if quick else 50))


def _fig6a(quick):
    if quick:
        cp = data.condensation_phase(lams=np.geomspace(0.2, 10, 4), b=np.linspace(1.5, 5, 3),
                                     boundary_b=np.linspace(1.5, 5, 3))
    else:
        cp = data.condensation_phase()
    return plot_condensation_phase(cp)


def _fig6c(quick):
    if quick:
        return plot_critical_lam(data.critical_lam_curves(b=np.array([3.0, 5.0]),
                                                          Ks=(2.0, math.inf), grid=60,
                                                          examples=data.T9_EXAMPLES[2:4]))
    return plot_critical_lam(data.critical_lam_curves())


def _fig7(quick):
    from .stability_data import DEFAULT_KS, DEFAULT_LAMS, stability_scan
    from .stability_plot import plot_stability
    if quick:
        scans = [stability_scan(get_scenario("gauss1d", grid=41), np.array([0.5, 4.0]),
                                (2.0, math.inf)),
                 stability_scan(get_scenario("mog8", grid=24), np.array([0.5, 4.0]),
                                (2.0, math.inf))]
    else:
        scans = [stability_scan(get_scenario(n), DEFAULT_LAMS, DEFAULT_KS)
                 for n in ("gauss1d", "mog8")]
    return plot_stability(*scans)


def _fig8(quick):
    from .curator_data import two_user_shares
    from .curator_plots import two_user_shares_figure
    ws = np.linspace(0.0, 1.0, 5 if quick else 21)
    return two_user_shares_figure(two_user_shares(ws=ws, grid=24 if quick else 64))


def _fig9(quick):
    from .curator_data import adversarial_sweep
    from .curator_plots import adversarial_figure
    phis = np.linspace(0.0, 0.5, 3 if quick else 11)
    return adversarial_figure(adversarial_sweep(phis=phis, grid=41 if quick else 201))


def _fig6b(quick):
    if quick:
        sc = get_scenario("gauss1d", grid=21, width=3.0)
        cp = data.contraction_phase(sc, lams=np.geomspace(0.1, 3, 3), K=np.array([1.5, 4.0]),
                                    steps=20)
    else:
        cp = data.contraction_phase()
    return plot_contraction_phase(cp)


GALLERY = (
    Entry("limit-density-mog8",
          "mog8 (K = 4, curated only): reward level sets with the optimal discs, the initial "
          "density p_0 and the limit density (p_0 restricted to the optimal set, T3), on one "
          "log colour scale", _fig1),
    Entry("iterates-mog8",
          "mog8, K = 4: p_t at t = 0, 1, 3, 10, 30 with curated data only (top; mass leaves "
          "the six unrewarded modes) and with real data lam = 1 (bottom; every mode keeps "
          "mass)", _iterates("mog8")),
    Entry("iterates-two-moons",
          "two-moons, K = 4: collapse toward the rewarded tip without real data (top), both "
          "moons kept with real data lam = 1 (bottom)", _iterates("two-moons")),
    Entry("reward-bounds-gauss1d",
          "gauss1d, lam = inf, K = 1.5 ... inf: E_t[e^r] with T1's one-step lower bound "
          "(circles below the line), and the variance sum within T2's budget (dashed)",
          _fig4),
    Entry("class-proportions",
          "classes (CIFAR-10 stand-in, r = 5 q, K = 4): class proportions drift to the "
          "confidently classified classes without real data (bias amplification) and stay "
          "near the data with lam = 1", _fig5),
    Entry("phase-condensation-kingman",
          "T8 (K = inf): condensate 1 - I over (lam, b) for the reward law b(-r)^(b-1) on "
          "[-1, 0], with the critical curve I = 1, i.e. lam = E[1/(1 - e^r)] - 1", _fig6a),
    Entry("phase-condensation-finite-k",
          "T9: critical lam of condensation against b for K = 2, 3, 4, 8 and inf (T8) on the "
          "reward law b(-r)^(b-1) on [-1, 0], with THEORY.md T9's examples solved on a 300-cell "
          "grid (filled: condensed, labelled with the top-cell mass)", _fig6c),
    Entry("stability-parametric",
          "Finite capacity (S1-S3): spectral radius of the Gaussian retraining map's Jacobian at "
          "its fixed point over lam for K = 2, 3, 8, inf on gauss1d and mog8, beside S1's "
          "lam/(1+lam)", _fig7),
    Entry("two-users-mog8",
          "Heterogeneous curators (T12): two user types on mog8, each rewarding one disc, with "
          "weights w and 1 - w, K = inf, curated data only: the limit's mass on each disc "
          "against w", _fig8),
    Entry("adversarial-sweep",
          "Adversarial curators (T11, T12): a fraction phi of curation events use -r, K = inf, "
          "curated data only: E[r] after 10 steps and log E[e^r] at the T12 limit against phi",
          _fig9),
    Entry("phase-contraction-t7",
          "T7: measured per-step contraction factor of TV(p_t, p^lam) over (lam, K) on gauss1d, "
          "with the proved region lam (K - 1) < 1 and T7's bound kappa = lam K/(1+lam)",
          _fig6b),
)


def make_gallery(out_dir, formats=("png", "pdf"), *, quick=False, atomic=None,
                 names=None, on_saved=None):
    """Build every gallery figure (or those in ``names``) and write ``out_dir/NAME.<fmt>``;
    returns the paths.  ``on_saved(paths)`` is called after each figure.

    Raises
    ------
    ValueError
        an unknown format.
    OSError
        ``out_dir`` not writable.

    See Also
    --------
    GALLERY : the entries.
    demo_figure : one scenario's figure.

    References
    ----------
    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    the figures reproduced (Figure 1: limit densities on mixtures of Gaussians).

    Kingman (1978), *A simple model for the balance between selection and mutation*,
    J. Appl. Prob. 15:
    figure 6a (T8).

    docs/figures.md, docs/theory.md.
    """
    chosen = GALLERY if names is None else [e for e in GALLERY if e.name in set(names)]
    paths = []
    for entry in chosen:
        fig = entry.build(quick)
        saved = save_figure(fig, out_dir, entry.name, formats, atomic=atomic)
        paths += saved
        if on_saved is not None:
            on_saved(saved)
    return paths


def demo_figure(scenario, out_dir, formats=("png",), *, atomic=None):
    """Figure 1 (2-D scenario) or its 1-D analogue for ``scenario`` (a
    :class:`numerics.scenarios.Scenario`), written as ``out_dir/heatmap-<name>.<fmt>``;
    returns the paths.

    Raises
    ------
    ValueError, RuntimeError
        as :func:`heatmap_figure`; ``ValueError`` also for an unknown format.
    OSError
        ``out_dir`` not writable.

    See Also
    --------
    heatmap_figure : the figure itself.
    make_gallery : every figure.

    References
    ----------
    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    the figures reproduced (Figure 1: limit densities on mixtures of Gaussians).

    Kingman (1978), *A simple model for the balance between selection and mutation*,
    J. Appl. Prob. 15:
    figure 6a (T8).

    docs/figures.md, docs/theory.md.
    """
    return save_figure(heatmap_figure(scenario), out_dir, f"heatmap-{scenario.name}", formats,
                       atomic=atomic)
