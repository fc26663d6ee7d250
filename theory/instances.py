"""The input space of the falsification claims (:mod:`theory.claims`): one instance of the
dynamics and the sets of instances a claim quantifies over, with their random generator.

An :class:`Instance` is one point of the dynamics' input space: start masses ``mass`` of
``p_0``, ``reward``, ``K``, ``lam``, real-data masses ``data`` and a horizon ``step``; every
instance can be replayed with ``numerics.evolve(mass, reward, K, step, lam, data)``.  For the
two-law statements (T7) ``data`` is also the second start ``q_0``.  An :class:`InstanceSpace`
says which instances a claim draws (the ``K``, ``lam`` and ``data`` kinds below) and draws
them (:meth:`InstanceSpace.sample`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

import numerics

__all__ = ["Instance", "InstanceSpace", "K_KINDS", "LAM_KINDS", "DATA_KINDS", "support_top",
           "exp_reward_ratio"]


@dataclass(frozen=True, eq=False)
class Instance:
    """One input of the dynamics: ``numerics.evolve(mass, reward, K, step, lam, data)``.

    ``data`` is ``None`` when ``lam`` is infinite and no second law is involved."""

    mass: np.ndarray
    reward: np.ndarray
    K: float
    lam: float
    data: np.ndarray | None
    step: int

    def evolve(self, start=None):
        """The trajectory ``p_0 .. p_step`` from ``start`` (default ``mass``), with real data
        ``data`` when ``lam`` is finite (``numerics.evolve``)."""
        start = self.mass if start is None else start
        data = None if math.isinf(self.lam) else self.data
        return numerics.evolve(start, self.reward, self.K, self.step, self.lam, data)

    def masses(self, start=None):
        """Normalized masses of ``p_0 .. p_step`` as a ``(step + 1, atoms)`` array."""
        return np.asarray(self.evolve(start).masses)

    def as_dict(self):
        """JSON-ready form (the counterexample format of ``selfconsume falsify --json``)."""
        return {"mass": [float(v) for v in self.mass],
                "reward": [float(v) for v in self.reward],
                "K": _json_number(self.K), "lam": _json_number(self.lam),
                "data": None if self.data is None else [float(v) for v in self.data],
                "step": int(self.step)}

    @classmethod
    def from_dict(cls, d):
        data = d.get("data")
        return cls(np.asarray(d["mass"], float), np.asarray(d["reward"], float),
                   float(d["K"]), float(d["lam"]),
                   None if data is None else np.asarray(data, float), int(d["step"]))


def _json_number(x):
    x = float(x)
    if math.isinf(x):
        return "inf"
    return int(x) if x.is_integer() and abs(x) < 2**53 else x



#: the kinds of ``K`` an :class:`InstanceSpace` draws
K_KINDS = ("any", "integer", "real", "inf", "finite", "integer_or_inf")
#: the kinds of ``lam``
LAM_KINDS = ("inf", "finite", "contraction", "expanding", "any")
#: the kinds of real data
DATA_KINDS = ("none", "model", "independent")



@dataclass(frozen=True)
class InstanceSpace:
    """The set of instances a claim quantifies over.

    Parameters
    ----------
    atoms : (int, int)
        fewest and most atoms.
    K : {"any", "integer", "real", "inf", "finite"}
        ``"integer"``: ``1, 2, ..., K_max``; ``"real"``: real ``K`` in ``[1, K_max]``;
        ``"finite"``: either of those; ``"any"``: those or ``math.inf``;
        ``"integer_or_inf"``: integers or ``math.inf``.
    K_max : float
        largest finite ``K`` drawn (most draws are below 64; one in five goes up to
        ``K_max``).
    lam : {"inf", "finite", "contraction", "expanding", "any"}
        ``"contraction"``: finite with ``lam (K-1) < 1`` (T7); ``"expanding"``: finite with
        ``lam (K-1) >= 1``.
    data : {"none", "model", "independent"}
        ``"model"``: ``p_d = p_0``; ``"independent"``: a second law on the same atoms
        (the real data, and for two-law claims also the second start ``q_0``).
    steps : (int, int)
        range of the horizon ``step``.
    reward_spread : float
        largest spread of the rewards (nats) in most generic draws; one draw in ten
        spreads up to 3000 nats.
    allow_ties, allow_zero_mass, allow_tiny_mass : bool
        draw equal rewards, atoms of zero mass, masses like 1e-300.
    """

    atoms: tuple = (2, 6)
    K: str = "any"
    K_max: float = 1e6
    lam: str = "inf"
    data: str = "none"
    steps: tuple = (1, 1)
    reward_spread: float = 40.0
    allow_ties: bool = True
    allow_zero_mass: bool = True
    allow_tiny_mass: bool = True

    def __post_init__(self):
        if self.K not in K_KINDS:
            raise ValueError(f"K must be one of {K_KINDS}, got {self.K!r}")
        if self.lam not in LAM_KINDS:
            raise ValueError(f"lam must be one of {LAM_KINDS}, got {self.lam!r}")
        if self.data not in DATA_KINDS:
            raise ValueError(f"data must be one of {DATA_KINDS}, got {self.data!r}")
        lo, hi = self.atoms
        if not 1 <= lo <= hi:
            raise ValueError(f"atoms must be (lo, hi) with 1 <= lo <= hi, got {self.atoms!r}")
        lo, hi = self.steps
        if not 0 <= lo <= hi:
            raise ValueError(f"steps must be (lo, hi) with 0 <= lo <= hi, got {self.steps!r}")
        if not self.K_max >= 1:
            raise ValueError(f"K_max must be >= 1, got {self.K_max!r}")
        if self.lam == "contraction" and self.K == "inf":
            raise ValueError("lam='contraction' needs a finite K (lam (K-1) < 1)")
        if self.lam == "expanding" and self.K_max < 2 and self.K != "inf":
            raise ValueError("lam='expanding' needs K > 1 (lam (K-1) >= 1): K_max >= 2")

    # -- membership ------------------------------------------------------------------------
    def admits(self, inst: Instance) -> bool:
        """Whether ``inst`` lies in this space (used by the shrinker)."""
        n = inst.mass.shape[0]
        if not (self.atoms[0] <= n <= self.atoms[1] and inst.reward.shape == (n,)):
            return False
        if not (np.all(inst.mass >= 0) and inst.mass.sum() > 0
                and np.all(np.isfinite(inst.reward))):
            return False
        if not self.steps[0] <= inst.step <= self.steps[1]:
            return False
        K, lam = inst.K, inst.lam
        finite_K = math.isfinite(K)
        integer = finite_K and float(K).is_integer()
        if not (K >= 1 and (not finite_K or K <= self.K_max)):
            return False
        if {"integer": not integer, "integer_or_inf": finite_K and not integer,
                "real": not finite_K, "finite": not finite_K,
                "inf": finite_K, "any": False}[self.K]:
            return False
        if self.lam == "inf" and not math.isinf(lam):
            return False
        if self.lam != "inf" and self.lam != "any" and not (0 <= lam < math.inf):
            return False
        if self.lam == "contraction" and not lam * (K - 1) < 1:
            return False
        if self.lam == "expanding" and not lam * (K - 1) >= 1:
            return False
        if self.data == "none":
            return inst.data is None
        if inst.data is None or inst.data.shape != (n,) or not inst.data.sum() > 0:
            return False
        if self.data == "model":
            return bool(np.array_equal(inst.data, inst.mass))
        return bool(np.all(inst.data >= 0))

    def conform(self, inst: Instance) -> Instance:
        """``inst`` with ``data`` tied to ``mass`` (``data="model"``) or dropped (``"none"``)."""
        if self.data == "model":
            return replace(inst, data=inst.mass.copy())
        if self.data == "none" and inst.data is not None:
            return replace(inst, data=None)
        return inst

    # -- random draws ----------------------------------------------------------------------
    def sample(self, rng: np.random.Generator, simple: bool = False) -> Instance:
        """A random instance: generic floats (spreads up to ``reward_spread`` nats, tiny and
        zero masses, ties, huge common reward offsets, ``K`` up to 1e6), or, with
        ``simple=True``, small integers (masses ``1..9``, rewards ``log 1 .. log 9``,
        ``K`` in ``2..6``, ``lam`` a small rational) that exact arithmetic can check."""
        n = int(rng.integers(self.atoms[0], self.atoms[1] + 1))
        step = int(rng.integers(self.steps[0], self.steps[1] + 1))
        if simple:
            mass = rng.integers(1, 10, n).astype(float)
            reward = np.log(rng.integers(1, 10, n).astype(float))
            data = rng.integers(1, 10, n).astype(float)
        else:
            mass = self._masses(rng, n)
            reward = self._rewards(rng, n)
            data = self._masses(rng, n)
        K = self._K(rng, simple)
        if self.lam == "expanding" and K == 1:
            K = 2.0  # lam (K-1) >= 1 needs K > 1
        lam = self._lam(rng, K, simple)
        inst = Instance(mass, reward, K, lam, data, step)
        return self.conform(inst)

    def _masses(self, rng, n):
        m = np.exp(rng.uniform(-np.log(1e12), 0.0, n))
        if self.allow_tiny_mass and rng.random() < 0.15:
            m[rng.integers(n)] = 1e-300
        if self.allow_zero_mass and n > 1 and rng.random() < 0.15:
            m[rng.integers(n)] = 0.0
        if not m.sum() > 0:
            m[0] = 1.0
        if rng.random() < 0.5:  # unnormalized: any positive scale
            m *= 10.0 ** rng.uniform(-5, 5)
        return m

    def _rewards(self, rng, n):
        top = self.reward_spread if rng.random() < 0.9 else max(self.reward_spread, 3000.0)
        spread = float(np.exp(rng.uniform(np.log(1e-3), np.log(top))))
        r = rng.uniform(0.0, spread, n)
        if self.allow_ties and n > 1 and rng.random() < 0.2:
            i, j = rng.choice(n, 2, replace=False)
            r[i] = r[j]
        if rng.random() < 0.1:  # a huge common offset (shift invariance, e^r overflow)
            r += rng.choice([-1.0, 1.0]) * rng.uniform(500.0, 3000.0)
        return r

    def _K(self, rng, simple):
        kind = self.K
        if kind == "any":
            kind = rng.choice(["integer", "real", "inf"], p=[0.5, 0.25, 0.25])
        elif kind == "finite":
            kind = rng.choice(["integer", "real"], p=[0.6, 0.4])
        elif kind == "integer_or_inf":
            kind = rng.choice(["integer", "inf"], p=[0.7, 0.3])
        if kind == "inf":
            return math.inf
        top = self.K_max
        if simple:
            return float(rng.integers(1 if top < 2 else 2, int(min(top, 6)) + 1))
        # mostly K <= 64, now and then up to K_max (1e6 by default), log-uniform
        hi = top if rng.random() < 0.2 else min(top, 64.0)
        K = float(np.exp(rng.uniform(0.0, np.log(hi))))
        if kind == "integer":
            K = float(min(np.floor(top), np.round(K)))
        return max(1.0, K)

    def _lam(self, rng, K, simple):
        kind = self.lam
        if kind == "any":
            kind = rng.choice(["inf", "finite"])
        if kind == "inf":
            return math.inf
        if kind == "contraction":
            if math.isinf(K):
                return 0.0
            if K == 1:
                return float(rng.integers(0, 4)) if simple else float(np.exp(rng.uniform(-5, 5)))
            limit = 1.0 / (K - 1)
            if simple:
                q = int(K)  # lam = a / (q (K-1)) style small rationals below the limit
                return float(rng.integers(0, q) / (q * (K - 1)))
            return float(limit * rng.uniform(0.0, 1.0))
        if kind == "expanding":
            base = 0.0 if math.isinf(K) else 1.0 / (K - 1)
            if simple:
                return float(max(np.ceil(base), 1.0) + rng.integers(0, 4))
            return float(max(base, 1e-3) * np.exp(rng.uniform(0.0, 4.0)))
        if simple:
            return float(rng.choice([0.5, 1.0, 2.0, 3.0, 4.0]))
        if rng.random() < 0.05:
            return 0.0
        return float(np.exp(rng.uniform(np.log(1e-3), np.log(1e3))))


# ----------------------------------------------------------------------------------------
# the reward scale of an instance (the claims state their violations in units of e^{r_*})
# ----------------------------------------------------------------------------------------


def support_top(inst):
    """``r_*``: the top reward on the support of ``p_0`` (and of ``data`` when present)."""
    on = inst.mass > 0
    if inst.data is not None:
        on = on | (inst.data > 0)
    return float(inst.reward[on].max())


def exp_reward_ratio(inst):
    """``s = e^{r - r_*}``, ``r_*`` the top reward of the support of ``p_0`` (and ``p_d``)."""
    return np.exp(inst.reward - support_top(inst))
