r"""Limits of the loop with several user types at ``K = inf`` (THEORY.md T12, T13), solved
directly on the joint law of their rewards.

- **T12** (no real data): the limit maximizes ``Phi(p) = sum_u pi_u log E_p[e^{r_u}]`` over laws
  on the support of ``p_0``.  ``Phi`` depends on ``p`` only through ``Z = (E_p[e^{r_u}])_u``,
  so a maximizer sits on few joint atoms: an active-set method (Newton on the face of the
  simplex spanned by the active atoms, the atom with the largest
  ``g(x) = sum_u pi_u e^{r_u(x)}/Z_u`` added while ``g > 1``) solves it to rounding, and its
  KKT conditions (``g = 1`` on the support of the limit, ``g <= 1`` elsewhere on the support
  of ``p_0``) are reported (``info["kkt_support"]``, ``info["kkt_outside"]``).  Within a joint
  atom the limit keeps ``p_0``'s proportions.
- **T13** (real data, ``lam < inf``): ``p = p_d / (1 + lam - lam g)`` with ``Z_u = E_p[e^{r_u}]``:
  ``U`` scalar equations ``F_u(Z) = E_{p_d}[e^{r_u} / D] - Z_u = 0``, ``D = 1 + lam - lam g``,
  solved by damped Newton in ``log Z`` (``D > 0`` kept on the support of ``p_d``) from a few
  iterates of the loop.  On a grid ``D > 0`` always; condensation shows as ``min D`` near 0
  (``info["top_gap"] = min D / (1 + lam)``).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.optimize

from .curators import BradleyTerry, Filtering, PlackettLuce, Rule, TopK
from .joint import JointEngine
from .limits.result import CONDENSED_GAP, Limit, LimitMethod

__all__ = ["limit_rule", "solve_t12", "solve_t13", "phi_potential"]

#: T12 is solved when ``max g <= 1 + KKT_TOL`` off the support (and ``|g - 1|`` on it)
KKT_TOL = 1e-13
#: T13 is solved when ``max_u |F_u| / Z_u`` is below this
T13_TOL = 1e-14
#: iterates of the loop that give T13's Newton method its start
T13_START = 50


def _k_inf_parts(rule):
    parts = rule.components()
    for _, r in parts:
        if not (isinstance(r, Filtering) or (isinstance(r, BradleyTerry) and math.isinf(r.K))):
            raise ValueError(f"limit of a rule with user type {r!r}: T12/T13 need K = inf for "
                             "every user type (bradley_terry(r, math.inf) or filtering)")
    if rule.varies:
        raise ValueError("limit of a rule whose reward changes with t is not defined")
    return parts


def phi_potential(p, a, pi):
    """``Phi(p) = sum_u pi_u log E_p[a_u]`` (T12) for masses ``p`` (atoms), ``a`` (atoms x U).

    Raises
    ------
    ValueError
        ``p`` not numeric, or ``p``, ``a`` and ``pi`` of disagreeing sizes (numpy's product).
    AttributeError
        ``a`` not an array (a list has no ``.T``).  Masses of zero total give NaN, not an
        error: the arguments are trusted (built by :func:`limit_rule` or a check).

    See Also
    --------
    solve_t12 : the maximizer of ``Phi``.
    theory.rule_checks.check_t12 : ``Phi`` non-decreasing along a run.

    References
    ----------
    Zhao, Fu, Pham (2025), arXiv 2511.09002 (heterogeneous curators).

    Falahati et al. (2026), arXiv 2605.07724 (heterogeneous curators; the limit as a weighted
    Nash bargaining solution).

    docs/theory.md T12 (the potential).
    """
    p = np.asarray(p, dtype=np.float64)
    return float(np.dot(pi, np.log(a.T @ (p / p.sum()))))


def _face_newton(A, pi, w, max_iter=200):
    """Maximize ``sum_u pi_u log (A^T w)_u`` over the simplex on the rows of ``A`` (damped
    Newton with the equality constraint; rows whose weight reaches 0 are dropped).
    Returns ``(rows kept, weights)``."""
    rows = np.arange(A.shape[0])
    for _ in range(max_iter):
        Z = A[rows].T @ w
        grad = A[rows] @ (pi / Z)
        Q = (A[rows] * (pi / Z ** 2)) @ A[rows].T
        n = rows.size
        kkt = np.zeros((n + 1, n + 1))
        kkt[:n, :n], kkt[:n, n], kkt[n, :n] = Q, 1.0, 1.0
        rhs = np.concatenate([grad, [0.0]])
        dw = np.linalg.lstsq(kkt, rhs, rcond=None)[0][:n]
        dw -= dw.sum() / n  # exact feasibility (sum dw = 0)
        neg = dw < 0
        alpha = 1.0
        if neg.any():
            alpha = min(1.0, float(np.min(-w[neg] / dw[neg])))
        if alpha <= 0.0:
            drop = neg & (w <= 0)
            rows, w = rows[~drop], w[~drop]
            continue
        new = w + alpha * dw
        f0 = float(pi @ np.log(Z))
        while alpha < 1.0 or True:
            Zn = A[rows].T @ new
            if np.all(Zn > 0) and float(pi @ np.log(Zn)) >= f0 - 1e-15 * abs(f0):
                break
            alpha *= 0.5
            new = w + alpha * dw
            if alpha < 1e-12:
                break
        w = np.maximum(new, 0.0)
        keep = w > 1e-300
        if not keep.all():
            rows, w = rows[keep], w[keep]
        w /= w.sum()
        # stationary on the face: g = sum_u pi_u a_u / Z_u is 1 on its rows (sum_x w g = 1)
        g_rows = A[rows] @ (pi / (A[rows].T @ w))
        if float(np.max(np.abs(g_rows - 1.0))) <= 0.1 * KKT_TOL:
            break
        if float(np.max(np.abs(alpha * dw))) <= 4 * np.finfo(float).eps * float(w.max()):
            break  # the step is below the rounding of the weights
    return rows, w


def _segment_step(Z, a_j, pi):
    """The best ``t`` in ``[0, 1]`` on the segment from ``Z`` to the atom ``a_j`` (the exact
    line search of a Frank-Wolfe step): the root of the decreasing
    ``d(t) = sum_u pi_u (a_ju - Z_u) / ((1 - t) Z_u + t a_ju)``, ``d(0) = g_j - 1 > 0``.

    It gives the new atom its weight at once: from weight 0 the face Newton gains only about
    ``Z_u`` per iteration in a coordinate where ``Z_u`` is tiny (``e^{r_u}`` spanning many
    orders), and the active set stalled there."""
    def d(t):
        return float(pi @ ((a_j - Z) / ((1.0 - t) * Z + t * a_j)))
    with np.errstate(divide="ignore", invalid="ignore"):
        end = d(1.0)
    if end >= 0.0:
        return 1.0
    hi = 1.0
    if not math.isfinite(end):   # a_ju = 0 (a filter's a = 0): d -> -inf at t = 1
        hi = 0.5
        while d(hi) >= 0.0 and hi < 1.0 - 4 * np.finfo(float).eps:
            hi = 1.0 - 0.5 * (1.0 - hi)
    return scipy.optimize.brentq(d, 0.0, hi, xtol=1e-16, rtol=4 * np.finfo(float).eps)


def solve_t12(a, pi, max_rounds=200):
    """The maximizer of ``Phi`` over the atoms (T12): ``(weights per atom, info)``; ``a``:
    atoms x U matrix of ``e^{r_u - max r_u}`` (0 for a filter's ``a = 0``).

    Raises
    ------
    ValueError
        ``a`` or ``pi`` not numeric, ``a`` not 2-D, or ``pi`` not one weight per column of
        ``a`` (numpy's product).
    LinAlgError
        a column of ``a`` all zero (a user type that keeps no atom: ``Z_u = 0``, and the
        Newton system is not finite; ``numpy.linalg.LinAlgError``, a ``ValueError``).  The
        arguments are otherwise trusted (built by :func:`limit_rule`); not reaching the KKT
        tolerance in ``max_rounds`` is reported in ``info`` (``kkt_support``,
        ``kkt_outside``), not raised.

    See Also
    --------
    limit_rule : builds ``a`` from a rule and maps the weights back to the grid.
    phi_potential : the objective.
    solve_t13 : the same users with real data.

    References
    ----------
    Zhao, Fu, Pham (2025), arXiv 2511.09002 (heterogeneous curators).

    Falahati et al. (2026), arXiv 2605.07724 (heterogeneous curators; the limit as a weighted
    Nash bargaining solution).

    docs/theory.md T12 and T12.kkt.
    """
    a = np.asarray(a, dtype=np.float64)
    pi = np.asarray(pi, dtype=np.float64)
    with np.errstate(divide="ignore"):
        start = int(np.argmax(np.log(a) @ pi))
    active = np.array([start])
    w = np.array([1.0])
    for rounds in range(max_rounds):
        rows, w = _face_newton(a[active], pi, w)
        active = active[rows]
        Z = a[active].T @ w
        g = a @ (pi / Z)
        outside = np.ones(a.shape[0], dtype=bool)
        outside[active] = False
        if not outside.any():
            break
        j = int(np.flatnonzero(outside)[np.argmax(g[outside])])
        if g[j] <= 1.0 + KKT_TOL:
            break
        t = _segment_step(Z, a[j], pi)
        active = np.append(active, j)
        w = np.append((1.0 - t) * w, t)
    weights = np.zeros(a.shape[0])
    weights[active] = w
    Z = a.T @ weights
    g = a @ (pi / Z)
    on = weights > 0
    info = {"Z_scaled": Z, "phi_scaled": float(pi @ np.log(Z)), "support_atoms": int(on.sum()),
            "kkt_support": float(np.max(np.abs(g[on] - 1.0))),
            "kkt_outside": float(np.max(g[~on] - 1.0, initial=0.0)) if (~on).any() else 0.0,
            "rounds": rounds + 1}
    return weights, info


def solve_t13(a, pi, d, lam, Z0, max_iter=100):
    """T13's ``U`` equations ``E_{p_d}[a_u / D] = Z_u``, ``D = 1 + lam - lam sum_v pi_v
    a_v / Z_v``, by damped Newton in ``log Z`` from ``Z0``: ``(Z, masses per atom, info)``.

    Raises
    ------
    ArithmeticError
        the start ``Z0`` puts ``1 + lam - lam g <= 0`` on an atom of ``d``; Newton's line
        search fails.
    ValueError
        ``a``, ``pi``, ``d`` or ``Z0`` not numeric or of disagreeing sizes (numpy).  The
        arguments are otherwise trusted (built by :func:`limit_rule`).

    See Also
    --------
    limit_rule : builds ``a``, ``d`` and a start ``Z0`` from iterates of the loop.
    solve_t12 : the same users without real data.
    numerics.limits.solve.limit : T8 and T9, one user type.

    References
    ----------
    Zhao, Fu, Pham (2025), arXiv 2511.09002 (heterogeneous curators).

    Falahati et al. (2026), arXiv 2605.07724 (heterogeneous curators; the limit as a weighted
    Nash bargaining solution).

    Kingman (1978), *A simple model for the balance between selection and mutation*,
    J. Appl. Prob. 15:
    T8, which T13 generalizes to ``U`` user types.

    docs/theory.md T13.
    """
    a, pi, d = (np.asarray(x, dtype=np.float64) for x in (a, pi, d))
    z = np.log(np.asarray(Z0, dtype=np.float64))

    def residual(z):
        Z = np.exp(z)
        D = 1.0 + lam - lam * (a @ (pi / Z))
        if np.any(D <= 0):
            return None, None, None
        F = (a.T @ (d / D)) / Z - 1.0
        return F, D, Z

    F, D, Z = residual(z)
    if F is None:
        raise ArithmeticError("T13: the start puts 1 + lam - lam g <= 0 on the support of data")
    it = 0
    for it in range(max_iter):
        if float(np.max(np.abs(F))) <= T13_TOL:
            break
        # d F_u / d z_v = -lam pi_v E_d[a_u a_v / D^2] / (Z_u Z_v) - delta_uv (F_u + 1)
        J = -lam * ((a * (d / D ** 2)[:, None]).T @ a) * (pi / Z)[None, :] / Z[:, None]
        J -= np.diag(F + 1.0)
        step = np.linalg.solve(J, -F)
        t = 1.0
        while True:
            Fn, Dn, Zn = residual(z + t * step)
            if Fn is not None and (np.max(np.abs(Fn)) < np.max(np.abs(F)) or t < 1e-3):
                break
            t *= 0.5
            if t < 1e-12:
                raise ArithmeticError("T13: Newton's line search failed")
        z, F, D, Z = z + t * step, Fn, Dn, Zn
    p = d / D
    info = {"Z_scaled": Z, "residual": float(np.max(np.abs(F))), "iterations": it,
            "mass_defect": float(p.sum() - 1.0), "min_denominator": float(D[d > 0].min()),
            "top_gap": float(D[d > 0].min() / (1.0 + lam))}
    return Z, p / p.sum(), info


def _all_k_inf(rule):
    return all(isinstance(r, Filtering) or (isinstance(r, BradleyTerry) and math.isinf(r.K))
               for _, r in rule.components())


def limit_rule(mass, rule, lam, data):
    """:func:`numerics.limit` for a curation rule other than one Bradley-Terry user type.

    - every user type ``K = inf`` (or a filter): T12 (``lam = inf``), T13 (finite ``lam``),
      solved on the joint law of the rewards;
    - one reward with a finite ``K`` (L4, L5), ``lam = inf``: T3.rules, ``p_0`` on its top
      level set (``p_0`` itself when every draw is kept, ``keep = K``);
    - otherwise, finite ``lam > 0``: the exact step iterated to its fixed point with Anderson
      acceleration (:mod:`numerics.limits.iterated`); ``lam = 0``: ``p_d``.

    Raises
    ------
    TypeError
        ``rule`` not a curation rule of :mod:`numerics.curators`.
    ValueError
        a rule whose reward changes with ``t``; ``mass`` outside the support of ``data``
        (finite ``lam > 0``); a mixture with a finite ``K`` and ``lam = inf`` (no known
        limit).
    ValidationError
        (a ``ValueError``) ``mass`` empty, negative, NaN, infinite or of zero total; ``lam``
        NaN or ``< 0``; ``data`` invalid like ``mass`` or of another shape; the rule's
        rewards not shaped like ``mass``.
    ValidationTypeError
        (a ``TypeError``) ``mass`` not an array of real numbers; ``lam`` not a real number.
    ArithmeticError
        T13's Newton method fails (:func:`solve_t13`).

    See Also
    --------
    numerics.limits.solve.limit : the public entry (``limit(mass, rule, lam, data)``).
    solve_t12, solve_t13 : the ``K = inf`` solvers.
    theory.rule_checks.check_t12_kkt : the KKT conditions at the solved limit.

    References
    ----------
    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    Theorem 2.1 (T3: here T3.rules, ``lam = inf`` with L4, L5).

    Zhao, Fu, Pham (2025), arXiv 2511.09002 (heterogeneous curators).

    Falahati et al. (2026), arXiv 2605.07724 (heterogeneous curators; the limit as a weighted
    Nash bargaining solution).

    docs/theory.md T12, T13 (and T3.rules; finite ``K`` with real data: the accelerated
    iteration).
    """
    from .validation import as_mass, check_data, check_lam
    if not isinstance(rule, Rule):
        raise TypeError("limit_rule needs a curation rule")
    if rule.varies:
        raise ValueError("limit of a rule whose reward changes with t is not defined")
    m = as_mass(mass)
    lam = check_lam(lam)
    d = check_data(data, lam, m.shape, default=m)
    if not _all_k_inf(rule):
        return _limit_finite_k_rule(m, rule, lam, d)
    parts = _k_inf_parts(rule)
    pi = np.array([w for w, _ in parts])
    if math.isinf(lam) or lam == 0:
        src = m if math.isinf(lam) else d
        eng = JointEngine(rule, src.ravel() / src.sum(), None, math.inf, m.shape)
    else:
        if ((m > 0) & ~(d > 0)).any():
            raise ValueError("mass puts mass outside the support of data; the fixed point "
                             "solved by limit() is the one supported on supp(data)")
        eng = JointEngine(rule, d.ravel() / d.sum(), None, math.inf, m.shape)
    R = eng.atom_r.T                              # atoms x U
    tops = np.array([float(np.max(col[np.isfinite(col)])) for col in R.T])
    with np.errstate(invalid="ignore"):
        a = np.where(np.isfinite(R), np.exp(R - tops[None, :]), 0.0)
    base = eng.bases[0]
    w0 = np.exp(base["log_w"])                    # the atoms' masses (p_0 or p_d)
    cells, inv = eng.cells, eng.inv
    src = (m if math.isinf(lam) else d).ravel()
    src = src / src.sum()

    def on_grid(atom_mass):
        out = np.zeros(src.shape)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(w0 > 0, atom_mass / w0, 0.0)
        out[cells] = src[cells] * ratio[inv]
        return (out / out.sum()).reshape(m.shape)

    r1 = R[:, 0]
    if lam == 0:
        p_atoms = w0
        info = {"detail": "lam = 0: p_d"}
        method, detail = LimitMethod.CLOSED_FORM, "p_d (lam = 0)"
    elif math.isinf(lam):
        held = w0 > 0
        weights, info = solve_t12(a[held], pi)
        p_atoms = np.zeros(w0.size)
        p_atoms[np.flatnonzero(held)] = weights
        method = LimitMethod.SCALAR_EQUATION
        detail = (f"T12: maximizer of sum_u pi_u log E_p[e^(r_u)] (active set, "
                  f"{info['support_atoms']} joint atoms)")
        info["Z"] = info["Z_scaled"] * np.exp(tops)
        info["phi"] = float(pi @ np.log(info["Z"]))
    else:
        start = JointEngine(rule, d.ravel(), None, lam, m.shape)
        for _ in range(T13_START):
            start.advance()
        ps = np.exp(start.log_p())
        # the start engine has the same atoms (same rule, same support): map by reward tuple
        Z0 = np.maximum(ps @ np.where(np.isfinite(start.atom_r.T),
                                      np.exp(start.atom_r.T - tops[None, :]), 0.0), 1e-300)
        Z, p_atoms, info = solve_t13(a, pi, w0, lam, Z0)
        method = LimitMethod.FIXED_POINT
        detail = f"T13: U = {pi.size} scalar equations for Z_u, Newton in log Z"
        info["Z"] = Z * np.exp(tops)
    mass_out = on_grid(p_atoms)
    held = p_atoms > 0
    r_star = float(r1[held].max()) if held.any() else float("nan")
    top_mass = float(p_atoms[np.isfinite(r1) & (r1 == r_star)].sum())
    s1 = a[:, 0]
    condensed = bool(info.get("top_gap", 1.0) <= CONDENSED_GAP)
    info["kind"] = "T12" if math.isinf(lam) else ("T13" if lam > 0 else "closed form")
    converged = _converged(info, lam)
    if not converged:
        detail += f" - NOT CONVERGED ({_residual_text(info)})"
    return Limit(mass_out, 0.0, top_mass, condensed, float(p_atoms @ s1), float(tops[0]),
                 float(tops[0]), method, detail, converged, info)


#: a T12 limit is accepted when its KKT conditions hold to this (on and off the support)
ACCEPT_KKT = 1e-9


def _converged(info, lam):
    """T12: the KKT residuals of the returned weights are within :data:`ACCEPT_KKT` (the
    active-set solver stops at ``max_rounds`` without raising; this says whether it got
    there); T13: Newton met its tolerance (``solve_t13`` raises otherwise)."""
    if math.isinf(lam):
        return bool(info["kkt_support"] <= ACCEPT_KKT and info["kkt_outside"] <= ACCEPT_KKT)
    return True


def _residual_text(info):
    return (f"KKT residual {info['kkt_support']:.2g} on the support, "
            f"{info['kkt_outside']:.2g} outside")


# ----------------------------------------------------------------------------------------
# finite K: T3.rules (lam = inf) and the accelerated iteration of T (finite lam)
# ----------------------------------------------------------------------------------------


def _grid_limit(mass, r, sup, method, detail, converged, info, condensed=False):
    """A :class:`Limit` on the grid: ``mass`` (normalized) with the first user type's reward
    ``r`` (same shape) and the support ``sup`` it is measured on (``r_*``, the top cells'
    mass, ``E[e^{r - c}]``)."""
    from .limits.solve import _shift
    r_star = float(r[sup].max())
    c = _shift(r_star)
    return Limit(mass, 0.0, float(mass[r == r_star].sum()), condensed,
                 float(mass[sup] @ np.exp(r[sup] - c)), c, r_star, method, detail, converged,
                 info)


def _limit_finite_k_rule(m, rule, lam, d):
    p0 = m / m.sum()
    one = rule.one_reward and isinstance(rule, (BradleyTerry, PlackettLuce, TopK))
    r = np.asarray(rule.rewards_at(0, m.shape)[0], dtype=np.float64)
    if math.isinf(lam):
        if not one:
            raise ValueError(f"limit of {rule!r} with lam = inf: no limit is known for a "
                             "mixture of user types with a finite K and no real data (T12 "
                             "needs K = inf for every user type); iterate with evolve(), or "
                             "give a finite lam")
        sup = p0 > 0
        if getattr(rule, "keep", 1) == rule.K:     # every draw kept: H = 1, p_t = p_0
            out, detail = p0, f"{rule!r} keeps every draw: H = 1, the start (T3.rules)"
        else:
            out = np.where(sup & (r == r[sup].max()), p0, 0.0)
            out = out / out.sum()
            detail = "p_0 restricted to its top level set (T3.rules)"
        return _grid_limit(out, r, sup, LimitMethod.CLOSED_FORM, detail, True,
                           {"kind": "T3.rules"})
    dd = d / d.sum()
    if lam == 0:
        return _grid_limit(dd, r, dd > 0, LimitMethod.CLOSED_FORM, "p_d (lam = 0)", True,
                           {"kind": "closed form"})
    if ((m > 0) & ~(d > 0)).any():
        raise ValueError("mass puts mass outside the support of data; the fixed point "
                         "solved by limit() is the one supported on supp(data)")
    return _iterated_limit(rule, lam, dd, one)


def _iterated_limit(rule, lam, dd, one):
    """T's fixed point for ``rule`` by the accelerated iteration of the exact engine, started
    at ``p_d`` (so that ``p = p_d e^L``: ``e^L = 1 / (1 + lam - lam H)`` at the fixed point)."""
    from .curation import engine_for_rule
    from .engine import resolved
    from .limits import iterated
    from .pair_law import compressed_pair_engine, smooth_static
    shape = dd.shape
    flat_d = dd.ravel()
    r1 = np.asarray(rule.rewards_at(0, shape)[0], dtype=np.float64).ravel()
    pairs = not one and smooth_static(rule)     # the layout compares the reward arrays

    def make(resolution):
        if one:
            return engine_for_rule(rule, r1, flat_d, None, lam, "auto", resolution)
        eng = (compressed_pair_engine(rule, flat_d, None, lam, shape, resolution) if pairs
               else None)
        return eng if eng is not None else JointEngine(rule, flat_d, None, lam, shape)

    def density(eng):
        weights = eng.log_weights()
        if one:
            return eng.materialize([w[:eng.n_cheb] for w in weights], check=True)
        return eng.materialize(weights)

    def solve(eng):
        steps, state_res = iterated.anderson_fixed_point(eng)
        weights = eng.log_weights()
        log_p = eng.law().log_p if one else eng.log_p()
        mass = density(eng)
        desc = (eng.resolution.describe() if one else "joint atoms (exact)"
                if isinstance(eng, JointEngine) else eng.describe())
        tv = iterated.one_step_tv(eng, log_p, mass, density)
        return steps, state_res, weights, mass, tv, desc

    restarts = []
    if one or pairs:
        (steps, state_res, weights, mass, tv, desc), _, restarts = resolved(
            make, solve, restarts=restarts)
    else:
        steps, state_res, weights, mass, tv, desc = solve(make(None))
    # e^L = 1 / (1 + lam - lam H) at the fixed point: the smallest denominator from the
    # largest weight, with no cancellation (it is tiny where the fixed point condenses)
    top_l = max(float(np.max(w)) for w in weights)
    top_gap = math.exp(-top_l) / (1.0 + lam)
    converged = tv < iterated.ACCEPT_TV
    detail = (f"Anderson-accelerated iteration of the exact step ({steps} steps, last move "
              f"{state_res:.1e} in log weights)")
    if not converged:
        detail += f" - NOT CONVERGED (one step moves it by {tv:.2g} in TV)"
    info = {"kind": "iterated", "residual": tv, "top_gap": top_gap, "iterations": steps,
            "min_denominator": (1.0 + lam) * top_gap, "restarts": restarts,
            "resolution": desc}
    return _grid_limit(mass.reshape(shape), r1.reshape(shape), dd > 0,
                       LimitMethod.ACCELERATED_ITERATION, detail, converged, info,
                       condensed=top_gap <= CONDENSED_GAP)
