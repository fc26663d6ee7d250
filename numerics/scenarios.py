"""Built-in scenarios (THEORY.md section 8): a grid, a start density, real data, a reward,
and the loop parameters ``K``, ``lam``, ``steps``.

Grid conventions: ``mass[i]`` (1-D) or ``mass[i, j]`` (2-D) is the probability of the cell
centred at ``axes[0][i]`` (and ``axes[1][j]``), i.e. ``np.meshgrid(*axes, indexing="ij")``;
``reward`` is evaluated at the cell centres.  Where a density is integrated over cells, it
is done exactly (``erf``/incomplete-beta differences), not by sampling it at the centres.

>>> from numerics.scenarios import get_scenario, list_scenarios
>>> sc = get_scenario("gauss1d", K=3, steps=10)
>>> sc.mass.shape == sc.reward.shape
True
>>> [name for name, _ in list_scenarios()][:6]
['gauss1d', 'two-level', 'kingman', 'mog8', 'two-moons', 'classes']
>>> [name for name, _ in list_scenarios()][6:]
['mog8-two-users', 'adversarial']
>>> get_scenario("two-level", delta=2.0).params["delta"]
2.0
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np
from scipy import special

from .reward_law import ContinuousRewardLaw
from .validation import check_K, check_lam, check_steps

__all__ = ["Scenario", "get_scenario", "list_scenarios", "register_scenario", "DEFAULT_SCENARIO",
           "scenario_parameters"]

DEFAULT_SCENARIO = "gauss1d"


@dataclass
class Scenario:
    """Everything a run needs.  ``data = None`` means the real data are the start (``p_d =
    p_0``).  ``axes``: the grid coordinates along each axis (for plots); ``labels``: an
    integer class per cell where the scenario has classes (``label_names`` names them);
    ``continuous``: a :class:`numerics.ContinuousRewardLaw` where the scenario has one."""

    name: str
    description: str
    mass: np.ndarray
    reward: np.ndarray
    K: float
    lam: float
    steps: int
    data: np.ndarray | None = None
    axes: tuple = ()
    labels: np.ndarray | None = None
    label_names: tuple = ()
    continuous: object | None = None
    params: dict = field(default_factory=dict)
    #: a curation rule of :mod:`numerics.curators` (user types, keep-k, filtering); ``None``:
    #: Bradley-Terry with ``reward`` and ``K``.  With a rule, ``reward`` is the reward reported
    #: (``E[r]`` of ``evolve``) and ``K`` the largest ``K`` of its user types.
    rule: object | None = None

    def with_overrides(self, K=None, lam=None, steps=None):
        """A copy with ``K``, ``lam`` or ``steps`` replaced (validated).  With a rule, ``K``
        replaces the ``K`` of every user type that has one (not filtering)."""
        rule = self.rule
        if K is not None:
            K = check_K(K, "K")
            if rule is not None:
                rule = rule_with_K(rule, K)
                K = float(rule.K)
        return replace(self,
                       K=self.K if K is None else K, rule=rule,
                       lam=self.lam if lam is None else check_lam(lam, "lam"),
                       steps=self.steps if steps is None else check_steps(steps, "steps"))

    @property
    def curation(self):
        """What :func:`numerics.evolve` curates with: ``rule`` or
        ``bradley_terry(reward, K)``."""
        if self.rule is not None:
            return self.rule
        from .curators import bradley_terry
        return bradley_terry(self.reward, self.K)


def rule_with_K(rule, K):
    """``rule`` with ``K`` replaced in every user type that has one (filtering keeps
    ``K = inf``); a top-k or Plackett-Luce type needs ``keep <= K``."""
    from .curators import (BradleyTerry, Filtering, PlackettLuce, TopK, bradley_terry,
                           mixture, plackett_luce, top_k)
    parts = []
    for w, r in rule.components():
        value = getattr(r, "reward_spec", None)
        value = getattr(value, "value", None)
        if isinstance(r, BradleyTerry):
            r = bradley_terry(value, K)
        elif isinstance(r, PlackettLuce):
            r = plackett_luce(value, K, r.keep)
        elif isinstance(r, TopK):
            if math.isinf(K):
                raise ValueError(f"K: top_k needs a finite K, got {K:g}")
            r = top_k(value, K, r.keep)
        elif not isinstance(r, Filtering):
            raise ValueError(f"K: cannot replace K in {r!r}")
        parts.append((w, r))
    return parts[0][1] if len(parts) == 1 else mixture(parts)


#: name -> (one-line description, builder(grid=None, **params) -> Scenario)
_REGISTRY: dict[str, tuple[str, Callable[..., Scenario]]] = {}


def register_scenario(name, description):
    """Decorator: register ``builder(grid=None, **params) -> Scenario`` under ``name``.

    Raises
    ------
    TypeError
        ``name`` not hashable (raised when the builder is decorated).  A name already
        registered is replaced.

    See Also
    --------
    get_scenario : build a registered scenario.
    list_scenarios : the registered names.
    scenario_parameters : a builder's parameters.

    References
    ----------
    docs/theory.md section 8 (the scenarios).
    """
    def deco(builder):
        _REGISTRY[name] = (description, builder)
        return builder
    return deco


def list_scenarios():
    """``[(name, one-line description), ...]`` of the built-in scenarios.

    Raises
    ------
    None
        nothing of its own: it lists the registry.

    See Also
    --------
    get_scenario : build one of them.
    register_scenario : add one.

    References
    ----------
    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    the experiments the scenarios follow (2-D mixture of Gaussians, two moons, CIFAR-10
    classes), and Theorem 2.1 (T3).

    Kingman (1978), *A simple model for the balance between selection and mutation*,
    J. Appl. Prob. 15:
    the ``kingman`` scenario (T8's condensation).

    docs/theory.md section 8 (the paper's experiments, and the scenarios in their spirit).
    """
    return [(name, desc) for name, (desc, _) in _REGISTRY.items()]


def scenario_parameters(name):
    """``{parameter: default}`` of the built-in scenario ``name`` (besides ``grid``).

    Raises
    ------
    ValueError
        ``name`` names no registered scenario.
    TypeError
        ``name`` not hashable.

    See Also
    --------
    get_scenario : takes these parameters as keywords.
    list_scenarios : the names.

    References
    ----------
    docs/theory.md section 8 (the scenarios and their parameters).
    """
    sig = inspect.signature(_builder(name))
    return {p.name: p.default for p in sig.parameters.values() if p.name != "grid"}


def _builder(name):
    if name not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY))
        raise ValueError(f"unknown scenario {name!r} (known: {known})")
    return _REGISTRY[name][1]


def get_scenario(name, *, K=None, lam=None, steps=None, grid=None, **params):
    """The built-in scenario ``name`` with optional overrides (``grid`` = cells per axis,
    ``params`` = the scenario's own parameters, see :func:`scenario_parameters`).

    Raises
    ------
    ValueError
        ``name`` names no registered scenario; ``grid`` not an integer ``>= 2``; a name in
        ``params`` that is not a parameter of the scenario; a parameter's value out of its
        range (the message names it).
    TypeError
        ``name`` not hashable; a parameter's value not a real number (named).
    ValidationError
        (a ``ValueError``) ``K`` NaN or ``< 1``; ``lam`` NaN or ``< 0``; ``steps < 0``.
    ValidationTypeError
        (a ``TypeError``) ``K`` or ``lam`` not a real number; ``steps`` not an integer.

    See Also
    --------
    list_scenarios : the names.
    scenario_parameters : the parameters of one.
    theory.check : run a scenario and hold it against docs/theory.md.

    References
    ----------
    Ferbach, Bertrand, Bose, Gidel (2024), *Self-Consuming Generative Models with Curated
    Data Provably Optimize Human Preferences*, NeurIPS 2024, arXiv 2407.09499:
    the experiments the scenarios follow (2-D mixture of Gaussians, two moons, CIFAR-10
    classes), and Theorem 2.1 (T3).

    Kingman (1978), *A simple model for the balance between selection and mutation*,
    J. Appl. Prob. 15:
    the ``kingman`` scenario (T8's condensation).

    Zhao, Fu, Pham (2025), arXiv 2511.09002, and Wei, Zhang (2025), ICML 2025, arXiv
    2505.09768: ``mog8-two-users`` and ``adversarial`` (section 7).

    docs/theory.md section 8 (the paper's experiments, and the scenarios in their spirit).
    """
    builder = _builder(name)
    if grid is not None and (isinstance(grid, bool) or not isinstance(grid, (int, np.integer))
                             or grid < 2):
        raise ValueError(f"grid must be an integer >= 2, got {grid!r}")
    allowed = scenario_parameters(name)
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(f"unknown parameter(s) {', '.join(map(repr, unknown))} for scenario "
                         f"{name!r} (parameters: {', '.join(allowed) or 'none'})")
    sc = builder(grid=None if grid is None else int(grid), **params)
    return sc.with_overrides(K=K, lam=lam, steps=steps)


def _desc(name):
    return _REGISTRY[name][0]


def _real(value, name, *, lo=-math.inf, hi=math.inf, lo_open=False, hi_open=False):
    """``value`` as a float within ``[lo, hi]`` (open ends where asked); errors name it."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    v = float(value)
    ok = math.isfinite(v) and (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)
    if not ok:
        interval = f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
        raise ValueError(f"{name} must be a finite number in {interval}, got {value!r}")
    return v


def _cell_edges(lo, hi, n):
    """``n + 1`` edges and ``n`` centres of the uniform partition of ``[lo, hi]``."""
    edges = np.linspace(lo, hi, n + 1)
    return edges, 0.5 * (edges[:-1] + edges[1:])


def _normal_cells(edges, mean, sd):
    """``P(edges[i] <= X < edges[i+1])`` for ``X ~ N(mean, sd^2)``, for every ``mean`` (rows),
    as differences of ``ndtr`` taken on the tail side where that avoids cancellation."""
    z = (edges[None, :] - np.asarray(mean, dtype=float)[:, None]) / sd
    lower = np.diff(special.ndtr(z), axis=1)
    upper = -np.diff(special.ndtr(-z), axis=1)
    return np.where(z[:, :-1] > 0, upper, lower)


# --------------------------------------------------------------------------- gauss1d
@register_scenario("gauss1d", "1-D Gaussian start N(0,1) on [-6, 6], smooth reward -(x-1)^2/2")
def _gauss1d(grid=None, mean=0.0, sd=1.0, center=1.0, width=6.0):
    mean = _real(mean, "mean")
    sd = _real(sd, "sd", lo=0, lo_open=True)
    center = _real(center, "center")
    width = _real(width, "width", lo=0, lo_open=True)
    n = grid or 1201
    x = np.linspace(-width, width, n)
    mass = np.exp(-0.5 * ((x - mean) / sd) ** 2)
    mass /= mass.sum()
    reward = -0.5 * (x - center) ** 2
    return Scenario("gauss1d", _desc("gauss1d"), mass, reward, K=3.0, lam=math.inf,
                    steps=50, axes=(x,), params=dict(mean=mean, sd=sd, center=center,
                                                     width=width))


# --------------------------------------------------------------------------- two-level
@register_scenario("two-level", "two reward levels 0 and -delta (delta=1), top mass m_star=0.2: "
                                "the rate rho_K(delta) of T3")
def _two_level(grid=None, delta=1.0, m_star=0.2):
    delta = _real(delta, "delta", lo=0, lo_open=True)
    m_star = _real(m_star, "m_star", lo=0, hi=1, lo_open=True, hi_open=True)
    n = grid or 100
    x = (np.arange(n) + 0.5) / n
    n_top = min(max(1, round(n * m_star)), n - 1)
    top = np.arange(n) >= n - n_top                      # the right-most cells
    mass = np.where(top, m_star / n_top, (1 - m_star) / (n - n_top))
    reward = np.where(top, 0.0, -delta)
    return Scenario("two-level", _desc("two-level"), mass, reward, K=4.0, lam=math.inf,
                    steps=200, axes=(x,), params=dict(delta=delta, m_star=m_star))


# --------------------------------------------------------------------------- kingman
def kingman_cell_masses(n, b):
    """Exact masses of the law with density ``b (-r)^{b-1}`` on ``[-1, 0]`` over the ``n``
    cells ``[-u, -u + 1/n]``, ``u = 1, ..., 1/n``:  ``u^b - (u - 1/n)^b``, written
    ``-u^b expm1(b log1p(-1/(n u)))`` to keep every digit (the CDF is ``1 - (-r)^b``)."""
    u = (n - np.arange(n)) / n                           # -(left edge of each cell)
    with np.errstate(divide="ignore"):
        return -(u ** b) * np.expm1(b * np.log1p(-1.0 / (n * u)))


@register_scenario("kingman", "reward law b(-r)^(b-1) on [-1,0], b=3, lam=3, K=inf: "
                              "condensate 0.4845... (T8)")
def _kingman(grid=None, b=3.0):
    b = _real(b, "b", lo=0, lo_open=True)
    n = grid or 1000
    r = -(2.0 * np.arange(n, 0, -1) - 1) / (2 * n)       # midpoints, correctly rounded
    mass = kingman_cell_masses(n, b)
    law = ContinuousRewardLaw(lambda s, b=b: b * (-s) ** (b - 1), -1.0, 0.0)
    return Scenario("kingman", _desc("kingman"), mass, r.copy(), K=math.inf, lam=3.0,
                    steps=200, axes=(r,), continuous=law, params=dict(b=b))


# --------------------------------------------------------------------------- mog8
def ring_centres(count=8, radius=4.0):
    """``count`` points equally spaced on the circle of the given radius, the first at angle 0."""
    ang = 2 * np.pi * np.arange(count) / count
    return np.stack([radius * np.cos(ang), radius * np.sin(ang)], axis=1)


def disc_distance_reward(points, centres, radius, gamma):
    """``r(x) = -gamma max(0, min_j |x - c_j| - R)``: 0 on the union of the discs of radius
    ``R`` around the centres (the optimal set), decreasing linearly outside (section 8)."""
    d = np.min(np.linalg.norm(points[..., None, :] - centres, axis=-1), axis=-1)
    return -gamma * np.maximum(0.0, d - radius)


@register_scenario("mog8", "8 Gaussians on a circle; reward 0 on discs around 2 centres, "
                           "-gamma x distance outside")
def _mog8(grid=None, radius=4.0, sd=0.5, half_width=6.0, reward_centres=(0, 3),
          disc_radius=1.0, gamma=1.0):
    radius = _real(radius, "radius", lo=0)
    sd = _real(sd, "sd", lo=0, lo_open=True)
    L = _real(half_width, "half_width", lo=0, lo_open=True)
    disc_radius = _real(disc_radius, "disc_radius", lo=0)
    gamma = _real(gamma, "gamma", lo=0, lo_open=True)
    idx = tuple(reward_centres)
    if not idx or any(isinstance(i, bool) or not isinstance(i, (int, np.integer))
                      or not 0 <= i < 8 for i in idx):
        raise ValueError(f"reward_centres must be a non-empty sequence of indices in 0..7, "
                         f"got {reward_centres!r}")
    n = grid or 128
    edges, x = _cell_edges(-L, L, n)
    centres = ring_centres(8, radius)
    # each component is a product of two 1-D normals: its cell masses are outer products
    px = _normal_cells(edges, centres[:, 0], sd)
    py = _normal_cells(edges, centres[:, 1], sd)
    mass = np.einsum("ki,kj->ij", px, py) / 8
    mass /= mass.sum()                                   # conditioned on the box
    X, Y = np.meshgrid(x, x, indexing="ij")
    reward = disc_distance_reward(np.stack([X, Y], axis=-1), centres[list(idx)], disc_radius,
                                  gamma)
    return Scenario("mog8", _desc("mog8"), mass, reward, K=4.0, lam=math.inf, steps=50,
                    axes=(x, x.copy()),
                    params=dict(radius=radius, sd=sd, half_width=L, reward_centres=idx,
                                disc_radius=disc_radius, gamma=gamma,
                                centres=centres, reward_centre_points=centres[list(idx)]))


# --------------------------------------------------------------------------- two-moons
def moon_curves(t):
    """The two half-circles of the two-moons law at parameters ``t`` in ``[0, pi]``:
    upper ``(cos t, sin t)``, lower ``(1 - cos t, 1/2 - sin t)``."""
    upper = np.stack([np.cos(t), np.sin(t)], axis=-1)
    lower = np.stack([1 - np.cos(t), 0.5 - np.sin(t)], axis=-1)
    return upper, lower


@register_scenario("two-moons", "two moons blurred by N(0, 0.1^2); reward -gamma x distance "
                                "to the tip (-1, 0)")
def _two_moons(grid=None, noise=0.1, gamma=2.0, tip=(-1.0, 0.0), nodes=256):
    noise = _real(noise, "noise", lo=0, lo_open=True)
    gamma = _real(gamma, "gamma", lo=0, lo_open=True)
    tip = np.array([_real(v, "tip") for v in tip], dtype=float)
    if tip.shape != (2,):
        raise ValueError(f"tip must be a point (x, y), got {tip.tolist()!r}")
    if isinstance(nodes, bool) or not isinstance(nodes, (int, np.integer)) or nodes < 8:
        raise ValueError(f"nodes must be an integer >= 8, got {nodes!r}")
    n = grid or 128
    xe, x = _cell_edges(-1.5, 2.5, n)
    ye, y = _cell_edges(-1.25, 1.75, n)
    # law of c(T) + noise Z, T ~ U[0, pi] on each moon (probability 1/2 each), Z ~ N(0, s^2 I):
    # cell mass = E_T[P_x(cell) P_y(cell)], the T-integral by Gauss-Legendre on [0, pi]
    g, w = np.polynomial.legendre.leggauss(int(nodes))
    t = 0.5 * np.pi * (g + 1)
    w = w / w.sum()
    mass = np.zeros((n, n))
    for curve in moon_curves(t):
        px = _normal_cells(xe, curve[:, 0], noise)
        py = _normal_cells(ye, curve[:, 1], noise)
        mass += 0.5 * np.einsum("k,ki,kj->ij", w, px, py)
    mass /= mass.sum()                                   # conditioned on the box
    X, Y = np.meshgrid(x, y, indexing="ij")
    reward = -gamma * np.hypot(X - tip[0], Y - tip[1])
    return Scenario("two-moons", _desc("two-moons"), mass, reward, K=4.0, lam=math.inf,
                    steps=50, axes=(x, y),
                    params=dict(noise=noise, gamma=gamma, tip=tuple(tip), nodes=int(nodes)))


# --------------------------------------------------------------------------- classes
CIFAR10_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                 "ship", "truck")


def beta_cells(edges, a, b):
    """``P(edges[i] <= Q < edges[i+1])`` for ``Q ~ Beta(a, b)``: differences of the regularized
    incomplete beta function (of its complement above the median, to avoid cancellation)."""
    lower = np.diff(special.betainc(a, b, edges))
    upper = -np.diff(special.betaincc(a, b, edges))
    mid = edges[:-1] > a / (a + b)
    return np.where(mid, upper, lower)


@register_scenario("classes", "10 classes x confidence bins (Beta laws), reward 5 q: "
                              "CIFAR-10 stand-in")
def _classes(grid=None, gamma=5.0, alpha=tuple(np.linspace(1.5, 6.0, 10).tolist()),
             beta=2.0):
    gamma = _real(gamma, "gamma", lo=0, lo_open=True)
    alpha = np.array([_real(a, "alpha", lo=0, lo_open=True) for a in np.atleast_1d(alpha)])
    beta = np.array([_real(b, "beta", lo=0, lo_open=True) for b in np.atleast_1d(beta)])
    for name, v in (("alpha", alpha), ("beta", beta)):
        if v.size not in (1, 10):
            raise ValueError(f"{name} must be a number or 10 numbers (one per class), "
                             f"got {v.size}")
    alpha, beta = np.broadcast_to(alpha, (10,)), np.broadcast_to(beta, (10,))
    n = grid or 50
    edges, q = _cell_edges(0.0, 1.0, n)
    mass = np.stack([beta_cells(edges, a, b) for a, b in zip(alpha, beta)]) / 10
    reward = np.broadcast_to(gamma * q, (10, n)).copy()
    labels = np.broadcast_to(np.arange(10)[:, None], (10, n)).copy()
    return Scenario("classes", _desc("classes"), mass, reward, K=4.0, lam=math.inf, steps=50,
                    axes=(np.arange(10), q), labels=labels, label_names=CIFAR10_NAMES,
                    params=dict(gamma=gamma, alpha=tuple(alpha.tolist()),
                                beta=tuple(beta.tolist())))


# --------------------------------------------------------------------------- curation rules
def _bt_types(K, parts):
    """``mixture([(w, bradley_terry(r, K)), ...])`` without the weight-0 types."""
    from .curators import bradley_terry, mixture
    parts = [(w, bradley_terry(r, K)) for w, r in parts if w > 0]
    return parts[0][1] if len(parts) == 1 else mixture(parts)


@register_scenario("mog8-two-users", "mog8, two user types each rewarding one disc, weights w "
                                     "and 1-w (section 7)")
def _mog8_two_users(grid=None, w=0.5, gamma=1.0, disc_radius=1.0, user_centres=(0, 3)):
    w = _real(w, "w", lo=0, hi=1)
    K = 4.0
    idx = tuple(user_centres) if isinstance(user_centres, (tuple, list)) else ()
    if len(idx) != 2 or idx[0] == idx[1]:
        raise ValueError(f"user_centres must be two different indices in 0..7, got "
                         f"{user_centres!r}")
    base = _mog8(grid=grid, reward_centres=idx, disc_radius=disc_radius, gamma=gamma)
    X, Y = np.meshgrid(*base.axes, indexing="ij")
    pts = np.stack([X, Y], axis=-1)
    c = base.params["centres"]
    r_user = [disc_distance_reward(pts, c[[i]], base.params["disc_radius"],
                                   base.params["gamma"]) for i in idx]
    rule = _bt_types(K, [(w, r_user[0]), (1 - w, r_user[1])])
    return replace(base, name="mog8-two-users", description=_desc("mog8-two-users"),
                   K=float(K), rule=rule,
                   params=dict(base.params, w=w, user_centres=idx))


@register_scenario("adversarial", "gauss1d, Bradley-Terry on r; a fraction phi of curation "
                                  "events uses -r (section 7)")
def _adversarial(grid=None, phi=0.2, center=1.0, width=6.0):
    phi = _real(phi, "phi", lo=0, hi=1)
    K = 3.0
    base = _gauss1d(grid=grid, center=center, width=width)
    rule = _bt_types(K, [(1 - phi, base.reward), (phi, -base.reward)])
    return replace(base, name="adversarial", description=_desc("adversarial"), K=float(K),
                   rule=rule, params=dict(base.params, phi=phi))
