r"""The compressed engine for curation rules over two rewards (DESIGN.md, "Beyond one reward").

A mixture of user types whose rules are smooth in their rewards (Bradley-Terry, L1-L3, and
Plackett-Luce, L4), over two distinct static rewards ``r_a`` and ``r_b``, keeps the density of
the form ``p_t = sum_b base_b exp(L_{b,t}(r_a, r_b))`` (bases ``p_0`` and ``p_d``, as in
:mod:`numerics.engine`), with

    L_{t+1} = L_t + log H_t(r_a, r_b) - log E_{p_t}[H_t] (+ the real-data mixing),
    H_t(r_a, r_b) = sum_{u on a} pi_u H_u(r_a) + sum_{u on b} pi_u H_u(r_b),

each ``H_u`` computed on the law of its own reward under ``p_t`` (section 7).  Where the
exact engine (:class:`numerics.joint.JointEngine`) holds one state per distinct pair
``(r_a(x), r_b(x))`` (every cell, on a grid whose rewards are all distinct), this one
compresses the joint law, box by box:

- each reward axis is cut into the panels of :mod:`numerics.panels` (graded toward its top);
  a *box* is a pair of panels holding cells of the support;
- the state ``L`` is kept at the tensor grid of ``n_a x n_b`` Chebyshev points of each box
  (``n`` the panel's node count), and the recurrence is applied there pointwise; functions
  of ``(r_a, r_b)`` are their tensor Chebyshev interpolants (:func:`tensor_coefficients`);
- each base measure is replaced, in each box, by an interpolatory cubature on the tensor grid
  of ``N_a x N_b`` Chebyshev points, ``N = n + 2`` (``N = 1`` on a top level set):
  ``Omega_{jk} = int l_j(x_a) l_k(x_b) dmu`` with ``l`` the Lagrange polynomials, exact for
  every polynomial of degree ``< N`` in each variable.  It comes from the tensor Chebyshev
  moments of the cells (one pass over the grid, :func:`numerics.pair_kernels.box_moments`).
  The weight ``W = e^{L - T}`` enters it through its interpolant from the state grid;
- a step needs the law of each reward under ``p_t``: the marginal of the cubature on each
  panel is a (signed) discrete measure at the panel's ``N`` points, exact on polynomials of
  degree ``< N``, whose ``n``-point Gauss rule (Stieltjes on those points,
  :mod:`numerics.gauss_rules`; Golub-Welsch without clipping the nodes,
  :func:`numerics.pair_kernels.gauss_from_recurrence`, warm-started from the previous step's
  nodes) is the positive law handed to the users' rules (L2, L4), as the one-reward engine
  hands them its own Gauss rules.

Measured against the exact joint-atom engine (``tests/test_pair_law.py``): 2e-15 to 2e-12
relative per cell over 40-300 steps, with and without real data, ``K = 2, 3, 4, inf``,
Plackett-Luce among the user types; the same to two digits for every ``N`` from ``n`` to
``2n`` (the error is the interpolation of ``L``, not the cubature).

Exactness is checked as in :mod:`numerics.engine`: at every step, the last two rows and
columns of the tensor Chebyshev coefficients of ``L`` on every box that may carry mass must be
below :data:`numerics.engine.INTERPOLATION_TOL`, else :class:`numerics.engine.ResolutionLost`
(the callers then restart on finer panels, and in the end on the exact joint-atom engine).
When ``L`` varies by more than :data:`numerics.engine.TILT_LIMIT` nats across a box, its base
is re-tilted (the cubature rebuilt for the current weight, one pass over the grid).

Cost: the build and each re-tilt ``O(cells x N_a N_b)`` (one matrix product per box and
block of cells), a step ``O(boxes x N_a n_a n_b)`` plus the users' rules at the panels'
points, the materialization ``O(cells x n_a n_b)``.  A step reads the state in a few passes:
the per-box scans of :mod:`numerics.pair_kernels` (extremes and shift, the point factor, the
check), one ``exp`` and one ``log1p`` (or ``log``) by numpy, and the per-class products of
the marginals (BLAS); the data base's new state comes from the step's weights ``W``
(``e^L = W e^{max}``), not from a second ``exp`` of ``L``.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from . import chebyshev as cheb, gauss_rules as gr, laplace, panels
from . import pair_kernels as pk
from .engine import (INTERPOLATION_TOL, NEGLIGIBLE_PANEL, TILT_LIMIT, Resolution,
                     ResolutionLost)
from .threads import in_halves, serial_blas

__all__ = ["PairEngine", "PairLayout", "NotForPairs", "compressed_pair_engine", "pair_rewards",
           "smooth_static", "PAIR_MIN_CELLS", "MAX_BOXES"]

#: below this many support cells the exact joint-atom engine is used (as the one-reward
#: engine's direct mode below :data:`numerics.engine.AUTO_DIRECT_CELLS`)
PAIR_MIN_CELLS = 4096
#: at most this many pairs of raw panels (the dense table of boxes); beyond, the exact engine
MAX_BOXES = 1 << 22
#: cubature points per axis of a box beyond its ``n`` state points: ``N = n + CUBATURE_EXTRA``
#: (measured on 7 runs against the exact engine: the same errors, 2e-15 to 2e-12 per cell, for
#: every extra from 0 to n; 2 keeps a margin at 1.4x the moments of ``N = n``)
CUBATURE_EXTRA = 2
#: at most this many fixed ranges of cells for the passes over the grid (each with its own
#: sums)
_MOMENT_CHUNKS = 4
#: ``beta_k`` (on ``[-1, 1]``, where a spread-out measure has ``beta_k ~ 1/4``) below which
#: the Stieltjes procedure on a cubature's signed marginal has broken down: rounding leaves
#: ``~1e-15`` where a panel has run out of distinct atoms; a true ``beta_k`` this small is a
#: cluster of width ``~1e-6`` that one node resolves to ``O(beta_k)``
SIGNED_BREAKDOWN = 1e-12
#: how far (in half-widths) outside its panel a Gauss node of a cubature's marginal may lie
NODE_EXCURSION = 0.5


class NotForPairs(ValueError):
    """The rule or the support is not one for :class:`PairEngine` (the exact joint-atom
    engine takes it)."""


def _chunks(n):
    """Fixed ranges of cells for a pass over ``n`` cells in parallel (at most
    :data:`_MOMENT_CHUNKS`, of at least ``2^18`` cells)."""
    return max(1, min(_MOMENT_CHUNKS, n // (1 << 18)))


def _lse(a):
    return laplace.log_sum_exp(a)


@lru_cache(maxsize=None)
def _interpolation_matrix(n, N):
    """``(N, n)``: values at the ``n`` Chebyshev points of the second kind -> values of their
    interpolant at the ``N`` points."""
    if n == 1:
        return np.ones((N, 1))
    _, xN = cheb.chebyshev_points([N])
    V = np.cos(np.arange(n)[None, :] * np.arccos(np.clip(xN, -1, 1))[:, None])
    E = V @ cheb._values_to_coefficients(n)
    E.setflags(write=False)
    return E


def _coefficients(n):
    return cheb._values_to_coefficients(n)


def tensor_coefficients(values):
    """Tensor Chebyshev coefficients ``C[..., d, e]`` of the interpolants of ``values[..., j, k]``
    (given at the tensor grid of Chebyshev points of the second kind)."""
    Qa = _coefficients(values.shape[-2])
    Qb = _coefficients(values.shape[-1])
    return Qa @ values @ Qb.T


def _signed_breakdown(alpha, beta, n_used):
    """Where the Stieltjes procedure on a cubature's marginal (a signed measure, exact on
    polynomials to rounding) has met the end of its support: the first step ``k`` with
    ``beta_k < SIGNED_BREAKDOWN`` or ``alpha_k`` outside ``[-1, 1]`` (impossible for a positive
    measure on ``[-1, 1]``: a sign of rounding in a panel with fewer distinct atoms than
    steps).  The rule keeps the ``k`` steps before it, exact to degree ``2k - 1``."""
    k = np.arange(alpha.shape[1])[None, :]
    live = k < n_used[:, None]
    bad = live & (((k > 0) & (beta < SIGNED_BREAKDOWN)) | (np.abs(alpha) > 1.0))
    first = np.where(bad.any(axis=1), np.argmax(bad, axis=1), n_used)
    return np.minimum(n_used, first)


def _golub_welsch(alpha, beta, n_used):
    """Pure numpy twin of :func:`numerics.pair_kernels.gauss_from_recurrence`: the rules of
    :func:`numerics.gauss_rules.gauss_from_recurrence` without clipping the nodes, in one
    batched eigen-decomposition: every panel's Jacobi matrix is padded to the largest size
    with decoupled diagonal entries ``4, 5, ...`` (far from the nodes, which lie within
    ``1 + NODE_EXCURSION``; zero weight), whose eigenvalues are then dropped."""
    n_panels, m = alpha.shape
    if m == 0 or not n_used.any():
        return np.zeros(n_panels, dtype=np.int64), np.zeros(0), np.zeros(0)
    k = np.arange(m)
    live = k[None, :] < n_used[:, None]
    jac = np.zeros((n_panels, m, m))
    jac[:, k, k] = np.where(live, alpha, 4.0 + k[None, :])
    off = np.where(live[:, 1:], np.sqrt(np.maximum(beta[:, 1:], 0.0)), 0.0)
    jac[:, k[:-1], k[:-1] + 1] = off
    jac[:, k[:-1] + 1, k[:-1]] = off
    vals, vecs = np.linalg.eigh(jac)
    w = vecs[:, 0, :] ** 2
    keep = (vals < 3.0) & (w > 0)
    return keep.sum(axis=1).astype(np.int64), vals[keep], w[keep]


def smooth_static(rule):
    """Whether every user type of ``rule`` has a rule smooth in its reward (Bradley-Terry,
    Plackett-Luce) and a reward that does not change with ``t``: what :func:`pair_rewards`
    asks before comparing the reward arrays (no pass over the grid)."""
    from .curators import BradleyTerry, PlackettLuce
    return (not rule.varies
            and all(isinstance(r, (BradleyTerry, PlackettLuce)) for _, r in rule.components()))


def _same_array(a, b):
    """``np.array_equal(a, b)``, a first block compared before the whole (two distinct
    rewards mostly differ there: ~0.1 ms instead of ~3 ms on 2048^2)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    fa, fb = a.reshape(-1), b.reshape(-1)
    head = min(fa.size, 4096)
    return bool(np.array_equal(fa[:head], fb[:head])) and bool(np.array_equal(fa, fb))


def pair_rewards(rule, shape):
    """``(r_a, r_b, axis)`` when ``rule`` is a mixture over exactly two distinct static rewards
    whose user types all have rules smooth in their reward (Bradley-Terry, Plackett-Luce);
    ``axis[u]`` is 0 or 1 for user type ``u``.  ``None`` otherwise (the exact engine)."""
    if not smooth_static(rule):
        return None
    arrays = rule.rewards_at(0, shape)
    distinct, axis = [], []
    for r in arrays:
        for k, d in enumerate(distinct):
            if r is d or _same_array(r, d):
                axis.append(k)
                break
        else:
            distinct.append(r)
            axis.append(len(distinct) - 1)
    if len(distinct) != 2:
        return None
    ra, rb = (np.ascontiguousarray(np.asarray(r, dtype=np.float64).ravel()) for r in distinct)
    return ra, rb, axis


class _Axis:
    """One reward axis: its panels (used raw ids, geometry), the ``n`` state points and the
    ``N`` cubature points of each panel."""

    def __init__(self, layout, raw_used):
        self.layout = layout
        self.geo = np.array([layout.r_max, layout.graded_depth, layout.levels, layout.width])
        lo, hi, n = layout.geometry(raw_used)
        self.lo, self.hi, self.n = lo, hi, n
        self.N = np.where(n == 1, 1, n + CUBATURE_EXTRA)
        self.center, self.half = 0.5 * (lo + hi), 0.5 * (hi - lo)
        self.sptr, sx = cheb.chebyshev_points(n)
        self.nptr, self.nx = cheb.chebyshev_points(self.N)
        rows = np.repeat(np.arange(n.size), n)
        self.sdepth = self.center[rows] - self.half[rows] * sx
        rows = np.repeat(np.arange(n.size), self.N)
        self.ndepth = self.center[rows] - self.half[rows] * self.nx
        self.size = n.size
        self._by_count = None

    def by_count(self):
        """``{(n, N): (panels, state rows (panels, n), cubature rows (panels, N))}``."""
        if self._by_count is None:
            self._by_count = {}
            for n in np.unique(self.n):
                sel = np.flatnonzero(self.n == n)
                N = int(self.N[sel[0]])
                self._by_count[(int(n), N)] = (
                    sel, self.sptr[sel][:, None] + np.arange(n)[None, :],
                    self.nptr[sel][:, None] + np.arange(N)[None, :])
        return self._by_count


class _Class:
    """The boxes whose state grids have the same shape ``n_a x n_b``."""

    def __init__(self, boxes, qa, qb, na, nb, Na, Nb, ax_a, ax_b):
        self.boxes, self.qa, self.qb = boxes, qa, qb
        self.na, self.nb, self.Na, self.Nb = na, nb, Na, Nb
        self.Ea = _interpolation_matrix(na, Na)
        self.Eb = _interpolation_matrix(nb, Nb)
        self.sa = ax_a.sptr[qa][:, None] + np.arange(na)[None, :]   # state points, axis a
        self.sb = ax_b.sptr[qb][:, None] + np.arange(nb)[None, :]
        self.ca = ax_a.nptr[qa][:, None] + np.arange(Na)[None, :]   # cubature points
        self.cb = ax_b.nptr[qb][:, None] + np.arange(Nb)[None, :]


class _PairBase:
    """One base measure: its masses (by reference), per class its cubature as the two
    products that give the marginals (``Pa`` as ``PaN``, ``Pb``; ``scale`` their log size, tilt
    included), and the tilt ``T`` and the state ``L`` at the state grids (flat arrays, class
    after class, each class's boxes one after the other, each box row-major ``(n_a, n_b)``:
    :meth:`PairLayout.view` gives a class's ``(boxes, n_a, n_b)`` view).  ``L`` is replaced,
    never written into, once it is the state (snapshots hold it by reference)."""

    def __init__(self, mass, log_total, is_data, active, points):
        self.mass, self.log_total, self.is_data = mass, log_total, is_data
        self.total = math.exp(log_total)   # set to the exact sum by the engine
        self.PaN, self.Pb, self.scale = [], [], []
        self.L = np.zeros(points) if active else np.full(points, -np.inf)
        self.T = np.zeros(points)
        self.box_log_mass = None   # log of the base's (untilted, normalized) mass per box
        self.active = active       # carries mass in p_t
        self.finite = active       # and L is finite everywhere
        self.tilted = False        # T is not 0
        self.shifted = None        # (L, L - max per box, max, min) from the last check

    def update_flags(self):
        # a sum of finite values of L (at most ~1e3 nats each) is finite; -inf or nan is not
        self.finite = math.isfinite(float(np.sum(self.L)))
        self.active = self.finite or bool(np.any(np.isfinite(self.L)))

    def present(self):
        """Whether the base carries mass in ``p_t`` (a separate data base has none before
        the first step, nor has ``p_0``'s once ``lam = 0`` replaced it)."""
        return self.active


class PairLayout:
    """The boxes of the joint law of two rewards on a support (one pass over the grid): the
    panels of each reward axis (:class:`_Axis`), the boxes that hold cells, grouped by the
    shape of their state grids (:class:`_Class`).  ``worth_it``: whether the compressed law
    pays (more than :data:`PAIR_MIN_CELLS` cells and fewer state points than cells), as the
    one-reward engine's ``method="auto"`` decides.

    Raises :class:`NotForPairs` for a rule that is not one for :class:`PairEngine`."""

    SHARED = ("ra", "rb", "parts", "resolution", "r_max", "axes", "n_cells", "n_boxes",
              "box_id", "box_qa", "box_qb", "box_na", "box_nb", "box_Na", "box_Nb", "points",
              "classes", "box_off", "box_slots", "flat_box_starts", "flat_box_order",
              "point_pa", "point_pb", "point_box", "slot_box", "slot_start", "slot_na",
              "slot_nb", "slot_Na", "slot_Nb", "slot_a0", "slot_b0", "slot_ca_off",
              "slot_class", "coef_table", "slot_qa_off", "slot_qb_off",
              "slot_cub", "slot_cub_box", "cell_ids")

    def __init__(self, rule, model, data, lam, shape, resolution=None, use_numba=True):
        got = pair_rewards(rule, shape)
        if got is None:
            raise NotForPairs("PairEngine needs a mixture over two static rewards of "
                              "Bradley-Terry or Plackett-Luce user types")
        self.ra, self.rb, axis = got
        res = resolution or Resolution()
        if res.direct:
            raise NotForPairs("PairEngine has no direct mode: use numerics.joint.JointEngine")
        self.resolution = res
        self.parts = [(pi, r, a) for (pi, r), a in zip(rule.components(), axis)]
        two_bases = data is not None and not math.isinf(lam)
        m1 = data if two_bases else model
        tops = []
        n = self.ra.shape[0]
        if use_numba:      # both rewards in one pass
            both = pk.pair_extremes.at(n)(self.ra, self.rb, model, m1, _chunks(n))
        else:
            both = [panels.reward_extremes(r, model, m1) for r in (self.ra, self.rb)]
        for top, second, bottom in both:
            if not (np.isfinite(top) and np.isfinite(bottom)):
                raise NotForPairs("PairEngine needs finite rewards on the support")
            tops.append((float(top), float(second), float(bottom)))
        layouts = [panels.make_layout(t, s, res.width, res.nodes, res.fine_nodes,
                                      res.graded_depth, res.fine_depth) for t, s, _ in tops]
        n_raw = [lay.raw_panels(t - b) for lay, (t, _, b) in zip(layouts, tops)]
        if n_raw[0] * n_raw[1] > MAX_BOXES:
            raise NotForPairs("PairEngine: too many pairs of panels (rewards spanning too "
                              "many nats): use the exact engine")
        geo = [np.array([lay.r_max, lay.graded_depth, lay.levels, lay.width]) for lay in layouts]
        # chunks in parallel, each with its own table of pairs (when that table is small)
        chunks = _chunks(n) if n_raw[0] * n_raw[1] <= (1 << 16) else 1
        count = pk.count_boxes.at(n) if use_numba else pk.count_boxes_numpy
        # each support cell's raw panel ids, read by the later passes instead of locating the
        # cell again (numba route; a byte a cell and axis, two past 256 panels: fresh pages
        # cost ~2 us each here, 16 MB of them ate the gain on 2048^2 with two threads)
        keep = use_numba and max(n_raw) <= pk.MAX_ID + 1
        dtype = np.uint8 if max(n_raw) <= 256 else np.uint16
        ids = (np.empty(n, dtype), np.empty(n, dtype)) if keep else pk.NO_IDS[:2]
        counts = count(self.ra, self.rb, model, m1, geo[0], geo[1], n_raw[0], n_raw[1], chunks,
                       *ids)
        self.cell_ids = ((*ids, pk.frame_table(geo[0], n_raw[0]),
                          pk.frame_table(geo[1], n_raw[1])) if keep else pk.NO_IDS)
        self.n_cells = int(counts.sum())
        used_a = np.flatnonzero(counts.sum(axis=1))
        used_b = np.flatnonzero(counts.sum(axis=0))
        self.axes = (_Axis(layouts[0], used_a), _Axis(layouts[1], used_b))
        self.r_max = (tops[0][0], tops[1][0])
        ia, ib = np.nonzero(counts)                     # boxes in (raw_a, raw_b) order
        qa = np.searchsorted(used_a, ia)
        qb = np.searchsorted(used_b, ib)
        self.n_boxes = ia.size
        self.box_id = np.full(counts.shape, -1, dtype=np.int64)
        self.box_id[ia, ib] = np.arange(ia.size)
        self.box_qa, self.box_qb = qa, qb
        ax_a, ax_b = self.axes
        self.box_na, self.box_nb = ax_a.n[qa], ax_b.n[qb]
        self.box_Na, self.box_Nb = ax_a.N[qa], ax_b.N[qb]
        self.points = int(np.sum(self.box_na * self.box_nb))
        keys = self.box_na * 1000 + self.box_nb
        self.classes = []
        for key in np.unique(keys):
            sel = np.flatnonzero(keys == key)
            self.classes.append(_Class(sel, qa[sel], qb[sel], int(self.box_na[sel[0]]),
                                       int(self.box_nb[sel[0]]), int(self.box_Na[sel[0]]),
                                       int(self.box_Nb[sel[0]]), ax_a, ax_b))
        # the flat state: class after class (as self.classes), box after box
        start = 0
        box_starts, order, pa_idx, pb_idx = [], [], [], []
        for c in self.classes:
            n = c.boxes.size * c.na * c.nb
            c.sl = slice(start, start + n)
            box_starts.append(start + np.arange(c.boxes.size) * (c.na * c.nb))
            order.append(c.boxes)
            pa_idx.append(np.broadcast_to(c.sa[:, :, None], (c.boxes.size, c.na, c.nb)).ravel())
            pb_idx.append(np.broadcast_to(c.sb[:, None, :], (c.boxes.size, c.na, c.nb)).ravel())
            start += n
        self.flat_box_starts = np.concatenate(box_starts).astype(np.int64)
        self.flat_box_order = np.concatenate(order).astype(np.int64)
        self.point_pa = np.concatenate(pa_idx).astype(np.int64)   # axis-a state point
        self.point_pb = np.concatenate(pb_idx).astype(np.int64)
        self.point_box = np.repeat(self.flat_box_order, np.diff(np.append(
            self.flat_box_starts, start)))
        sizes = self.box_Na * self.box_Nb          # cubature slots per box
        self.box_off = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self.box_slots = int(sizes.sum())
        for c in self.classes:
            c.slots = self.box_off[c.boxes][:, None] + np.arange(c.Na * c.Nb)[None, :]
        self._slots()
        self.worth_it = self.n_cells > PAIR_MIN_CELLS and self.points < self.n_cells

    def _slots(self):
        """The boxes in the flat state's order (*slots*, as the kernels of
        :mod:`numerics.pair_kernels` take them): per slot its box, first point, grid sizes,
        first state point on each axis, class, the offset of its marginal on axis a (``N_a``
        values per slot) and of its values-to-coefficients matrices ``Q_u`` in one table of
        them (every size; ``coef_table``: that table and the one of their transposes)."""
        order = self.flat_box_order
        ax_a, ax_b = self.axes
        self.slot_box = order
        self.slot_start = self.flat_box_starts
        self.slot_na, self.slot_nb = self.box_na[order], self.box_nb[order]
        self.slot_Na, self.slot_Nb = self.box_Na[order], self.box_Nb[order]
        self.slot_a0 = ax_a.sptr[self.box_qa[order]].astype(np.int64)
        self.slot_b0 = ax_b.sptr[self.box_qb[order]].astype(np.int64)

        def offsets(sizes):
            return np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)

        self.slot_ca_off = offsets(self.slot_Na)
        self.slot_class = np.repeat(np.arange(len(self.classes)),
                                    [c.boxes.size for c in self.classes])
        q_tab, q_off = [], {}
        size = 0
        for n in sorted(set(self.slot_na.tolist()) | set(self.slot_nb.tolist())):
            q_off[n] = size
            q_tab.append(_coefficients(n))
            size += n * n
        self.coef_table = (np.concatenate([Q.ravel() for Q in q_tab]),
                           np.concatenate([Q.T.ravel() for Q in q_tab]))
        self.slot_qa_off = np.array([q_off[n] for n in self.slot_na.tolist()], np.int64)
        self.slot_qb_off = np.array([q_off[n] for n in self.slot_nb.tolist()], np.int64)
        # each slot's cubature points on each axis (the marginals' places) and its box
        # repeated per cubature point
        self.slot_cub = (np.concatenate([c.ca.ravel() for c in self.classes]),
                         np.concatenate([c.cb.ravel() for c in self.classes]))
        self.slot_cub_box = (np.repeat(order, self.slot_Na), np.repeat(order, self.slot_Nb))


class PairEngine:
    """State of ``p_t`` on the compressed joint law of two rewards (flat arrays).

    Parameters
    ----------
    rule : :class:`numerics.curators.Rule`, a mixture accepted by :func:`pair_rewards`
    model, data : flat masses (``data`` None: ``p_d = p_0`` for a finite ``lam``)
    lam : float
    shape : the callers' array shape
    resolution : :class:`numerics.engine.Resolution` (not direct)

    Raises :class:`NotForPairs` if the rule is not one for this engine (see
    :func:`pair_rewards`).  The interface is that of :class:`numerics.joint.JointEngine`
    used by ``evolve``.
    """

    method = "compressed"

    @property
    def first_reward_top(self):
        """The largest reward of the first user type on the support."""
        return self.r_max[self.parts[0][2]]

    def describe(self):
        return (f"joint law of two rewards, {self.n_boxes} boxes of "
                f"{self.resolution.describe()}")

    @serial_blas
    def __init__(self, rule, model, data, lam, shape, resolution=None, use_numba=True,
                 layout=None):
        self.rule, self.lam, self.shape = rule, float(lam), shape
        self.use_numba = use_numba
        if layout is None:
            layout = PairLayout(rule, model, data, lam, shape, resolution, use_numba)
        self.layout = layout
        for name in PairLayout.SHARED:
            setattr(self, name, getattr(layout, name))
        two_bases = data is not None and not math.isinf(lam)
        masses = [model] if not two_bases else [model, data]
        single_data = (not math.isinf(lam)) and not two_bases
        moments = self._moments(masses, totals=False)
        # each base's total mass: the sum of its boxes' zeroth moments (no pass over the grid)
        totals = [float(np.sum(mom[self.box_off])) for mom in moments]
        self.bases = [_PairBase(m, math.log(t), (i == 1) or single_data, active=(i == 0),
                                points=self.points)
                      for i, (m, t) in enumerate(zip(masses, totals))]
        for b, mom, t in zip(self.bases, moments, totals):
            b.total = t
            mom /= t
            with np.errstate(divide="ignore"):
                b.box_log_mass = np.log(np.maximum(mom[self.box_off], 0.0))
            self._set_cubature(b, mom, np.zeros(self.n_boxes))
        self.steps_done = 0
        self.rebuilds = 0
        self._cache = None
        self._weights_of = [None] * len(self.bases)
        self._warm = {}     # the last Gauss nodes of each marginal (see _gauss)
        # the boxes whose interpolants have neglected degrees (more than 2 x 2 points)
        self._resolved = (self.box_na > 2) | (self.box_nb > 2)

    @staticmethod
    def view(c, flat):
        """Class ``c``'s ``(boxes, n_a, n_b)`` view of a flat state array."""
        return flat[c.sl].reshape(c.boxes.size, c.na, c.nb)

    def _per_box(self, ufunc, flat):
        """``ufunc.reduceat`` of a flat state array over each box, indexed by box."""
        out = np.empty(self.n_boxes)
        out[self.flat_box_order] = ufunc.reduceat(flat, self.flat_box_starts)
        return out

    # ------------------------------------------------------------------ build
    def _moments(self, masses, tilt=None, totals=None):
        """Tensor Chebyshev moments of the masses divided by their totals (times
        ``exp(tilt - tmax)``: ``tilt = (coefficients (boxes, na, nb), tmax)``), ``(bases,
        slots)``: box ``q``'s ``N_a x N_b`` moments from slot ``box_off[q]``, row-major.
        ``totals``: the masses' totals (None: their sums; False: not divided)."""
        m0 = masses[0]
        m1 = masses[1] if len(masses) == 2 else np.empty(0)
        if tilt is None:
            coef, tmax = np.zeros((0, 1, 1)), np.zeros(0)
        else:
            coef, tmax = tilt
        out = np.zeros((len(masses), self.box_slots))
        args = (self.ra, self.rb, m0, m1, self.axes[0].geo, self.axes[1].geo, self.box_id,
                self.box_Na, self.box_Nb, self.box_off, out, coef, self.box_na, self.box_nb,
                tmax)
        n = self.ra.shape[0]
        chunks = _chunks(n)
        if self.use_numba:
            pk.box_moments.at(n * int(self.box_Na.max()) * int(self.box_Nb.max()))(
                *args, chunks, pk.MOMENT_BLOCK, self.cell_ids)
        else:
            pk.box_moments_numpy(*args)
        if totals is not False:
            for k, m in enumerate(masses):
                out[k] /= float(m.sum()) if totals is None else totals[k]
        return out

    def _set_cubature(self, b, mom, tmax):
        """The base's cubature from its moments ``mom`` (slots, :meth:`_moments`) of the
        measure tilted by ``exp(T - tmax)``: per box the interpolatory weights ``Omega``
        (normalized to a largest ``|Omega|`` of 1; ``scale`` their log size, ``tmax``
        included), kept as the
        two products a step needs for the marginals of ``W`` (given at the state grid and
        interpolated to the cubature grid, ``E_a W E_b^T``):
        ``c_a[j] = sum_k Omega[j, k] (E_a W E_b^T)[j, k] = sum_l Pa[j, l] (E_a W)[j, l]`` with
        ``Pa = Omega E_b``, and ``c_b[k] = sum_i Pb[k, i] (W E_b^T)[i, k]``,
        ``Pb = Omega^T E_a``."""
        b.PaN, b.Pb, b.scale = [], [], []
        b.scale_box = np.empty(self.n_boxes)
        for c in self.classes:
            M = mom[c.slots].reshape(c.boxes.size, c.Na, c.Nb)
            omega = _coefficients(c.Na).T @ M @ _coefficients(c.Nb)
            big = np.max(np.abs(omega), axis=(1, 2))
            with np.errstate(divide="ignore"):
                scale = np.log(big) + tmax[c.boxes]
            omega = omega / np.where(big > 0, big, 1.0)[:, None, None]
            Pa = omega @ c.Eb                                           # (B, Na, nb)
            b.PaN.append(Pa.transpose(1, 0, 2).reshape(-1, c.nb, 1).copy())  # (Na B, nb, 1)
            b.Pb.append((omega.transpose(0, 2, 1) @ c.Ea).transpose(0, 2, 1).copy())
            b.scale.append(scale)                                       # Pb: (B, na, Nb)
            b.scale_box[c.boxes] = scale

    # ------------------------------------------------------------------ the laws
    def _weights(self, b):
        """``(W, gm)``: ``W = exp(L - T - gm)`` at every state point (flat; ``gm`` the largest
        ``L - T`` of each box, so ``W <= 1``), after re-tilting the base if ``L - T`` varies
        by more than :data:`numerics.engine.TILT_LIMIT` nats across a box (its cubature is
        then rebuilt for the measure tilted by the current ``L``: one pass over the grid)."""
        shift = pk.box_shift if self.use_numba else pk.box_shift_numpy
        # the check of the last step gave this L's shift (untilted: the same bits)
        done = b.shifted if (b.shifted is not None and b.shifted[0] is b.L
                             and not b.tilted) else None
        b.shifted = None
        for _ in range(2):
            with np.errstate(invalid="ignore"):
                if done is not None:
                    _, g, gm, gmin = done
                    done = None
                else:
                    g = np.empty(self.points)
                    gm, gmin = np.empty(self.n_boxes), np.empty(self.n_boxes)
                    shift(b.L, b.T if b.tilted else np.empty(0), self.slot_start,
                          self.slot_na, self.slot_nb, self.slot_box, g, gm, gmin)
                spread = float(np.max(gm - gmin)) if b.finite else 0.0
            if not spread > TILT_LIMIT:
                break
            self._retilt(b)
        with np.errstate(invalid="ignore"):
            np.exp(g, out=g)
        if not b.finite:
            g[~np.isfinite(g)] = 0.0
        return g, gm

    def _box_marginals(self, b, Wf):
        """``(ca, cb)``: each box's marginals of its cubature of ``W`` at its cubature points
        on each axis, flat in slot order: per class, the products ``E_a W`` and ``W E_b^T`` of
        all its boxes at once (BLAS), then the contractions ``ca[j] = sum_l Pa[j, l] (E_a
        W)[j, l]``, ``cb[k] = sum_i Pb[i, k] (W E_b^T)[i, k]`` (:func:`numerics.pair_kernels.
        middle_dots`, or their twin ``np.einsum``; measured: faster than a numba loop over the
        boxes for the products, whose rows of 10-18 are too short to vectorize well).  ``Pa``
        is kept as ``(N_a, boxes, n_b)``, the layout of ``E_a W`` from one product."""
        cas, cbs = [], []
        for c, PaN, Pb in zip(self.classes, b.PaN, b.Pb):
            W = self.view(c, Wf)
            nbox = W.shape[0]
            EaW = (c.Ea @ W.transpose(1, 0, 2).reshape(c.na, -1)).reshape(c.Na * nbox, c.nb, 1)
            WEb = (W.reshape(-1, c.nb) @ c.Eb.T).reshape(nbox, c.na, c.Nb)
            if self.use_numba:
                ca = np.empty((c.Na * nbox, 1))
                cb = np.empty((nbox, c.Nb))
                pk.middle_dots(PaN, EaW, ca)
                pk.middle_dots(Pb, WEb, cb)
            else:
                ca = np.einsum("pik,pik->pk", PaN, EaW)
                cb = np.einsum("pik,pik->pk", Pb, WEb)
            cas.append(ca.reshape(c.Na, nbox).T.ravel())
            cbs.append(cb.ravel())
        return np.concatenate(cas), np.concatenate(cbs)

    def _marginals(self):
        """Per axis, the pooled Gauss law of its reward under ``p_t`` and, for ``E[H]``, the
        signed cubature weights at the panels' ``N`` points; cached until the state changes.

        Returns ``(laws, signed, log_z)``: ``laws[u] = (log_s, log_p)`` normalized;
        ``signed[u] = [(weights, panel log scales)]`` per base; ``log_z`` the total mass.
        ``self._weights_of[i]``: the ``(W, gm)`` of base ``i`` at this step (None where it
        carries no mass), for :meth:`advance`."""
        if self._cache is not None and self._cache[0] == self.steps_done:
            return self._cache[1]
        per_axis = [[], []]
        totals = []
        self._weights_of = [None] * len(self.bases)
        for i, b in enumerate(self.bases):
            if not b.present():
                continue
            Wf, gm_box = self._weights(b)
            self._weights_of[i] = (Wf, gm_box)
            margins = self._box_marginals(b, Wf)
            gmax = gm_box + b.scale_box
            if self.use_numba:
                totals.append(pk.box_log_total(margins[0], self.slot_ca_off, self.slot_Na,
                                               self.slot_box, gmax))
                for u, (ax, box_q) in enumerate(zip(self.axes, (self.box_qa, self.box_qb))):
                    s_panel, w = np.empty(ax.size), np.empty(int(ax.nptr[-1]))
                    pk.panel_marginal(gmax, box_q, margins[u], self.slot_cub[u],
                                      self.slot_cub_box[u], ax.size, w.size, s_panel, w)
                    per_axis[u].append((w, s_panel))
                continue
            box_sum = np.empty(self.n_boxes)
            box_sum[self.slot_box] = np.add.reduceat(margins[0], self.slot_ca_off)
            finite = np.isfinite(gmax)
            top = float(np.max(gmax[finite]))
            totals.append(top + math.log(float(np.sum(box_sum[finite]
                                                      * np.exp(gmax[finite] - top)))))
            for u, (ax, box_q) in enumerate(zip(self.axes, (self.box_qa, self.box_qb))):
                s_panel = np.full(ax.size, -np.inf)
                np.maximum.at(s_panel, box_q, gmax)
                with np.errstate(invalid="ignore"):
                    f = np.exp(gmax - s_panel[box_q])
                f[~np.isfinite(f)] = 0.0
                w = np.bincount(self.slot_cub[u], weights=margins[u] * f[self.slot_cub_box[u]],
                                minlength=int(ax.nptr[-1]))
                per_axis[u].append((w, s_panel))
        log_z = _lse(np.array(totals))
        laws = []
        for u, ax in enumerate(self.axes):
            log_s, log_p = [], []
            for k, (w, s_panel) in enumerate(per_axis[u]):
                ls, lp = self._gauss(ax, w, s_panel, (u, k))
                log_s.append(ls)
                log_p.append(lp)
            log_s, log_p = np.concatenate(log_s), np.concatenate(log_p)
            laws.append((log_s, log_p - _lse(log_p)))
        out = (laws, per_axis, log_z)
        self._cache = (self.steps_done, out)
        return out

    def _gauss(self, ax, w, s_panel, key=None):
        """The ``n``-point Gauss rules of the signed discrete measures ``w`` at the panels'
        ``N`` points (scaled by ``exp(s_panel)``): ``(log s, log mass)`` of the nodes.
        ``key``: which marginal (axis, base) this is; the numba route keeps its nodes as the
        warm start of the next step's rules (:func:`numerics.pair_kernels.
        gauss_from_recurrence`: Newton's method from them where it is certain, the QL
        algorithm elsewhere).

        The marginal of a cubature is exact on polynomials of degree ``< N`` only up to the
        aliasing of the weight, so its Gauss nodes may fall a little outside the panel: they
        are kept there (clipping would break the rule's exactness; measured: an eigenvalue at
        ``x = -1.0145`` clipped to ``-1`` moved a panel's mean by ``1e-6``).  A panel whose
        rule has a node above the top reward (depth < 0) or farther than
        :data:`NODE_EXCURSION` out loses its last step until it has none."""
        m_max = int(ax.n.max())
        alpha, beta, n_used, log_scale = gr.stieltjes.at(w.size * m_max)(
            ax.nptr, ax.nx, w, ax.n, m_max)
        if self.use_numba:
            n_used = pk.usable_steps(alpha, beta, n_used, s_panel, SIGNED_BREAKDOWN)
            warm = ()
            if key is not None:
                warm = self._warm.get(key)
                if warm is None or warm[0].shape != alpha.shape:
                    warm = self._warm[key] = (np.zeros(alpha.shape),
                                              np.zeros(alpha.shape[0], dtype=np.int64))
            while True:
                counts, x, nw = pk.gauss_from_recurrence(alpha, beta, n_used, *warm)
                depth, log_w = np.empty(x.size), np.empty(x.size)
                if not pk.rule_depths(counts, x, nw, ax.center, ax.half, NODE_EXCURSION, beta,
                                      log_scale, s_panel, n_used, depth, log_w):
                    return -depth, log_w
        n_used = np.where((beta[:, 0] > 0) & np.isfinite(s_panel), n_used, 0)
        n_used = _signed_breakdown(alpha, beta, n_used)
        while True:
            counts, x, nw = _golub_welsch(alpha, beta, n_used)
            rows = np.repeat(np.arange(counts.size), counts)
            depth = ax.center[rows] - ax.half[rows] * x
            out = (depth < 0) | (np.abs(x) > 1.0 + NODE_EXCURSION)
            if not out.any():
                break
            bad = np.unique(rows[out])
            n_used[bad] -= 1
        with np.errstate(divide="ignore"):
            log_w = np.log(nw) + np.log(beta[rows, 0]) + log_scale[rows] + s_panel[rows]
        return -depth, log_w

    def _axis_log_factor(self, u, laws):
        """``log sum_{types on axis u} pi H`` at the axis' state points (the users' rules on
        the Gauss law of the axis), and its interpolant at the cubature points (for
        ``E[H]`` only)."""
        ax = self.axes[u]
        log_s, log_p = laws[u]
        acc = None
        for pi, rule_u, a in self.parts:
            if a != u:
                continue
            lh = rule_u.log_factor(-ax.sdepth, log_s, log_p, use_numba=self.use_numba)
            lh = lh + math.log(pi)
            acc = lh if acc is None else np.logaddexp(acc, lh)
        at_n = np.empty(ax.ndepth.size)
        for (n, N), (panels_, rows_n, rows_N) in ax.by_count().items():
            at_n[rows_N] = acc[rows_n] @ _interpolation_matrix(n, N).T
        return acc, at_n

    def moments(self, t=None):
        """``(E[s], Var[s], E[r], r_max)`` of the first user type's reward under ``p_t``,
        ``s = e^{r - r_max}``, on its Gauss law."""
        u = self.parts[0][2]
        log_s, log_p = self._marginals()[0][u]
        p, s = np.exp(log_p), np.exp(log_s)
        mean_s = float(p @ s)
        return (mean_s, float(p @ (s - mean_s) ** 2), float(p @ log_s) + self.r_max[u],
                self.r_max[u])

    def expected_rewards(self, t=None):
        """``E_{p_t}[r_u]`` for every user type ``u``."""
        laws = self._marginals()[0]
        out = []
        for _, _, a in self.parts:
            log_s, log_p = laws[a]
            out.append(float(np.exp(log_p) @ log_s) + self.r_max[a])
        return np.array(out)

    # ------------------------------------------------------------------ dynamics
    @serial_blas
    def advance(self):
        """One step ``p_{t+1} = C(p_t)`` or ``(p_d + lam C(p_t)) / (1 + lam)``.

        Raises :class:`numerics.engine.ResolutionLost` if a box stops resolving ``L``."""
        laws, signed, log_z = self._marginals()
        hs = [self._axis_log_factor(u, laws) for u in (0, 1)]
        # E_p[H] = E[H_a(r_a)] + E[H_b(r_b)], on the signed marginals (their totals are z)
        eh = 0.0
        for u, ax in enumerate(self.axes):
            hN = np.exp(hs[u][1])
            for w, s_panel in signed[u]:
                if self.use_numba:
                    eh += pk.signed_expectation(w, hN, ax.nptr, s_panel, log_z)
                    continue
                per_panel = np.add.reduceat(w * hN, ax.nptr[:-1]) if w.size else w
                ok = np.isfinite(s_panel)
                eh += float(np.sum(per_panel[ok] * np.exp(s_panel[ok] - log_z)))
        log_eh = math.log(eh)
        lam = self.lam
        log_lam = math.log(lam) if lam > 0 else -math.inf
        shift = -(log_z + log_eh)
        la, lb = hs[0][0], hs[1][0]
        lh = None
        for i, b in enumerate(self.bases):
            if b.is_data and not math.isinf(lam):
                new = self._data_update(i, la, lb, shift + log_lam)
                if new is not None:
                    b.L = new
                    continue
            if lh is None:
                lh = self._point_log_factor(la, lb)
                lh += shift
            curated = b.L + lh
            if math.isinf(lam):
                b.L = curated
            elif b.is_data:   # log((1 + lam e^c) / (1 + lam)), no overflow below 700
                if float(np.max(curated)) + log_lam < 700.0:
                    np.exp(curated, out=curated)
                    curated *= lam
                    b.L = np.log1p(curated, out=curated)
                else:
                    b.L = np.logaddexp(0.0, log_lam + curated)
                b.L -= math.log1p(lam)
            else:
                curated += log_lam - math.log1p(lam)
                b.L = curated
        self.steps_done += 1
        self._check_resolution()

    def _data_update(self, i, la, lb, shift):
        """The new ``L`` of the data base ``i``, ``log(1 + e^{L + log H + shift}) -
        log(1 + lam)`` (``shift`` with ``log lam``), with ``e^L = W e^{gm}`` from this step's
        weights (:meth:`_marginals`): ``e^{L + log H + shift} = W (H_a + H_b) F[box]``,
        ``F = e^{gm + top + shift}`` (``H_u = e^{l_u - top}``), one pass
        (:func:`numerics.pair_kernels.point_factor`) and one ``log1p``.  None where that form
        does not apply (numpy twins, a tilted or massless base, ``H`` spanning more than 600
        nats, or ``F`` near overflow): the caller then takes the general route."""
        got = self._weights_of[i] if self.use_numba else None
        b = self.bases[i]
        if got is None or b.tilted:
            return None
        W, gm = got
        top = max(float(np.max(la)), float(np.max(lb)))
        if min(float(np.min(la)), float(np.min(lb))) <= top - 600.0:
            return None
        with np.errstate(invalid="ignore"):
            e = gm + (top + shift)
        if not float(np.max(e, initial=-np.inf, where=np.isfinite(e))) < 700.0:
            return None
        F = np.exp(np.where(np.isnan(e), -np.inf, e))
        out = np.empty(self.points)
        pk.point_factor(np.exp(la - top), np.exp(lb - top), self.slot_start, self.slot_na,
                        self.slot_nb, self.slot_a0, self.slot_b0, W, F, self.slot_box, out)
        np.log1p(out, out=out)
        out -= math.log1p(self.lam)
        return out

    def _point_log_factor(self, la, lb):
        """``log(H_a(x_j) + H_b(y_k))`` at every state point (flat), from ``log H_a``,
        ``log H_b`` at the axes' state points: one ``log`` per point after one ``exp`` per
        axis point when every value lies within 600 nats of the largest (no underflow), else
        ``logaddexp``."""
        top = max(float(np.max(la)), float(np.max(lb)))
        if min(float(np.min(la)), float(np.min(lb))) > top - 600.0:
            ha, hb = np.exp(la - top), np.exp(lb - top)
            out = np.empty(self.points)
            if self.use_numba:
                pk.point_factor(ha, hb, self.slot_start, self.slot_na, self.slot_nb,
                                self.slot_a0, self.slot_b0, np.empty(0), np.empty(0),
                                self.slot_box, out)
            else:
                pk.point_factor_numpy(ha, hb, self.point_pa, self.point_pb, self.point_box,
                                      np.empty(0), np.empty(0), out)
            np.log(out, out=out)
            out += top
            return out
        return np.logaddexp(la[self.point_pa], lb[self.point_pb])

    def _box_check_numpy(self, L):
        """Pure numpy twin of :func:`numerics.pair_kernels.box_check` (per class, the tails of
        ``Q_a L Q_b^T`` for all its boxes at once): ``(top, bottom, err_a, err_b, n_finite)``,
        per box."""
        top = np.empty(self.n_boxes)
        bottom = np.empty(self.n_boxes)
        err_a = np.zeros(self.n_boxes)
        err_b = np.zeros(self.n_boxes)
        top[self.slot_box] = np.maximum.reduceat(L, self.slot_start)
        bottom[self.slot_box] = np.minimum.reduceat(L, self.slot_start)
        for c in self.classes:
            V = self.view(c, L)
            nbox = V.shape[0]
            Qa, Qb = _coefficients(c.na), _coefficients(c.nb)
            with np.errstate(invalid="ignore"):    # boxes with -inf: nan, as the kernel
                if c.na > 2:    # rows na-2, na-1 of Qa L Qb^T
                    R = (Qa[-2:] @ V.transpose(1, 0, 2).reshape(c.na, -1)).reshape(-1, c.nb)
                    err_a[c.boxes] = np.abs(R @ Qb.T).reshape(2, nbox, c.nb).sum(axis=(0, 2))
                if c.nb > 2:    # columns nb-2, nb-1
                    X = (V.reshape(-1, c.nb) @ Qb[-2:].T).reshape(nbox, c.na, 2)
                    Y = Qa @ X.transpose(1, 0, 2).reshape(c.na, -1)
                    err_b[c.boxes] = np.abs(Y).reshape(c.na, nbox, 2).sum(axis=(0, 2))
        return top, bottom, err_a, err_b, int(np.count_nonzero(np.isfinite(L)))

    def _box_check(self, L, g=None):
        """``(top, bottom, err_a, err_b, n_finite)`` of a state ``L``
        (:func:`numerics.pair_kernels.box_check`; with it ``g = L - top`` per box where ``g``
        is given)."""
        if not self.use_numba:
            return self._box_check_numpy(L)
        out = [np.empty(self.n_boxes) for _ in range(4)]
        n_finite = pk.box_check(L, self.slot_start, self.slot_na, self.slot_nb,
                                *self.coef_table, self.slot_qa_off, self.slot_qb_off,
                                self.slot_box, *out, np.empty(0) if g is None else g)
        return (*out, int(n_finite))

    def _check_resolution(self):
        """Raise :class:`ResolutionLost` where the tensor interpolant of a base's ``L`` errs by
        more than INTERPOLATION_TOL (+ 64 ulps) on a box that may carry ``NEGLIGIBLE_PANEL``
        of the heaviest one's mass (bound: its base mass times ``max e^L`` there).  The error
        is estimated by the sum of the absolute tensor Chebyshev coefficients in the last two
        rows and the last two columns (the neglected degrees in each variable, over all
        degrees of the other; boxes with at most 2 x 2 points have none).  Updates the bases'
        flags (whether ``L`` is finite everywhere, somewhere)."""
        stats, bound = [], []
        for b in self.bases:
            g = np.empty(self.points) if self.use_numba and not b.tilted else None
            st = self._box_check(b.L, g)
            b.finite = st[4] == self.points
            b.active = st[4] > 0
            # the next step's shift of an untilted base (see _weights)
            b.shifted = None if g is None else (b.L, g, st[0], st[1])
            stats.append(st)
        resolved = self._resolved
        ulps = 64 * np.finfo(float).eps
        if self.use_numba:
            heaviest = max(pk.heaviest_bound(st[0], b.box_log_mass) if b.present() else -np.inf
                           for b, st in zip(self.bases, stats))
            cut = heaviest + math.log(NEGLIGIBLE_PANEL)
            for b, st in zip(self.bases, stats):
                bad = np.empty(self.n_boxes, dtype=np.bool_)
                if b.present() and pk.unresolved_boxes(*st[:4], b.box_log_mass, cut, resolved,
                                                       INTERPOLATION_TOL, ulps, bad):
                    self._raise_unresolved(bad, st)
            return
        for b, st in zip(self.bases, stats):
            ub = st[0] if b.present() else np.full(self.n_boxes, -np.inf)
            with np.errstate(invalid="ignore"):
                bound.append(ub + b.box_log_mass)
        heaviest = max(float(np.max(np.where(np.isfinite(x), x, -np.inf))) for x in bound)
        for b, st, bnd in zip(self.bases, stats, bound):
            if not b.present():
                continue
            ub, low, err_a, err_b, _ = st
            big = np.maximum(ub, -low)
            err = err_a + err_b
            tol = INTERPOLATION_TOL + ulps * big
            with np.errstate(invalid="ignore"):
                rel = bnd > heaviest + math.log(NEGLIGIBLE_PANEL)
                bad = resolved & rel & ~(err <= tol)
            if bad.any():
                self._raise_unresolved(bad, st)

    def _raise_unresolved(self, bad, st):
        """Raise :class:`ResolutionLost` for the boxes ``bad`` of a base with the check
        statistics ``st`` (:meth:`_box_check`): at the worst box of the first class (in the
        flat order) that has one, on the axis with the larger tail."""
        ub, low, err_a, err_b, _ = st
        err = err_a + err_b
        tol = INTERPOLATION_TOL + 64 * np.finfo(float).eps * np.maximum(ub, -low)
        bad_slot = bad[self.slot_box]
        k = self.slot_class[int(np.argmax(bad_slot))]
        in_k = np.flatnonzero(bad_slot & (self.slot_class == k))
        with np.errstate(invalid="ignore"):
            box = int(self.slot_box[in_k[np.argmax((err / tol)[self.slot_box[in_k]])]])
        u = 0 if err_a[box] >= err_b[box] else 1
        q = (self.box_qa, self.box_qb)[u][box]
        depth = float(self.axes[u].center[q])
        raise ResolutionLost(self.steps_done, depth, float(err[box]), float(tol[box]))

    def _retilt(self, b):
        """Rebuild base ``b``'s cubature for its measure tilted by the current ``L``."""
        na, nb = int(self.box_na.max()), int(self.box_nb.max())
        coef = np.zeros((self.n_boxes, na, nb))
        for c in self.classes:
            coef[c.boxes, :c.na, :c.nb] = tensor_coefficients(self.view(c, b.L))
        tmax = self._per_box(np.maximum, b.L)
        mom = self._moments([b.mass], tilt=(coef, tmax), totals=[b.total])[0]
        self._set_cubature(b, mom, tmax)
        b.T = b.L.copy()
        b.tilted = True
        self.rebuilds += 1

    # ------------------------------------------------------------------ state
    def log_weights(self):
        """The state: each base's ``L`` at the boxes' state grids (flat copies)."""
        return tuple(b.L.copy() for b in self.bases)

    def set_log_weights(self, weights):
        """Make ``weights`` (shaped as :meth:`log_weights` returns them) the state."""
        for b, w in zip(self.bases, weights):
            w = np.asarray(w, dtype=np.float64)
            if w.shape != (self.points,):
                raise ValueError("set_log_weights: the weights do not match the engine's "
                                 "points")
            b.L = w.copy()
            b.update_flags()
        self._cache = None

    def log_p(self):
        """Normalized log masses of ``p_t`` per cell (the law on the grid's cells: what
        :func:`numerics.limits.iterated.one_step_tv` compares; one pass over the grid)."""
        with np.errstate(divide="ignore"):
            return np.log(self.materialize())

    def snapshot(self):
        """A callable giving the current masses on the grid (flat), materialized when called.

        It holds the state arrays themselves, not copies: a step replaces each base's ``L``
        by a new array and nothing writes into one after that (``evolve`` takes a snapshot at
        every step: the copies cost 15 ms of the 2048^2 benchmark's 100 steps)."""
        weights = tuple(b.L for b in self.bases)
        return lambda: self.materialize(weights)

    @serial_blas
    def materialize(self, weights=None):
        """Normalized masses on the cells (flat): ``sum_b mass_b/total_b exp(L_b)``, each
        ``L_b`` the tensor interpolant of its values at the state grids."""
        if weights is None:
            weights = self.log_weights()
        na, nb = int(self.box_na.max()), int(self.box_nb.max())
        coefs, tops = [], []
        for b, w in zip(self.bases, weights):
            coef = np.zeros((self.n_boxes, na, nb))
            top = np.full(self.n_boxes, -np.inf)
            off = 0
            for c in self.classes:
                n = c.boxes.size * c.na * c.nb
                L = w[off:off + n].reshape(c.boxes.size, c.na, c.nb)
                off += n
                top[c.boxes] = np.max(L, axis=(1, 2))
                with np.errstate(invalid="ignore"):
                    coef[c.boxes, :c.na, :c.nb] = tensor_coefficients(
                        np.where(np.isfinite(L), L, -1e300))
            coefs.append(coef)
            with np.errstate(invalid="ignore"):
                tops.append(top + b.box_log_mass)
        offset = max(float(np.max(np.where(np.isfinite(t), t, -np.inf))) for t in tops)
        out = np.zeros(self.ra.shape[0])
        n = self.ra.shape[0]
        f = (pk.log_weights_at_cells.at(n * na * nb) if self.use_numba
             else pk.log_weights_at_cells_numpy)
        chunks = max(1, min(64, n // (1 << 16)))
        done = []     # (log weights at the cells, masses) of each base with mass
        for b, coef, w in zip(self.bases, coefs, weights):
            if not np.any(np.isfinite(w)):
                continue
            target = out if not done else np.empty_like(out)
            f(self.ra, self.rb, b.mass, self.axes[0].geo, self.axes[1].geo, self.box_id, coef,
              self.box_na, self.box_nb, offset + b.log_total, target, chunks, pk.VALUES_BLOCK,
              self.cell_ids)
            done.append((target, b.mass))

        def masses(lo, hi):     # sum_b mass_b exp(log weights) on the cells lo:hi; their sum
            with np.errstate(over="ignore"):
                for k, (t, m) in enumerate(done):
                    np.exp(t[lo:hi], out=t[lo:hi])
                    t[lo:hi] *= m[lo:hi]
                    if k:
                        out[lo:hi] += t[lo:hi]
            return float(out[lo:hi].sum())

        total = sum(in_halves(masses, n))
        in_halves(lambda lo, hi: np.divide(out[lo:hi], total, out=out[lo:hi]), n)
        return out


def compressed_pair_engine(rule, model, data, lam, shape, resolution=None, method="auto",
                           use_numba=True):
    """A :class:`PairEngine` for ``rule`` where it applies (:func:`pair_rewards`, finite
    rewards on the support) and, for ``method="auto"``, pays (:attr:`PairLayout.worth_it`);
    ``None`` otherwise, and for ``method="direct"`` or a direct ``resolution`` (the callers
    then use the exact :class:`numerics.joint.JointEngine`)."""
    if method == "direct" or (resolution is not None and resolution.direct):
        return None
    try:
        layout = PairLayout(rule, model, data, lam, shape, resolution, use_numba)
    except NotForPairs:
        return None
    if method == "auto" and not layout.worth_it:
        return None
    return PairEngine(rule, model, data, lam, shape, use_numba=use_numba, layout=layout)
