"""Curves over the iterations: ``E_t[e^r]`` against T1, the variance sum against T2
(figure 4), class proportions (figure 5).  Input: :mod:`figures.data` results."""

from __future__ import annotations

import math

import numpy as np
from matplotlib import colormaps

from .labels import K_text, lam_text, num
from .style import new_figure, styled

__all__ = ["plot_reward_bounds", "plot_class_shares"]


def _k_colors(Ks):
    finite = [k for k in Ks if not math.isinf(k)]
    cols = {k: colormaps["viridis"](v) for k, v in
            zip(finite, np.linspace(0.0, 0.8, max(len(finite), 1)))}
    cols.update({k: "black" for k in Ks if math.isinf(k)})
    return cols


@styled
def plot_reward_bounds(rb):
    """Figure 4.  (a) ``E_{p_t}[e^r]`` (lines) and T1's lower bound on it made from the
    previous step, ``E_{t-1}[e^r] + ((K-1)/K) Var_{t-1}[e^r] / e^{r_*}`` (open circles);
    (b) the cumulative variance ``sum_{s<=t} Var_s[e^r]`` (lines) and T2's budget for the
    whole sum, ``K e^{r_*}(e^{r_*} - E_0[e^r])/(K-1)`` (dashed).

    Raises
    ------
    None
        nothing of its own: it lays out the numbers of
        :func:`figures.data.reward_bounds`
        (a record of another kind fails with ``AttributeError``).

    See Also
    --------
    figures.data.reward_bounds : the numbers drawn.
    theory.formulas.t1_increment_lower_bound, theory.formulas.t2_variance_budget : the bounds.

    References
    ----------
    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    Lemma 2.2 (T1, reconstructed) and T2.

    docs/theory.md T1, T2; docs/figures.md (figure 4).
    """
    sc = rb.scenario
    cols = _k_colors(rb.Ks)
    fig = new_figure(11.5, 4.3)
    ax_e, ax_v = fig.subplots(1, 2)
    for K in rb.Ks:
        e = rb.exact[K]
        t = np.arange(e.size)
        ax_e.plot(t, e, color=cols[K], lw=1.7, label=K_text(K))
        ax_e.plot(t[1:], rb.t1_bound[K], ls="none", marker="o", ms=3.6, mfc="none",
                  mew=0.9, color=cols[K])
        ax_v.plot(t, rb.cumulative_variance[K], color=cols[K], lw=1.7, label=K_text(K))
        ax_v.axhline(rb.t2_budget[K], color=cols[K], ls="--", lw=1.1)
    es = {rb.exp_r_star[K] for K in rb.Ks}
    if len(es) == 1:
        ax_e.axhline(es.pop(), color="0.5", lw=0.8, ls=":")
        ax_e.annotate("$e^{r_*}$", xy=(0.99, 1.0), xycoords=("axes fraction", "data"),
                      ha="right", va="bottom", color="0.4")
    ax_e.plot([], [], ls="none", marker="o", mfc="none", color="0.3",
              label="T1 lower bound from step $t-1$")
    ax_e.set_xlabel("iteration t")
    ax_e.set_ylabel("$E_{p_t}[e^{r}]$")
    ax_e.set_title("(a) expected exp-reward and T1's one-step bound")
    ax_e.legend(loc="lower right")
    ax_v.plot([], [], ls="--", color="0.3", label="T2 budget (same colour)")
    ax_v.set_xlabel("iteration t")
    ax_v.set_ylabel("$\\sum_{s \\leq t}\\ \\mathrm{Var}_{p_s}[e^{r}]$")
    ax_v.set_ylim(0, None)
    ax_v.set_title("(b) cumulative variance and T2's budget")
    ax_v.legend(loc="lower right", ncols=2)
    fig.suptitle(f"{sc.name}, curated data only (λ = ∞): $E[e^r]$ climbs to $e^{{r_*}}$ "
                 "at least as fast as T1 says; the variance sum stays within T2")
    return fig


@styled
def plot_class_shares(cs):
    """Figure 5: class proportions ``P_t(class = c)`` over the iterations, stacked, one
    panel per ``lam`` (bias amplification without real data, stability with it).

    Raises
    ------
    None
        nothing of its own: it lays out the numbers of
        :func:`figures.data.class_shares`
        (a record of another kind fails with ``AttributeError``).

    See Also
    --------
    figures.data.class_shares : the numbers drawn.

    References
    ----------
    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    bias amplification on curated CIFAR-10; T5 with real data.

    docs/figures.md (figure 5).
    """
    sc = cs.scenario
    names = list(sc.label_names) or [str(c) for c in range(cs.shares[0].shape[1])]
    cols = [colormaps["tab10"](c % 10) for c in range(len(names))]
    fig = new_figure(11.5, 4.2)
    axs = fig.subplots(1, len(cs.lams), sharey=True, squeeze=False)[0]
    for ax, lam, shares in zip(axs, cs.lams, cs.shares):
        t = np.arange(shares.shape[0])
        polys = ax.stackplot(t, shares.T, colors=cols, labels=names, alpha=0.92,
                             edgecolor="white", linewidth=0.3)
        del polys
        ax.set_xlim(0, t[-1])
        ax.set_ylim(0, 1)
        ax.set_xlabel("iteration t")
        ax.set_title("curated data only (λ = ∞)" if math.isinf(lam)
                     else f"with real data ({lam_text(lam)})")
    axs[0].set_ylabel("class proportion (stacked)")
    handles, labels = axs[0].get_legend_handles_labels()
    fig.legend(handles[::-1], labels[::-1], loc="outside right center", title="class",
               frameon=False)
    fig.suptitle(f"{sc.name}: class proportions under curation with reward "
                 f"{num(sc.params.get('gamma', float('nan')))}·confidence, {K_text(cs.K)}")
    return fig
