"""Writing figures to files atomically: ``savefig`` into a temporary path with an explicit
``format=``, then rename (an interrupted run never leaves a truncated image)."""

from __future__ import annotations

import contextlib
import os
import tempfile

__all__ = ["save_figure", "FORMATS", "DPI"]

FORMATS = ("png", "pdf")
#: raster resolution: ~1200-1500 px wide figures, sharp when shown 800 px wide
DPI = 120


@contextlib.contextmanager
def _atomic_path(path):
    """Fallback when no ``atomic`` writer is given (the command line passes
    ``selfconsume.io.atomic_path``; ``figures`` does not import the CLI): a temporary file
    beside ``path``, renamed onto it on success, removed on error."""
    directory = os.path.dirname(os.path.abspath(path)) or "."
    os.makedirs(directory, exist_ok=True)
    stem, ext = os.path.splitext(os.path.basename(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{stem}.", suffix=f".tmp{ext}", dir=directory)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def save_figure(fig, out_dir, name, formats=("png",), *, dpi=DPI, atomic=None):
    """Write ``fig`` as ``out_dir/name.<fmt>`` for each format; returns the paths.
    ``atomic``: a context manager ``atomic(path) -> temporary path`` (default: a local
    temp-file-and-rename)."""
    atomic = _atomic_path if atomic is None else atomic
    for fmt in formats:
        if fmt not in FORMATS:
            raise ValueError(f"formats: unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    paths = []
    for fmt in formats:
        path = os.path.join(os.fspath(out_dir), f"{name}.{fmt}")
        with atomic(path) as tmp:
            meta = {"Software": None} if fmt == "png" else {"Creator": None, "Producer": None,
                                                            "CreationDate": None}
            extra = {"pil_kwargs": {"compress_level": 9}} if fmt == "png" else {}
            fig.savefig(tmp, format=fmt, dpi=dpi, metadata=meta, **extra)
        paths.append(path)
    return paths
