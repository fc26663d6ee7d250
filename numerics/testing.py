"""Hypothesis strategies for the inputs of the curation engine (in the style of
``hypothesis.extra.numpy``), for property-testing THEORY.md's invariants.

Needs ``hypothesis`` (the ``test`` extra); nothing else in :mod:`numerics` imports this module.

- :func:`masses`: non-negative float64 arrays with a positive total: zeros, tiny masses
  (1e-300), masses spanning many decades, normalized or not.
- :func:`rewards`: finite float64 arrays: ties, spreads from 1e-6 to thousands of nats,
  common offsets of thousands of nats (``e^r`` overflows).
- :func:`Ks`: integers, reals ``>= 1``, ``math.inf``, up to 1e6.
- :func:`lams`: ``0``, small, large, ``math.inf``.
- :func:`discrete_laws` / :func:`grids`: ``(mass, reward)`` pairs of one shape (1-D atoms,
  or 1-D/2-D grids).
- :func:`instances`: a :class:`CurationInstance` ``(mass, reward, K, lam, data)``, the
  arguments of ``numerics.retrain_step`` / ``numerics.evolve``.

Example
-------
>>> import numpy as np
>>> from hypothesis import given, settings
>>> from numerics import curation_factor
>>> from numerics.testing import discrete_laws, Ks
>>> @settings(max_examples=20, deadline=None, derandomize=True)
... @given(discrete_laws(allow_zero=False), Ks())
... def test_normalization(law, K):          # THEORY.md P1: E_p[H] = 1
...     mass, reward = law
...     H = curation_factor(mass, reward, K)
...     assert abs(np.dot(mass / mass.sum(), H) - 1) < 1e-9
>>> test_normalization()
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

__all__ = ["masses", "rewards", "Ks", "lams", "discrete_laws", "grids", "instances",
           "CurationInstance", "TINY_MASS"]

#: a mass far below float64's epsilon relative to 1, still a normal number
TINY_MASS = 1e-300


def _mass_elements(allow_zero, allow_tiny):
    parts = [st.floats(1e-12, 1.0),                                  # many decades
             st.integers(1, 9).map(float),                           # small integers
             st.floats(-30.0, 0.0).map(lambda e: 10.0 ** e)]          # log-uniform
    if allow_zero:
        parts.append(st.just(0.0))
    if allow_tiny:
        parts.append(st.sampled_from([TINY_MASS, 1e-200, 1e-100]))
    return st.one_of(*parts)


@st.composite
def masses(draw, shape=None, *, min_atoms=1, max_atoms=8, normalized=None,
           allow_zero=True, allow_tiny=True):
    """Non-negative finite float64 arrays with a positive total.

    Parameters
    ----------
    shape : int, tuple or None
        array shape; ``None`` draws a 1-D length in ``[min_atoms, max_atoms]``.
    normalized : bool or None
        ``True``: sums to 1; ``False``: scaled by a random factor in ``[1e-5, 1e5]``;
        ``None``: either.
    allow_zero, allow_tiny : bool
        include exact zeros / tiny masses (1e-300, 1e-200, 1e-100).

    Raises
    ------
    InvalidArgument
        (``hypothesis.errors``, a ``TypeError``) ``min_atoms > max_atoms``, or ``shape`` not
        integers, when the strategy is drawn from (``@given``, ``find``), not when it is built.
    ValueError
        ``shape`` with a negative side (numpy), when drawn from.

    See Also
    --------
    rewards : reward arrays of the same shapes.
    discrete_laws, grids : ``(mass, reward)`` pairs.

    References
    ----------
    MacIver, Hatfield-Dodds et al. (2019), *Hypothesis: A new approach to property-based
    testing*, Journal of Open Source Software 4(43), 1891 (the strategies' library;
    https://hypothesis.readthedocs.io).

    docs/theory.md section 1 (``p``: masses on grid cells or atoms, normalized internally).

    Examples
    --------
    >>> from hypothesis import find
    >>> m = find(masses(shape=3, normalized=True), lambda m: (m == 0).any())
    >>> float(m.sum()), int((m == 0).sum()) >= 1
    (1.0, True)
    """
    if shape is None:
        shape = draw(st.integers(min_atoms, max_atoms))
    m = draw(hnp.arrays(np.float64, shape, elements=_mass_elements(allow_zero, allow_tiny)))
    if not m.sum() > 0:
        m.flat[0] = 1.0
    if normalized is None:
        normalized = draw(st.booleans())
    if normalized:
        m = m / m.sum()
    else:
        m = m * draw(st.sampled_from([1.0, 1e-5, 1e5, 3.0]))
    return m


@st.composite
def rewards(draw, shape=None, *, max_spread=3000.0, allow_ties=True, allow_offset=True,
            min_atoms=1, max_atoms=8):
    """Finite float64 reward arrays.

    The spread (max minus min) is drawn among ``1e-6`` .. ``max_spread`` nats (log-scale);
    ``allow_ties`` draws from a pool of few values now and then; ``allow_offset`` adds a
    common offset of up to +-2500 nats (so that ``e^r`` overflows or underflows float64:
    only ``r - r_max`` may matter).

    Raises
    ------
    InvalidArgument
        (``hypothesis.errors``, a ``TypeError``) ``min_atoms > max_atoms``, or ``shape`` not
        integers, when the strategy is drawn from (``@given``, ``find``), not when it is built.
    ValueError
        ``shape`` with a negative side (numpy), when drawn from.

    See Also
    --------
    masses : mass arrays of the same shapes.
    discrete_laws, grids : ``(mass, reward)`` pairs.

    References
    ----------
    MacIver, Hatfield-Dodds et al. (2019), *Hypothesis: A new approach to property-based
    testing*, Journal of Open Source Software 4(43), 1891 (the strategies' library;
    https://hypothesis.readthedocs.io).

    docs/theory.md section 1 and P5 (only ``r - r_max`` matters: the offsets test it).

    Examples
    --------
    >>> from hypothesis import find
    >>> r = find(rewards(shape=4), lambda r: r.max() - r.min() > 1000)
    >>> bool(np.all(np.isfinite(r)))
    True
    """
    if shape is None:
        shape = draw(st.integers(min_atoms, max_atoms))
    spread = draw(st.sampled_from([1e-6, 1e-2, 1.0, 5.0, 30.0, 300.0, max_spread]))
    unit = st.floats(0.0, 1.0)
    if allow_ties and draw(st.booleans()):
        pool = draw(st.lists(unit, min_size=1, max_size=3))
        unit = st.sampled_from(pool)
    x = draw(hnp.arrays(np.float64, shape, elements=unit))
    offset = 0.0
    if allow_offset:
        offset = draw(st.sampled_from([0.0, 0.0, -1.5, 2500.0, -2500.0]))
    return x * spread + offset


def Ks(*, integer=None, min_K=1, max_K=1e6, allow_inf=True):
    """Values of ``K``: integers (mostly small), reals ``>= min_K``, and ``math.inf``.

    ``integer=True``: integers only; ``False``: non-integer reals only; ``None``: both.

    Raises
    ------
    ValueError
        ``min_K`` or ``max_K`` not a number (``int()`` of it), when the strategy is built.
    OverflowError
        ``max_K`` infinite with integers allowed (``int(inf)``), when the strategy is built.
    InvalidArgument
        (``hypothesis.errors``, a ``TypeError``) ``min_K > max_K``, when the strategy is
        drawn from (``@given``, ``find``), not when it is built.

    See Also
    --------
    lams : the other loop parameter.
    instances : draws ``K`` from this strategy by default.

    References
    ----------
    MacIver, Hatfield-Dodds et al. (2019), *Hypothesis: A new approach to property-based
    testing*, Journal of Open Source Software 4(43), 1891 (the strategies' library;
    https://hypothesis.readthedocs.io).

    docs/theory.md L1-L3 (real ``K >= 1``, L2; ``K = inf``, L3).

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> @settings(max_examples=50, database=None)
    ... @given(Ks(integer=True, allow_inf=False))
    ... def integers_at_least_one(K):
    ...     assert K >= 1 and K.is_integer()
    >>> integers_at_least_one()
    """
    parts = []
    if integer in (None, True):
        parts += [st.integers(int(min_K), int(min(max_K, 8))).map(float),
                  st.integers(int(min_K), int(max_K)).map(float)]
    if integer in (None, False):
        parts.append(st.floats(float(min_K), float(max_K))
                     .filter(lambda K: not K.is_integer()))
    if allow_inf:
        parts.append(st.just(math.inf))
    return st.one_of(*parts)


def lams(*, allow_zero=True, allow_inf=True, min_lam=1e-6, max_lam=1e6):
    """Values of ``lam`` (curated : real data ratio): ``0``, small, large, ``math.inf``.

    Raises
    ------
    InvalidArgument
        (``hypothesis.errors``, a ``TypeError``) ``min_lam > max_lam``, or one not a real
        number; when the strategy is drawn from (``@given``, ``find``), not when it is built.

    See Also
    --------
    Ks : the other loop parameter.
    instances : draws ``lam`` from this strategy by default.

    References
    ----------
    MacIver, Hatfield-Dodds et al. (2019), *Hypothesis: A new approach to property-based
    testing*, Journal of Open Source Software 4(43), 1891 (the strategies' library;
    https://hypothesis.readthedocs.io).

    docs/theory.md sections 3 (``lam = inf``: curated data only) and 4 (finite ``lam``).

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> @settings(max_examples=50, database=None)
    ... @given(lams(allow_inf=False))
    ... def finite_and_non_negative(lam):
    ...     assert 0 <= lam < float("inf")
    >>> finite_and_non_negative()
    """
    parts = [st.sampled_from([0.5, 1.0, 2.0, 3.0]),
             st.floats(min_lam, max_lam)]
    if allow_zero:
        parts.insert(0, st.just(0.0))
    if allow_inf:
        parts.append(st.just(math.inf))
    return st.one_of(*parts)


@st.composite
def discrete_laws(draw, *, min_atoms=1, max_atoms=8, normalized=None, allow_zero=True,
                  allow_tiny=True, max_spread=3000.0, allow_ties=True, allow_offset=True):
    """``(mass, reward)``: a discrete law on ``min_atoms .. max_atoms`` atoms (1-D arrays).

    Raises
    ------
    InvalidArgument
        (``hypothesis.errors``, a ``TypeError``) ``min_atoms > max_atoms``, when the
        strategy is drawn from (``@given``, ``find``), not when it is built.

    See Also
    --------
    masses, rewards : the two arrays.
    grids : the same on 1-D or 2-D grids.
    instances : a law with ``K``, ``lam`` and ``data``.

    References
    ----------
    MacIver, Hatfield-Dodds et al. (2019), *Hypothesis: A new approach to property-based
    testing*, Journal of Open Source Software 4(43), 1891 (the strategies' library;
    https://hypothesis.readthedocs.io).

    docs/theory.md section 1 (``p`` and ``r`` on atoms).
    """
    n = draw(st.integers(min_atoms, max_atoms))
    m = draw(masses(n, normalized=normalized, allow_zero=allow_zero, allow_tiny=allow_tiny))
    r = draw(rewards(n, max_spread=max_spread, allow_ties=allow_ties,
                     allow_offset=allow_offset))
    return m, r


@st.composite
def grids(draw, shape=None, *, ndim=None, max_side=12, **law_options):
    """``(mass, reward)`` arrays of one 1-D or 2-D shape (a density on a grid).

    ``shape``: a fixed shape; else ``ndim`` (1 or 2; ``None``: either) and sides in
    ``[1, max_side]``.  ``law_options`` go to :func:`masses` / :func:`rewards`
    (``normalized``, ``allow_zero``, ``allow_tiny``, ``max_spread``, ``allow_ties``,
    ``allow_offset``).

    Raises
    ------
    InvalidArgument
        (``hypothesis.errors``, a ``TypeError``) ``max_side < 1``, or ``shape`` not integers,
        when the strategy is drawn from (``@given``, ``find``), not when it is built.
    ValueError
        ``shape`` with a negative side (numpy), when drawn from.  Other ``law_options`` are
        ignored, not raised.

    See Also
    --------
    discrete_laws : the same on 1-D atoms.
    masses, rewards : the two arrays.

    References
    ----------
    MacIver, Hatfield-Dodds et al. (2019), *Hypothesis: A new approach to property-based
    testing*, Journal of Open Source Software 4(43), 1891 (the strategies' library;
    https://hypothesis.readthedocs.io).

    docs/theory.md section 1 (a density on a grid; the engine's cost does not depend on it).

    Examples
    --------
    >>> from hypothesis import find
    >>> m, r = find(grids(ndim=2), lambda g: g[0].shape[0] > 1 and g[0].shape[1] > 1)
    >>> m.shape == r.shape == (2, 2)
    True
    """
    if shape is None:
        nd = draw(st.sampled_from([1, 2])) if ndim is None else ndim
        shape = tuple(draw(st.integers(1, max_side)) for _ in range(nd))
    mass_opts = {k: law_options[k] for k in ("normalized", "allow_zero", "allow_tiny")
                 if k in law_options}
    reward_opts = {k: law_options[k] for k in ("max_spread", "allow_ties", "allow_offset")
                   if k in law_options}
    return draw(masses(shape, **mass_opts)), draw(rewards(shape, **reward_opts))


class CurationInstance(NamedTuple):
    """Arguments of ``numerics.retrain_step(mass, reward, K, lam, data)``;
    ``data`` is ``None`` when ``lam`` is infinite."""

    mass: np.ndarray
    reward: np.ndarray
    K: float
    lam: float
    data: np.ndarray | None


@st.composite
def instances(draw, *, laws=None, K=None, lam=None, data="any"):
    """A :class:`CurationInstance`.

    ``laws``: strategy of ``(mass, reward)`` (default :func:`discrete_laws`); ``K``, ``lam``:
    strategies (default :func:`Ks`, :func:`lams`); ``data``: ``"same"`` (``p_d = p_0``),
    ``"independent"`` (other masses on the same cells) or ``"any"``; ignored (``None``)
    when ``lam`` is infinite.

    Raises
    ------
    ValueError
        ``data`` not ``"same"``, ``"independent"`` or ``"any"``, when a finite ``lam`` is
        drawn.
    AttributeError
        ``laws``, ``K`` or ``lam`` not a strategy, when drawn from.

    See Also
    --------
    discrete_laws : the default ``laws``.
    Ks, lams : the default ``K``, ``lam``.
    numerics.retrain_step : takes an instance as its arguments.

    References
    ----------
    MacIver, Hatfield-Dodds et al. (2019), *Hypothesis: A new approach to property-based
    testing*, Journal of Open Source Software 4(43), 1891 (the strategies' library;
    https://hypothesis.readthedocs.io).

    docs/theory.md sections 3 and 4 (the arguments of one step, with and without real data).

    Examples
    --------
    >>> from hypothesis import find
    >>> inst = find(instances(data="independent"), lambda i: i.lam < math.inf)
    >>> inst.data.shape == inst.mass.shape
    True
    """
    m, r = draw(laws if laws is not None else discrete_laws())
    k = draw(K if K is not None else Ks())
    lm = draw(lam if lam is not None else lams())
    d = None
    if not math.isinf(lm):
        kind = draw(st.sampled_from(["same", "independent"])) if data == "any" else data
        if kind == "same":
            d = m.copy()
        elif kind == "independent":
            d = draw(masses(m.shape))
        else:
            raise ValueError(f"data must be 'same', 'independent' or 'any', got {data!r}")
    return CurationInstance(m, r, k, lm, d)
