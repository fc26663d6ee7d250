"""One application of the curation operator, on arrays of any shape (THEORY.md L1-L3, sec. 4).

Examples
--------
>>> import math, numpy as np
>>> from numerics import curation_factor, curate, retrain_step
>>> mass = np.array([0.5, 0.25, 0.25]); reward = np.array([0.0, 1.0, 2.0])
>>> H = curation_factor(mass, reward, K=2)
>>> float(np.dot(mass, H))          # P1: E_p[H] = 1
1.0
>>> curate(mass, reward, K=math.inf).round(4)   # L3: p e^r / E_p[e^r]
array([0.1652, 0.2245, 0.6103])
"""

from __future__ import annotations

import math

import numpy as np

from .curators import BradleyTerry, Rule, as_rule
from .engine import CurationEngine, resolved
from .joint import JointEngine
from .threads import serial_blas
from .validation import as_mass, as_reward, check_K, check_lam, check_data

__all__ = ["curation_factor", "curate", "retrain_step"]


#: the default ``lam`` (curated data only); compared by identity to tell
#: ``retrain_step(mass, rule, lam, data)`` from the old positional form
_DEFAULT_LAM = math.inf


def _prepare(mass, reward, K):
    m = as_mass(mass, "mass")
    r = as_reward(reward, m.shape, "reward")
    K = check_K(K)
    return m, r, K


def _rule_path(rule):
    """How a curation rule is computed: ``"engine"`` (one reward that does not change: the
    compressed reward law, with the rule's ``log_factor``), or ``"joint"`` (several rewards,
    filters, rewards changing with ``t``: :class:`numerics.joint.JointEngine`, exact per joint
    atom)."""
    return "engine" if rule.one_reward and not rule.varies else "joint"


def engine_for_rule(rule, reward, model, data, lam, method, resolution):
    """A :class:`CurationEngine` for a one-reward rule (L1-L5; L5 in the direct mode, which
    it needs: the exact reward law, ties included)."""
    if isinstance(rule, BradleyTerry):
        return CurationEngine(reward, model, data, rule.K, lam, method=method,
                              resolution=resolution)
    return CurationEngine(reward, model, data, rule.K, lam,
                          method="direct" if rule.needs_direct else method,
                          resolution=resolution, log_factor=rule.log_factor)


def _log_factor_everywhere(eng, flat_r):
    """``log H`` at every cell: the engine's value on the support, and for cells outside it
    (``H`` is still defined through ``r(x)``) evaluated directly at their distinct rewards."""
    log_h = eng.log_factor_at_cells()
    outside = np.isnan(log_h)
    if outside.any():
        vals, inv = np.unique(flat_r[outside], return_inverse=True)
        log_h[outside] = eng.log_factor(vals - eng.r_max)[inv]
    return log_h


def _factor_on(make_engine, flat_r, shape):
    """``H`` at every cell from the engine ``make_engine(resolution)`` (restarted on a finer
    resolution if it loses it); ``OverflowError`` where ``H`` exceeds float64."""
    out, _, _ = resolved(make_engine, lambda eng: _log_factor_everywhere(eng, flat_r))
    with np.errstate(over="ignore"):
        res = np.exp(out)
    if not np.all(np.isfinite(res)):
        raise OverflowError("curation_factor overflows float64 at a zero-mass cell whose reward "
                            "lies far above the support of mass")
    return res.reshape(shape)


def _rule_factor(mass, rule, method):
    m = as_mass(mass, "mass")
    if _rule_path(rule) == "joint":
        eng = JointEngine(rule, m.ravel(), None, math.inf, m.shape, all_cells=True)
        return np.exp(eng.log_factor_at_cells()).reshape(m.shape)
    r = as_reward(rule.rewards_at(0, m.shape)[0], m.shape, "reward")
    flat_m, flat_r = m.ravel(), r.ravel()

    return _factor_on(lambda res: engine_for_rule(rule, flat_r, flat_m, None, math.inf,
                                                  method, res), flat_r, m.shape)


def _rule_step(mass, rule, lam, data, method):
    m = as_mass(mass, "mass")
    lam = check_lam(lam)
    d = check_data(data, lam, m.shape)
    flat_d = None if d is None else d.ravel()
    if _rule_path(rule) == "joint":
        eng = JointEngine(rule, m.ravel(), flat_d, lam, m.shape)
        eng.advance()
        return eng.materialize().reshape(m.shape)
    r = as_reward(rule.rewards_at(0, m.shape)[0], m.shape, "reward")

    def step(eng):
        eng.advance()
        return eng.snapshot().materialize()

    out, _, _ = resolved(lambda res: engine_for_rule(rule, r.ravel(), m.ravel(), flat_d, lam,
                                                     method, res), step)
    return out.reshape(m.shape)


@serial_blas
def curation_factor(mass, reward, K=None, *, method="auto"):
    r"""The curation factor ``H_p^K`` at every cell (THEORY.md L1-L3).

    .. math::

        H_p^K(x) = K \int_0^\infty e^{r(x)} \exp(-u e^{r(x)}) M_p(u)^{K-1}\,du,
        \qquad M_p(u) = E_p[\exp(-u e^{r})]   \quad (L2),

    and ``H_p^\infty(x) = e^{r(x)} / E_p[e^r]`` (L3).  Equal to
    ``E[K e^{r(x)} / (e^{r(x)} + \sum_{i<K} e^{r(X_i)})]`` for integer ``K`` (L1).

    Parameters
    ----------
    mass : array_like, any shape
        Non-negative finite masses of ``p`` (normalized internally).
    reward : array_like, same shape
        Finite rewards ``r(x)``.
    K : float
        Number of samples compared, real ``>= 1`` or ``math.inf``.
    method : {"auto", "direct", "compressed"}
        ``"direct"`` evaluates L2 at every distinct reward of the support;
        ``"compressed"`` uses Gauss rules per reward panel and interpolation (exact to
        ~1e-12, tested against ``"direct"``); ``"auto"`` picks by size.

    ``reward`` may also be a curation rule of :mod:`numerics.curators` (L4 Plackett-Luce,
    L5 top-k, L6 filtering, mixtures of user types), with ``K`` left out: ``H`` of that rule
    (a mixture's ``H = sum_u pi_u H_u``, each on the law of its own reward).

    Returns
    -------
    ndarray shaped like ``mass``: ``H_p^K`` at every cell, including cells of zero mass.

    Raises
    ------
    ValidationError
        (a ``ValueError``) ``mass`` empty, negative, NaN, infinite or of zero total; ``reward``
        not shaped like ``mass``, NaN or infinite; ``K`` NaN or ``< 1``.
    ValidationTypeError
        (a ``TypeError``) ``mass`` or ``reward`` not an array of real numbers; ``K`` not a real
        number.
    TypeError
        ``K`` missing with a reward array, or given with a curation rule (:func:`as_rule`).
    ValueError
        ``method`` not one of ``"auto"``, ``"direct"``, ``"compressed"``; a curation rule's
        reward invalid on this grid (``accept`` outside ``[0, 1]`` or 0 on the whole support, a
        per-step reward sequence too short).
    OverflowError
        ``H`` exceeds float64 at a zero-mass cell whose reward lies far above the support of
        ``mass``.

    See Also
    --------
    curate : the normalized law of the kept sample, ``p H_p^K``.
    retrain_step : one step of the loop, with real data.
    numerics.exact.curation_factor_exact : the rational L1 oracle.
    numerics.curators : curation rules other than Bradley-Terry (L4-L6, user types).

    References
    ----------
    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    Lemma 2.1: L1; ``K = inf``: L3.

    docs/theory.md L1-L3 (L2, the Laplace form, is derived there).
    """
    rule = as_rule(reward, K)
    if not isinstance(rule, BradleyTerry) or rule.varies:
        return _rule_factor(mass, rule, method)
    m, r, K = _prepare(mass, reward if not isinstance(reward, BradleyTerry)
                       else rule.reward_spec.value, rule.K)
    flat_m, flat_r = m.ravel(), r.ravel()

    return _factor_on(lambda res: CurationEngine(flat_r, flat_m, None, K, math.inf,
                                                 method=method, resolution=res), flat_r, m.shape)


def curate(mass, reward, K=None, *, method="auto"):
    r"""The law of the kept sample, ``C_K(p) = p H_p^K`` (THEORY.md L1), normalized.

    Same parameters as :func:`curation_factor` (``reward`` may be a curation rule);
    returns masses shaped like ``mass``.

    Raises
    ------
    ValidationError, ValidationTypeError, TypeError, ValueError, OverflowError
        as :func:`curation_factor`.

    See Also
    --------
    curation_factor : ``H_p^K`` itself.
    retrain_step : ``C_K(p)`` mixed with real data.
    numerics.exact.curate_exact : the rational L1 oracle.

    References
    ----------
    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    Lemma 2.1: L1.

    docs/theory.md L1-L3.
    """
    return retrain_step(mass, reward, K, math.inf, None, method=method)


@serial_blas
def retrain_step(mass, reward, K=None, lam=_DEFAULT_LAM, data=None, *, method="auto"):
    r"""One retraining step ``T(p) = (p_d + lam C_K(p)) / (1 + lam)`` (THEORY.md sec. 4).

    ``lam = math.inf`` (default) is curated data only, ``C_K(p)``; a finite ``lam >= 0`` needs
    ``data`` (the real-data masses ``p_d``, same shape as ``mass``).

    ``reward`` may be a curation rule of :mod:`numerics.curators` (then ``K`` is left out:
    ``retrain_step(mass, rule, lam=lam, data=data)``).

    Returns the normalized masses of the next model, shaped like ``mass``.

    Raises
    ------
    ValidationError
        (a ``ValueError``) ``mass`` empty, negative, NaN, infinite or of zero total; ``reward``
        not shaped like ``mass``, NaN or infinite; ``K`` NaN or ``< 1``.
    ValidationTypeError
        (a ``TypeError``) ``mass`` or ``reward`` not an array of real numbers; ``K`` not a real
        number.
    TypeError
        ``K`` missing with a reward array, or given with a curation rule (:func:`as_rule`).
    ValidationError
        (a ``ValueError``) ``lam`` NaN or ``< 0``; ``data`` missing with a finite ``lam``, or
        invalid like ``mass`` (negative, NaN, zero total, another shape).
    ValidationTypeError
        (a ``TypeError``) ``lam`` not a real number.
    ValueError
        ``method`` not one of ``"auto"``, ``"direct"``, ``"compressed"``; a curation rule's
        reward invalid on this grid (``accept`` outside ``[0, 1]`` or 0 on the whole support, a
        per-step reward sequence too short).

    See Also
    --------
    evolve : many steps, with the per-step moments.
    limit : the limit of the loop, solved directly.
    numerics.exact.retrain_step_exact : the rational oracle.

    References
    ----------
    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    Theorem 2.3 (T6.increment), Theorem 2.4 (T10); T5-T9 with real data.

    docs/theory.md section 4.
    """
    if isinstance(reward, Rule) and K is not None:
        # retrain_step(mass, rule, lam, data): the arguments after the rule move up one place
        K, lam, data = None, K, (data if lam is _DEFAULT_LAM else lam)
    rule = as_rule(reward, K)
    if not isinstance(rule, BradleyTerry) or rule.varies:
        return _rule_step(mass, rule, lam, data, method)
    if isinstance(reward, BradleyTerry):
        reward, K = rule.reward_spec.value, rule.K
    m, r, K = _prepare(mass, reward, K)
    lam = check_lam(lam)
    d = check_data(data, lam, m.shape)
    flat_d = None if d is None else d.ravel()

    def step(eng):
        eng.advance()
        return eng.snapshot().materialize()

    out, _, _ = resolved(lambda res: CurationEngine(r.ravel(), m.ravel(), flat_d, K, lam,
                                                    method=method, resolution=res), step)
    return out.reshape(m.shape)
