"""Universally quantified statements about the curation dynamics, as data (THEORY.md).

A :class:`Claim` says "for every instance of this space, this holds" and carries a
predicate ``violation(instance) -> float``: the signed margin by which the statement fails on
that instance (``> 0`` = fails, in the units the claim states).  :func:`theory.falsify.falsify`
searches the claim's :class:`InstanceSpace` for an instance whose violation exceeds the
claim's ``tolerance`` (the float64 rounding allowance of the engine, stated per claim; 0 for
a user claim unless given).

An :class:`Instance` is one point of the dynamics' input space: start masses ``mass`` of
``p_0``, ``reward``, ``K``, ``lam``, real-data masses ``data`` and a horizon ``step``; every
instance can be replayed with ``numerics.evolve(mass, reward, K, step, lam, data)``.  For the
two-law statements (T7) ``data`` is also the second start ``q_0``.

Built-in claims: the statements of THEORY.md that quantify over discrete laws (P1-P6, T1, T2
on a finite horizon, T5, T6, T7), which must survive every search, and conjectures that the
search decides.  Register your own with :func:`register_claim`:

>>> import numpy as np
>>> from theory.claims import register_claim, InstanceSpace, get_claim
>>> @register_claim("doc-top-atom-gains", "curation never lowers the top atom's mass",
...                 space=InstanceSpace(lam="inf", steps=(1, 1)), tolerance=1e-12)
... def top_atom_gains(inst):
...     p0, p1 = inst.masses()
...     top = inst.reward == inst.reward[p0 > 0].max()
...     return float(p0[top].sum() - p1[top].sum())
>>> get_claim("doc-top-atom-gains").expected
'holds'
>>> from theory.claims import unregister_claim
>>> unregister_claim("doc-top-atom-gains")    # leave the registry as it was
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

import numerics

__all__ = ["Instance", "InstanceSpace", "Claim", "KINDS", "ALIASES", "register_claim",
           "get_claim", "list_claims", "claims_for", "statement_text", "unregister_claim"]


# ----------------------------------------------------------------------------------------
# instances and instance spaces
# ----------------------------------------------------------------------------------------


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


_K_KINDS = ("any", "integer", "real", "inf", "finite", "integer_or_inf")
_LAM_KINDS = ("inf", "finite", "contraction", "expanding", "any")
_DATA_KINDS = ("none", "model", "independent")


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
        if self.K not in _K_KINDS:
            raise ValueError(f"K must be one of {_K_KINDS}, got {self.K!r}")
        if self.lam not in _LAM_KINDS:
            raise ValueError(f"lam must be one of {_LAM_KINDS}, got {self.lam!r}")
        if self.data not in _DATA_KINDS:
            raise ValueError(f"data must be one of {_DATA_KINDS}, got {self.data!r}")
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
# claims and the registry
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """A universally quantified statement and the predicate that measures its failure.

    Attributes
    ----------
    name : str
        registry key (``selfconsume falsify NAME``).
    statement : str
        the statement, in words and formulas.
    source : str
        the THEORY.md id, ``"false claim"`` or ``"conjecture"`` (with a note), ``"user"``.
    expected : {"holds", "false"}
        what THEORY.md (or the registrant) expects.
    violation : callable ``Instance -> float``
        signed margin of failure on one instance (``> 0`` = the statement fails there).
    space : InstanceSpace
        the instances the statement quantifies over.
    tolerance : float
        a violation counts only above this (float64 rounding of the engine; see each
        built-in claim's ``note`` for why this value).
    note : str
        units of the violation, why the tolerance, what the search found.
    kind : {"theorem", "conjecture", "false"}
        ``"theorem"``: the claim is one or more statements of :data:`theory.STATEMENTS`
        (``ids``), and its ``statement`` is their text; ``"conjecture"``: expected to hold,
        not proved; ``"false"``: expected to fail.  Derived from ``expected`` and ``ids``
        when not given.
    ids : tuple of str
        the statement ids (:data:`theory.STATEMENTS`) a theorem claim checks; empty
        otherwise.
    scope : str
        the instances the search draws, where narrower than the statements' hypotheses
        (e.g. integer ``K``; ``q = data``).
    """

    name: str
    statement: str
    source: str
    expected: str
    violation: Callable[[Instance], float]
    space: InstanceSpace
    tolerance: float = 0.0
    note: str = ""
    kind: str = ""
    ids: tuple = ()
    scope: str = ""

    def __post_init__(self):
        if self.expected not in ("holds", "false"):
            raise ValueError(f"expected must be 'holds' or 'false', got {self.expected!r}")
        object.__setattr__(self, "ids", tuple(self.ids))
        if not self.kind:
            object.__setattr__(self, "kind", "false" if self.expected == "false"
                               else "theorem" if self.ids else "conjecture")
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if (self.kind == "false") != (self.expected == "false"):
            raise ValueError(f"kind {self.kind!r} does not match expected {self.expected!r}")
        if (self.kind == "theorem") != bool(self.ids):
            raise ValueError("a theorem claim names its statement ids (ids=...), and only a "
                             "theorem claim does")
        from .statements import STATEMENTS
        unknown = [i for i in self.ids if i not in STATEMENTS]
        if unknown:
            raise ValueError(f"unknown statement ids {unknown} (theory.STATEMENTS)")
        if not (self.tolerance >= 0 and math.isfinite(self.tolerance)):
            raise ValueError(f"tolerance must be a finite number >= 0, got {self.tolerance!r}")
        if not callable(self.violation):
            raise TypeError("violation must be callable: Instance -> float")
        if not isinstance(self.space, InstanceSpace):
            raise TypeError("space must be an InstanceSpace")

    def violated(self, inst: Instance) -> bool:
        return self.violation(inst) > self.tolerance


#: what a claim is: a statement of docs/theory.md, an open conjecture, or a claim shown false
KINDS = ("theorem", "conjecture", "false")

_REGISTRY: dict[str, Claim] = {}

#: old claim names, still accepted by :func:`get_claim` (and ``selfconsume falsify NAME``)
ALIASES = {"T7-coupling": "T7.coupling"}


def statement_text(ids):
    """The text of the statements ``ids`` as :data:`theory.STATEMENTS` holds it: one id's
    statement, or ``"ID: statement; ID: statement"`` for several parts."""
    from .statements import STATEMENTS
    if len(ids) == 1:
        return STATEMENTS[ids[0]].statement
    return "; ".join(f"{i}: {STATEMENTS[i].statement}" for i in ids)


def register_claim(name, statement, violation=None, *, space=None, source="user",
                   expected="holds", tolerance=0.0, note="", replace_existing=False,
                   kind="", ids=(), scope=""):
    """Register a claim; use directly or as a decorator of its ``violation`` function.

    ``space`` defaults to ``InstanceSpace()`` (curated data only, one step, 2-6 atoms).
    A claim of ``kind="theorem"`` names the statements it checks (``ids``) and passes
    ``statement=None``: its text is theirs (:func:`statement_text`).
    Returns the :class:`Claim` (or, as a decorator, the decorated function unchanged)."""
    if not isinstance(name, str) or not name or any(c.isspace() for c in name):
        raise ValueError(f"name must be a non-empty string without spaces, got {name!r}")
    if name in ALIASES:
        raise ValueError(f"name {name!r} is an alias of {ALIASES[name]!r}")
    if statement is None:
        if not ids:
            raise ValueError("statement=None needs the statement ids (ids=...)")
        from .statements import STATEMENTS
        missing = [i for i in ids if i not in STATEMENTS]
        if missing:
            raise ValueError(f"unknown statement ids {missing} (theory.STATEMENTS)")
        statement = statement_text(tuple(ids))

    def add(fn):
        if name in _REGISTRY and not replace_existing:
            raise ValueError(f"name {name!r} is already registered (replace_existing=True "
                             "to replace it)")
        claim = Claim(name, statement, source, expected, fn,
                      space if space is not None else InstanceSpace(), tolerance, note,
                      kind, tuple(ids), scope)
        _REGISTRY[name] = claim
        return claim

    if violation is not None:
        return add(violation)

    def decorator(fn):
        add(fn)
        return fn

    return decorator


def unregister_claim(name):
    """Remove a claim (raises ``KeyError`` naming it if unknown)."""
    if name not in _REGISTRY:
        raise KeyError(f"unknown claim {name!r}")
    del _REGISTRY[name]


def get_claim(name) -> Claim:
    """The registered claim ``name`` (or an old name of it, :data:`ALIASES`); ``KeyError``
    with the known names if absent."""
    try:
        return _REGISTRY[ALIASES.get(name, name)]
    except KeyError:
        raise KeyError(f"unknown claim {name!r}; known: {', '.join(_REGISTRY)}") from None


def list_claims() -> list[Claim]:
    """All registered claims, built-ins first, in registration order."""
    return list(_REGISTRY.values())


def claims_for(stmt_id) -> list[Claim]:
    """The registered claims that check the statement ``stmt_id`` (its falsification
    predicates), in registration order."""
    return [c for c in _REGISTRY.values() if stmt_id in c.ids]


# ----------------------------------------------------------------------------------------
# quantities on normalized masses (everything in units of e^{r_*}: s = e^{r - r_*})
# ----------------------------------------------------------------------------------------


def _support_top(inst):
    on = inst.mass > 0
    if inst.data is not None:
        on = on | (inst.data > 0)
    return float(inst.reward[on].max())


def _s(inst):
    """``s = e^{r - r_*}``, ``r_*`` the top reward of the support of ``p_0`` (and ``p_d``)."""
    return np.exp(inst.reward - _support_top(inst))


def _normalized(m):
    m = np.asarray(m, float)
    return m / m.sum()


def _tail_masses(p, reward):
    """``P(r >= c)`` for every distinct reward ``c`` (ascending ``c``)."""
    levels, inverse = np.unique(reward, return_inverse=True)
    per_level = np.bincount(inverse, weights=p, minlength=levels.size)
    return np.cumsum(per_level[::-1])[::-1]


def _tv(p, q):
    return 0.5 * float(np.abs(p - q).sum())


# ----------------------------------------------------------------------------------------
# built-in claims: THEORY.md statements (must survive)
# ----------------------------------------------------------------------------------------

_GENERIC = InstanceSpace()


def _p1(inst):
    p = _normalized(inst.mass)
    H = numerics.curation_factor(inst.mass, inst.reward, inst.K)
    return abs(float(np.dot(p, H)) - 1.0)


def _p2(inst):
    p = _normalized(inst.mass)
    H = numerics.curation_factor(inst.mass, inst.reward, inst.K)
    on = p > 0
    s = _s(inst)[on]
    Es = float(np.dot(p[on], s))
    if math.isinf(inst.K):
        lower = s / Es
        upper_excess = 0.0
    else:
        lower = inst.K * s / (s + (inst.K - 1) * Es)
        upper_excess = float(np.max(H[on] / inst.K - 1.0))
    lower_excess = float(np.max(lower / H[on] - 1.0))
    return max(lower_excess, upper_excess)


def _p3(inst):
    H = numerics.curation_factor(inst.mass, inst.reward, inst.K)
    order = np.argsort(inst.reward, kind="stable")
    r, h = inst.reward[order], H[order]
    drop = np.maximum.accumulate(h) - h  # how far H falls below an earlier (lower-r) value
    # ties: equal rewards must give equal H (non-decreasing both ways)
    tie = np.abs(np.diff(h))[np.diff(r) == 0]
    return float(max(np.max(drop / np.max(h)), np.max(tie, initial=0.0) / np.max(h)))


def _p4(inst):
    H1 = numerics.curation_factor(inst.mass, inst.reward, 1.0)
    const = np.full_like(inst.reward, inst.reward[0])
    Hc = numerics.curation_factor(inst.mass, const, inst.K)
    return float(max(np.max(np.abs(H1 - 1.0)), np.max(np.abs(Hc - 1.0))))


#: shifts (nats) used by P5: small, large positive (e^r overflows), large negative
P5_SHIFTS = (-1234.5, -0.75, 3.25, 987.0)


def _p5(inst):
    H = numerics.curation_factor(inst.mass, inst.reward, inst.K)
    worst = 0.0
    for c in P5_SHIFTS:
        Hc = numerics.curation_factor(inst.mass, inst.reward + c, inst.K)
        worst = max(worst, float(np.max(np.abs(Hc / H - 1.0))))
    return worst


def _p6(inst):
    p = _normalized(inst.mass)
    c = numerics.curate(inst.mass, inst.reward, inst.K)
    return float(np.max(_tail_masses(p, inst.reward) - _tail_masses(c, inst.reward)))


def _moments_s(P, s):
    """``E_t[s]`` and ``Var_t[s]`` for each row of ``P`` (two-pass variance)."""
    E = P @ s
    V = (P * (s[None, :] - E[:, None]) ** 2).sum(axis=1)
    return E, V


def _t1(inst):
    P = inst.masses()
    s = _s(inst)
    E, V = _moments_s(P, s)
    gain = np.diff(E)
    factor = 1.0 if math.isinf(inst.K) else (inst.K - 1.0) / inst.K
    worst = float(np.max(factor * V[:-1] - gain))
    if math.isinf(inst.K):  # the K = inf identity E' = E + Var / E
        worst = max(worst, float(np.max(np.abs(gain - V[:-1] / E[:-1]))))
    return worst


def _t2(inst):
    P = inst.masses()
    s = _s(inst)
    E, V = _moments_s(P, s)
    monotone = float(np.max(-np.diff(E)))
    if inst.K == 1:
        return monotone
    factor = 1.0 if math.isinf(inst.K) else inst.K / (inst.K - 1.0)
    budget = float(V[:-1].sum() - factor * (1.0 - E[0]))
    return max(monotone, budget)


def _t5(inst):
    P = inst.masses()[1:]
    d = _normalized(inst.data)
    lam = inst.lam
    on = d > 0
    floor = float(np.max(1.0 - (1.0 + lam) * P[:, on] / d[on]))
    with np.errstate(divide="ignore"):
        kl = (d[on] * (np.log(d[on]) - np.log(P[:, on]))).sum(axis=1)
    kl_excess = float(np.max(kl - math.log1p(lam)))
    tv_excess = float(np.max(0.5 * np.abs(P - d).sum(axis=1) - lam / (1.0 + lam)))
    return max(floor, kl_excess, tv_excess)


def _t6(inst):
    P = inst.masses()
    d_tail = _tail_masses(_normalized(inst.data), inst.reward)
    return float(max(np.max(d_tail - _tail_masses(p, inst.reward)) for p in P))


def _t7_coupling(inst):
    p, q = _normalized(inst.mass), _normalized(inst.data)
    cp = numerics.curate(p, inst.reward, inst.K)
    cq = numerics.curate(q, inst.reward, inst.K)
    tv0, tv1 = _tv(p, q), _tv(cp, cq)
    if math.isinf(inst.K):
        on = (p > 0) | (q > 0)
        spread = float(inst.reward[on].max() - inst.reward[on].min())
        if tv0 == 0.0:
            return tv1
        log_bound = math.log(2.0) + spread + math.log(tv0)  # in logs: e^{spread} may overflow
        return tv1 - (1.0 if log_bound >= 0.0 else math.exp(log_bound))
    return tv1 - (1.0 - (1.0 - tv0) ** inst.K)


def _t7_contraction(inst):
    P = inst.masses()                     # p_t from p_0 = mass, real data p_d = data
    Q = inst.masses(start=inst.data)      # q_t from q_0 = p_d
    kappa = inst.lam * inst.K / (1.0 + inst.lam)
    tv = 0.5 * np.abs(P - Q).sum(axis=1)
    t = np.arange(tv.size)
    return float(np.max(tv - kappa ** t * tv[0]))


# ----------------------------------------------------------------------------------------
# conjectures the search decides
# ----------------------------------------------------------------------------------------


def _exp_reward_drop(inst):
    P = inst.masses()
    E = P @ _s(inst)
    return float(np.max(E[:-1] - E[1:]))


def _expected_reward_drop(inst):
    P = inst.masses()
    r0 = inst.reward - _support_top(inst)
    on = P.sum(axis=0) > 0
    spread = float(max(1e-300, -r0[on].min()))
    mean_r = P[:, on] @ r0[on]
    return float(np.max(mean_r[:-1] - mean_r[1:]) / spread)


def _reward_variance_rise(inst):
    P = inst.masses()
    r0 = inst.reward - _support_top(inst)
    on = P.sum(axis=0) > 0
    spread = float(max(1e-300, -r0[on].min()))
    x = r0[on] / spread
    mean = P[:, on] @ x
    var = (P[:, on] * (x[None, :] - mean[:, None]) ** 2).sum(axis=1)
    return float(np.max(var[1:] - var[:-1]))


def _top_mass_drop(inst):
    P = inst.masses()
    top = inst.reward >= _support_top(inst)
    m = P[:, top].sum(axis=1)
    return float(np.max((m[:-1] - m[1:]) / m[:-1]))


def _tv_growth(inst):
    P = inst.masses()
    Q = inst.masses(start=inst.data)
    tv = 0.5 * np.abs(P - Q).sum(axis=1)
    return float(np.max(tv[1:] - tv[:-1]))


_ENGINE_TOL = ("tolerance 1e-10: the engine's H is documented to ~1e-13 relative (L2 "
               "trapezoid vs 40-digit mpmath), and the largest rounding excess measured over "
               "3000 random instances per claim was 4.6e-13 (P5); a larger violation is an "
               "engine defect (one was found: 4e-10 for real K near 1, see the report)")


def _builtin(name, statement, source, expected, fn, space, tolerance, note=""):
    """A conjecture (``expected="holds"``) or a false claim: its own name and text."""
    register_claim(name, statement, fn, space=space, source=source, expected=expected,
                   tolerance=tolerance, note=note)


def _theorem(ids, fn, space, tolerance, note, scope=""):
    """The statements ``ids`` of :data:`theory.STATEMENTS` as one claim, named by the first
    id; its text is theirs (one source of truth), ``scope`` says which instances it draws."""
    register_claim(ids[0], None, fn, space=space, source="THEORY.md " + ids[0],
                   expected="holds", tolerance=tolerance, note=note, kind="theorem",
                   ids=ids, scope=scope)


_theorem(("P1",), _p1, _GENERIC, 1e-10,
         "violation: |E_p[H] - 1| (absolute). " + _ENGINE_TOL,
         scope="every discrete law p, reward r and K >= 1 (or inf)")
_theorem(("P2",), _p2, _GENERIC, 1e-10,
         "violation: largest relative excess over either bound. " + _ENGINE_TOL,
         scope="on the support, s = e^{r - r_*}")
_theorem(("P3",), _p3, _GENERIC, 1e-10,
         "violation: largest drop of H along increasing r, relative to max H. " + _ENGINE_TOL,
         scope="equal rewards must give equal H")
_theorem(("P4",), _p4, _GENERIC, 1e-10,
         "violation: max |H - 1| over both cases (the constant reward is r[0] everywhere).",
         scope="any K for the constant reward")
_theorem(("P5",), _p5, _GENERIC, 1e-10,
         "violation: max relative change of H. " + _ENGINE_TOL,
         scope="c in P5_SHIFTS, up to 1234.5 nats")
_theorem(("P6",), _p6, _GENERIC, 1e-10,
         "violation: max over thresholds of the tail-mass deficit (absolute).",
         scope="P_{C_K(p)}(r >= c) >= P_p(r >= c) at every reward level c")
_theorem(("T1",), _t1, InstanceSpace(steps=(1, 5)), 1e-10,
         "violation in units of e^{r_*}: (K-1)/K Var_t[s] - (E_{t+1}[s] - E_t[s]), max over "
         "t < step; for K = inf also |gain - Var/E|.",
         scope="curated data only, every step t < step (up to 5)")
_theorem(("T2", "T2.budget"), _t2, InstanceSpace(steps=(1, 30)), 1e-10,
         "violation in units of e^{r_*} (resp. e^{2 r_*} for the variance budget).",
         scope="curated data only, a finite horizon T <= 30 (the budget: the sum over t < T)")
_theorem(("T5", "T5.kl", "T5.tv"), _t5,
         InstanceSpace(K="any", lam="finite", data="independent", steps=(1, 10)), 1e-9,
         "violation: max of the relative floor deficit 1 - (1+lam) p_t/p_d, the KL excess "
         "(nats) and the TV excess; masses are accurate to ~1e-13 relative.",
         scope="any p_0 = mass, real data p_d = data, every step 1 <= t <= step")
_theorem(("T6",), _t6,
         InstanceSpace(K="any", lam="finite", data="model", steps=(1, 20)), 1e-10,
         "violation: max over t and thresholds of the tail-mass deficit (absolute).",
         scope="P_{p_t}(r >= c) >= P_{p_d}(r >= c) at every level c and every step t")
_theorem(("T7.coupling", "T7.kinf"), _t7_coupling,
         InstanceSpace(K="integer_or_inf", lam="inf", data="independent"), 1e-10,
         "the coupling needs K draws: integer K (or inf). violation: TV excess (absolute).",
         scope="integer K (T7.coupling) or K = inf (T7.kinf); p = mass, q = data")
_theorem(("T7",), _t7_contraction,
         InstanceSpace(K="integer", lam="contraction", data="independent", steps=(1, 10)),
         1e-10, "violation: max over t of the TV excess (absolute).",
         scope="integer K; checked as the contraction behind it, TV(p_t, q_t) <= "
               "kappa^t TV(p_0, q_0) for p_0 = mass, q_0 = p_d = data")

_builtin("mixing-reward-monotone",
         "with real data (finite lam, any start p_0), E_{p_t}[e^r] is non-decreasing in t",
         "false claim (THEORY.md T6: 'not a theorem')", "false", _exp_reward_drop,
         InstanceSpace(K="any", lam="finite", data="independent", steps=(1, 10)), 1e-10,
         "violation in units of e^{r_*}: max_t E_t[s] - E_{t+1}[s]. The search refutes it "
         "with a start above the data (two atoms, one step).")
_builtin("mixing-reward-monotone-from-data",
         "with real data and p_0 = p_d, E_{p_t}[e^r] is non-decreasing in t",
         "conjecture (THEORY.md T6: open; the counterexample needs p_0 != p_d)",
         "holds", _exp_reward_drop,
         InstanceSpace(K="any", lam="finite", data="model", steps=(1, 30)), 1e-10,
         "violation as mixing-reward-monotone. No decrease found: this search, and 1.8e6 "
         "random K = inf laws and 1.2e6 exact-L1 laws (K = 2, 3, 4) over 30 steps, show "
         "none above rounding (1e-15 relative).")
_builtin("expected-reward-monotone",
         "curated data only: E_{p_t}[r] (not e^r) is non-decreasing in t",
         "conjecture (P6 with f = r)", "holds", _expected_reward_drop,
         InstanceSpace(steps=(1, 10)), 1e-10,
         "violation: max_t E_t[r] - E_{t+1}[r], relative to the reward spread.")
_builtin("reward-variance-monotone",
         "curated data only: Var_{p_t}[r] is non-increasing in t",
         "false claim", "false", _reward_variance_rise, InstanceSpace(steps=(1, 5)), 1e-10,
         "violation: max_t Var_{t+1}[r] - Var_t[r], in units of the squared reward spread.")
_builtin("top-mass-monotone",
         "with real data and p_0 = p_d, the mass of the top reward level never decreases",
         "conjecture", "holds", _top_mass_drop,
         InstanceSpace(K="any", lam="finite", data="model", steps=(1, 30)), 1e-9,
         "violation: max_t relative drop of p_t(r = r_*).")
_builtin("mixing-nonexpansive",
         "T7 beyond its condition: even when lam (K-1) >= 1, TV(p_t, q_t) never increases "
         "(p_0 = mass, q_0 = p_d = data)",
         "false claim (T7 needs lam (K-1) < 1)", "false", _tv_growth,
         InstanceSpace(K="any", lam="expanding", data="independent", steps=(1, 5)), 1e-10,
         "violation: max_t TV(p_{t+1}, q_{t+1}) - TV(p_t, q_t) (absolute).")


# ----------------------------------------------------------------------------------------
# section 7: two user types (T11, T12) and their finite-K versions
# ----------------------------------------------------------------------------------------
# An instance carries the second user type's reward in ``data``: ``e^{r~ - r~_*} = data /
# max(data)`` (``lam = inf``, so ``data`` is not real data here).  The weight ``phi`` (T11) or
# ``pi_1`` (T12) is swept over WEIGHT_GRID: ``C(p) = (1 - w) C_{K,r}(p) + w C_{K,r~}(p)`` is
# linear in ``w``, so the two curated laws are computed once per instance.

#: the weights ``w = k/40`` the two-type claims quantify over
WEIGHT_GRID = tuple(k / 40 for k in range(41))


def _two_types(inst):
    """``(p, s, s~, C_{K,r}(p), C_{K,r~}(p))`` normalized, ``s = e^{r - max_{supp p} r}``;
    ``None`` when ``data`` has a zero (then ``r~ = -inf`` somewhere: outside the claims)."""
    if inst.data is None or not np.all(inst.data > 0):
        return None
    p = _normalized(inst.mass)
    on = p > 0
    s = np.exp(inst.reward - float(inst.reward[on].max()))
    st = inst.data / float(inst.data.max())
    rt = np.log(st)
    c1 = _normalized(numerics.curate(p, inst.reward, inst.K))
    c2 = _normalized(numerics.curate(p, rt, inst.K))
    return p, s, st, c1, c2


def _cov_p(p, x, y):
    return float(p @ ((x - p @ x) * (y - p @ y)))


def _t11_two_types(inst):
    got = _two_types(inst)
    if got is None:
        return -1.0
    p, s, st, c1, c2 = got
    E, E1, E2 = float(p @ s), float(c1 @ s), float(c2 @ s)
    var, cov = _cov_p(p, s, s), _cov_p(p, s, st)
    worst = -math.inf
    for w in WEIGHT_GRID:
        inc = (1 - w) * E1 + w * E2 - E
        if math.isinf(inst.K):
            worst = max(worst, abs(inc - ((1 - w) * var / E + w * cov / float(p @ st))))
        else:
            bound = (1 - w) * (inst.K - 1) / inst.K * var + w * (E2 - E)
            worst = max(worst, bound - inc)
    return worst


def _phi_drop(inst):
    got = _two_types(inst)
    if got is None:
        return -1.0
    p, s, st, c1, c2 = got
    worst = -math.inf
    for w in WEIGHT_GRID:
        q = (1 - w) * c1 + w * c2
        before = (1 - w) * math.log(float(p @ s)) + w * math.log(float(p @ st))
        after = (1 - w) * math.log(float(q @ s)) + w * math.log(float(q @ st))
        worst = max(worst, before - after)
    return worst


def _adversarial_drop(inst):
    got = _two_types(inst)
    if got is None:
        return -1.0
    p, s, st, c1, c2 = got
    if _cov_p(p, s, st) < 0:
        return -1.0
    E = float(p @ s)
    return max(E - ((1 - w) * float(c1 @ s) + w * float(c2 @ s)) for w in WEIGHT_GRID)


_TWO = ("the second reward r~ is log(data/max data) (data > 0; instances with a zero are "
        "outside the claim: violation -1); the weight is swept over k/40, k = 0..40.")

_theorem(("T11", "T11.bound"), _t11_two_types,
         InstanceSpace(K="any", lam="inf", data="independent"), 1e-10,
         "violation in units of e^{r_*}: |increment - identity| (K = inf) or bound - "
         "increment (finite K), max over phi. " + _TWO,
         scope="two user types, C = (1-phi) C_{K,r} + phi C_{K,r~}; one curation step")
_theorem(("T12",), _phi_drop,
         InstanceSpace(K="inf", lam="inf", data="independent"), 1e-10,
         "violation: Phi(p) - Phi(C(p)) in nats, max over pi. " + _TWO,
         scope="two user types with weights (1-pi, pi); one curation step")
_builtin("potential-monotone-finite-K",
         "finite K, two user types: Phi(p) = (1-pi) log E_p[e^r] + pi log E_p[e^{r~}] never "
         "decreases under one curation step (T12 beyond K = inf)",
         "false claim (T12 needs K = inf)", "false", _phi_drop,
         InstanceSpace(K="integer", K_max=6, lam="inf", data="independent"), 1e-10,
         "violation: Phi(p) - Phi(C(p)) in nats, max over pi. " + _TWO)
_builtin("adversarial-increase-finite-K",
         "finite K: with an adversarial fraction phi of users with reward r~ and "
         "Cov_p(e^r, e^{r~}) >= 0, E_{C(p)}[e^r] >= E_p[e^r] (T11's K = inf consequence)",
         "false claim (T11's corollary needs K = inf)", "false", _adversarial_drop,
         InstanceSpace(K="integer", K_max=6, lam="inf", data="independent"), 1e-10,
         "violation in units of e^{r_*}: E_p[e^r] - E_{C(p)}[e^r], max over phi, where "
         "Cov >= 0 (else -1). " + _TWO)
