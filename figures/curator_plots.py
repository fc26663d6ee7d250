"""Plots of :mod:`figures.curator_data` (one axes each; the numbers come from there)."""

from __future__ import annotations

import numpy as np

from .style import new_figure, styled

__all__ = ["two_user_shares_figure", "adversarial_figure"]


@styled
def two_user_shares_figure(data):
    """Disc shares of the T12 limit against the weight ``w`` (lines: user 1, user 2).

    Raises
    ------
    None
        nothing of its own: it lays out the numbers of
        :func:`figures.curator_data.two_user_shares`
        (a record of another kind fails with ``AttributeError``).

    See Also
    --------
    figures.curator_data.two_user_shares : the numbers drawn.
    numerics.curator_limits.solve_t12 : each limit.

    References
    ----------
    Zhao, Fu, Pham (2025), arXiv 2511.09002 (heterogeneous curators).

    Falahati et al. (2026), arXiv 2605.07724 (heterogeneous curators):
    a weighted Nash bargaining split.

    docs/theory.md T12; docs/figures.md (figure 8).
    """
    fig = new_figure(5, 3.6)
    ax = fig.subplots()
    for u in range(data.shares.shape[1]):
        ax.plot(data.ws, data.shares[:, u], marker="o", label=f"disc of user {u + 1}")
    ax.set_xlabel("weight $w$ of user 1")
    ax.set_ylabel("limit mass on the disc")
    ax.set_title("mog8-two-users, $K=\\infty$, $\\lambda=\\infty$ (T12)")
    ax.legend()
    return fig


@styled
def adversarial_figure(data):
    """``E[r]`` after ``t`` steps against ``phi`` (and ``log E[e^r]`` at the T12 limit).

    Raises
    ------
    None
        nothing of its own: it lays out the numbers of
        :func:`figures.curator_data.adversarial_sweep`
        (a record of another kind fails with ``AttributeError``).

    See Also
    --------
    figures.curator_data.adversarial_sweep : the numbers drawn.

    References
    ----------
    Wei, Zhang (2025), ICML 2025, arXiv 2505.09768 (noisy or adversarial curators).

    docs/theory.md T11, T12.
    """
    fig = new_figure(5, 3.6)
    ax = fig.subplots()
    ax.plot(data.phis, data.expected, marker="o", label=f"$E[r]$ after t={data.t}")
    if data.limits and data.limits[0] is not None:
        ax.plot(data.phis, np.log(data.at_limit), marker="s", ls="--",
                label="$\\log E[e^r]$ at the limit (T12)")
    ax.set_xlabel("fraction $\\phi$ of adversarial curation events")
    ax.set_ylabel("reward")
    ax.set_title("adversarial")
    ax.legend()
    return fig
