"""Image folders: class-per-folder (labelled) and plain folders (unlabelled, inference only).

Labelled layout: ``root/<class name>/<image>`` -- one sub-folder per class, class index = position
in sorted folder names (or in ``class_names`` when given, e.g. the training run's classes for an
external test set). Unlabelled: every image below ``root`` (recursively), label ``-1``, as for the
paper's BUU-LSPINE / RSNA external runs.

Images: PNG, JPEG, BMP, TIFF and DICOM (``.dcm``/``.dicom`` or extensionless with a DICM
preamble); file names may contain spaces and commas. Each image is resized (bilinear,
antialiased) to ``image_size`` x ``image_size`` with ``channels`` 1 or 3.

Bad input: a file in a class folder that is not a readable image, or a class folder with no images,
raises :class:`~hqmed.errors.DataError` naming it. With ``on_error="skip"`` bad files are skipped
and an empty class keeps its index with zero samples; both go to the JSON skip report.
Hidden files (``.name``) and ``Thumbs.db`` / ``desktop.ini`` are ignored.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from hqmed.data.base import ImageDataset, read_image_file
from hqmed.data.dicom import is_dicom
from hqmed.data.resize import resize_images
from hqmed.data.skips import SkipLog, check_on_error
from hqmed.errors import ConfigError, DataError, DataNotFoundError

logger = logging.getLogger("hqmed.data")

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".dcm", ".dicom")
IGNORED_NAMES = ("thumbs.db", "desktop.ini")


def _ignored(p: Path) -> bool:
    return p.name.startswith(".") or p.name.lower() in IGNORED_NAMES


def list_files(folder: Path, recursive: bool) -> list[Path]:
    """Non-hidden entries below ``folder`` that are not folders, sorted.

    FIFOs, sockets and broken symlinks are listed too, so reading them reports them by name
    instead of dropping them silently.
    """
    it = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in it if not p.is_dir() and not _ignored(p)
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def is_image_file(p: Path) -> bool:
    return p.suffix.lower() in IMAGE_SUFFIXES or (not p.suffix and is_dicom(p))


def check_image_size(image_size: int) -> int:
    if not isinstance(image_size, int | np.integer) or isinstance(image_size, bool) or image_size < 4:
        raise ConfigError(f"image_size: expected an integer >= 4; got {image_size!r}")
    return int(image_size)


def _read_all(files: list[tuple[Path, int]], image_size: int, channels: int,
              log: SkipLog) -> tuple[np.ndarray, list[int], list[Path]]:
    images, labels, kept = [], [], []
    for path, label in files:
        with log.guard(str(path)):
            if not is_image_file(path):
                raise DataError(f"{path}: expected an image file ({', '.join(IMAGE_SUFFIXES)} or DICOM); "
                                f"got a non-image file ({path.suffix or 'no extension'})")
            images.append(resize_images(read_image_file(path, channels), image_size))
            labels.append(label)
            kept.append(path)
    arr = np.stack(images) if images else np.zeros((0, channels, image_size, image_size), np.float32)
    return arr.astype(np.float32, copy=False), labels, kept


def load_image_folder(root: str | os.PathLike, image_size: int = 224, channels: int = 3,
                      labelled: bool = True, class_names: Sequence[str] | None = None,
                      on_error: str = "raise", report_path: str | os.PathLike | None = None,
                      cache_dir: str | os.PathLike | None = None, name: str | None = None
                      ) -> dict[str, ImageDataset]:
    """Load a class-per-folder (``labelled=True``) or unlabelled image folder.

    Args:
        root: the folder.
        image_size: output side in pixels (square).
        channels: 1 (gray) or 3 (RGB; gray images repeated).
        labelled: True -> sub-folders are classes; False -> all images, labels -1.
        class_names: fix the class order (labelled: every folder must be one of them; classes without
            a folder get zero samples). Unlabelled: names recorded for later predictions.
        on_error: "raise" or "skip" (bad files skipped and reported).
        report_path: skip-report JSON path (default under ``$HQMED_CACHE/skip-reports``).

    Returns: ``{"all": ds}``; meta id = path relative to ``root``, group = id, box None.
    """
    check_on_error(on_error)
    image_size = check_image_size(image_size)
    if channels not in (1, 3):
        raise ConfigError(f"channels: expected 1 or 3; got {channels!r}")
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataNotFoundError(f"{root}: expected an image folder; got no such folder")
    name = name or root.name
    log = SkipLog(name, on_error, report_path, cache_dir)

    if labelled:
        dirs = sorted(p for p in root.iterdir() if p.is_dir() and not _ignored(p))
        if not dirs:
            raise DataError(f"{root}: expected one sub-folder per class (labelled=True); got no sub-folders "
                            "(use labelled=False for a folder of unlabelled images)")
        names = [d.name for d in dirs] if class_names is None else [str(c) for c in class_names]
        unknown = [d.name for d in dirs if d.name not in names]
        if unknown:
            raise DataError(f"{root}: expected class folders among {names}; got unknown folders {unknown}")
        stray = [p.name for p in root.iterdir() if p.is_file() and not _ignored(p)]
        if stray:
            logger.info("%s: ignoring %d file(s) outside class folders: %s", root, len(stray), stray[:5])
        files: list[tuple[Path, int]] = []
        for d in dirs:
            found = list_files(d, recursive=True)
            if not any(is_image_file(p) for p in found):
                log.add(str(d), DataError(
                    f"{d}: class {d.name!r} is empty: expected at least one image "
                    f"({', '.join(IMAGE_SUFFIXES)}); got {len(found)} file(s) {[p.name for p in found[:5]]}"))
            files += [(p, names.index(d.name)) for p in found]
        missing = [n for n in names if not (root / n).is_dir()]
        if missing:
            logger.warning("%s: classes without a folder get zero samples: %s", root, missing)
    else:
        names = [str(c) for c in class_names] if class_names is not None else []
        files = [(p, -1) for p in list_files(root, recursive=True)]
        if not any(is_image_file(p) for p, _ in files):
            raise DataError(f"{root}: expected image files ({', '.join(IMAGE_SUFFIXES)}); got "
                            f"{len(files)} file(s) and no images")
        # an unlabelled folder may hold READMEs and licences next to the images: skip non-image
        # suffixes openly (logged), but a file *named* like an image must decode
        other = [p for p, _ in files if not is_image_file(p)]
        if other:
            logger.warning("%s: ignoring %d non-image file(s) (unlabelled folder): %s", root, len(other),
                           [str(p.relative_to(root)) for p in other[:5]])
        files = [(p, lab) for p, lab in files if is_image_file(p)]

    images, labels, kept = _read_all(files, image_size, channels, log)
    ids = [str(p.relative_to(root)) for p in kept]
    meta = pd.DataFrame({"id": ids, "path": [str(p) for p in kept], "group": ids, "box": [None] * len(ids)})
    ds = ImageDataset(images, np.asarray(labels, dtype=np.int64), names, meta, name=name)
    if len(ds) == 0:
        raise DataError(f"{root}: expected at least one readable image; got none ({len(log.skipped)} skipped)")
    path = log.finish()
    ds.meta.attrs["skip_report"] = str(path) if path else None
    return {"all": ds}


def load_image_files(paths: list[str | Path], channels: int = 3, size: tuple[int, int] | None = None):
    """ImageDataset (labels -1) of PNG/JPEG/DICOM files, each resized to ``size`` (H, W) (default:
    the first file's size); its meta ``path`` keeps each file name."""
    if not paths:
        raise ConfigError("FILES: expected at least one image file; got none")
    arrays = []
    for p in paths:
        if not Path(p).exists() and not Path(p).is_symlink():  # FIFOs etc.: read_image_file says
            raise DataError(f"{Path(p).resolve()}: expected an image file (PNG, JPEG or DICOM); "
                            "got no such file")
        arrays.append(read_image_file(p, channels=channels))
    h, w = size if size is not None else arrays[0].shape[-2:]
    images = np.stack([a if a.shape[-2:] == (h, w) else resize_images(a, (h, w)) for a in arrays])
    ids = [str(p) for p in paths]
    meta = pd.DataFrame({"id": ids, "path": ids, "group": ids, "box": [None] * len(ids)})
    return ImageDataset(images.astype(np.float32), np.full(len(ids), -1, dtype=np.int64),
                        ["?"], meta, name="files")
