"""Atomic writes and progress for the command line (DESIGN.md conventions)."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; on success rename it onto ``path``
    (``os.replace``, atomic on POSIX); on any error remove it.  A reader never sees a
    half-written file and an interrupted run leaves nothing behind."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    base = os.path.basename(path)
    stem, ext = os.path.splitext(base)
    fd, tmp = tempfile.mkstemp(prefix=f".{stem}.", suffix=f".tmp{ext}", dir=directory)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; follow the umask like open()
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


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
