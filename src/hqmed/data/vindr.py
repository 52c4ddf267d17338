"""VinDr-SpineXR (official layout) -> ROI crops for the LiteSpineNet paper's 8-class task.

Layout under ``root`` (default ``$HQMED_DATA/vindr-spinexr``)::

    train_images/<image_id>.dicom     test_images/<image_id>.dicom
    annotations/train.csv             annotations/test.csv

CSV columns: ``image_id, study_id, lesion_type, xmin, ymin, xmax, ymax`` (required) and ``rad_id``
(optional; other columns are kept out of the way). A normal image has one row with lesion_type
"No finding" and empty coordinates. Boxes are in pixels of the stored image.

Samples (as in the paper): every lesion box gives one ROI crop labelled with its class; each
"No finding" image gives ``rois_per_normal`` random ROIs whose (width, height) are drawn from the
lesion boxes of the train CSV (so normal crops have the same size distribution as lesion crops and
resolution does not give the class away), at a uniform position, seeded per image. Crops are
resized (bilinear, antialiased) to ``image_size`` x ``image_size``. ``meta.group`` is the study_id,
so splits by group never put one study on both sides.

Lesion types -> the paper's classes (case and spacing ignored; see :data:`LESION_MAP`):

================================  =========================
CSV lesion_type                   class
================================  =========================
Disc space narrowing              Disc space narrowing
Foraminal stenosis                Foraminal stenosis
No finding                        No finding
Osteophytes                       Osteophytes
Spondylolysthesis (CSV spelling)  Spondylolisthesis
Spondylolisthesis                 Spondylolisthesis
Surgical implant                  Surgical implant
Vertebral collapse                Vertebral collapse
Other lesions                     Other lesions
Ankylosis, Enthesophytes,         Other lesions
Fracture, Foreign body,
Sclerotic lesion,
Subchondral sclerosis
================================  =========================

Any other lesion_type is an error (extend with ``label_map={"my type": "Other lesions"}``).
Crops are kept in an on-disk sample store (:mod:`hqmed.data.store`: gray uint16, memory-mapped)
under ``cache_dir/vindr/<split>-<key>/``, the key a hash of the settings and of the CSV and DICOM
file names, sizes and mtimes: change any of them and the crops are rebuilt. The returned images
are a lazy view of that store (gray repeated to 3 channels per batch), so 224-px crops of the whole
data set never sit in memory as float32. With ``cache=False`` they are built in memory instead.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from hqmed.data.base import (
    ImageDataset,
    crop_box,
    default_cache_dir,
    resolve_data_root,
    resolve_inside,
)
from hqmed.data.dicom import read_dicom
from hqmed.data.limits import check_regular_file
from hqmed.data.resize import resize_images
from hqmed.data.skips import SkipLog, check_on_error
from hqmed.data.store import Store, StoredImages, StoreWriter, open_store
from hqmed.errors import ConfigError, DataError, DataNotFoundError

logger = logging.getLogger("hqmed.data")

CLASS_NAMES = [
    "Disc space narrowing",
    "Foraminal stenosis",
    "No finding",
    "Osteophytes",
    "Other lesions",
    "Spondylolisthesis",
    "Surgical implant",
    "Vertebral collapse",
]
NO_FINDING = "No finding"
OTHER = "Other lesions"
LESION_MAP: dict[str, str] = {c.lower(): c for c in CLASS_NAMES} | {
    "spondylolysthesis": "Spondylolisthesis",  # official VinDr-SpineXR CSV spelling
    "ankylosis": OTHER,
    "enthesophytes": OTHER,
    "fracture": OTHER,
    "foreign body": OTHER,
    "sclerotic lesion": OTHER,
    "subchondral sclerosis": OTHER,
}
REQUIRED_COLUMNS = ("image_id", "study_id", "lesion_type", "xmin", "ymin", "xmax", "ymax")
BOX_COLUMNS = ("xmin", "ymin", "xmax", "ymax")
SPLITS = ("train", "test")
IMAGE_SUFFIXES = (".dicom", ".dcm")
CACHE_VERSION = 2  # 2: an on-disk sample store instead of an npz
BOX_TOLERANCE_PX = 1.0  # boxes may overhang the image by this much (rounding); they are clipped


def _norm(s: str) -> str:
    return " ".join(str(s).strip().lower().split())


def map_lesion(lesion_type: str, label_map: dict[str, str] | None = None) -> str | None:
    """CSV lesion_type -> one of CLASS_NAMES, or None when unknown."""
    key = _norm(lesion_type)
    extra = {_norm(k): v for k, v in (label_map or {}).items()}
    return extra.get(key) or LESION_MAP.get(key)


def read_annotations(csv_path: Path, label_map: dict[str, str] | None, log: SkipLog) -> pd.DataFrame:
    """Validated rows: columns image_id, study_id, rad_id, lesion_type, label, box cols, line."""
    try:
        df = pd.read_csv(csv_path, dtype={"image_id": str, "study_id": str, "rad_id": str},
                         keep_default_na=True)
    except FileNotFoundError as exc:
        raise DataNotFoundError(f"{csv_path}: expected the annotation CSV; got no such file") from exc
    except Exception as exc:  # empty file, binary junk, bad quoting
        raise DataError(f"{csv_path}: expected a CSV with columns {list(REQUIRED_COLUMNS)}; got "
                        f"{type(exc).__name__}: {exc}") from exc
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(f"{csv_path}: expected columns {list(REQUIRED_COLUMNS)} (+ optional rad_id); "
                        f"missing {missing}; got columns {list(df.columns)}")
    bad_targets = sorted(set((label_map or {}).values()) - set(CLASS_NAMES))
    if bad_targets:
        raise ConfigError(f"label_map: expected values among {CLASS_NAMES}; got {bad_targets}")
    rows = []
    for i, rec in enumerate(df.to_dict("records")):
        line = i + 2  # 1-based file line; line 1 is the header
        where = f"{csv_path} line {line}"
        with log.guard(where):
            image_id, study_id = rec["image_id"], rec["study_id"]
            if not isinstance(image_id, str) or not image_id.strip():
                raise DataError(f"{where}: image_id: expected a non-empty id; got {image_id!r}")
            if not isinstance(study_id, str) or not study_id.strip():
                raise DataError(f"{where}: study_id: expected a non-empty id; got {study_id!r}")
            label = map_lesion(rec["lesion_type"], label_map)
            if label is None:
                raise DataError(f"{where}: lesion_type: expected one of the VinDr-SpineXR types "
                                f"{sorted(LESION_MAP)} (any case); got {rec['lesion_type']!r}")
            box = [rec[c] for c in BOX_COLUMNS]
            if label != NO_FINDING:
                try:
                    box = [float(v) for v in box]
                except (TypeError, ValueError):
                    box = [np.nan] * 4
                if not np.all(np.isfinite(box)):
                    raise DataError(f"{where}: expected numeric xmin, ymin, xmax, ymax for a "
                                    f"{label!r} box; got {[rec[c] for c in BOX_COLUMNS]}")
                x0, y0, x1, y1 = box
                if not (x1 > x0 and y1 > y0):
                    raise DataError(f"{where}: expected a box with xmin < xmax and ymin < ymax (positive "
                                    f"area); got xmin={x0:g}, xmax={x1:g}, ymin={y0:g}, ymax={y1:g} "
                                    f"(zero or negative area)")
                if min(x0, y0) < -BOX_TOLERANCE_PX:
                    raise DataError(f"{where}: box outside the image: expected xmin, ymin >= 0; got "
                                    f"xmin={x0:g}, ymin={y0:g}")
            else:
                box = [np.nan] * 4
            rad = rec.get("rad_id", "")
            rows.append({"image_id": image_id.strip(), "study_id": study_id.strip(),
                         "rad_id": "" if not isinstance(rad, str) else rad,
                         "lesion_type": str(rec["lesion_type"]), "label": label,
                         "xmin": box[0], "ymin": box[1], "xmax": box[2], "ymax": box[3], "line": line})
    return pd.DataFrame(rows, columns=["image_id", "study_id", "rad_id", "lesion_type", "label",
                                       *BOX_COLUMNS, "line"])


def lesion_box_sizes(ann: pd.DataFrame) -> np.ndarray:
    """(M, 2) float (width, height) in pixels of all lesion boxes (not "No finding")."""
    les = ann[ann["label"] != NO_FINDING]
    return np.stack([(les["xmax"] - les["xmin"]).to_numpy(float),
                     (les["ymax"] - les["ymin"]).to_numpy(float)], axis=1) if len(les) else np.zeros((0, 2))


def random_rois(image_id: str, shape: tuple[int, int], sizes: np.ndarray, n: int, seed: int) -> list[tuple]:
    """``n`` random boxes in an (H, W) image, sizes drawn from ``sizes`` (M, 2), seeded by image id."""
    h, w = shape
    rng = np.random.default_rng([int(seed), zlib.crc32(image_id.encode())])
    out = []
    for _ in range(n):
        if len(sizes):
            bw, bh = sizes[rng.integers(len(sizes))]
        else:  # no lesion boxes anywhere: fall back to a quarter of the image
            bw, bh = w / 2.0, h / 2.0
        bw, bh = float(min(max(bw, 1.0), w)), float(min(max(bh, 1.0), h))
        x0, y0 = float(rng.uniform(0, w - bw)), float(rng.uniform(0, h - bh))
        out.append((x0, y0, x0 + bw, y0 + bh))
    return out


def _find_image(images_dir: Path, image_id: str, where: str) -> Path:
    """The image of ``image_id``, which must resolve inside ``images_dir`` (``where``: CSV line)."""
    for suf in IMAGE_SUFFIXES:
        p = resolve_inside(images_dir, f"{image_id}{suf}", where, "image_id")
        if p.exists():
            return check_regular_file(p, "a DICOM file")
    raise DataError(f"{where}: expected {images_dir / image_id}.dicom; got no such file")


def _file_sig(paths: Sequence[Path]) -> list:
    sig = []
    for p in sorted(paths):
        st = p.stat()
        sig.append([f"{p.parent.name}/{p.name}", st.st_size, st.st_mtime_ns])
    return sig


def _cache_key(root: Path, split: str, settings: dict) -> str:
    # train.csv always counts: the random "No finding" ROI sizes of every split come from it
    files = [root / "annotations" / f"{split}.csv", root / "annotations" / "train.csv"]
    files = [p for p in dict.fromkeys(files) if p.exists()]
    img_dir = root / f"{split}_images"
    if img_dir.is_dir():
        files += [p for p in img_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
    blob = json.dumps({"v": CACHE_VERSION, "root": str(root.resolve()), "split": split,
                       "settings": settings, "files": _file_sig(files)}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _expand(gray: np.ndarray, channels: int) -> np.ndarray:
    return gray if channels == 1 else np.repeat(gray, channels, axis=1)


def _build_split(root: Path, split: str, ann: pd.DataFrame, sizes: np.ndarray, image_size: int,
                 rois_per_normal: int, roi_margin: float, seed: int, log: SkipLog,
                 sink: Callable[[np.ndarray], None]) -> pd.DataFrame:
    """Decode each image once and crop its ROIs; each (1, S, S) float32 crop goes to ``sink``
    as it is made (no list of crops is held). Returns the meta DataFrame, one row per crop."""
    images_dir = root / f"{split}_images"
    rows = []
    csv = root / "annotations" / f"{split}.csv"
    for image_id, grp in ann.groupby("image_id", sort=False):
        item = f"{images_dir / image_id}.dicom ({csv} lines {grp['line'].min()}-{grp['line'].max()})"
        with log.guard(item):
            labels = set(grp["label"])
            if NO_FINDING in labels and len(labels) > 1:
                raise DataError(f"{csv} lines {grp['line'].tolist()}: image {image_id}: expected either "
                                f"'No finding' or lesion rows; got both ({sorted(labels)})")
            studies = set(grp["study_id"])
            if len(studies) > 1:
                raise DataError(f"{csv} lines {grp['line'].tolist()}: image {image_id}: expected one "
                                f"study_id; got {sorted(studies)}")
            path = _find_image(images_dir, image_id, f"{csv} line {grp['line'].min()}")
            img = read_dicom(path)
            if img.ndim == 3:
                img = img.mean(axis=-1)
            h, w = img.shape
            if NO_FINDING in labels:
                boxes = random_rois(image_id, (h, w), sizes, rois_per_normal, seed)
                items = [(b, NO_FINDING, "random", grp.iloc[0]) for b in boxes]
            else:
                grp = grp.drop_duplicates(subset=["label", *BOX_COLUMNS])
                items = []
                for rec in grp.itertuples(index=False):
                    x0, y0, x1, y1 = rec.xmin, rec.ymin, rec.xmax, rec.ymax
                    if x1 > w + BOX_TOLERANCE_PX or y1 > h + BOX_TOLERANCE_PX:
                        raise DataError(f"{csv} line {rec.line}: box outside the image: expected xmax <= "
                                        f"{w} and ymax <= {h} (image {image_id} is {w}x{h} px); got "
                                        f"xmax={x1:g}, ymax={y1:g}")
                    box = (max(0.0, x0), max(0.0, y0), min(float(w), x1), min(float(h), y1))
                    items.append((box, rec.label, "lesion", rec))
            for k, (box, label, kind, rec) in enumerate(items):
                x0, y0, x1, y1 = box
                mx, my = roi_margin * (x1 - x0), roi_margin * (y1 - y0)
                crop = crop_box(img[None], (x0 - mx, y0 - my, x1 + mx, y1 + my))
                sink(resize_images(crop, image_size))
                rows.append({"id": f"{image_id}#{k}", "path": str(path), "group": rec.study_id,
                             "box": tuple(float(v) for v in box), "image_id": image_id,
                             "study_id": rec.study_id, "rad_id": rec.rad_id, "lesion_type": rec.lesion_type,
                             "roi": kind, "label_name": label})
    return pd.DataFrame(rows, columns=["id", "path", "group", "box", "image_id", "study_id", "rad_id",
                                       "lesion_type", "roi", "label_name"])


def _meta_bytes(meta: pd.DataFrame, skipped: list) -> bytes:
    buf = io.BytesIO()
    cols = {f"meta_{c}": meta[c].astype(str).to_numpy(dtype=str) for c in meta.columns if c != "box"}
    boxes = np.array([list(b) for b in meta["box"]], dtype=np.float64).reshape(-1, 4)
    np.savez(buf, boxes=boxes, skipped=np.array(json.dumps(skipped)), **cols)
    return buf.getvalue()


def _load_meta(store: Store) -> tuple[pd.DataFrame, list] | None:
    """The store's meta and skip list, or None when meta.npz is missing or does not match."""
    try:
        with np.load(store.path / "meta.npz", allow_pickle=False) as z:
            meta = pd.DataFrame({k[5:]: z[k] for k in z.files if k.startswith("meta_")})
            meta["box"] = [tuple(b) for b in z["boxes"].tolist()]
            skipped = json.loads(str(z["skipped"]))
    except (OSError, ValueError, KeyError):
        return None
    return (meta, skipped) if len(meta) == store.shape[0] else None


def load_vindr(root: str | os.PathLike | None = None, image_size: int = 224, channels: int = 3,
               splits: Sequence[str] = SPLITS, rois_per_normal: int = 1, roi_margin: float = 0.0,
               seed: int = 0, label_map: dict[str, str] | None = None, cache: bool = True,
               cache_dir: str | os.PathLike | None = None, on_error: str = "raise",
               report_path: str | os.PathLike | None = None, name: str = "vindr") -> dict[str, ImageDataset]:
    """VinDr-SpineXR ROI crops for the paper's 8 classes (see module doc).

    Args:
        root: dataset folder (default ``$HQMED_DATA/vindr-spinexr``).
        image_size: side in pixels of the square crops (224 in the paper).
        channels: 1 (gray) or 3 (gray repeated, for RGB-style models).
        splits: official splits to load, among "train", "test".
        rois_per_normal: random ROIs per "No finding" image.
        roi_margin: extra context around each box, as a fraction of its width/height per side.
        seed: seed of the random "No finding" ROIs (per image: seed + crc32(image_id)).
        label_map: extra lesion_type -> class mappings (values must be among CLASS_NAMES).
        cache / cache_dir: keep crops in a sample store under ``cache_dir/vindr`` (default
            ``$HQMED_CACHE``) and return lazy views of it; False: build them in memory.
        on_error: "raise" (default) or "skip" bad rows / images with a JSON report.
        report_path: where the skip report goes (default under the cache dir).

    Returns: ``{"train": ds, "test": ds}``; images (N, channels, S, S) float32 in [0, 1] (a lazy
    store view when ``cache``), labels
    index CLASS_NAMES, meta with id, path, group (= study_id), box and VinDr columns.
    """
    check_on_error(on_error)
    if channels not in (1, 3):
        raise ConfigError(f"channels: expected 1 or 3; got {channels!r}")
    if not isinstance(image_size, int | np.integer) or image_size < 8:
        raise ConfigError(f"image_size: expected an integer >= 8; got {image_size!r}")
    if rois_per_normal < 1:
        raise ConfigError(f"rois_per_normal: expected >= 1; got {rois_per_normal!r}")
    if not 0.0 <= float(roi_margin) <= 1.0:
        raise ConfigError(f"roi_margin: expected a fraction in [0, 1]; got {roi_margin!r}")
    bad = [s for s in splits if s not in SPLITS]
    if bad or not splits:
        raise ConfigError(f"splits: expected a non-empty subset of {list(SPLITS)}; got {list(splits)}")
    root = resolve_data_root(None) / "vindr-spinexr" if root is None else Path(root).expanduser()
    for split in splits:
        for need in (root / "annotations" / f"{split}.csv", root / f"{split}_images"):
            if not need.exists():
                raise DataNotFoundError(
                    f"VinDr-SpineXR: expected {need} (layout: train_images/<image_id>.dicom, "
                    f"test_images/, annotations/train.csv, annotations/test.csv under {root}); got no such "
                    "path. VinDr-SpineXR is distributed by PhysioNet (credentialed access); pass root=")

    log = SkipLog(name, on_error, report_path, cache_dir)
    settings = {"image_size": int(image_size), "rois_per_normal": int(rois_per_normal),
                "roi_margin": float(roi_margin), "seed": int(seed), "on_error": on_error,
                "label_map": sorted((label_map or {}).items())}
    # random "No finding" ROIs follow the train split's lesion box sizes (if train.csv exists)
    train_csv = root / "annotations" / "train.csv"
    anns: dict[str, pd.DataFrame] = {}
    cache_root = default_cache_dir(cache_dir) / "vindr"
    out: dict[str, ImageDataset] = {}
    sizes: np.ndarray | None = None
    for split in splits:
        key = _cache_key(root, split, settings)
        spath = cache_root / f"{split}-{key}"
        store = open_store(spath) if cache else None
        stored = _load_meta(store) if store is not None else None
        if stored is not None:
            meta, skipped = stored
            log.extend(skipped)
            logger.info("%s/%s: %d crops from the sample store %s", name, split, len(meta), spath)
        else:
            before = len(log.skipped)
            if sizes is None:
                src = train_csv if train_csv.exists() else root / "annotations" / f"{split}.csv"
                sizes_log = SkipLog(name, "skip") if src.name != f"{split}.csv" else log
                ann_src = read_annotations(src, label_map, sizes_log)
                anns[src.stem] = ann_src
                sizes = lesion_box_sizes(ann_src)
            ann = anns.get(split)
            if ann is None:
                ann = read_annotations(root / "annotations" / f"{split}.csv", label_map, log)
                anns[split] = ann
            build = (root, split, ann, sizes, image_size, rois_per_normal, roi_margin, seed, log)
            if cache:
                with StoreWriter(spath, (1, image_size, image_size), "uint16") as writer:
                    meta = _build_split(*build, sink=writer.append)
                    writer.add_file("meta.npz", _meta_bytes(meta, log.skipped[before:]))
                    store = writer.commit()
            else:
                crops: list[np.ndarray] = []
                meta = _build_split(*build, sink=crops.append)
                gray = (np.stack(crops).astype(np.float32) if crops
                        else np.zeros((0, 1, image_size, image_size), np.float32))
        labels = np.array([CLASS_NAMES.index(c) for c in meta["label_name"]], dtype=np.int64)
        images = (StoredImages([store], channels=channels) if store is not None
                  else _expand(gray, channels))
        out[split] = ImageDataset(images, labels, list(CLASS_NAMES), meta, name=f"{name}/{split}")
        if len(out[split]) == 0:
            raise DataError(f"{root / 'annotations' / f'{split}.csv'}: expected at least one usable "
                            f"image; got none ({len(log.skipped)} skipped)")
    path = log.finish()
    for ds in out.values():
        ds.meta.attrs["skip_report"] = str(path) if path else None
    return out
