"""YOLO-format detection folders -> ROI crops (or whole images) as ImageDatasets.

Layout: ``root/<split>/images/*.jpg`` with ``root/<split>/labels/<same stem>.txt`` per split folder
(``train``, ``valid``/``val``, ``test``), or ``root/images`` + ``root/labels`` for a single split
(returned as ``"all"``). Each label line is ``class cx cy w h`` with centre and size normalised to
[0, 1]; a segmentation line ``class x1 y1 x2 y2 x3 y3 ...`` (normalised polygon, as some exports mix
in) is reduced to its bounding box. Class names come from ``root/data.yaml`` (``names:``) when present, else ``class_<k>``.

``mode="crops"`` (default): one sample per box, the box cropped (plus ``roi_margin``) and resized to
``image_size``; ``meta.group`` is the source image, so splits keep all crops of an image together.
``mode="images"``: one sample per image, whole image resized, label ``-1`` (inference only, like the
paper's external AP views). An image without a label file has no boxes (YOLO background image):
it gives no crops, and the count is logged.

Bad label lines (wrong field count, class out of range, box outside [0, 1] or with zero area) raise
:class:`~hqmed.errors.DataError` naming the file and line; ``on_error="skip"`` skips that image.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from hqmed.data.base import ImageDataset, crop_box, read_image_file
from hqmed.data.folders import check_image_size, is_image_file, list_files
from hqmed.data.resize import resize_images
from hqmed.data.skips import SkipLog, check_on_error
from hqmed.errors import ConfigError, DataError, DataNotFoundError
from hqmed.utils.io import read_yaml

logger = logging.getLogger("hqmed.data")

SPLIT_DIRS = {"train": "train", "valid": "val", "val": "val", "test": "test"}
EDGE_TOLERANCE = 1e-3  # normalised coordinates may overhang [0, 1] by this much (rounding)


def read_class_names(root: Path) -> list[str] | None:
    """``names`` from ``root/data.yaml`` (list or {index: name}), or None."""
    for fname in ("data.yaml", "data.yml"):
        p = root / fname
        if p.is_file():
            try:
                cfg = read_yaml(p, what="YOLO class list") or {}
            except ConfigError as exc:
                raise DataError(str(exc)) from None
            names = cfg.get("names") if isinstance(cfg, dict) else None
            if isinstance(names, dict):
                names = [names[k] for k in sorted(names, key=int)]
            if names is not None and not isinstance(names, list):
                raise DataError(f"{p}: names: expected a list of class names; got {type(names).__name__}")
            return [str(n) for n in names] if names is not None else None
    return None


def parse_label_file(path: Path, n_classes: int | None) -> list[tuple[int, float, float, float, float]]:
    """Validated ``(class, cx, cy, w, h)`` rows of one YOLO label file."""
    rows = []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: expected a YOLO text label file; got {type(exc).__name__}: {exc}") from exc
    for lineno, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        where = f"{path} line {lineno}"
        polygon = len(parts) >= 7 and len(parts) % 2 == 1
        if len(parts) != 5 and not polygon:
            raise DataError(f"{where}: expected 5 fields 'class cx cy w h' (or a polygon 'class x1 y1 x2 y2 "
                            f"x3 y3 ...'); got {len(parts)} fields: {line.strip()[:80]!r}")
        try:
            cls_f = float(parts[0])
            vals = [float(v) for v in parts[1:]]
        except ValueError as exc:
            raise DataError(f"{where}: expected numbers 'class cx cy w h'; got {line.strip()[:80]!r}") from exc
        if polygon:  # YOLO segmentation line: use the polygon's bounding box
            xs, ys = vals[0::2], vals[1::2]
            cx, cy, w, h = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2, max(xs) - min(xs), max(ys) - min(ys)
        else:
            cx, cy, w, h = vals
        if cls_f != int(cls_f) or cls_f < 0 or (n_classes is not None and cls_f >= n_classes):
            hi = "" if n_classes is None else f" < {n_classes}"
            raise DataError(f"{where}: class: expected an integer >= 0{hi}; got {parts[0]}")
        if not (w > 0 and h > 0):
            raise DataError(f"{where}: expected a box with w > 0 and h > 0; got w={w:g}, h={h:g} (zero area)")
        x0, y0, x1, y1 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
        if min(x0, y0) < -EDGE_TOLERANCE or max(x1, y1) > 1 + EDGE_TOLERANCE:
            raise DataError(f"{where}: box outside the image: expected normalised cx +- w/2 and cy +- h/2 in "
                            f"[0, 1]; got x [{x0:.4g}, {x1:.4g}], y [{y0:.4g}, {y1:.4g}]")
        rows.append((int(cls_f), cx, cy, w, h))
    return rows


def _split_dirs(root: Path) -> dict[str, Path]:
    if (root / "images").is_dir():
        return {"all": root}
    found = {}
    for d, split in SPLIT_DIRS.items():
        if (root / d / "images").is_dir():
            found.setdefault(split, root / d)
    if not found:
        raise DataNotFoundError(f"{root}: expected YOLO folders <split>/images and <split>/labels (splits "
                                f"{sorted(SPLIT_DIRS)}) or images/ + labels/; got none")
    return found


def load_yolo(root: str | os.PathLike, image_size: int = 224, channels: int = 3, mode: str = "crops",
              splits: Sequence[str] | None = None, roi_margin: float = 0.0,
              class_names: Sequence[str] | None = None, max_images: int | None = None,
              on_error: str = "raise", report_path: str | os.PathLike | None = None,
              cache_dir: str | os.PathLike | None = None, name: str | None = None) -> dict[str, ImageDataset]:
    """Load a YOLO detection folder (see module doc).

    Args:
        root: dataset folder.
        image_size: output side in pixels (square).
        channels: 1 or 3.
        mode: "crops" (one sample per box) or "images" (one unlabelled sample per image).
        splits: subset of the available splits ("train", "val", "test" or "all"); default all.
        roi_margin: context around each box, fraction of its width/height per side.
        class_names: override ``data.yaml`` names.
        max_images: read at most this many images per split (sorted by name), e.g. for quick tests.
        on_error: "raise" or "skip" (bad images / label files skipped and reported).

    Returns: ``{split: ds}``; meta has id, path, group (= image path relative to root), box (pixels).
    """
    check_on_error(on_error)
    image_size = check_image_size(image_size)
    if mode not in ("crops", "images"):
        raise ConfigError(f"mode: expected 'crops' or 'images'; got {mode!r}")
    if channels not in (1, 3):
        raise ConfigError(f"channels: expected 1 or 3; got {channels!r}")
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataNotFoundError(f"{root}: expected a YOLO dataset folder; got no such folder")
    dirs = _split_dirs(root)
    if splits is not None:
        bad = [s for s in splits if s not in dirs]
        if bad:
            raise ConfigError(f"splits: expected a subset of {sorted(dirs)} (found in {root}); got {list(splits)}")
        dirs = {s: dirs[s] for s in splits}
    names = [str(c) for c in class_names] if class_names is not None else read_class_names(root)
    name = name or root.name
    log = SkipLog(name, on_error, report_path, cache_dir)
    out = {}
    for split, sdir in dirs.items():
        files = [p for p in list_files(sdir / "images", recursive=False)]
        non_images = [p for p in files if not is_image_file(p)]
        for p in non_images:
            log.add(str(p), DataError(f"{p}: expected an image file in {sdir / 'images'}; got a non-image file"))
        files = [p for p in files if is_image_file(p)][: max_images or None]
        samples, rows, no_boxes = [], [], 0
        for img_path in files:
            lab_path = sdir / "labels" / f"{img_path.stem}.txt"
            with log.guard(str(img_path)):
                boxes = parse_label_file(lab_path, len(names) if names else None) if lab_path.is_file() else []
                img = read_image_file(img_path, channels)
                h, w = img.shape[-2:]
                rel = str(img_path.relative_to(root))
                if mode == "images":
                    samples.append(resize_images(img, image_size))
                    rows.append({"id": rel, "path": str(img_path), "group": rel, "box": None,
                                 "label": -1, "n_boxes": len(boxes)})
                    continue
                if not boxes:
                    no_boxes += 1
                for k, (cls, cx, cy, bw, bh) in enumerate(boxes):
                    x0, y0 = max(0.0, (cx - bw / 2) * w), max(0.0, (cy - bh / 2) * h)
                    x1, y1 = min(float(w), (cx + bw / 2) * w), min(float(h), (cy + bh / 2) * h)
                    mx, my = roi_margin * (x1 - x0), roi_margin * (y1 - y0)
                    samples.append(resize_images(crop_box(img, (x0 - mx, y0 - my, x1 + mx, y1 + my)), image_size))
                    rows.append({"id": f"{rel}#{k}", "path": str(img_path), "group": rel,
                                 "box": (x0, y0, x1, y1), "label": cls, "n_boxes": len(boxes)})
        if no_boxes:
            logger.warning("%s/%s: %d image(s) without boxes (no label file or empty) give no crops",
                           name, split, no_boxes)
        meta = pd.DataFrame(rows, columns=["id", "path", "group", "box", "label", "n_boxes"])
        labels = meta.pop("label").to_numpy(dtype=np.int64)
        k_max = int(labels.max()) + 1 if len(labels) else 0
        split_names = names if names is not None else [f"class_{i}" for i in range(k_max)]
        images = np.stack(samples) if samples else np.zeros((0, channels, image_size, image_size), np.float32)
        out[split] = ImageDataset(images.astype(np.float32, copy=False), labels, list(split_names), meta,
                                  name=f"{name}/{split}")
    path = log.finish()
    for ds in out.values():
        ds.meta.attrs["skip_report"] = str(path) if path else None
    return out
