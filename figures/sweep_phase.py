"""Phase diagram of any 2-D sweep (:mod:`numerics.sweep`): one output of the measure over the
two swept parameters, with THEORY.md's analytic boundaries where they apply:

- ``lam`` against ``K``: T7's ``lam (K - 1) = 1`` (below it ``T`` contracts with factor
  ``lam K/(1+lam)``);
- ``lam`` against a scenario parameter or ``K``, on a scenario with a continuous reward law
  (``kingman``): the critical ``lam`` above which the limit condenses,
  :func:`numerics.critical_lam` (T8's ``I = 1`` for ``K = inf``, T9's for finite ``K``).

Failed or pending points are grey.  ``QuadMesh.get_array()`` is the plotted grid."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
from matplotlib import colormaps

from .style import new_figure, styled

__all__ = ["plot_sweep", "sweep_boundaries"]


def _is_log(values):
    v = np.asarray(values, dtype=float)
    if v.size < 3 or not (v > 0).all():
        return False
    d = np.diff(np.log(v))
    return bool(np.allclose(d, d[0], rtol=1e-9)) and not np.allclose(np.diff(v), v[1] - v[0])


def _edges(centres, log):
    c = np.log(centres) if log else np.asarray(centres, dtype=float)
    if c.size == 1:
        e = np.array([c[0] - 0.5, c[0] + 0.5])
    else:
        mid = 0.5 * (c[1:] + c[:-1])
        e = np.concatenate([[2 * c[0] - mid[0]], mid, [2 * c[-1] - mid[-1]]])
    return np.exp(e) if log else e


def sweep_boundaries(ds, samples=40):
    """``[(label, {dim: values, other_dim: values}), ...]``: the analytic curves of THEORY.md
    for the two swept parameters of ``ds`` (see the module docstring).

    Raises
    ------
    KeyError
        ``ds`` has no ``state`` variable (not a sweep's Dataset).

    See Also
    --------
    plot_sweep : draws them.
    numerics.critical_lam : the condensation curves.

    References
    ----------
    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    the dynamics swept (T7-T9).

    Kingman (1978), *A simple model for the balance between selection and mutation*,
    J. Appl. Prob. 15:
    T8's condensation.

    docs/theory.md T7-T9.
    """
    dims = list(ds["state"].dims)
    if "lam" not in dims or len(dims) != 2:
        return []
    other = dims[1 - dims.index("lam")]
    lo, hi = float(ds[other].min()), float(ds[other].max())
    xs = np.geomspace(lo, hi, samples) if _is_log(ds[other].values) else \
        np.linspace(lo, hi, samples)
    out = []
    if other == "K":
        ks = xs[xs > 1]
        out.append(("λ(K−1) = 1 (T7)", {"K": ks, "lam": 1 / (ks - 1)}))
    fixed = json.loads(ds.attrs.get("fixed", "{}"))
    name = ds.attrs.get("scenario")
    if not name:
        return out
    from numerics import critical_lam
    from numerics.scenarios import get_scenario, scenario_parameters
    if other != "K" and other not in scenario_parameters(name):
        return out
    lams = []
    for x in xs:
        params = {k: v for k, v in fixed.items() if k not in ("lam", "steps", "grid")}
        params[other] = x
        K = params.pop("K", None)
        try:
            sc = get_scenario(name, grid=2, K=K, **params)
        except (TypeError, ValueError):
            return out
        if sc.continuous is None:
            return out
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                lams.append(critical_lam(sc.continuous, sc.K))
            except (ValueError, ArithmeticError):
                lams.append(math.nan)
    lams = np.array(lams)
    Kname = "K = ∞" if "K" not in fixed and other != "K" else "K"
    thm = "T8" if (other != "K" and math.isinf(float(fixed.get("K", get_scenario(
        name, grid=2).K)))) else "T9"
    out.append((f"critical λ: condensation above ({thm}, {Kname})",
                {other: xs, "lam": np.where(np.isfinite(lams), lams, np.nan)}))
    return out


@styled
def plot_sweep(ds, var=None):
    """A 2-D sweep's ``var`` (default: the measure's first output) as a colour map over its
    two parameters (first dimension on the vertical axis), boundaries from
    :func:`sweep_boundaries` overlaid.

    Raises
    ------
    ValueError
        ``ds`` not a 2-D sweep; ``var`` not one of its outputs.

    See Also
    --------
    sweep_boundaries : the curves overlaid.
    numerics.sweep.sweep : the data.

    References
    ----------
    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    the dynamics swept (T7-T9).

    Kingman (1978), *A simple model for the balance between selection and mutation*,
    J. Appl. Prob. 15:
    T8's condensation.

    docs/theory.md T7-T9.
    """
    dims = list(ds["state"].dims)
    if len(dims) != 2:
        raise ValueError(f"a phase diagram needs a 2-D sweep; this one sweeps "
                         f"{', '.join(dims) or 'nothing'}")
    outputs = ds.attrs.get("outputs", "").split(",")
    var = var or outputs[0]
    if var not in ds.data_vars or var in ("state", "error"):
        raise ValueError(f"var: {var!r} is not an output of this sweep "
                         f"(outputs: {', '.join(outputs)})")
    ydim, xdim = dims
    z = np.where(ds["state"].values == 1, ds[var].transpose(ydim, xdim).values, np.nan)
    x, y = ds[xdim].values.astype(float), ds[ydim].values.astype(float)
    xlog, ylog = _is_log(x), _is_log(y)
    fig = new_figure(6.4, 4.8)
    ax = fig.subplots()
    ax.set_facecolor("0.82")
    mesh = ax.pcolormesh(_edges(x, xlog), _edges(y, ylog), np.ma.masked_invalid(z),
                         cmap=colormaps["cividis"], shading="flat")
    colours = ["#ff6b6b", "white"]
    for (label, curve), colour in zip(sweep_boundaries(ds), colours):
        ax.plot(curve[xdim], curve[ydim], color=colour, lw=2.0, label=label)
    ax.set_xscale("log" if xlog else "linear")
    ax.set_yscale("log" if ylog else "linear")
    xe, ye = _edges(x, xlog), _edges(y, ylog)
    ax.set_xlim(xe[0], xe[-1])
    ax.set_ylim(ye[0], ye[-1])
    ax.set_xlabel(xdim)
    ax.set_ylabel(ydim)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower left", fontsize=8, framealpha=0.9)
    fig.colorbar(mesh, ax=ax, label=f"{ds.attrs.get('measure', '')}: {var}")
    ax.set_title(f"{ds.attrs.get('scenario') or ds.attrs.get('config')}: {var} over "
                 f"({ydim}, {xdim})")
    return fig
