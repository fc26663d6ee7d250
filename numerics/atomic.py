"""One atomic writer for every output file (DESIGN.md: outputs are written atomically, temp
file + rename).  It lives in the lowest layer that writes files (``numerics.sweep``) and is
re-used above it (``figures.saving``, ``selfconsume.io``)."""

from __future__ import annotations

import contextlib
import os
import tempfile

__all__ = ["atomic_path"]


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; on success rename it onto ``path``
    (``os.replace``, atomic on POSIX); on any error remove it.  A reader never sees a
    half-written file and an interrupted run leaves nothing behind.  The file gets the
    permissions ``open()`` would give it (``0o666`` less the umask)."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    stem, ext = os.path.splitext(os.path.basename(path))
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
