"""Argument checks shared by the public functions (errors name the argument, as in scipy)."""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["as_mass", "as_reward", "check_K", "check_lam", "check_steps", "check_data",
           "EXP_SAFE", "InvalidInput", "ValidationError", "ValidationTypeError"]


class InvalidInput(Exception):
    """Bad input to a public function, caught before any computation; the message names the
    argument and what is wrong.  The command line reports it as a usage error (exit 2);
    any other exception from the engine is a bug and keeps its traceback."""


class ValidationError(InvalidInput, ValueError):
    """A bad value (negative, NaN, wrong shape, out of range ...): a :class:`ValueError`."""


class ValidationTypeError(InvalidInput, TypeError):
    """A value of the wrong type: a :class:`TypeError`."""


#: rewards above this (nats) make ``e^r`` overflow float64: exponential moments are then
#: reported relative to ``e^{r_*}`` (``exp_reward_shift`` of the results)
EXP_SAFE = 700.0


def as_mass(value, name="mass", values=True):
    """A finite, non-negative float64 array with a positive total (not normalized).

    ``values=False``: the type and shape only; the caller checks the values (in one pass
    with the other arrays', :func:`numerics.panels.cell_summary`, and again with
    ``values=True`` to name a fault it finds)."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValidationTypeError(f"{name} must be an array of real numbers: {exc}") from None
    if arr.ndim == 0 or arr.size == 0:
        raise ValidationError(f"{name} must be a non-empty array, got shape {arr.shape}")
    if not values:
        return arr
    total = arr.sum()  # one pass finds NaN and inf (the sum is then not finite)
    if not np.isfinite(total):
        _check_finite(arr, name)
        arr = arr / arr.max()  # finite entries whose sum overflows
        total = arr.sum()
    smallest = arr.min()
    if smallest < 0:
        raise ValidationError(f"{name} contains a negative value (min {smallest!r})")
    if not total > 0:
        raise ValidationError(f"{name} has zero total mass")
    return arr


def _check_finite(arr, name):
    if np.isnan(arr).any():
        raise ValidationError(f"{name} contains NaN")
    if np.isinf(arr).any():
        raise ValidationError(f"{name} contains an infinite value")


def as_reward(value, shape, name="reward", values=True):
    """A finite float64 array of the given shape (``values=False``: as :func:`as_mass`)."""
    if value is None:
        raise ValidationTypeError(f"{name} is required (an array shaped like mass)")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValidationTypeError(f"{name} must be an array of real numbers: {exc}") from None
    if arr.shape != shape:
        raise ValidationError(f"{name} has shape {arr.shape}, expected {shape} (the shape of mass)")
    if values and not np.isfinite(arr.sum()) and not np.isfinite(arr).all():
        _check_finite(arr, name)
    return arr


def _real(value, name):
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise ValidationTypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if math.isnan(value):
        raise ValidationError(f"{name} is NaN")
    return value


def check_K(K, name="K"):
    """``K``: a real ``>= 1`` or ``math.inf``."""
    K = _real(K, name)
    if K < 1:
        raise ValidationError(f"{name} must be >= 1 (or math.inf), got {K!r}")
    return K


def check_lam(lam, name="lam"):
    """``lam``: a real ``>= 0`` or ``math.inf`` (curated data only)."""
    lam = _real(lam, name)
    if lam < 0:
        raise ValidationError(f"{name} must be >= 0 (or math.inf), got {lam!r}")
    return lam


def check_steps(steps, name="steps"):
    if isinstance(steps, bool) or not isinstance(steps, (numbers.Integral, np.integer)):
        raise ValidationTypeError(f"{name} must be an integer, got {type(steps).__name__}")
    if steps < 0:
        raise ValidationError(f"{name} must be >= 0, got {steps}")
    return int(steps)


def check_data(data, lam, shape, default=None, name="data", values=True):
    """``data`` for a finite ``lam``: an array like ``mass``, or ``default`` when ``None``.

    Returns ``None`` when ``lam`` is infinite (real data play no role); ``values``: as
    :func:`as_mass`."""
    if math.isinf(lam):
        return None
    if data is None:
        if default is None:
            raise ValidationError(f"{name} is required when lam is finite (lam={lam!r})")
        return default
    arr = as_mass(data, name, values)
    if arr.shape != shape:
        raise ValidationError(f"{name} has shape {arr.shape}, expected {shape} (the shape of mass)")
    return arr
