"""The argument checks of :func:`numerics.sampling.simulate` beyond those of
:mod:`numerics.validation`: integer ``K``, sample counts, seed, grid coordinates, KDE
bandwidth."""

from __future__ import annotations

import math
import numbers

import numpy as np

from .validation import ValidationError, ValidationTypeError, check_K, check_steps

__all__ = ["check_K_integer", "check_positive_int", "check_seed", "check_coords",
           "check_bandwidth"]


def check_K_integer(K):
    K = check_K(K)
    if math.isinf(K) or K != int(K):
        raise ValidationError(f"K must be an integer >= 1 for simulate (the number of draws "
                              f"compared), got {K!r}")
    return int(K)


def check_positive_int(value, name):
    value = check_steps(value, name)
    if value < 1:
        raise ValidationError(f"{name} must be >= 1, got {value}")
    return value


def check_seed(seed):
    if isinstance(seed, bool) or not isinstance(seed, (numbers.Integral, np.integer)) or seed < 0:
        raise ValidationError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def check_coords(coords, shape, model):
    if coords is None:
        return tuple(np.arange(n, dtype=np.float64) for n in shape)
    try:
        coords = tuple(np.asarray(c, dtype=np.float64) for c in coords)
    except (TypeError, ValueError) as exc:
        raise ValidationTypeError(f"coords must be a tuple of 1-D arrays of real numbers: "
                                  f"{exc}") from None
    if len(coords) != len(shape):
        raise ValidationError(f"coords has {len(coords)} axes, expected {len(shape)} "
                              f"(mass has shape {shape})")
    for i, (c, n) in enumerate(zip(coords, shape)):
        if c.shape != (n,):
            raise ValidationError(f"coords[{i}] has shape {c.shape}, expected ({n},)")
        if not np.all(np.isfinite(c)):
            raise ValidationError(f"coords[{i}] contains NaN or an infinite value")
        d = np.diff(c)
        if n > 1 and not (np.all(d > 0) or np.all(d < 0)):
            raise ValidationError(f"coords[{i}] must be strictly monotone")
        if model == "kde" and n > 2 and not np.allclose(d, d[0], rtol=1e-9, atol=0):
            raise ValidationError(f"coords[{i}] must be uniformly spaced for model='kde'")
    return coords


def check_bandwidth(bandwidth, ndim):
    if bandwidth is None:
        return None
    try:
        h = np.asarray(bandwidth, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValidationTypeError(f"bandwidth must be a positive number or one per axis: "
                                  f"{exc}") from None
    if h.ndim > 1 or (h.ndim == 1 and h.shape[0] != ndim):
        raise ValidationError(f"bandwidth must be a number or {ndim} numbers, got shape {h.shape}")
    if not np.all(np.isfinite(h)) or np.any(h <= 0):
        raise ValidationError(f"bandwidth must be finite and > 0, got {bandwidth!r}")
    return h
