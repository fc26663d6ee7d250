"""Atomic writes and progress for the command line (DESIGN.md conventions).  The atomic
writer is :func:`numerics.atomic.atomic_path`, the one every layer uses."""

from __future__ import annotations

import sys
import time

from numerics.atomic import atomic_path

__all__ = ["atomic_path", "Progress"]


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
