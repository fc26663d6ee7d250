r"""Functions of the reward inside each panel, as Chebyshev interpolants (DESIGN.md, "reward
law").

The engine tracks functions of ``r`` (the log weights ``log w_t(r)``, the log curation factor)
at the ``n`` Chebyshev points of the second kind of each panel, ``x_j = cos(pi j / (n - 1))``
(``x = +1`` is the panel's upper reward edge).  Their interpolant of degree ``n - 1`` is
carried in Chebyshev coefficients ``f(x) = sum_k c_k T_k(x)`` (discrete cosine transform of
the values) and evaluated by Clenshaw's recurrence: at the cells when a density is
materialized, at the Gauss nodes when a rule is rebuilt.  At every step the log curation
factor is interpolated to the Gauss nodes through precomputed barycentric rows
(:func:`cardinal_rows`, :func:`interpolate_rows`).

The size of the last two coefficients, ``|c_{n-2}| + |c_{n-1}|``, estimates the interpolation
error (for ``f`` analytic in the Bernstein ellipse ``E_rho`` the coefficients decay like
``rho^{-k}`` and the error is of the order of the first neglected ones; Trefethen,
*Approximation Theory and Approximation Practice*, 2013, ch. 8): the engine checks it at every
step (:func:`tail_error_and_size`).

Every kernel has a pure numpy twin (``*_numpy``).
"""

from __future__ import annotations

from functools import lru_cache

import numba
import numpy as np

from .panels import _in_frame, _locate, _panel_frame, run_end
from .threads import in_halves, kernel

__all__ = ["chebyshev_points", "to_coefficients", "tail_error", "tail_error_and_size",
           "tail_error_and_size_numpy", "evaluate", "evaluate_numpy",
           "tilt_weights_numpy", "log_weights_at_cells", "cardinal_rows", "interpolate_rows",
           "interpolate_rows_numpy",
           "log_weights_at_cells_numpy", "accumulate_masses"]


def chebyshev_points(counts):
    """Chebyshev points of the second kind, ``counts[q]`` in panel ``q`` (one point, ``x = 0``,
    in a panel of count 1).  Returns ``(cptr, x)``: panel ``q``'s points are
    ``x[cptr[q]:cptr[q+1]]``, from ``x = +1`` down to ``-1``."""
    counts = np.asarray(counts, dtype=np.int64)
    cptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    rows = np.repeat(np.arange(counts.size), counts)
    slot = np.arange(cptr[-1]) - cptr[rows]
    n = counts[rows]
    x = np.where(n > 1, np.cos(np.pi * slot / np.maximum(n - 1, 1)), 0.0)
    return cptr, x


@lru_cache(maxsize=None)
def _values_to_coefficients(n):
    """The ``n x n`` matrix taking values at the ``n`` Chebyshev points of the second kind to
    the coefficients of their interpolant (DCT-I)."""
    if n == 1:
        return np.ones((1, 1))
    j = np.arange(n)
    w = np.where((j == 0) | (j == n - 1), 0.5, 1.0)
    A = (2.0 / (n - 1)) * w[None, :] * np.cos(np.pi * np.outer(j, j) / (n - 1))
    A[0] *= 0.5
    A[-1] *= 0.5
    A.setflags(write=False)
    return A


@lru_cache(maxsize=64)
def _panels_by_count(cptr_bytes):
    """``[(n, idx)]``: for each number of points ``n``, the ``(panels, n)`` index array of the
    points of the panels with ``n`` points (cached: the engine asks at every step)."""
    cptr = np.frombuffer(cptr_bytes, dtype=np.int64)
    counts = np.diff(cptr)
    out = []
    for n in np.unique(counts):
        sel = np.flatnonzero(counts == n)
        idx = cptr[sel][:, None] + np.arange(n)[None, :]
        idx.setflags(write=False)
        out.append((int(n), idx))
    return tuple(out)


def to_coefficients(values, cptr):
    """Chebyshev coefficients, panel by panel, of the interpolants of ``values`` (given at the
    points of :func:`chebyshev_points`).  Same layout as ``values``.  Non-finite values give
    non-finite coefficients in their panel only."""
    out = np.empty_like(values)
    with np.errstate(invalid="ignore"):
        for n, idx in _panels_by_count(np.ascontiguousarray(cptr, dtype=np.int64).tobytes()):
            out[idx] = values[idx] @ _values_to_coefficients(n).T
    return out


def tail_error_and_size(values, cptr):
    """Per panel, the :func:`tail_error` of the interpolant of ``values`` (given at the points
    of :func:`chebyshev_points`; NaN or inf where a value is not finite) and the largest
    ``|value|`` among its finite values (the engine's check at every step).  Only the last
    two coefficients are formed, as dot products with the last two rows of the DCT-I
    (:func:`_tail_rows`), in one pass (:func:`tail_error_and_size_numpy`: the numpy twin)."""
    return _tail_error_and_size(values, cptr,
                                _tail_rows(np.ascontiguousarray(cptr, dtype=np.int64).tobytes()))


@lru_cache(maxsize=64)
def _tail_rows(cptr_bytes):
    """At each point, the entries of the last two rows of its panel's DCT-I (``(2, N)``; zero
    on panels of at most two points)."""
    cptr = np.frombuffer(cptr_bytes, dtype=np.int64)
    counts = np.diff(cptr)
    rows = np.zeros((2, int(cptr[-1])))
    for q in np.flatnonzero(counts > 2):
        A = _values_to_coefficients(int(counts[q]))
        rows[:, cptr[q]:cptr[q + 1]] = A[-2:]
    rows.setflags(write=False)
    return rows


@numba.njit(cache=True)
def _tail_error_and_size(values, cptr, rows):
    n_panels = cptr.shape[0] - 1
    err = np.zeros(n_panels)
    big = np.zeros(n_panels)
    for q in range(n_panels):
        err[q], big[q] = panel_tail(values, rows, cptr[q], cptr[q + 1])
    return err, big


@numba.njit(cache=True, inline="always")
def panel_tail(values, rows, a, b):
    """``(|c_{n-2}| + |c_{n-1}|, largest finite |value|)`` of the panel whose ``n`` points are
    ``a:b`` (0 for the tail where ``n <= 2``), ``rows`` as :func:`_tail_rows` makes them."""
    c_prev = 0.0
    c_last = 0.0
    top = 0.0
    for k in range(a, b):
        x = values[k]
        if abs(x) < np.inf and abs(x) > top:
            top = abs(x)
        c_prev += rows[0, k] * x
        c_last += rows[1, k] * x
    return (abs(c_prev) + abs(c_last) if b - a > 2 else 0.0), top


def tail_error_and_size_numpy(values, cptr):
    """Pure numpy twin of :func:`tail_error_and_size` (all coefficients, then the tail)."""
    err = tail_error(to_coefficients(values, cptr), cptr)
    big = np.maximum.reduceat(np.abs(np.where(np.isfinite(values), values, 0.0)), cptr[:-1])
    return err, big


def tail_error(coeffs, cptr):
    """Per panel, ``|c_{n-2}| + |c_{n-1}|``: an estimate of the interpolation error (0 for a
    panel of one or two points, which is exact on its atoms or linear)."""
    counts = np.diff(cptr)
    out = np.zeros(counts.size)
    big = counts > 2
    last = cptr[1:][big] - 1
    out[big] = np.abs(coeffs[last]) + np.abs(coeffs[last - 1])
    return out


@numba.njit(cache=True, inline="always")
def _clenshaw(c, a, b, x):
    """``sum_{k < b - a} c[a + k] T_k(x)`` by Clenshaw's recurrence."""
    if b - a == 1:
        return c[a]
    b1 = 0.0
    b2 = 0.0
    x2 = 2.0 * x
    for k in range(b - 1, a, -1):
        t = c[k] + x2 * b1 - b2
        b2 = b1
        b1 = t
    return c[a] + x * b1 - b2


@kernel
def evaluate(panel, x, cptr, coeffs):
    """The interpolants at points ``x`` of panels ``panel`` (Clenshaw)."""
    out = np.empty(x.shape[0])
    for i in numba.prange(x.shape[0]):
        q = panel[i]
        out[i] = _clenshaw(coeffs, cptr[q], cptr[q + 1], x[i])
    return out


def evaluate_numpy(panel, x, cptr, coeffs):
    """Pure numpy twin of :func:`evaluate` (``T_k`` by their three-term recurrence)."""
    counts = np.diff(cptr)[panel]
    out = coeffs[cptr[panel]].copy()
    t_prev, t_cur = np.ones_like(x), x.copy()
    for k in range(1, int(counts.max()) if counts.size else 0):
        use = k < counts
        out[use] += coeffs[cptr[panel[use]] + k] * t_cur[use]
        t_prev, t_cur = t_cur, 2.0 * x * t_cur - t_prev
    return out


def cardinal_rows(cptr, ptr, x):
    r"""The values at points ``x`` of the Lagrange cardinal functions of their panel's
    Chebyshev points (:func:`chebyshev_points`; panel ``q`` holds the points
    ``x[ptr[q]:ptr[q+1]]``, in ``[-1, 1]``), so that the interpolant of values ``f`` at the
    Chebyshev points is, at ``x[k]`` of panel ``q``,

        sum_j rows[j, k] f[cptr[q] + j],   j < cptr[q + 1] - cptr[q].

    Barycentric form for points of the second kind (Berrut and Trefethen, *Barycentric
    Lagrange interpolation*, SIAM Review 46, 2004, eqs. 4.2 and 5.2): with ``n`` points,
    ``lambda_j = (-1)^j``, halved at ``j = 0, n - 1``,
    ``l_j(x) = (lambda_j / (x - x_j)) / sum_i lambda_i / (x - x_i)``, and ``l_j = delta`` where
    ``x`` is a point.  Returns ``rows``, ``(most points in a panel, len(x))``, zero past
    the panel's count: formed once per set of points (a Gauss rule), applied by
    :func:`interpolate_rows`."""
    cptr = np.asarray(cptr, dtype=np.int64)
    ptr = np.asarray(ptr, dtype=np.int64)
    x = np.asarray(x, dtype=np.float64)
    counts = np.diff(cptr)
    count = np.repeat(counts, np.diff(ptr))
    rows = np.zeros((int(counts.max()) if counts.size else 1, x.shape[0]))
    for n in np.unique(count):
        sel = np.flatnonzero(count == n)
        if n == 1:
            rows[0, sel] = 1.0
            continue
        j = np.arange(n)
        lam = np.where(j % 2 == 0, 1.0, -1.0)
        lam[0] *= 0.5
        lam[-1] *= 0.5
        diff = x[None, sel] - np.cos(np.pi * j / (n - 1))[:, None]
        hit = diff == 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = lam[:, None] / diff
            r = terms / terms.sum(axis=0)
        on = hit.any(axis=0)
        r[:, on] = hit[:, on]
        rows[:n, sel] = r
    rows.setflags(write=False)
    return rows


@kernel
def interpolate_rows(values, cptr, ptr, rows):
    """``out[k] = sum_j rows[j, k] values[cptr[q] + j]`` for the points ``ptr[q] <= k <
    ptr[q+1]`` of each panel ``q``, ``j < cptr[q+1] - cptr[q]`` increasing (the interpolants of
    ``values`` at the points of :func:`cardinal_rows`).  The points of a panel go side by side
    (vector lanes), each its sum in that order: :func:`interpolate_rows_numpy`, the numpy
    twin, gives the same bits."""
    out = np.empty(ptr[-1])
    for q in numba.prange(ptr.shape[0] - 1):
        o = out[ptr[q]:ptr[q + 1]]
        o[:] = 0.0
        c = cptr[q]
        for j in range(cptr[q + 1] - c):
            v = values[c + j]
            r = rows[j, ptr[q]:ptr[q + 1]]
            for k in range(o.shape[0]):
                o[k] += r[k] * v
    return out


def interpolate_rows_numpy(values, cptr, ptr, rows):
    """Pure numpy twin of :func:`interpolate_rows` (the same sums in the same order)."""
    panel = np.repeat(np.arange(ptr.shape[0] - 1), np.diff(ptr))
    start, count = cptr[panel], np.diff(cptr)[panel]
    out = np.zeros(int(ptr[-1]))
    for j in range(rows.shape[0]):
        use = j < count
        out[use] += rows[j, use] * values[start[use] + j]
    return out


def tilt_weights_numpy(ptr, xs, ws, cptr, coeffs, tmax):
    """In place, ``ws[k] *= exp(T_q(xs[k]) - tmax[q])`` for the atoms ``ptr[q]:ptr[q+1]`` of
    panel ``q`` with ``ws[k] > 0``, ``T_q`` the panel's interpolant: the re-tilt of a base
    measure (numpy; the numba kernel applies it as it gathers the cells,
    :func:`numerics.gauss_rules.stieltjes_runs`)."""
    q = np.repeat(np.arange(ptr.shape[0] - 1), np.diff(ptr))
    t = evaluate_numpy(q, xs, cptr, coeffs)
    with np.errstate(invalid="ignore", over="ignore"):
        ws *= np.where(ws > 0, np.exp(t - tmax[q]), 1.0)


#: longest run of consecutive cells of one panel that :func:`log_weights_at_cells` evaluates
#: together (its scratch vectors: 64 cells fit in a few vector registers' worth of L1)
RUN_CELLS = 64


@numba.njit(cache=True, inline="always")
def _run_at(ids, reward, mass, i, hi, r_max, D, J, width, xs):
    """The run of cells of one panel from cell ``i`` (``mass[i] > 0``; at most
    :data:`RUN_CELLS`, before ``hi``): its raw panel id and length, the cells' positions in
    ``xs``.  With the count pass's ``ids`` the run is the cells of the same id (cells of the
    run without mass included: their values are dropped after) and the positions come from
    the panel's frame, computed once (:func:`numerics.panels._locate`'s operations, over
    slices: :func:`_frame_positions`); without (``None``, resolved when the kernel is
    compiled), each cell of mass is located (:func:`numerics.panels._locate`)."""
    if ids is None:
        raw, xs[0] = _locate(r_max - reward[i], D, J, width)
        count = 1
        while count < RUN_CELLS and i + count < hi and mass[i + count] > 0.0:
            raw_k, x_k = _locate(r_max - reward[i + count], D, J, width)
            if raw_k != raw:
                break
            xs[count] = x_k
            count += 1
        return raw, count
    first = ids[i]
    count = run_end(ids, i + 1, min(i + RUN_CELLS, hi), first) - i
    raw = np.int64(first)
    if raw == 0:
        xs[:count] = 0.0
    else:
        c, hw = _panel_frame(raw, D, J, width)
        _frame_positions(reward[i:i + count], r_max, c, hw, xs[:count])
    return raw, count


@numba.njit(cache=True, inline="always")
def _frame_positions(rs, r_max, c, hw, xs):
    """``xs[j] = _in_frame(r_max - rs[j], c, hw)``.  The loops of these run kernels take
    slices (a base pointer and a length each), not ``array[i + j]``: LLVM then runs them in
    vector lanes (measured on the 2048^2 benchmark, the positions and the final selection of
    :func:`log_weights_at_cells`: 1.26 -> 0.29 numpy passes; the same bits)."""
    for j in range(rs.shape[0]):
        xs[j] = _in_frame(r_max - rs[j], c, hw)


@numba.njit(cache=True, inline="always")
def _clenshaw_run(c, a, n, xs, b1, b2):
    """Clenshaw's recurrence for the panel's coefficients ``c[a:a + n]`` (``n >= 2``) at the
    positions ``xs`` at once (slices of one length), into ``b1, b2``: the loop over the cells
    is innermost, so its independent recurrences fill the vector lanes, and two terms are
    taken per visit of a cell (half the loads and stores); each value is :func:`_clenshaw`'s
    (the same operations in the same order: ``2 x`` is exact).  The value at ``xs[j]`` is
    then ``c[a] + xs[j] b1[j] - b2[j]``."""
    for j in range(xs.shape[0]):
        b1[j] = 0.0
        b2[j] = 0.0
    k = n - 1
    while k >= 2:
        c0 = c[a + k]
        c1 = c[a + k - 1]
        for j in range(xs.shape[0]):
            y = 2.0 * xs[j]
            p = b1[j]
            t0 = c0 + y * p - b2[j]
            b2[j] = t0
            b1[j] = c1 + y * t0 - p
        k -= 2
    if k == 1:
        ck = c[a + 1]
        for j in range(xs.shape[0]):
            t = ck + 2.0 * xs[j] * b1[j] - b2[j]
            b2[j] = b1[j]
            b1[j] = t


@numba.njit(cache=True, inline="always")
def _finish_run(ca, offset, xs, b1, b2, ms, out):
    """``out[j] = (ca + xs[j] b1[j] - b2[j]) - offset`` where ``ms[j] > 0``, ``-inf`` elsewhere
    (slices of one length)."""
    for j in range(out.shape[0]):
        v = (ca + xs[j] * b1[j] - b2[j]) - offset
        out[j] = v if ms[j] > 0.0 else -np.inf


@numba.njit(cache=True, inline="always")
def _constant_run(v, ms, out):
    """``out[j] = v`` where ``ms[j] > 0``, ``-inf`` elsewhere (slices of one length)."""
    for j in range(out.shape[0]):
        out[j] = v if ms[j] > 0.0 else -np.inf


@kernel
def log_weights_at_cells(reward, mass, r_max, D, J, width, compact, cptr, coeffs, offset, out,
                         chunks, ids=None):
    r"""``out[i] = f(r_i) - offset`` at the cells with ``mass > 0`` (``-inf`` elsewhere), ``f``
    the interpolant of the panel of depth ``r_max - r_i`` (raw panel id -> ``compact[raw]``;
    ``ids``: the raw panel ids of the count pass, where known).

    The cells go by runs of consecutive cells of one panel (:func:`_run_at`, at most
    :data:`RUN_CELLS`; neighbouring cells of a smooth reward share a panel: 65 cells a run on
    the 2048^2 benchmark), each run's recurrences side by side (:func:`_clenshaw_run`; the
    same bits as Clenshaw cell by cell).  ``chunks`` fixed blocks of cells, in parallel."""
    n = reward.shape[0]
    step = (n + chunks - 1) // chunks
    for c in numba.prange(chunks):
        hi = min((c + 1) * step, n)
        xs = np.empty(RUN_CELLS)
        b1 = np.empty(RUN_CELLS)
        b2 = np.empty(RUN_CELLS)
        i = min(c * step, n)
        while i < hi:
            if not mass[i] > 0.0:
                out[i] = -np.inf
                i += 1
                continue
            raw, count = _run_at(ids, reward, mass, i, hi, r_max, D, J, width, xs)
            q = compact[raw]
            a = cptr[q]
            m = cptr[q + 1] - a
            e = i + count
            if m == 1:
                _constant_run(coeffs[a] - offset, mass[i:e], out[i:e])
            else:
                _clenshaw_run(coeffs, a, m, xs[:count], b1[:count], b2[:count])
                _finish_run(coeffs[a], offset, xs[:count], b1[:count], b2[:count], mass[i:e],
                            out[i:e])
            i = e


def log_weights_at_cells_numpy(reward, mass, r_max, D, J, width, compact, cptr, coeffs,
                               offset, out, chunks=1, ids=None):
    """Pure numpy twin of :func:`log_weights_at_cells` (it locates every cell: ``ids``, the
    panels it finds, is not read)."""
    from .panels import locate_numpy
    has = mass > 0
    raw, x = locate_numpy(np.where(has, r_max - reward, 0.0), D, J, width)
    out[:] = -np.inf
    out[has] = evaluate_numpy(compact[raw[has]], x[has], cptr, coeffs) - offset


#: cells per block of :func:`accumulate_masses`: the log weights, their ``exp``, the product
#: by the masses and the sum run on one block while it is in cache (256 KiB an array)
MASS_BLOCK = 1 << 15


def accumulate_masses(reward, mass, r_max, D, J, width, compact, cptr, coeffs, offset, out,
                      first, use_numba=True, ids=None):
    r"""``out[i] (+)= mass[i] exp(f(r_i) - offset)``, ``f`` as in :func:`log_weights_at_cells`
    (cells without mass contribute 0); ``first``: overwrite instead of adding; ``ids``: the
    cells' raw panel ids where known.  Returns ``sum(out)`` after the update.

    Block by block (:data:`MASS_BLOCK` cells): the exponent from :func:`log_weights_at_cells`
    (serial twin), then numpy's vectorized ``exp`` (no scalar ``exp`` per cell), the product
    and the block's sum, while the block is in cache; the two halves of the grid on two
    threads where that pays (:func:`numerics.threads.in_halves`: the serial kernels run
    without the GIL, numpy's loops release it).  Measured on the 2048^2 benchmark against the
    kernel's parallel twin over the whole grid followed by numpy's passes: the
    materialization 1.16 -> 0.98 numpy passes with two threads (``exp`` and the product now on
    both cores), 1.86 -> 1.78 with one (the blocks: 1.6 passes for any size from 2^13 to
    2^22 cells).  The sum adds the blocks' sums (numpy's pairwise sums) in order, each half's,
    then the two.  ``use_numba=False``: the numpy twin of the log weights over the
    whole grid, then the same steps."""
    n = reward.shape[0]
    if not use_numba:
        target = out if first else np.empty_like(out)
        log_weights_at_cells_numpy(reward, mass, r_max, D, J, width, compact, cptr, coeffs,
                                   offset, target)
        with np.errstate(over="ignore"):
            np.exp(target, out=target)
        target *= mass
        if not first:
            out += target
        return float(out.sum())

    def part(lo, hi):
        scratch = None if first else np.empty(min(MASS_BLOCK, max(hi - lo, 0)))
        total = 0.0
        for a in range(lo, hi, MASS_BLOCK):
            e = min(a + MASS_BLOCK, hi)
            t = out[a:e] if first else scratch[:e - a]
            log_weights_at_cells.serial(reward[a:e], mass[a:e], r_max, D, J, width, compact,
                                        cptr, coeffs, offset, t, 1,
                                        None if ids is None else ids[a:e])
            with np.errstate(over="ignore"):
                np.exp(t, out=t)
            t *= mass[a:e]
            if not first:
                out[a:e] += t
            total += float(out[a:e].sum())
        return total

    return sum(in_halves(part, n))
