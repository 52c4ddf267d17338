"""Checks every image reader makes before decoding a file: a regular file, within the pixel budget.

Shared by :func:`hqmed.data.base.read_image_file` (PNG/JPEG/BMP/TIFF) and
:func:`hqmed.data.dicom.read_dicom`, so a FIFO is never opened (that would block), a broken symlink
named like an image is reported, and a decompression bomb is refused from its header.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hqmed.errors import ConfigError, DataError

# Pixel budget per image file, checked from the header before decoding (decompression bombs):
# 50 Mpx is ~0.6 GB as float32 RGB, far below a 24 GiB machine. Override with $HQMED_MAX_PIXELS.
DEFAULT_MAX_PIXELS = 50_000_000


def max_pixels() -> int:
    """The per-file pixel budget: ``$HQMED_MAX_PIXELS`` if set, else :data:`DEFAULT_MAX_PIXELS`."""
    env = os.environ.get("HQMED_MAX_PIXELS", "").strip()
    if not env:
        return DEFAULT_MAX_PIXELS
    if not env.isdigit() or int(env) < 1:
        raise ConfigError(f"HQMED_MAX_PIXELS: expected a positive integer (pixels per image); got {env!r}")
    return int(env)


def check_pixel_budget(path: str | os.PathLike, shape: Sequence[int], what: str = "") -> None:
    """Refuse an image whose header declares more pixels (product of ``shape``) than the budget."""
    n = int(np.prod([int(v) for v in shape], dtype=object))
    budget = max_pixels()
    if n > budget:
        dims = " x ".join(str(int(v)) for v in shape)
        raise DataError(f"{path}: expected at most {budget:,} pixels per image (pixel budget, "
                        f"$HQMED_MAX_PIXELS); got {dims}{what} = {n:,} pixels declared in its header")


def check_regular_file(path: str | os.PathLike, what: str = "an image file") -> Path:
    """``path`` if it is a regular file (symlinks followed); otherwise a DataError saying what it is.

    Checked before opening, so a FIFO is never read (that would block) and a broken symlink or a
    socket named like an image is reported instead of silently dropped.
    """
    path = Path(path)
    if path.is_file():
        return path
    if path.is_symlink() and not path.exists():
        got = f"a broken symbolic link (to {os.readlink(path)})"
    elif not path.exists():
        got = "no such file"
    else:
        mode = path.stat().st_mode
        got = ("a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a directory" if stat.S_ISDIR(mode)
               else "a socket" if stat.S_ISSOCK(mode) else "a device or other special file")
    raise DataError(f"{path}: expected {what} (a regular file); got {got}")
