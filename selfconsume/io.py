"""Output of the command line (DESIGN.md conventions): atomic writes
(:func:`numerics.atomic.atomic_path`, the one writer every layer uses), JSON with one
convention for numbers JSON cannot hold (:func:`to_json`), and progress on stderr."""

from __future__ import annotations

import json
import math
import sys
import time

from numerics.atomic import atomic_path

__all__ = ["atomic_path", "jsonable", "to_json", "Progress"]


def jsonable(obj):
    """``obj`` with every non-finite float written as a string (``"inf"``, ``"-inf"``,
    ``"nan"``: the convention of every JSON output, as in the scenario files), numpy scalars
    and arrays as Python numbers and lists, tuples as lists."""
    if isinstance(obj, dict):
        return {k: jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if hasattr(obj, "tolist"):  # numpy arrays and scalars
        return jsonable(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    return obj


def to_json(obj, indent=None):
    """The one JSON encoder of the command line: :func:`jsonable`, then strict JSON."""
    return json.dumps(jsonable(obj), indent=indent, allow_nan=False)


class Progress:
    """``progress(step, total)`` callback printing a one-line counter on stderr when stderr
    is a terminal (nothing otherwise), at most ten times a second."""

    def __init__(self, label, stream=None, force=False, unit="step"):
        self.label = label
        self.unit = unit
        self.stream = stream or sys.stderr
        self.enabled = force or (hasattr(self.stream, "isatty") and self.stream.isatty())
        self._last = 0.0

    def __call__(self, step, total):
        if not self.enabled:
            return
        now = time.monotonic()
        if step < total and now - self._last < 0.1:
            return
        self._last = now
        end = "\n" if step >= total else ""
        self.stream.write(f"\r{self.label}: {self.unit} {step}/{total}{end}")
        self.stream.flush()
