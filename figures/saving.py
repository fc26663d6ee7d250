"""Writing figures to files atomically: ``savefig`` into a temporary path with an explicit
``format=``, then rename (an interrupted run never leaves a truncated image)."""

from __future__ import annotations

import os

from numerics.atomic import atomic_path

__all__ = ["save_figure", "FORMATS", "DPI"]

FORMATS = ("png", "pdf")
#: raster resolution: ~1200-1500 px wide figures, sharp when shown 800 px wide
DPI = 120


def save_figure(fig, out_dir, name, formats=("png",), *, dpi=DPI, atomic=None):
    """Write ``fig`` as ``out_dir/name.<fmt>`` for each format; returns the paths.
    ``atomic``: a context manager ``atomic(path) -> temporary path`` (default
    :func:`numerics.atomic.atomic_path`).

    Raises
    ------
    ValueError
        a format not in :data:`FORMATS` (checked before anything is written).
    OSError
        ``out_dir`` not writable.

    See Also
    --------
    numerics.atomic.atomic_path : the atomic writer.

    References
    ----------
    docs/figures.md (outputs are written atomically).
    """
    atomic = atomic_path if atomic is None else atomic
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
