"""The curation dynamics on the reward law (DESIGN.md, "everything is a function of the reward").

A model is ``p_t = sum_b w_{b,t}(r) base_b`` with bases ``p_0`` (and ``p_d`` when the real data
differ from the start).  The recurrences (THEORY.md L1-L3, sections 3-4) act on the weights
only:

- curated data only:  ``w_{t+1} = w_t H_{p_t}^K / E_{p_t}[H]``;
- with real data, ``p_{t+1} = (p_d + lam C_K(p_t)) / (1 + lam)``:
  ``w_{0,t+1} = lam w_{0,t} H / ((1+lam) E[H])`` and
  ``w_{d,t+1} = (1 + lam w_{d,t} H / E[H]) / (1 + lam)``.

The log weights are tracked at a few points per reward panel (:mod:`numerics.panels`):
Chebyshev points, for interpolation to the cells (:mod:`numerics.chebyshev`), and the Gauss
nodes of each base (:mod:`numerics.gauss_rules`), for ``M_p(u)`` and the moments.  A step
evaluates ``log H`` (L2) at the Chebyshev points and takes its panels' interpolants at the
nodes, as the cells do (:func:`numerics.chebyshev.interpolate_rows`: half the work of the
L2 integral at both; over the 100 steps of docs/accuracy.md's benchmark on 512^2 cells the
interpolants differ from L2 at the nodes by at most 2e-14, the rounding of L2's values).  A
step costs O(points x v-nodes), independent of the grid; densities are materialized only
when asked, in one pass over the grid that reads the caller's ``reward`` and masses (the
engine keeps no grid-sized array of its own, except the distinct-reward index of the direct
mode and, in the compressed mode, each cell's panel id: one byte a cell, two past 255
panels, four past 65535).
The Gauss rules are built without a panel-sorted copy of the grid: the count pass records the
runs of consecutive cells of one panel, and each panel's cells are gathered run by run into
a scratch reused panel after panel (:func:`numerics.gauss_rules.stieltjes_runs`).

Exactness: the weights at the Chebyshev points are exact up to the L2 quadrature (each step
applies the recurrence pointwise), those at the nodes up to the interpolation of each step's
``log H``; the interpolation is checked at every step by the size of the last Chebyshev
coefficients of the weights of every panel that carries mass (:data:`INTERPOLATION_TOL`).
When it fails, the step raises :class:`ResolutionLost`, and the callers
(:func:`numerics.evolve`, ...) start over on finer panels or in the direct mode, and say so.

When a weight varies by more than ``TILT_LIMIT`` nats across a panel (long runs without real
data, where ``w_t ~ e^{t r}``), the base measure of that panel is re-tilted: its Gauss rule is
rebuilt for the current weight (one pass over the grid, rarely).

The public interface (used by :mod:`numerics.curation`, :mod:`numerics.limits` and the
curation rules) is :class:`CurationEngine` with :meth:`~CurationEngine.law`,
:meth:`~CurationEngine.log_factor`, :meth:`~CurationEngine.advance`,
:meth:`~CurationEngine.moments`, :meth:`~CurationEngine.snapshot`,
:meth:`~CurationEngine.points`, :meth:`~CurationEngine.materialize`,
:meth:`~CurationEngine.log_factor_at_cells`, and the state itself
(:meth:`~CurationEngine.log_weights`, :meth:`~CurationEngine.set_log_weights`) for the
fixed-point solvers that drive the step.  Construction, the re-tilts of a step and
materialization run with BLAS on one thread (:func:`numerics.threads.serial_blas`: its
threads only spin on these small products); the rest of a step uses no BLAS (its small
passes are numba kernels), and does not pay for switching it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import chebyshev as cheb, gauss_rules as gr, laplace, panels, step_check
from .panels import DEFAULT_NODES, DEFAULT_PANEL_WIDTH, FINE_NODES
from .threads import in_halves, serial_blas

__all__ = ["CurationEngine", "RewardLaw", "Resolution", "ResolutionLost", "Snapshot",
           "initial_resolution", "cell_summary", "checked_summary", "MEDIUM", "MEDIUM_STEPS",
           "FINEST",
           "AUTO_DIRECT_CELLS", "TILT_LIMIT", "INTERPOLATION_TOL", "REFINED", "resolved"]

#: below this many cells in the support, ``method="auto"`` uses the direct per-atom mode
AUTO_DIRECT_CELLS = 4096
#: largest variation (nats) of a weight across one panel before its base is re-tilted
TILT_LIMIT = 6.0
#: largest accepted interpolation error of a log weight (absolute, i.e. relative on masses),
#: estimated per panel by its last two Chebyshev coefficients, plus 64 ulps of the weight
INTERPOLATION_TOL = 1e-10
#: a materialized density is divided by the total the Gauss rules give when the sum of its
#: cells differs from 1 by at most this many ulps (on the test grids: 0-4; a condensing
#: kingman run, 2000 steps: 54, then the cells are divided by their sum, a second pass)
NORMALIZED_ULPS = 4
#: panels lighter than this fraction of the heaviest are not held to INTERPOLATION_TOL
NEGLIGIBLE_PANEL = 1e-20
#: fixed blocks of cells for the parallel passes (sums do not depend on the thread count)
_CHUNK_CELLS = 1 << 15


@dataclass(frozen=True)
class Resolution:
    """How finely the compressed law resolves the reward axis.  ``direct`` means one node per
    distinct reward (exact).  :meth:`refined` is the next finer one (finer panels, then
    direct)."""

    direct: bool = False
    width: float = DEFAULT_PANEL_WIDTH
    nodes: int = DEFAULT_NODES
    fine_nodes: int = FINE_NODES
    graded_depth: float = panels.GRADED_DEPTH
    fine_depth: float = panels.FINE_DEPTH
    level: int = 0

    def refined(self, panel_depth=None):
        """The next resolution after this one lost resolution in the panel at ``panel_depth``
        nats below the top (``None``: unknown).

        A panel near the top (above ``fine_depth``: the graded panels, where a condensing
        front moves) gets 64 nodes there (:data:`REFINED`); a uniform panel deeper down gets
        more nodes on every uniform panel: 16 (:data:`REFINED`) from the standard 10, else
        32 (:data:`FINEST`, with 64 near the top); past those, and for an unknown place
        past :data:`FINEST`, the direct mode.  A restart repeats the steps done, so each rung
        jumps to a layout that should be the last."""
        if self.direct:
            return Resolution(direct=True, level=self.level + 1)
        deep = panel_depth is not None and panel_depth >= self.fine_depth
        if deep:   # a uniform panel with ``nodes`` points
            if self.nodes < REFINED.nodes:
                return REFINED
            if self.nodes < FINEST.nodes:
                return FINEST
        elif self.fine_nodes < REFINED.fine_nodes:
            return REFINED
        elif panel_depth is None and self.nodes < FINEST.nodes:
            return FINEST
        return Resolution(direct=True, level=self.level + 1)

    def describe(self):
        if self.direct:
            return "direct (one node per distinct reward)"
        return (f"compressed ({self.width:g}-nat panels, {self.nodes} nodes, {self.fine_nodes} "
                f"near the top, graded below {self.graded_depth:g} nats)")


#: the finer compressed layout tried after the standard one loses resolution: 64 nodes per
#: graded panel resolve the front that a condensing run with real data moves toward the top
#: (``log w_t`` changes slope by ``t`` over ``~2 pi / t`` nats at depth ``d_0(t) ~ c / t``, a
#: pair of log singularities at relative distance ``~ 2 pi / c`` from the real axis)
REFINED = Resolution(False, DEFAULT_PANEL_WIDTH, 16, 64, panels.GRADED_DEPTH, panels.FINE_DEPTH,
                     level=2)

#: the finest compressed layout: 32 nodes per uniform panel, 64 near the top, for weights with
#: structure deep below the top (measured: 2048^2 ``mog8``-like grids with ``K = 3, lam = 5``
#: lose the 16-node uniform panels at depth 1.1 by step 25; these hold 1000 steps)
FINEST = Resolution(False, DEFAULT_PANEL_WIDTH, 32, 64, panels.GRADED_DEPTH, panels.FINE_DEPTH,
                    level=3)

#: the layout of a short run that may condense: 32 nodes per graded panel hold the front for
#: hundreds of steps (the kingman law, ``b = 3``, ``K = 2``, ``lam = 5``: the check first fails
#: at step 1587; the 2048^2 benchmark, ``K = 4``, ``lam = 0.5``: 100 steps pass), with 40%
#: fewer points than :data:`REFINED`
MEDIUM = Resolution(False, DEFAULT_PANEL_WIDTH, 16, 32, panels.GRADED_DEPTH, panels.FINE_DEPTH,
                    level=1)
#: runs of at most this many steps that may condense start on :data:`MEDIUM`
MEDIUM_STEPS = 500


def initial_resolution(K, lam, steps=None):
    """The layout a run of ``steps`` steps starts on: where the fixed point may condense (real
    data and ``lam (K-1) >= 1``, ``K = inf`` included: THEORY.md T8, T9), :data:`MEDIUM` for
    at most :data:`MEDIUM_STEPS` steps and :data:`REFINED` for longer runs (or ``steps``
    unknown): the standard layout loses the front toward the top within a few dozen steps (the
    check of every step would then restart the run, building the reward law twice); the
    standard one otherwise.  The check runs either way, and a restart refines where it
    failed (:meth:`Resolution.refined`)."""
    if math.isfinite(lam) and lam > 0 and lam * (K - 1.0) >= 1.0:
        if steps is not None and steps <= MEDIUM_STEPS:
            return MEDIUM
        return REFINED
    return Resolution()


class ResolutionLost(ArithmeticError):
    """The compressed law no longer resolves a weight to :data:`INTERPOLATION_TOL` (raised by
    :meth:`CurationEngine.advance`; the callers restart on finer panels)."""

    def __init__(self, step, panel_depth, error, tolerance):
        super().__init__(f"step {step}: interpolation error {error:.2g} > {tolerance:.2g} in "
                         f"the panel at depth {panel_depth:.4g} nats below the top reward")
        self.step, self.panel_depth, self.error, self.tolerance = (step, panel_depth, error,
                                                                   tolerance)


@dataclass(frozen=True)
class RewardLaw:
    """A law on the reward axis as the engine holds it: nodes at ``log s = r - r_max <= 0``
    with normalized log-masses ``log_p`` (``-inf`` allowed)."""

    log_s: np.ndarray
    log_p: np.ndarray
    r_max: float

    def mean_s(self):
        return float(np.exp(self.log_p) @ np.exp(self.log_s))


def resolved(make_engine, body, resolution=None, restarts=None):
    """``body(engine)`` for ``engine = make_engine(resolution)``, started over on the next
    finer resolution whenever it raises :class:`ResolutionLost` (:meth:`Resolution.refined`,
    given the depth of the panel that failed: finer panels there, then the direct mode).

    Returns ``(result, engine, restarts)``; ``restarts`` (appended to the list given, if any)
    says, for each abandoned attempt, what it was and why it was abandoned (the results report
    it)."""
    res = resolution or Resolution()
    restarts = [] if restarts is None else restarts
    while True:
        eng = make_engine(res)
        try:
            return body(eng), eng, restarts
        except ResolutionLost as exc:
            if eng.method == "direct":  # pragma: no cover - the direct mode never raises it
                raise
            restarts.append(f"{eng.resolution.describe()}: {exc}")
            res = eng.resolution.refined(exc.panel_depth)


def _lse(a):
    return laplace.log_sum_exp(a)


def _chunks(n):
    """The fixed blocks of the parallel passes over ``n`` cells."""
    return max(1, min(64, n // _CHUNK_CELLS))


def cell_summary(reward, model, data=None, use_numba=True):
    """The :class:`numerics.panels.CellSummary` of flat arrays, in the engine's blocks (what
    :class:`CurationEngine` computes when it is not given one): its reward range and the
    masses' totals, and the checks of the values (:meth:`~numerics.panels.CellSummary.values_ok`)
    in one pass.  ``data``: the second mass array (``None``: ``model`` alone)."""
    m1 = model if data is None else data
    return panels.cell_summary(reward, model, m1, _chunks(reward.shape[0]), use_numba)


def checked_summary(reward, model, data=None):
    """:func:`cell_summary` of flat arrays if it proves their values valid (finite rewards,
    finite non-negative masses of positive totals), else ``None``: the callers check the
    values this way, in the pass that gives the engine its reward range and totals, and run
    the full checks (:func:`numerics.validation.as_mass`, ...) only where it finds a fault,
    to name it (or to rescale masses whose sum overflows)."""
    summary = cell_summary(reward, model, data)
    return summary if summary.values_ok() else None


def bradley_terry_log_factor(K, h=laplace.DEFAULT_STEP, use_numba=True):
    """``log H_p^K`` at given ``log s`` for a law given by nodes (THEORY.md L2, L3)."""
    def log_factor(log_s_eval, log_s, log_p):
        return laplace.log_curation_factor_nodes(log_s, log_p, K, log_s_eval, h=h,
                                                 use_numba=use_numba)
    return log_factor


class _Base:
    """One base measure: the caller's masses (by reference), its Gauss rules (of the measure
    tilted by ``T``), and its log weights ``L`` (``p_t``'s part is ``mass/total exp(L)``), both
    at ``[Chebyshev points, own Gauss nodes]``.  ``node_panel``: the panel of each node (in the
    direct mode, the index of its distinct reward among the Chebyshev points)."""

    __slots__ = ("mass", "log_total", "rules", "panel_log_mass", "node_panel", "L", "T",
                 "is_data")

    def __init__(self, mass, log_total, rules, panel_log_mass, L, T, is_data):
        self.mass, self.log_total = mass, log_total
        self.panel_log_mass = panel_log_mass  # log of the base's normalized mass per panel
        self.set_rules(rules)
        self.L, self.T, self.is_data = L, T, is_data

    def set_rules(self, rules):
        """Make ``rules`` the base's Gauss rules (and ``node_panel`` theirs)."""
        self.rules = rules
        self.node_panel = rules.panel_of_nodes()


class Snapshot:
    """What is needed to materialize the masses of one step on the grid (lazily)."""

    __slots__ = ("engine", "weights")

    def __init__(self, engine, weights):
        self.engine = engine
        self.weights = weights

    def materialize(self):
        return self.engine.materialize(self.weights)


class CurationEngine:
    """State of ``p_t`` on the reward law of ``reward`` (flat arrays).

    Parameters
    ----------
    reward : (N,) float array
    model : (N,) non-negative float array, the start ``p_0`` (normalized here)
    data : (N,) non-negative float array or None
        the real-data law ``p_d``; ``None`` with a finite ``lam`` means ``p_d = p_0``.
    K : float, ``>= 1`` or ``inf``
    lam : float, ``>= 0`` or ``inf``
    method : ``"auto"``, ``"direct"`` (one node per distinct reward: the exact reward law) or
        ``"compressed"`` (Gauss rules per panel, :mod:`numerics.panels`).
    resolution : :class:`Resolution` or None
        the compressed layout (default: the standard one); ignored in the direct mode.
    log_factor : callable or None
        ``log_factor(log_s_eval, log_s, log_p) -> log H`` of the curation rule (default:
        Bradley-Terry with ``K``, L2/L3).
    summary : :class:`numerics.panels.CellSummary` or None
        :func:`cell_summary` of these arrays, where the caller has it (the checks of its
        arguments' values take it): the engine then does not read the grid for its reward
        range and totals.

    The arrays are kept by reference: do not modify them while the engine is in use.
    """

    @serial_blas
    def __init__(self, reward, model, data, K, lam, method="auto", resolution=None, *,
                 log_factor=None, step=laplace.DEFAULT_STEP, use_numba=True, summary=None):
        self.K = float(K)
        self.lam = float(lam)
        self.step_h = step
        self.use_numba = use_numba
        self.reward = reward
        self.shape = reward.shape
        self.log_factor_of = log_factor or bradley_terry_log_factor(self.K, step, use_numba)
        two_bases = data is not None and not math.isinf(lam)
        masses = [model] if not two_bases else [model, data]
        m1 = data if two_bases else model
        self._chunks = _chunks(reward.shape[0])
        if summary is None:
            summary = cell_summary(reward, model, m1, use_numba)
        self.r_max = summary.top
        self.r_min = summary.bottom
        totals = summary.totals[:len(masses)]
        res = resolution or Resolution()
        if method not in ("auto", "direct", "compressed"):
            raise ValueError(f"method must be 'auto', 'direct' or 'compressed', got {method!r}")
        if method != "direct" and not res.direct:
            # every graded level (the first positive depth is not known before the count
            # pass; the empty levels cost nothing)
            layout = panels.make_layout(self.r_max, None, res.width, res.nodes,
                                        res.fine_nodes, res.graded_depth, res.fine_depth)
            per_panel, n_cells, points = self._count(layout, model, m1, len(masses))
            compressed = not (method == "auto" and (n_cells <= AUTO_DIRECT_CELLS
                                                    or points >= n_cells))
        else:
            compressed = False
        self.method = "compressed" if compressed else "direct"
        self.resolution = res if compressed else Resolution(direct=True, level=res.level)
        self.steps_done = 0
        self.rebuilds = 0
        single_data = (not math.isinf(lam)) and not two_bases
        if compressed:
            built = self._build_compressed(per_panel, masses, totals)
        else:
            self._ids = self._runs = None
            built = self._build_direct(reward, masses, m1, totals)
        self.bases = []
        self._geometry = None
        self._pooled_for = None
        for i, (m, (log_total, rules, panel_log_mass)) in enumerate(zip(masses, built)):
            n_pts = self.n_cheb + rules.size
            L = np.zeros(n_pts) if i == 0 else np.full(n_pts, -np.inf)
            self.bases.append(_Base(m, log_total, rules, panel_log_mass, L, np.zeros(n_pts),
                                    is_data=(i == 1) or single_data))

    # ------------------------------------------------------------------ build
    def _count(self, layout, m0, m1, n_bases):
        """Count pass: support cells and runs per raw panel, each cell's raw panel id (kept:
        the Gauss rules gather the cells run by run, the materializations read the ids
        instead of locating the cells again); returns ``(per-panel cells, support cells,
        points)``."""
        n = self.reward.shape[0]
        n_raw = layout.raw_panels(self.r_max - self.r_min)
        # one byte a cell (two past 255 panels, four past 65535); the largest value of the
        # type marks the cells outside the support
        dtype = np.uint8 if n_raw < 1 << 8 else np.uint16 if n_raw < 1 << 16 else np.uint32
        self._ids = np.empty(n, dtype=dtype)
        self._outside = int(np.iinfo(dtype).max)
        f = panels.count_runs.at(n) if self.use_numba else panels.count_runs_numpy
        cells, self._runs = f(self.reward, m0, m1, layout.r_max, layout.graded_depth,
                              layout.levels, layout.width, n_raw, self._chunks, self._ids,
                              self._outside)
        per_panel = cells.sum(axis=0)
        raw_used = np.flatnonzero(per_panel)
        _, _, nodes = layout.geometry(raw_used)
        points = 2 * int(nodes.sum()) * n_bases
        self._layout, self._raw_used = layout, raw_used
        return per_panel, int(per_panel.sum()), points

    def _build_compressed(self, per_panel, masses, totals):
        layout, raw_used = self._layout, self._raw_used
        lo, hi, n_nodes = layout.geometry(raw_used)
        self.panel_lo, self.panel_hi = lo, hi
        self.panel_nodes = n_nodes
        self.compact = np.full(per_panel.shape[0], -1, dtype=np.int64)
        self.compact[raw_used] = np.arange(raw_used.size)
        self.cptr, self.cheb_x = cheb.chebyshev_points(n_nodes)
        self._tail_rows = cheb._tail_rows(self.cptr.tobytes())
        rows = np.repeat(np.arange(raw_used.size), n_nodes)
        center, half = 0.5 * (lo + hi), 0.5 * (hi - lo)
        self.cheb_depth = center[rows] - half[rows] * self.cheb_x
        self.n_cheb = self.cheb_x.shape[0]
        runs = self._list_runs()
        # the runs of the top level set (raw panel 0, always used: the top cell is in the
        # support), for top_cells
        first, end, start, length = runs
        self._top_runs = (start[first[0]:end[0]], length[first[0]:end[0]])
        return [self._rules_from(runs, m, t) for m, t in zip(masses, totals)]

    def _list_runs(self):
        """The support's runs of cells of one panel, panel by panel (:func:`panels.list_runs`:
        one read of the ids), as ``(first run, end run, start, length)`` per used panel."""
        f = (panels.list_runs.at(self.reward.shape[0]) if self.use_numba
             else panels.list_runs_numpy)
        rptr, start, length = f(self._ids, self._outside, self._runs)
        return rptr[self._raw_used], rptr[self._raw_used + 1], start, length

    def _rules_from(self, runs, mass, total, tilt=None):
        """Gauss rules of the cells' masses ``mass`` divided by ``total`` (times
        ``exp(tilt)`` where given: ``(coefficients at the Chebyshev points, panel maxima)``),
        gathered run by run (``runs``: :meth:`_list_runs`)."""
        m_max = int(self.panel_nodes.max())
        coeffs, tmax = tilt if tilt is not None else (np.zeros(0), np.zeros(0))
        lay = self._layout
        args = (*runs, self._raw_used, self.reward, mass, lay.r_max, lay.graded_depth,
                lay.levels, lay.width, self.panel_nodes, m_max, self.cptr, coeffs, tmax)
        if self.use_numba:
            alpha, beta, n_used, log_scale = gr.stieltjes_runs.at(
                int(self._ids.shape[0]) * m_max)(*args)
        else:
            alpha, beta, n_used, log_scale = gr.stieltjes_runs_numpy(*args)
        counts, node_x, node_w = gr.gauss_from_recurrence(alpha, beta, n_used)
        rows = np.repeat(np.arange(counts.size), counts)
        with np.errstate(divide="ignore"):
            log_w = (np.log(node_w) + np.log(beta[rows, 0]) + log_scale[rows] - math.log(total))
        if tilt is not None:
            log_w += tilt[1][rows]
        center = 0.5 * (self.panel_lo + self.panel_hi)
        half = 0.5 * (self.panel_hi - self.panel_lo)
        depth = center[rows] - half[rows] * node_x
        ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        with np.errstate(divide="ignore"):
            panel_log_mass = np.log(beta[:, 0]) + log_scale - math.log(total)
        return math.log(total), gr.PanelRules(ptr, node_x, depth, log_w), panel_log_mass

    def _build_direct(self, reward, masses, m1, totals):
        sup = (masses[0] > 0) | (m1 > 0)
        vals, inverse = np.unique(reward[sup], return_inverse=True)
        vals, inverse = vals[::-1], (vals.size - 1) - inverse   # by depth, increasing
        self.inverse = np.full(reward.shape, -1, dtype=np.int64)
        self.inverse[sup] = inverse
        depth = self.r_max - vals
        n = vals.size
        self.cptr = np.arange(n + 1, dtype=np.int64)
        self.cheb_x = np.zeros(n)
        self.cheb_depth = depth
        self.n_cheb = n
        self.panel_lo = self.panel_hi = depth
        self.panel_nodes = np.ones(n, dtype=np.int64)
        out = []
        for m, total in zip(masses, totals):
            w = np.bincount(inverse, weights=m[sup], minlength=n)
            keep = np.flatnonzero(w > 0)
            ptr = np.concatenate([[0], np.cumsum(w > 0)]).astype(np.int64)
            rules = gr.PanelRules(ptr, np.zeros(keep.size), depth[keep],
                                  np.log(w[keep]) - math.log(total))
            with np.errstate(divide="ignore"):
                out.append((math.log(total), rules, np.log(w) - math.log(total)))
        return out

    # ------------------------------------------------------------------ the law
    def law(self) -> RewardLaw:
        """The normalized law of ``p_t`` on the Gauss nodes of all bases."""
        log_s, log_p, _ = self._pooled()
        return RewardLaw(log_s, log_p, self.r_max)

    def _pooled(self):
        """``(log s, normalized log p, log of the total)`` at the Gauss nodes of all bases,
        kept for the state it was formed from: :meth:`advance` then reads what the
        trajectory's moments formed after the previous step.  A state is the tuple of the
        bases' ``L`` arrays, compared by identity: every change of state (a step, a re-tilt,
        :meth:`set_log_weights`) puts new arrays there; none writes into one."""
        state = tuple(b.L for b in self.bases)
        cached = self._pooled_for
        if cached is not None and all(a is b for a, b in zip(cached[0], state)):
            return cached[1]
        log_p = np.concatenate([b.rules.log_w + (b.L - b.T)[self.n_cheb:] for b in self.bases])
        log_z = _lse(log_p)
        out = (self._node_geometry()[0], log_p - log_z, log_z)
        self._pooled_for = (state, out)
        return out

    def _node_geometry(self):
        """``(log s at the Gauss nodes of all bases, per base the rows that interpolate
        values at the Chebyshev points to its nodes)`` (:func:`numerics.chebyshev.cardinal_rows`;
        ``None`` in the direct mode, whose nodes are Chebyshev points): fixed between
        re-tilts (read-only arrays, built again after one)."""
        if self._geometry is None:
            log_s = -np.concatenate([b.rules.depth for b in self.bases])
            log_s.setflags(write=False)
            rows = None
            if self.method != "direct":
                rows = [cheb.cardinal_rows(self.cptr, b.rules.ptr, b.rules.x)
                        for b in self.bases]
            self._geometry = (log_s, rows)
        return self._geometry

    def top_cells(self):
        """Flat indices of the support's cells at the top reward ``r_max``, increasing (the
        runs of the top panel that the build listed, or the distinct-reward index in the
        direct mode: no pass over the rewards)."""
        if self.method == "direct":
            return np.flatnonzero(self.inverse == 0)
        start, length = self._top_runs
        before = np.cumsum(length) - length   # cells in the runs before each run
        return np.arange(int(length.sum())) + np.repeat(start - before, length)

    def points(self):
        """``log s = r - r_max`` at the Chebyshev points, where functions of the reward are
        given to :meth:`materialize`."""
        return -self.cheb_depth

    def log_factor(self, log_s_eval, law=None):
        """``log H`` of the curation rule for the law ``law`` (default: ``p_t``) at the
        rewards ``r_max + log_s_eval``."""
        law = law or self.law()
        return self.log_factor_of(np.asarray(log_s_eval, dtype=np.float64), law.log_s,
                                  law.log_p)

    def _at_points(self, log_h):
        """Per base, ``log H`` at ``[Chebyshev points, own nodes]`` from its values ``log_h`` at
        the Chebyshev points: at the nodes, the panels' interpolants (compressed mode), the
        values the cells get when a density is materialized; in the direct mode the nodes are
        Chebyshev points."""
        if self.method == "direct":
            return [np.concatenate([log_h, log_h[b.node_panel]]) for b in self.bases]
        f = cheb.interpolate_rows if self.use_numba else cheb.interpolate_rows_numpy
        return [np.concatenate([log_h, f(log_h, self.cptr, b.rules.ptr, rows)])
                for b, rows in zip(self.bases, self._node_geometry()[1])]

    def moments(self):
        """``(E[s], Var[s], E[r])`` of the current ``p_t``, ``s = e^{r - r_max}``."""
        log_s, log_p, _ = self._pooled()
        p = np.exp(log_p)
        s = np.exp(log_s)
        mean_s = float(np.dot(p, s))
        var_s = float(np.dot(p, (s - mean_s) ** 2))
        mean_r = float(np.dot(p, log_s)) + self.r_max
        return mean_s, var_s, mean_r

    # ------------------------------------------------------------------ dynamics
    def advance(self):
        """One step of the recurrence (curated only, or mixed with real data).

        Raises :class:`ResolutionLost` if the compressed law stops resolving a weight."""
        log_s, log_p, log_z = self._pooled()
        per_base = self._at_points(self.log_factor_of(self.points(), log_s, log_p))
        node_h = np.concatenate([h[self.n_cheb:] for h in per_base])
        log_eh = _lse(log_p + node_h)  # log E_p[H] (= 0 by P1, up to rounding)
        lam = self.lam
        log_lam = math.log(lam) if lam > 0 else -math.inf
        for b, lh in zip(self.bases, per_base):
            curated = b.L - log_z + lh - log_eh
            if math.isinf(lam):
                b.L = curated
            elif b.is_data:
                # log(1 + lam e^c) - log(1 + lam), formed as np.logaddexp(0, .) forms it, with
                # numpy's vectorized exp and log1p (its logaddexp is not: 2.5x slower)
                x = log_lam + curated
                b.L = (np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))) - math.log1p(lam)
            else:
                b.L = curated + log_lam - math.log1p(lam)
        self.steps_done += 1
        if self.method == "compressed":
            self._check_step()

    def _check_step(self):
        """After a step: raise :class:`ResolutionLost` where the interpolant of a base's
        weights errs by more than :data:`INTERPOLATION_TOL` (plus 64 ulps) on a panel that may
        carry mass (:meth:`_check_interpolation`'s test), else re-tilt each base whose
        ``L - T`` spreads over more than :data:`TILT_LIMIT` nats in a panel
        (:mod:`numerics.step_check`: one call per base)."""
        stats = np.empty((len(self.bases), 4, self.cptr.shape[0] - 1))
        check, judge = ((step_check.panel_checks, step_check.verdict) if self.use_numba else
                        (step_check.panel_checks_numpy, step_check.verdict_numpy))
        for b, out in zip(self.bases, stats):
            check(b.L, b.T, b.rules.log_w, self.n_cheb, self.cptr, b.rules.ptr,
                  self._tail_rows, out)
        i, q, spreads = judge(stats, math.log(NEGLIGIBLE_PANEL), INTERPOLATION_TOL,
                              64 * np.finfo(float).eps)
        if q >= 0:
            bound = INTERPOLATION_TOL + 64 * np.finfo(float).eps * stats[i, step_check.BIG, q]
            raise ResolutionLost(self.steps_done, 0.5 * (self.panel_lo[q] + self.panel_hi[q]),
                                 float(stats[i, step_check.ERR, q]), float(bound))
        for b, spread in zip(self.bases, spreads):
            if spread > TILT_LIMIT:
                self._retilt_base(b)

    def _check_interpolation(self, g, panel_log_mass, heaviest=None):
        """Raise :class:`ResolutionLost` if the interpolant of ``g`` (values at the Chebyshev
        points) errs by more than :data:`INTERPOLATION_TOL` (plus 64 ulps of ``g``) on a panel
        whose log mass ``panel_log_mass`` is above ``NEGLIGIBLE_PANEL`` of ``heaviest``."""
        if heaviest is None:
            heaviest = float(np.max(panel_log_mass))
        rel = panel_log_mass > heaviest + math.log(NEGLIGIBLE_PANEL)
        if not rel.any():
            return
        err, big = (cheb.tail_error_and_size if self.use_numba
                    else cheb.tail_error_and_size_numpy)(g, self.cptr)
        tol = INTERPOLATION_TOL + 64 * np.finfo(float).eps * big
        bad = rel & ~(err <= tol)
        if bad.any():
            q = int(np.flatnonzero(bad)[np.argmax((err / tol)[bad])])
            raise ResolutionLost(self.steps_done, 0.5 * (self.panel_lo[q] + self.panel_hi[q]),
                                 float(err[q]), float(tol[q]))

    @serial_blas
    def _retilt_base(self, b):
        """Rebuild base ``b``'s Gauss rules for the measure tilted by its current weight (one
        pass over the grid) and put its weight at the new nodes."""
        ptr = self.cptr
        new_t = b.L[:self.n_cheb].copy()
        coeffs = cheb.to_coefficients(new_t, self.cptr)
        tmax = np.maximum.reduceat(new_t, ptr[:-1])
        _, rules, _ = self._rules_from(self._list_runs(), b.mass, math.exp(b.log_total),
                                      tilt=(coeffs, tmax))
        at_nodes = self._at_nodes(coeffs, rules)
        b.set_rules(rules)
        self._geometry = None
        b.L = np.concatenate([b.L[:self.n_cheb], at_nodes])
        b.T = b.L.copy()
        self.rebuilds += 1

    def _at_nodes(self, coeffs, rules):
        f = cheb.evaluate if self.use_numba else None
        q = rules.panel_of_nodes()
        if f is None:
            return cheb.evaluate_numpy(q, rules.x, self.cptr, coeffs)
        return f(q, rules.x, self.cptr, coeffs)

    def log_weights(self):
        """The state: each base's log weights at ``[Chebyshev points, own Gauss nodes]``
        (copies; :meth:`set_log_weights` puts them back)."""
        return tuple(b.L.copy() for b in self.bases)

    def set_log_weights(self, weights):
        """Make ``weights`` (shaped as :meth:`log_weights` returns them) the state."""
        for b, w in zip(self.bases, weights):
            if w.shape != b.L.shape:
                raise ValueError("set_log_weights: the weights do not match the engine's "
                                 "points (the law was re-tilted since they were taken)")
            b.L = np.array(w, dtype=np.float64)

    # ------------------------------------------------------------------ densities
    def snapshot(self):
        """The current log weights (at the Chebyshev points), to materialize later."""
        return Snapshot(self, tuple(b.L[:self.n_cheb].copy() for b in self.bases))

    @serial_blas
    def materialize(self, weights, bases=None, check=False):
        """Normalized masses on the grid: ``sum_b mass_b/total_b exp(weights_b(r))``, the
        ``weights_b`` given at the Chebyshev points (:meth:`points`) and interpolated.  In the
        compressed mode the cells are written divided by their total as the Gauss rules give
        it (:meth:`_log_total_on_nodes`), and divided again by their sum where it differs
        from 1 by more than :data:`NORMALIZED_ULPS` ulps (a second pass, rarely).

        ``bases``: indices of the bases (default: all, matched with ``weights``).  ``check``:
        hold the interpolation to :data:`INTERPOLATION_TOL` on every panel that carries
        mass (raises :class:`ResolutionLost`; the dynamics check their weights at every step,
        so their snapshots need not)."""
        bases = [self.bases[i] for i in (range(len(weights)) if bases is None else bases)]
        # the largest panel mass of p_t (up to its cells' share): keeps every value <= ~1
        offset = -np.inf
        for b, g in zip(bases, weights):
            with np.errstate(invalid="ignore"):
                top = np.maximum.reduceat(np.where(np.isfinite(g), g, -np.inf), self.cptr[:-1])
                offset = max(offset, float(np.max(top + b.panel_log_mass)))
        if check and self.method == "compressed":
            for b, g in zip(bases, weights):
                with np.errstate(invalid="ignore"):
                    top = np.maximum.reduceat(np.where(np.isfinite(g), g, -np.inf),
                                              self.cptr[:-1])
                self._check_interpolation(g, top + b.panel_log_mass)
        # the cells are written divided by their total as the Gauss rules give it, which
        # then agrees with their sum to a few ulps: no pass of its own divides them
        if self.method == "compressed":
            offset = self._log_total_on_nodes(bases, weights, offset)
        out = np.zeros(self.reward.shape)
        first = True
        total = None   # the sum of out, where the last base's pass returns it
        for b, g in zip(bases, weights):
            if not np.any(np.isfinite(g)):
                continue
            shift = offset + b.log_total  # mass_b / total_b exp(g - offset)
            if self.method == "direct":
                # only the cells where this base has mass (as accumulate_masses): the weight
                # at a reward the base does not charge may exceed float64 (e^{119 t}), and
                # 0 * inf would be NaN
                has = (self.inverse >= 0) & (b.mass > 0)
                with np.errstate(over="ignore", invalid="ignore"):
                    vals = np.exp(g - shift)
                out[has] += b.mass[has] * vals[self.inverse[has]]
                first = False
                total = None
                continue
            coeffs = cheb.to_coefficients(np.where(np.isfinite(g), g, -1e300), self.cptr)
            lay = self._layout
            total = cheb.accumulate_masses(self.reward, b.mass, lay.r_max, lay.graded_depth,
                                           lay.levels, lay.width, self.compact, self.cptr,
                                           coeffs, shift, out, first,
                                           use_numba=self.use_numba, ids=self._ids)
            first = False
        if total is None:
            total = float(out.sum())
        if not abs(total - 1.0) <= NORMALIZED_ULPS * np.finfo(float).eps:
            n = out.shape[0]
            in_halves(lambda lo, hi: np.divide(out[lo:hi], total, out=out[lo:hi]), n)
        return out

    def _log_total_on_nodes(self, bases, weights, default):
        """``log sum_b mass_b/total_b sum_cells exp(weights_b)`` as each base's Gauss rule
        gives it, ``sum_k w_k exp(g(x_k) - T(x_k))`` with ``g(x_k)`` the weights' interpolants
        at the nodes (:func:`numerics.chebyshev.interpolate_rows`: the values the cells get,
        so the rule integrates ``exp(g - T)``, within ``TILT_LIMIT`` nats of its largest
        value on a panel, to rounding).  ``default``: the log of the largest panel mass,
        returned where no node carries mass or the total falls outside ``[default - 40,
        default + log(panels) + 1]`` (weights that are not finite throughout a panel: the
        cells then keep values below ``e^40`` and are divided by their sum)."""
        f = cheb.interpolate_rows if self.use_numba else cheb.interpolate_rows_numpy
        rows = dict(zip(map(id, self.bases), self._node_geometry()[1]))
        parts = []
        for b, g in zip(bases, weights):
            if not np.any(np.isfinite(g)):
                continue
            at = f(np.where(np.isfinite(g), g, -1e300), self.cptr, b.rules.ptr, rows[id(b)])
            parts.append(b.rules.log_w + (at - b.T[self.n_cheb:]))
        out = _lse(np.concatenate(parts)) if parts else -np.inf
        sane = default - 40.0 <= out <= default + math.log(self.cptr.shape[0]) + 1.0
        return out if sane else default

    def log_factor_at_cells(self):
        """``log H`` of ``p_t`` at every cell of the support (``nan`` elsewhere): exact per
        distinct reward in the direct mode, interpolated from the Chebyshev points in the
        compressed mode (checked like the weights)."""
        lh = self.log_factor(-self.cheb_depth)
        if self.method == "direct":
            out = np.full(self.reward.shape, np.nan)
            inside = self.inverse >= 0
            out[inside] = lh[self.inverse[inside]]
            return out
        coeffs = cheb.to_coefficients(lh, self.cptr)
        sup = (self.bases[0].mass > 0)
        for b in self.bases[1:]:
            sup = sup | (b.mass > 0)
        idx = np.flatnonzero(sup)
        raw, x = panels.locate_numpy(self.r_max - self.reward[idx], self._layout.graded_depth,
                                     self._layout.levels, self._layout.width)
        out = np.full(self.reward.shape, np.nan)
        q = self.compact[raw]
        out[idx] = (cheb.evaluate.at(idx.size)(q, x, self.cptr, coeffs) if self.use_numba
                    else cheb.evaluate_numpy(q, x, self.cptr, coeffs))
        return out
