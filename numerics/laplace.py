"""The Laplace form of the curation factor (THEORY.md L2), in log space.

For a law ``p`` of ``s = exp(r - r_max)`` in ``(0, 1]``,

    H_p^K(s) = K * int_0^inf s exp(-u s) M_p(u)^(K-1) du,    M_p(u) = E_p[exp(-u s)].

With ``u = e^v`` the integrand ``exp(v + log s - e^v s + (K-1) log M_p(e^v))`` is smooth and
decays on both sides, so the trapezoid rule in ``v`` converges spectrally (L2).  Everything is
evaluated in log space:

- ``log M_p(u)`` from ``1 - M_p(u) = E_p[-expm1(-u s)]`` when that is below 1/2 (so that
  ``(K-1) log M`` stays accurate for ``K`` up to 1e6, where only ``M`` close to 1 matters),
  from a log-sum-exp otherwise (``M`` far below the smallest float); the atoms with
  ``u s <= 1/4`` are summed in O(1) per node through a Taylor series over prefix sums;
- ``log H`` by a log-sum-exp over the nodes, plus the exact geometric sum of the left tail
  ``h sum_{j<0} e^{f(v_0) + j h}`` (the integrand is ``~ e^v s`` there), which makes the
  truncation error second order in ``e^{v_0}``; the nodes with ``e^v s <= e^{-1}`` are summed
  in O(1) per point through a Taylor series in ``s e^v`` over prefix sums shared by all points;
- the step is checked against step ``2h`` (even nodes) and halved where they disagree; for a
  non-integer ``K`` it starts at ``h/2`` (branch points of ``M^{K-1}`` near the real axis).

Each hot loop is a small numba kernel; the ``exp``/``expm1`` of the explicit terms are taken
by numpy over a buffer between two kernels (numpy's are vectorized, numba's scalar ones cost
4-5x more).  Each function has a pure numpy twin (``*_numpy``); the tests hold the two
against each other.
"""

from __future__ import annotations

import math
import warnings

import numba
import numpy as np

from .threads import kernel
from .validation import EXP_SAFE

__all__ = [
    "VGrid",
    "v_grid",
    "log_laplace",
    "log_laplace_numpy",
    "log_curation_integral",
    "log_curation_integral_numpy",
    "log_curation_factor_nodes",
    "log_sum_exp",
    "AccuracyWarning",
    "refined_trapezoid",
]

#: trapezoid step in ``v = log u``; the error decays like ``exp(-c / h)`` (measured in the
#: tests against 40-digit mpmath: below 1e-14 relative for h = 0.25).
DEFAULT_STEP = 0.25
#: nats below the left end of the peak region where the node grid starts (the tail beyond is
#: added in closed form, leaving a relative error ~ e^{-2 * LEFT_MARGIN}).
LEFT_MARGIN = 20.0
#: ``u s_min`` at the right end of the node grid (beyond it the integrand is < e^{-RIGHT_STOP}).
RIGHT_STOP = 50.0


class VGrid:
    """Uniform nodes ``v_j = v0 + j h`` of the trapezoid rule in ``v = log u``."""

    __slots__ = ("v", "h")

    def __init__(self, v: np.ndarray, h: float):
        self.v = v
        self.h = h


def v_grid(log_s_min: float, log_mean_s: float, K: float, h: float = DEFAULT_STEP,
           log_s_max: float = 0.0) -> VGrid:
    """Nodes covering every point where the L2 integrand matters, for ``s_min <= s <= s_max``
    (``s_max = 1`` for points of the support; larger for rewards above it).

    Left end: ``v0 = -log(s_max + (K-1) E_p[s]) - LEFT_MARGIN`` (below it the integrand is
    ``e^v s (1 + O(e^v (s + (K-1) E_p[s])))``, summed in closed form).
    Right end: ``e^{v} s_min >= RIGHT_STOP + span`` with ``span = -log s_min``, where
    ``M_p(u)^{K-1} e^{-u s} <= e^{-u (s + (K-1) s_min)}`` makes the rest negligible relative
    to ``H >= K s / (s + (K-1) E_p[s])`` (P2).
    """
    span = max(0.0, -log_s_min)
    v0 = -float(np.logaddexp(log_s_max, math.log(K - 1.0) + log_mean_s)) - LEFT_MARGIN
    v1 = span + math.log(RIGHT_STOP + span)
    n = int(math.ceil((v1 - v0) / h)) + 1
    return VGrid(v0 + h * np.arange(n, dtype=np.float64), h)


# ----------------------------------------------------------------------------------------
# log M_p(u) at the nodes
# ----------------------------------------------------------------------------------------


#: nodes with ``e^v s <= e^{-_SERIES_EDGE}`` are summed through a Taylor series in ``s e^v``
_SERIES_EDGE = 1.0
#: terms of that series beyond the constant one (remainder < (e^-1)^15 / 15! ~ 2.3e-19)
_SERIES = 14
#: ``log(e^v s)`` at the right end of a point's window (integrand < e^{-50} x max beyond)
_RIGHT_LOG = math.log(55.0)
#: beyond this ``v`` the product ``e^v s`` is formed as ``exp(v + log s)`` (no overflow)
_V_BIG = EXP_SAFE


#: ``u s`` at or below which ``1 - e^{-u s}`` is its Taylor series (:data:`_M_TAYLOR` terms:
#: remainder ``x^12 / 13! < 1e-17`` relative at ``x = 0.25``)
_M_TAYLOR_EDGE = 0.25
_M_TAYLOR = 12
#: ``u s`` above which ``e^{-u s} < e^{-50}``: such an atom contributes its mass to ``1 - M``
_M_TAIL = 50.0
#: where ``M < 1/2`` (log-sum-exp), atoms whose term is below ``e^{-50}`` of the largest are
#: left out (all of them together: below ``n e^{-50}`` relative)
_M_LOG_MARGIN = 50.0
#: elements of the scratch buffers that :func:`numpy.expm1` / :func:`numpy.exp` fill at once
_BUFFER = 1 << 16


def log_laplace(v, log_s, log_p):
    """``log M(e^{v_j}) = log sum_k p_k exp(-e^{v_j} s_k)`` for normalized log-masses (all
    finite: atoms of zero mass are left out by the caller) at increasing nodes ``v``
    (:func:`v_grid`).

    With the atoms sorted by ``s`` and ``x = u s_k``, each node sums

    - the atoms with ``x <= 1/4`` through the Taylor series of ``1 - e^{-x}``
      (:data:`_M_TAYLOR` terms) over scaled prefix sums of ``p s^i``
      (:func:`_laplace_prepare`), O(1) per node;
    - the atoms with ``1/4 < x <= 50`` explicitly, ``1 - M = sum p_k (-expm1(-x))``;
    - the atoms with ``x > 50`` as their mass (suffix sums; ``e^{-x} < e^{-50}``).

    Where ``1 - M <= 1/2``, ``log M = log1p(-(1 - M))`` (accurate for ``(K-1) log M`` with
    ``K`` up to 1e6); else a log-sum-exp over the Taylor part and the explicit atoms from the
    first with ``x > 1/4`` to the last whose term can exceed ``e^{-50}`` of the largest
    (:func:`_laplace_finish`).  The ``expm1`` and ``exp`` of the explicit atoms are taken by
    numpy over a buffer between two kernels (vectorized; numba's scalar ones cost 4-5x
    more), :func:`_by_buffer`.  The kernels run on numba's threads only when the work pays
    for waking them (:mod:`numerics.threads`)."""
    ls, lp, p, s, tail, smax, D, mref, a, b, off = _laplace_prepare(v, log_s, log_p)
    n_v = v.shape[0]
    explicit = np.zeros(n_v)
    _by_buffer(off, np.expm1,
               lambda j0, j1, chunk: _laplace_fill.at(chunk.size)(v, ls, s, a, off, j0, j1,
                                                                  chunk),
               lambda j0, j1, chunk: _laplace_sum.at(chunk.size)(p, a, off, j0, j1, chunk,
                                                                 explicit))
    out = np.empty(n_v)
    top = np.empty(n_v)  # log path: the largest term, then the Taylor part relative to it
    low = np.empty(n_v)
    off2 = _laplace_finish.at(int(off[-1]) + n_v)(v, ls, lp, s, tail, smax, D, mref, a, b,
                                                  explicit, out, top, low)
    _by_buffer(off2, np.exp,
               lambda j0, j1, chunk: _laplace_log_fill.at(chunk.size)(v, ls, lp, s, a, off2,
                                                                      top, j0, j1, chunk),
               lambda j0, j1, chunk: _laplace_log_sum.at(chunk.size)(off2, top, low, j0, j1,
                                                                     chunk, out))
    return out


def _by_buffer(off, ufunc, fill, consume):
    """``fill(j0, j1, chunk)``, ``ufunc(chunk, out=chunk)``, ``consume(j0, j1, chunk)`` over
    groups of nodes ``j0 <= j < j1`` whose runs (``off[j] .. off[j+1]`` of one flat
    sequence) fit together in a buffer of :data:`_BUFFER` elements (or one node's run)."""
    n = off.shape[0] - 1
    total = int(off[-1])
    if total == 0:
        return
    if total <= _BUFFER:
        chunk = np.empty(total)
        fill(0, n, chunk)
        ufunc(chunk, out=chunk)
        consume(0, n, chunk)
        return
    buf = np.empty(max(_BUFFER, int(np.max(np.diff(off)))))
    j0 = 0
    while j0 < n:
        j1 = int(np.searchsorted(off, off[j0] + buf.shape[0], side="right")) - 1
        j1 = min(max(j1, j0 + 1), n)
        chunk = buf[:int(off[j1] - off[j0])]
        if chunk.size:
            fill(j0, j1, chunk)
            ufunc(chunk, out=chunk)
            consume(j0, j1, chunk)
        j0 = j1


@numba.njit(cache=True)
def _laplace_prepare(v, log_s, log_p):
    """The atoms sorted by ``s`` (``ls, lp, p, s``), the suffix sums ``tail[k] = sum_{i>=k}
    p_i`` and suffix maxima ``smax[k] = max_{i>=k} log p_i``, the scaled prefix sums

        D[k, i] = sum_{j<k} exp(log p_j - mref[k]) (s_j / s_{k-1})^i,
        mref[k] = max_{j<k} log p_j,

    (``i = 0.._M_TAYLOR``; all ``<= k``, no underflow whatever the span of ``s``: ``u^i
    sum_{j<k} p_j s_j^i = e^{mref[k]} (u s_{k-1})^i D[k, i]``; rows kept only at the
    ``a[j]``), and per node ``a[j]``, the atoms with ``u s <= 1/4``, ``b[j]``, those with
    ``u s <= 50``, and the runs ``off`` of the explicit atoms ``a[j] <= k < b[j]`` in one
    flat sequence (``v`` increasing, as :func:`v_grid` makes it)."""
    Q = _M_TAYLOR
    order = _ascending_order(log_s)
    ls = log_s[order]
    lp = log_p[order]
    n = ls.shape[0]
    p = np.exp(lp)
    s = np.exp(ls)
    tail = np.zeros(n + 1)
    smax = np.full(n + 1, -np.inf)
    for k in range(n - 1, -1, -1):
        tail[k] = tail[k + 1] + p[k]
        smax[k] = max(smax[k + 1], lp[k])
    # per node, the first atom past the Taylor part and past 50 (thresholds ``log x - v``
    # increase as v decreases: one sweep)
    n_v = v.shape[0]
    a = np.empty(n_v, dtype=np.int64)
    b = np.empty(n_v, dtype=np.int64)
    lo = math.log(_M_TAYLOR_EDGE)
    hi = math.log(_M_TAIL)
    ka = 0
    kb = 0
    for j in range(n_v - 1, -1, -1):
        while ka < n and ls[ka] <= lo - v[j]:
            ka += 1
        while kb < n and ls[kb] <= hi - v[j]:
            kb += 1
        a[j] = ka
        b[j] = kb
    off = np.zeros(n_v + 1, dtype=np.int64)
    need = np.zeros(n + 1, dtype=np.bool_)
    for j in range(n_v):
        off[j + 1] = off[j] + b[j] - a[j]
        need[a[j]] = True
    # the prefix sums at the rows a node reads (``a[j]``), block by block between them: the
    # atoms of a block are added relative to its last one (compensated sums, powers of
    # ``s_k / s_ref <= 1`` by products), the sum so far is carried over to the new reference
    # once a block (at most ``n_v`` carries, where a carry per atom lost ~sqrt(n) ulps)
    D = np.empty((n + 1, Q + 1))
    mref = np.empty(n + 1)
    cur = np.zeros(Q + 1)
    comp = np.zeros(Q + 1)
    m = -np.inf
    ref = 0.0
    k = 0
    for t in range(1, n + 1):
        if not need[t]:
            continue
        new_ref = ls[t - 1]
        rho = math.exp(ref - new_ref) if k > 0 else 1.0  # carry to the new reference
        f = 1.0
        for i in range(1, Q + 1):
            f *= rho
            cur[i] *= f
            comp[i] *= f
        ref = new_ref
        for kk in range(k, t):
            if lp[kk] > m:
                sc = math.exp(m - lp[kk]) if m > -np.inf else 0.0
                for i in range(Q + 1):
                    cur[i] *= sc
                    comp[i] *= sc
                m = lp[kk]
            e = math.exp(lp[kk] - m)
            r = math.exp(ls[kk] - ref)
            for i in range(Q + 1):
                # Neumaier: cur + comp carries the sum to ~1 ulp
                x = cur[i] + e
                if abs(cur[i]) >= e:
                    comp[i] += (cur[i] - x) + e
                else:
                    comp[i] += (e - x) + cur[i]
                cur[i] = x
                e *= r
        k = t
        for i in range(Q + 1):
            D[t, i] = cur[i] + comp[i]
        mref[t] = m
    return ls, lp, p, s, tail, smax, D, mref, a, b, off


@numba.njit(cache=True)
def _ascending_order(x):
    """An order that sorts ``x`` ascending: the ascending runs of ``x`` in reverse when they
    are ranges one below the other (the engine's nodes: panels by increasing depth, each
    with its Gauss nodes by increasing ``log s``), else :func:`numpy.argsort`."""
    n = x.shape[0]
    starts = [0]
    for i in range(1, n):
        if x[i] < x[i - 1]:
            starts.append(i)
    starts.append(n)
    for r in range(len(starts) - 2):  # run r lies above run r + 1
        if x[starts[r]] < x[starts[r + 2] - 1]:
            return np.argsort(x)
    order = np.empty(n, dtype=np.int64)
    k = 0
    for r in range(len(starts) - 2, -1, -1):
        for i in range(starts[r], starts[r + 1]):
            order[k] = i
            k += 1
    return order


@numba.njit(cache=True)
def _products_safe(vj, ls, a):
    """Whether ``u s_k`` may be formed as ``e^{v} * s_k`` for the atoms from ``a`` on (no
    overflow of ``u``, no underflow of ``s_k``); else ``exp(v + log s_k)``."""
    return vj < _V_BIG and (a >= ls.shape[0] or ls[a] > -_V_BIG)


@kernel
def _laplace_fill(v, ls, s, a, off, j0, j1, buf):
    """``buf = -u_j s_k`` for the explicit atoms of the nodes ``j0 <= j < j1`` (node ``j``'s
    run: ``off[j] .. off[j+1]``, from atom ``a[j]``), less ``off[j0]``."""
    for j in numba.prange(j0, j1):
        lo = off[j] - off[j0]
        run = buf[lo:lo + off[j + 1] - off[j]]
        vj = v[j]
        if _products_safe(vj, ls, a[j]):
            _scaled_negated(math.exp(vj), s[a[j]:a[j] + run.shape[0]], run)
        else:
            for k in range(run.shape[0]):
                run[k] = -math.exp(vj + ls[a[j] + k])


@numba.njit(cache=True, inline="always")
def _scaled_negated(u, xs, out):
    """``out[k] = -(u * xs[k])`` (slices of one length: vector lanes, which ``buf[base + k]``
    indexing prevented; measured on the 2048^2 benchmark's law, with :func:`_log_terms`:
    35 -> 8 us a step)."""
    for k in range(out.shape[0]):
        out[k] = -(u * xs[k])


@kernel
def _laplace_sum(p, a, off, j0, j1, buf, explicit):
    """``explicit[j] = sum_k p_k (-expm1(-u_j s_k))`` over the explicit atoms (``buf`` holds
    the ``expm1``, laid out as :func:`_laplace_fill` left it)."""
    for j in numba.prange(j0, j1):
        lo = off[j] - off[j0]
        cnt = off[j + 1] - off[j]
        explicit[j] = -_dot(p[a[j]:a[j] + cnt], buf[lo:lo + cnt])


@numba.njit(cache=True, fastmath={"reassoc"})
def _dot(xs, ys):
    """``sum xs ys`` (slices of one length), reassociated: vector lanes (a function of its
    own, not inlined, so that the flag holds; measured on the 2048^2 benchmark's law, the sums
    of :func:`_laplace_sum` and :func:`_laplace_log_sum`: 26 -> 5 us a step)."""
    acc = 0.0
    for k in range(xs.shape[0]):
        acc += xs[k] * ys[k]
    return acc


@numba.njit(cache=True, fastmath={"reassoc"})
def _sum(xs):
    """``sum xs``, reassociated (as :func:`_dot`)."""
    acc = 0.0
    for k in range(xs.shape[0]):
        acc += xs[k]
    return acc


@kernel
def _laplace_finish(v, ls, lp, s, tail, smax, D, mref, a, b, explicit, out, top, low):
    """``log M`` at each node where ``1 - M <= 1/2`` (from the explicit sums, the Taylor part
    and the tail: see :func:`log_laplace`) into ``out``; elsewhere the largest term
    ``top[j]`` of the log-sum-exp, its Taylor part ``low[j]`` relative to it, and the run of
    explicit atoms it needs (from ``a[j]``).  Returns the runs' offsets (empty runs where
    ``out`` is done)."""
    Q = _M_TAYLOR
    n = ls.shape[0]
    n_v = v.shape[0]
    coef = np.empty(Q + 1)  # (-1)^(i+1) / i!
    coef[0] = -1.0
    for i in range(1, Q + 1):
        coef[i] = -coef[i - 1] / i
    count = np.zeros(n_v, dtype=np.int64)
    for j in numba.prange(n_v):
        vj = v[j]
        aj = a[j]
        one_minus = tail[b[j]] + explicit[j]
        poly = 0.0  # sum_{k<a} p_k (1 - e^{-u s_k}) / e^{mref[a]}
        if aj > 0:
            y = math.exp(vj + ls[aj - 1])
            for i in range(Q, 0, -1):
                poly = (poly + coef[i] * D[aj, i]) * y
            one_minus += math.exp(mref[aj]) * poly
        if one_minus <= 0.5:
            out[j] = math.log1p(-one_minus)
            continue
        t = -np.inf
        if aj > 0:
            t = mref[aj] + math.log(D[aj, 0] - poly)
        log_m_low = t
        safe = _products_safe(vj, ls, aj)
        u = math.exp(vj) if safe else 0.0
        stop = aj
        while stop < n:
            x = u * s[stop] if safe else math.exp(vj + ls[stop])
            if smax[stop] - x < t - _M_LOG_MARGIN:
                break
            t = max(t, lp[stop] - x)
            stop += 1
        top[j] = t
        low[j] = math.exp(log_m_low - t)
        count[j] = stop - aj
        out[j] = log_m_low  # the Taylor part alone, when no explicit atom counts
    off = np.zeros(n_v + 1, dtype=np.int64)
    for j in range(n_v):
        off[j + 1] = off[j] + count[j]
    return off


@kernel
def _laplace_log_fill(v, ls, lp, s, a, off, top, j0, j1, buf):
    """``buf = log p_k - u_j s_k - top[j]`` over the log-sum-exp runs of the nodes
    ``j0 <= j < j1`` (:func:`_laplace_finish`)."""
    for j in numba.prange(j0, j1):
        cnt = off[j + 1] - off[j]
        if cnt == 0:
            continue
        lo = off[j] - off[j0]
        run = buf[lo:lo + cnt]
        vj = v[j]
        t = top[j]
        aj = a[j]
        if _products_safe(vj, ls, aj):
            _log_terms(math.exp(vj), lp[aj:aj + cnt], s[aj:aj + cnt], t, run)
        else:
            for k in range(cnt):
                run[k] = lp[aj + k] - math.exp(vj + ls[aj + k]) - t


@numba.njit(cache=True, inline="always")
def _log_terms(u, lps, xs, t, out):
    """``out[k] = lps[k] - u * xs[k] - t`` (slices of one length: vector lanes)."""
    for k in range(out.shape[0]):
        out[k] = lps[k] - u * xs[k] - t


@kernel
def _laplace_log_sum(off, top, low, j0, j1, buf, out):
    """``log M = top + log(low + sum exp(...))`` from the run's ``exp`` in ``buf``."""
    for j in numba.prange(j0, j1):
        cnt = off[j + 1] - off[j]
        if cnt == 0:
            continue
        lo = off[j] - off[j0]
        out[j] = top[j] + math.log(low[j] + _sum(buf[lo:lo + cnt]))


@numba.njit(cache=True)
def _logaddexp(x, y):
    if x == -np.inf:
        return y
    if y == -np.inf:
        return x
    top = max(x, y)
    return top + math.log1p(math.exp(-abs(x - y)))


def log_laplace_numpy(v, log_s, log_p):
    """Pure numpy twin of :func:`log_laplace` (same formulas, vectorized)."""
    p = np.exp(log_p)[None, :]
    with np.errstate(over="ignore"):
        us = np.exp(v[:, None] + log_s[None, :])
    one_minus = -(p * np.expm1(-us)).sum(axis=1)
    a = log_p[None, :] - us
    top = a.max(axis=1)
    lse = top + np.log(np.exp(a - top[:, None]).sum(axis=1))
    small = one_minus <= 0.5
    return np.where(small, np.log1p(-np.where(small, one_minus, 0.0)), lse)


# ----------------------------------------------------------------------------------------
# log of the L2 integral at a set of points s
# ----------------------------------------------------------------------------------------


@numba.njit(cache=True)
def _left_series(v, h, g):
    """The prefix sums of the series part, for step ``h`` (all nodes, ``l = 0``) and step
    ``2h`` (even nodes, ``l = 1``), with the trapezoid weights ``w_i`` (``h``, or ``2h``;
    plus the closed-form left tail ``h/(e^h - 1)`` at ``i = 0``):

        LP[l, j] = log sum_{i<j} w_i e^{g_i},
        R[j, l, q] = (-1)^q / q! sum_{i<j} w_i e^{g_i + q (v_i - v_{j-1})} / sum_{i<j} w_i e^{g_i}

    ``q = 0.._SERIES`` (the ratio is ``<= 1``; laid out point-major for the Horner sums).  The nodes are uniform (``v_i - v_{j-1} = -(j-1-i) h``), so each sum
    is a recurrence ``T_q <- T_q e^{-q h} + w_{j-1} e^{g_{j-1}}``, kept relative to the
    running largest ``w_i e^{g_i}`` (one ``exp`` per node, no overflow)."""
    n = v.shape[0]
    Q = _SERIES + 1
    LP = np.full((2, n + 1), -np.inf)
    R = np.zeros((n + 1, 2, Q))
    decay = np.empty(Q)
    inv_fact = np.empty(Q)  # (-1)^q / q!
    inv_fact[0] = 1.0
    for q in range(Q):
        decay[q] = math.exp(-q * h)
        if q > 0:
            inv_fact[q] = -inv_fact[q - 1] / q
    T = np.zeros(Q)
    for level in range(2):
        step = h * (level + 1)
        log_w = math.log(step)
        log_w0 = math.log(step + step / math.expm1(step))
        T[:] = 0.0
        m = -np.inf
        for i in range(n):
            for q in range(1, Q):
                T[q] *= decay[q]
            if level == 0 or i % 2 == 0:
                t = (log_w0 if i == 0 else log_w) + g[i]
                if t > m:
                    sc = math.exp(m - t) if m > -np.inf else 0.0
                    for q in range(Q):
                        T[q] *= sc
                    m = t
                if t > -np.inf:
                    e = math.exp(t - m)
                    for q in range(Q):
                        T[q] += e
            if T[0] > 0.0:
                LP[level, i + 1] = m + math.log(T[0])
                for q in range(Q):
                    R[i + 1, level, q] = T[q] / T[0] * inv_fact[q]
    return LP, R


def log_curation_integral(v, h, log_m, k_minus_1, log_s_eval):
    """``log( h sum_j exp(f(v_j)) + left tail )`` at each point of ``log_s_eval``, with
    ``f(v) = v + log s - e^{v} s + (K-1) log M(e^v)``, and the same with step ``2h`` (even
    nodes only), whose difference estimates the trapezoid error.  ``v`` is uniform with
    step ``h``.  The left tail beyond the first node is
    ``h sum_{j<0} exp(f(v_0) + j h) = exp(f(v_0)) h / (e^h - 1)``.

    Nodes with ``e^{v_j} s <= e^{-1}`` are summed in O(1) per point: there
    ``exp(-e^{v} s) = sum_q (-s e^v)^q / q!`` (``_SERIES`` terms, remainder < 3e-19), so their
    sum is ``e^{log s} sum_q (-s)^q/q! exp(P[q, j])`` with the prefix sums ``P`` of
    ``exp(g_j + q v_j)``, ``g = v + (K-1) log M``, shared by all points (evaluated by Horner
    in ``s e^{v_{j-1}}`` from the ratios of :func:`_left_series`).  The remaining nodes, up
    to ``e^{v} s = 55`` (the integrand is below ``e^{-50}`` of its value beyond), are summed
    explicitly relative to their largest term, one ``exp`` per node shared by the sums with
    steps ``h`` and ``2h``: the exponents go to a row per point (:func:`_integral_terms`),
    numpy takes their ``exp`` at once (vectorized; numba's scalar ``exp`` costs 4x more), and
    :func:`_integral_sums` adds them up and joins them with the series part.  The
    kernels run on numba's threads only when the work (points x nodes) pays for waking
    them."""
    log_s_eval = np.asarray(log_s_eval, dtype=np.float64)
    n = log_s_eval.shape[0]
    g = v + k_minus_1 * log_m
    LP, R = _left_series(v, h, g)
    ev = np.exp(np.minimum(v, _V_BIG))
    width = int(math.ceil((_RIGHT_LOG + _SERIES_EDGE) / h)) + 2
    rows = max(1, _BUFFER // width)
    out = np.empty((2, n))
    buf = np.empty((min(n, rows), width))
    j_r = np.empty((2, buf.shape[0]), dtype=np.int64)
    # per point: the series sums (steps h, 2h), then the largest explicit exponent; the sums
    # kernel leaves there the log scales of the two totals
    parts = np.empty((3, buf.shape[0]))
    for i0 in range(0, n, rows):
        i1 = min(n, i0 + rows)
        m = i1 - i0
        work = m * v.shape[0]
        ls = log_s_eval[i0:i1]
        b, jr, pt = buf[:m], j_r[:, :m], parts[:, :m]
        _integral_terms.at(work)(v, ev, h, g, ls, R, b, jr, pt)
        np.exp(b, out=b)
        o = out[:, i0:i1]
        _integral_sums.at(work)(h, ls, LP, b, jr, pt, o)
        np.log(o, out=o)  # vectorized: numba's scalar log costs 3x more
        o += pt[:2]
    return out[0], out[1]


@kernel
def _integral_terms(v, ev, h, g, log_s_eval, R, buf, j_r, parts):
    """Per point ``i`` (a row of ``buf``): the first explicit node ``j_r[0, i]`` and their count
    ``j_r[1, i]``, the exponents ``g_j + log s - e^{v_j} s`` of the explicit nodes less their
    largest (``parts[2, i]``; 0 past the last node, never read: numpy's ``exp`` takes ``-inf``
    on a slow path, 4 ns an element), and the series sums ``parts[:2, i]`` (steps ``h``, ``2h``;
    relative to ``e^{log s + LP}``, :func:`_left_series`)."""
    n_v = v.shape[0]
    width = buf.shape[1]
    v0 = v[0]
    for i in numba.prange(log_s_eval.shape[0]):
        ls = log_s_eval[i]
        fast = ls <= 0.0
        s = math.exp(ls) if fast else 1.0
        jr = int(math.ceil((-ls - _SERIES_EDGE - v0) / h))
        jr = min(max(jr, 0), n_v)
        jhi = int(math.ceil((-ls + _RIGHT_LOG - v0) / h)) + 1
        jhi = min(max(jhi, jr), n_v, jr + width)
        acc0 = 0.0
        acc1 = 0.0
        if jr > 0:
            y = (ev[jr - 1] * s if (fast and v[jr - 1] < _V_BIG)
                 else math.exp(v[jr - 1] + ls))
            # Horner in y^2 on the even and the odd terms (four independent chains)
            y2 = y * y
            e0 = o0 = e1 = o1 = 0.0
            for q in range(_SERIES - _SERIES % 2, -1, -2):
                e0 = e0 * y2 + R[jr, 0, q]
                e1 = e1 * y2 + R[jr, 1, q]
            for q in range(_SERIES - 1 + _SERIES % 2, 0, -2):
                o0 = o0 * y2 + R[jr, 0, q]
                o1 = o1 * y2 + R[jr, 1, q]
            acc0 = e0 + y * o0
            acc1 = e1 + y * o1
        top = -np.inf
        cnt = jhi - jr
        if fast and (cnt == 0 or v[jhi - 1] < _V_BIG):
            for k in range(cnt):
                a = g[jr + k] + ls - ev[jr + k] * s
                buf[i, k] = a
                top = max(top, a)
        else:
            for k in range(cnt):
                a = g[jr + k] + ls - math.exp(v[jr + k] + ls)
                buf[i, k] = a
                top = max(top, a)
        if top > -np.inf:
            for k in range(cnt):
                buf[i, k] -= top
        for k in range(cnt, width):
            buf[i, k] = 0.0
        j_r[0, i] = jr
        j_r[1, i] = cnt
        parts[0, i] = acc0
        parts[1, i] = acc1
        parts[2, i] = top


@kernel
def _integral_sums(h, log_s_eval, LP, buf, j_r, parts, out):
    """The sums with steps ``h`` and ``2h`` at each point ``i``, as ``out[:, i] e^{parts[:2,
    i]}`` (the caller takes the log): the rows of ``buf`` (now the ``exp`` of the explicit
    exponents less their largest ``parts[2]``; ``j_r[1, i]`` of them) added up, all nodes and
    the even ones, plus the closed-form left tail when the row starts at node 0, joined with
    the series parts ``e^{log s + LP} parts[:2]``, relative to the larger of the two."""
    tail_h = 1.0 / math.expm1(h)  # left tail beyond v_0, in units of the node weight h
    tail_2h = 1.0 / math.expm1(2.0 * h)
    for i in numba.prange(buf.shape[0]):
        acc_a = 0.0  # columns 0, 2, 4, ...
        acc_b = 0.0  # columns 1, 3, 5, ...
        cnt = j_r[1, i]
        for k in range(0, cnt - 1, 2):
            acc_a += buf[i, k]
            acc_b += buf[i, k + 1]
        if cnt % 2 == 1:
            acc_a += buf[i, cnt - 1]
        jr = j_r[0, i]
        acc_h = acc_a + acc_b
        acc_2h = acc_a if jr % 2 == 0 else acc_b
        if jr == 0 and cnt > 0:
            acc_h += tail_h * buf[i, 0]
            acc_2h += tail_2h * buf[i, 0]
        top = parts[2, i]
        for level in range(2):
            series = parts[level, i]
            explicit = (h * acc_h) if level == 0 else (2.0 * h * acc_2h)
            left = log_s_eval[i] + LP[level, jr] if series > 0.0 else -np.inf
            right = top if explicit > 0.0 else -np.inf
            if left >= right:
                c = left
                total = series + (explicit * math.exp(right - c) if right > -np.inf else 0.0)
            else:
                c = right
                total = explicit + (series * math.exp(left - c) if left > -np.inf else 0.0)
            if total > 0.0:
                out[level, i] = total
                parts[level, i] = c
            else:  # no node carries weight: log 1 - inf
                out[level, i] = 1.0
                parts[level, i] = -np.inf


def log_curation_integral_numpy(v, h, log_m, k_minus_1, log_s_eval):
    """Pure numpy twin of :func:`log_curation_integral` (all nodes, no window)."""
    ls = log_s_eval[:, None]
    with np.errstate(over="ignore"):
        us = np.exp(v[None, :] + ls)
    a = v[None, :] + ls - us + (k_minus_1 * log_m)[None, :]
    res = []
    for step, nodes in ((h, a), (2 * h, a[:, ::2])):
        tail = a[:, 0] + math.log(step / math.expm1(step))
        b = np.concatenate([nodes + math.log(step), tail[:, None]], axis=1)
        top = b.max(axis=1)
        res.append(top + np.log(np.exp(b - top[:, None]).sum(axis=1)))
    return res[0], res[1]


#: accept the trapezoid sum with step h when it differs from the one with step 2h by less
#: than this (relative): the error decays like exp(-c/h), so the error at h is about the
#: square of the difference, below 1e-14.
TRAPEZOID_CHECK = 1e-7
#: at most this many halvings of the step where the check fails (zeros of M near the real
#: v axis, e.g. non-integer K with masses 1e-13 apart, narrow the strip of analyticity)
MAX_HALVINGS = 5


class AccuracyWarning(RuntimeWarning):
    """An adaptive computation gave up refining before it met its accuracy check; the value
    returned is the finest it computed, and the message says by how much the check failed."""


def refined_trapezoid(evaluate, h):
    """``evaluate(h) -> (sum with step h, sum with step 2h)`` (log values at the points), at
    ``h, h/2, ...`` until the two agree to :data:`TRAPEZOID_CHECK` (relative; equal infinities
    agree), at most :data:`MAX_HALVINGS` halvings.  Returns the sum with the last step; if the
    check still fails there, warns :class:`AccuracyWarning` with the remaining disagreement
    (never silently)."""
    for halvings in range(MAX_HALVINGS + 1):
        fine, coarse = evaluate(h)
        with np.errstate(invalid="ignore"):
            if fine.size and np.max(np.abs(coarse - fine)) <= 0.5 * TRAPEZOID_CHECK:
                return fine  # then every |expm1(coarse - fine)| < TRAPEZOID_CHECK (NaN: no)
            diff = np.abs(np.expm1(coarse - fine))
        diff = np.where(fine == coarse, 0.0, np.where(np.isnan(diff), np.inf, diff))
        gap = float(np.max(diff)) if diff.size else 0.0
        if gap <= TRAPEZOID_CHECK:
            return fine
        if halvings < MAX_HALVINGS:
            h = 0.5 * h
    warnings.warn(AccuracyWarning(
        f"the L2 trapezoid sums with steps {h:.3g} and {2 * h:.3g} still differ by {gap:.2g} "
        f"(relative) after {MAX_HALVINGS} halvings (check {TRAPEZOID_CHECK:g}); the curation "
        "factor returned may be less accurate than the engine's 1e-13"), stacklevel=3)
    return fine


def log_curation_factor_nodes(log_s, log_p, K, log_s_eval, h=DEFAULT_STEP, use_numba=True):
    """``log H_p^K(s)`` at ``log_s_eval`` for the law ``p`` given by nodes and log-masses.

    ``log_s`` (reward minus its maximum over the support, so ``<= 0``) and ``log_p``
    (log-masses, normalized here) describe ``p``; ``K`` is a real ``>= 1`` or ``inf``.
    ``K = inf`` uses L3, ``H = s / E_p[s]``; ``K = 1`` gives ``H = 1`` (P4).  The trapezoid
    step is halved until the sums with steps ``h`` and ``2h`` agree to ``TRAPEZOID_CHECK``.

    For a non-integer ``K`` the step starts at ``h / 2``: ``M^{K-1}`` then has branch points
    at the complex zeros of ``M``, which sit at distance ``~ pi / log(m_1/m_2)`` from the
    real ``v`` axis when two groups of atoms of masses ``m_1 >> m_2`` compete, and narrow the
    strip of analyticity (measured: 4e-10 relative error at ``h = 0.25`` for masses 1e-6
    apart, 1e-12 at ``h = 0.125``).
    """
    log_s_eval = np.asarray(log_s_eval, dtype=np.float64)
    if K == 1:
        return np.zeros_like(log_s_eval)
    log_s = np.asarray(log_s, dtype=np.float64)
    log_p = np.asarray(log_p, dtype=np.float64)
    summary = law_summary if use_numba else law_summary_numpy
    log_z, log_mean_s, all_finite, log_s_min, log_s_max = summary(log_s, log_p,
                                                                  log_s_eval.ravel())
    log_p = log_p - log_z
    if math.isinf(K):
        return log_s_eval - log_mean_s
    kern_m = log_laplace if use_numba else log_laplace_numpy
    kern_h = log_curation_integral if use_numba else log_curation_integral_numpy
    if K != math.floor(K):
        h = 0.5 * h
    if not all_finite:  # atoms of zero mass play no role in M
        finite = np.isfinite(log_p)
        log_s, log_p = log_s[finite], log_p[finite]

    def evaluate(step):
        grid = v_grid(log_s_min, log_mean_s, K, step, log_s_max=log_s_max)
        log_m = kern_m(grid.v, log_s, log_p)
        return kern_h(grid.v, grid.h, log_m, K - 1.0, log_s_eval)

    return math.log(K) + refined_trapezoid(evaluate, h)


@numba.njit(cache=True)
def law_summary(log_s, log_p, log_s_eval):
    """For :func:`log_curation_factor_nodes`, in one pass: ``(log sum p, log E_p[s]`` of the
    normalized law, whether every mass is positive, the smallest ``log s`` among the atoms
    of positive mass and the points, ``max(0, largest point))`` (``-inf`` totals allowed;
    :func:`law_summary_numpy`: the numpy twin)."""
    n = log_p.shape[0]
    top = -np.inf
    top_s = -np.inf
    lo = np.inf
    all_finite = True
    for k in range(n):
        lp = log_p[k]
        if lp > -np.inf:
            top = max(top, lp)
            top_s = max(top_s, lp + log_s[k])
            lo = min(lo, log_s[k])
        else:
            all_finite = False
    acc = 0.0  # compensated sums (Neumaier): summed in order, the 262144 atoms of the 512^2
    # benchmark grid lost 1.8e-14 in log sum p (and the direct mode as much per cell)
    acc_s = 0.0
    comp = 0.0
    comp_s = 0.0
    if top > -np.inf:
        for k in range(n):
            e = math.exp(log_p[k] - top)
            t = acc + e
            comp += (acc - t) + e if acc >= e else (e - t) + acc
            acc = t
            e = math.exp(log_p[k] + log_s[k] - top_s)
            t = acc_s + e
            comp_s += (acc_s - t) + e if acc_s >= e else (e - t) + acc_s
            acc_s = t
        acc += comp
        acc_s += comp_s
    log_z = top + math.log(acc) if top > -np.inf else top
    log_mean_s = (top_s + math.log(acc_s) - log_z) if top > -np.inf else -np.inf
    hi = 0.0
    for i in range(log_s_eval.shape[0]):
        lo = min(lo, log_s_eval[i])
        hi = max(hi, log_s_eval[i])
    return log_z, log_mean_s, all_finite, lo, hi


def law_summary_numpy(log_s, log_p, log_s_eval):
    """Pure numpy twin of :func:`law_summary`."""
    log_z = log_sum_exp(log_p)
    log_mean_s = log_sum_exp(log_p - log_z + log_s)
    finite = np.isfinite(log_p)
    lo = min(float(log_s[finite].min()) if finite.any() else math.inf,
             float(log_s_eval.min()) if log_s_eval.size else math.inf)
    hi = max(0.0, float(log_s_eval.max()) if log_s_eval.size else 0.0)
    return log_z, log_mean_s, bool(finite.all()), lo, hi


def log_sum_exp(a):
    """``log sum exp(a)`` of a float array (``-inf`` when every entry is ``-inf``)."""
    a = np.asarray(a, dtype=np.float64)
    top = a.max()
    if not np.isfinite(top):
        return top
    return float(top + np.log(np.exp(a - top).sum()))
