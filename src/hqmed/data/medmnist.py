"""MedMNIST v3 2-D subsets from the official ``.npz`` files (without the ``medmnist`` package).

Files: ``<root>/<flag>.npz`` for 28 px, ``<root>/<flag>_<size>.npz`` for 64, 128 and 224 px, where
``root`` is the argument (``--data-root``), else ``$HQMED_DATA``, else ``~/.hqmed/data``. A missing
file is downloaded from the official Zenodo record (10519652) with pooch and its MD5 is verified;
offline or with ``download=False`` a :class:`~hqmed.errors.DataNotFoundError` says which file is
missing, where to put it, its URL and its MD5. Facts below are medmnist 3.0.2's ``INFO``.

chestmnist is multi-label (14 binary findings per image) and is refused: hqmed's classifiers are
single-label (softmax over K classes).
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pooch

from hqmed.data.base import ImageDataset, default_cache_dir, resolve_data_root
from hqmed.errors import ConfigError, DataError, DataNotFoundError, ShapeError
from hqmed.utils.io import atomic_write_json, read_json

logger = logging.getLogger("hqmed.data")

SIZES = (28, 64, 128, 224)
SPLITS = ("train", "val", "test")
ZENODO_URL = "https://zenodo.org/records/10519652/files/{fname}?download=1"

_ORGANS = ("bladder", "femur-left", "femur-right", "heart", "kidney-left", "kidney-right", "liver",
           "lung-left", "lung-right", "pancreas", "spleen")

# flag: (task, n_channels, class names, (n_train, n_val, n_test), {size: md5})  -- medmnist 3.0.2 INFO
INFO: dict[str, tuple[str, int, tuple[str, ...], tuple[int, int, int], dict[int, str]]] = {
    "pathmnist": ("multi-class", 3, (
        "adipose", "background", "debris", "lymphocytes", "mucus", "smooth muscle",
        "normal colon mucosa", "cancer-associated stroma", "colorectal adenocarcinoma epithelium"),
        (89996, 10004, 7180),
        {28: "a8b06965200029087d5bd730944a56c1", 64: "55aa9c1e0525abe5a6b9d8343a507616",
         128: "ac42d08fb904d92c244187169d1fd1d9", 224: "2c51a510bcdc9cf8ddb2af93af1eadec"}),
    "chestmnist": ("multi-label, binary-class", 1, (
        "atelectasis", "cardiomegaly", "effusion", "infiltration", "mass", "nodule", "pneumonia",
        "pneumothorax", "consolidation", "edema", "emphysema", "fibrosis", "pleural", "hernia"),
        (78468, 11219, 22433),
        {28: "02c8a6516a18b556561a56cbdd36c4a8", 64: "9de6cd0b934ebb5b7426cfba5efbae16",
         128: "db107e5590b27930b62dbaf558aebee3", 224: "45bd33e6f06c3e8cdb481c74a89152aa"}),
    "dermamnist": ("multi-class", 3, (
        "actinic keratoses and intraepithelial carcinoma", "basal cell carcinoma",
        "benign keratosis-like lesions", "dermatofibroma", "melanoma", "melanocytic nevi",
        "vascular lesions"),
        (7007, 1003, 2005),
        {28: "0744692d530f8e62ec473284d019b0c7", 64: "b70a2f5635c6199aeaa28c31d7202e1f",
         128: "2defd784463fa5243564e855ed717de1", 224: "8974907d8e169bef5f5b96bc506ae45d"}),
    "octmnist": ("multi-class", 1, (
        "choroidal neovascularization", "diabetic macular edema", "drusen", "normal"),
        (97477, 10832, 1000),
        {28: "c68d92d5b585d8d81f7112f81e2d0842", 64: "e229e9440236b774d9f0dfef9d07bdaf",
         128: "0a97e76651ace45c5d943ee3f65b63ae", 224: "abc493b6d529d5de7569faaef2773ba3"}),
    "pneumoniamnist": ("binary-class", 1, ("normal", "pneumonia"),
        (4708, 524, 624),
        {28: "28209eda62fecd6e6a2d98b1501bb15f", 64: "8f4eceb4ccffa70c672198ea285246c6",
         128: "05b46931834c231683c68f40c47b2971", 224: "d6a3c71de1b945ea11211b03746c1fe1"}),
    "retinamnist": ("ordinal-regression", 3, ("0", "1", "2", "3", "4"),
        (1080, 120, 400),
        {28: "bd4c0672f1bba3e3a89f0e4e876791e4", 64: "afda852cc34dcda56f86ad2b2457dbcc",
         128: "e48e916a24454daf90583d4e6efb1a18", 224: "eae7e3b6f3fcbda4ae613ebdcbe35348"}),
    "breastmnist": ("binary-class", 1, ("malignant", "normal, benign"),
        (546, 78, 156),
        {28: "750601b1f35ba3300ea97c75c52ff8f6", 64: "742edef2a1fd1524b2efff4bd7ba9364",
         128: "363e4b3f8d712e9b5de15470a2aaadf1", 224: "b56378a6eefa9fed602bb16d192d4c8b"}),
    "bloodmnist": ("multi-class", 3, (
        "basophil", "eosinophil", "erythroblast",
        "immature granulocytes(myelocytes, metamyelocytes and promyelocytes)", "lymphocyte",
        "monocyte", "neutrophil", "platelet"),
        (11959, 1712, 3421),
        {28: "7053d0359d879ad8a5505303e11de1dc", 64: "2b94928a2ae4916078ca51e05b6b800b",
         128: "adace1e0ed228fccda1f39692059dd4c", 224: "b718ff6835fcbdb22ba9eacccd7b2601"}),
    "tissuemnist": ("multi-class", 1, (
        "Collecting Duct, Connecting Tubule", "Distal Convoluted Tubule",
        "Glomerular endothelial cells", "Interstitial endothelial cells", "Leukocytes", "Podocytes",
        "Proximal Tubule Segments", "Thick Ascending Limb"),
        (165466, 23640, 47280),
        {28: "ebe78ee8b05294063de985d821c1c34b", 64: "123ece2eba09d0aa5d698fda57103344",
         128: "61b955355d7425a89687b06cca3ce0c2", 224: "b077128c4a949f0a4eb01517f9037b9c"}),
    "organamnist": ("multi-class", 1, _ORGANS, (34561, 6491, 17778),
        {28: "68e3f8846a6bd62f0c9bf841c0d9eacc", 64: "2dcccc29b88e6da5a01161ef20cda288",
         128: "eeae80d0a227a8d099027e1b3cfd3b60", 224: "50747347e05c87dd3aaf92c49f9f3170"}),
    "organcmnist": ("multi-class", 1, _ORGANS, (12975, 2392, 8216),
        {28: "b9ceb9546e10131b32923c5bbeaea2b1", 64: "3ce34a8724ea6f548e6db4744d03b6a9",
         128: "773c1f009daa3fe5d9a2a201b2a7ed94", 224: "050f5e875dc056f6768abf94ec9995d1"}),
    "organsmnist": ("multi-class", 1, _ORGANS, (13932, 2452, 8827),
        {28: "9ab87b696fb54e2a387ebe992d6ed5f1", 64: "53a6d115339d874c25e309a994ff46d3",
         128: "ded0c5fa01a95dc4978b956f613e9b8e", 224: "b354719e553fbbb2513d5533f52a4cb1"}),
}
FLAGS = tuple(INFO)


def check_flag_size(flag: str, size: int) -> tuple[str, int]:
    flag = str(flag).lower()
    if flag not in INFO:
        raise ConfigError(f"medmnist flag: expected one of {list(FLAGS)}; got {flag!r}")
    try:
        size = int(size)
    except (TypeError, ValueError):
        size = -1
    if size not in SIZES:
        raise ConfigError(f"medmnist size: expected one of {list(SIZES)}; got {size!r}")
    return flag, size


def medmnist_filename(flag: str, size: int = 28) -> str:
    """``pneumoniamnist.npz`` (28 px) or ``pneumoniamnist_128.npz`` -- as MedMNIST v3 names them."""
    flag, size = check_flag_size(flag, size)
    return f"{flag}.npz" if size == 28 else f"{flag}_{size}.npz"


def medmnist_url(flag: str, size: int = 28) -> str:
    return ZENODO_URL.format(fname=medmnist_filename(flag, size))


def medmnist_md5(flag: str, size: int = 28) -> str:
    flag, size = check_flag_size(flag, size)
    return INFO[flag][4][size]


def md5sum(path: str | os.PathLike, chunk: int = 1 << 22) -> str:
    h = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def _cached_md5(path: Path) -> str:
    """MD5 of ``path``, remembered in ``$HQMED_CACHE/medmnist-md5.json`` by (path, size, mtime)
    so multi-GB 224-px files are hashed once, not on every load."""
    store = default_cache_dir() / "medmnist-md5.json"
    st = path.stat()
    key = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    try:
        known = read_json(store) if store.is_file() else {}
    except (OSError, ValueError):
        known = {}
    if key in known:
        return known[key]
    got = md5sum(path)
    try:
        atomic_write_json(store, {**known, key: got})
    except OSError:  # read-only cache: just hash again next time
        pass
    return got


def fetch_medmnist(flag: str, size: int = 28, root: str | os.PathLike | None = None,
                   download: bool = True, verify_md5: bool = True) -> Path:
    """Path of the official npz, downloading it (MD5-verified) if missing and ``download``."""
    flag, size = check_flag_size(flag, size)
    root = resolve_data_root(root)
    fname, url, md5 = medmnist_filename(flag, size), medmnist_url(flag, size), medmnist_md5(flag, size)
    path = root / fname
    if path.is_file():
        if verify_md5:
            got = _cached_md5(path)
            if got != md5:
                raise DataError(f"{path.resolve()}: expected MD5 {md5} (medmnist 3.0.2 INFO); got {got}. The "
                                f"file is corrupt or a different version: delete it and download it again "
                                f"from {url}, or, to use it anyway, set data.params.verify_md5: false "
                                "(--set data.params.verify_md5=false)")
        return path
    hint = (f"MedMNIST file {fname} is missing: expected it at {path.resolve()} (md5 {md5}). Download "
            f"it from {url} and put it there, or pass --data-root DIR (config: data.data_root): the "
            f"file is then looked up at DIR/<data.params.root>/{fname} (DIR/{fname} without a root)")
    if not download:
        raise DataNotFoundError(hint + " (download=False)")

    try:
        logger.info("downloading %s to %s", url, root)
        pooch.retrieve(url, known_hash=f"md5:{md5}", fname=fname, path=root, progressbar=False)
    except Exception as exc:  # offline, HTTP error, hash mismatch
        raise DataNotFoundError(f"{hint}. The download failed: {type(exc).__name__}: {exc}") from exc
    return path


def read_medmnist_npz(path: str | os.PathLike, flag: str, size: int, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Validated (images (N, C, H, W) float32 [0, 1], labels (N,) int64) of one split of one npz."""
    flag, size = check_flag_size(flag, size)
    _, n_channels, names, _, _ = INFO[flag]
    ki, kl = f"{split}_images", f"{split}_labels"
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = sorted(npz.files)
            missing = [k for k in (ki, kl) if k not in keys]
            if missing:
                raise DataError(f"{path}: expected keys {ki!r} and {kl!r}; got keys {keys}")
            images, labels = npz[ki], npz[kl]
    except DataError:
        raise
    except Exception as exc:  # not a zip, truncated, pickled objects
        raise DataError(f"{path}: expected a MedMNIST .npz archive; got {type(exc).__name__}: {exc}") from exc
    exp = f"(N, {size}, {size})" if n_channels == 1 else f"(N, {size}, {size}, 3)"
    ok = images.ndim == (3 if n_channels == 1 else 4) and images.shape[1:3] == (size, size)
    if n_channels == 3:
        ok = ok and images.shape[-1] == 3
    if not ok:
        raise ShapeError(f"{path} key {ki!r}: expected shape {exp}; got {images.shape}")
    if images.dtype != np.uint8:
        raise DataError(f"{path} key {ki!r}: expected dtype uint8; got {images.dtype}")
    if labels.shape not in ((len(images), 1), (len(images),)):
        extra = " (multi-label)" if labels.ndim == 2 and labels.shape[1] > 1 else ""
        raise ShapeError(f"{path} key {kl!r}: expected shape ({len(images)}, 1); got {labels.shape}{extra}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{path} key {kl!r}: expected integer labels; got dtype {labels.dtype}")
    labels = labels.reshape(-1).astype(np.int64)
    if len(labels) and (labels.min() < 0 or labels.max() >= len(names)):
        bad = np.flatnonzero((labels < 0) | (labels >= len(names)))
        raise DataError(f"{path} key {kl!r}: expected labels in [0, {len(names) - 1}]; got {labels[bad[0]]} "
                        f"at index {bad[0]} ({len(bad)} out of range)")
    if n_channels == 1:
        out = images[:, None].astype(np.float32)
    else:
        out = np.ascontiguousarray(images.transpose(0, 3, 1, 2), dtype=np.float32)
    out *= np.float32(1.0 / 255.0)
    return out, labels


def load_medmnist(flag: str = "pneumoniamnist", size: int = 28, root: str | os.PathLike | None = None,
                  download: bool = True, splits: tuple[str, ...] | list[str] = SPLITS,
                  verify_md5: bool = True) -> dict[str, ImageDataset]:
    """Official train/val/test splits of a MedMNIST 2-D subset as ImageDatasets.

    Args:
        flag: subset name, e.g. ``"pneumoniamnist"`` (see ``FLAGS``); chestmnist is refused.
        size: image side in pixels, one of 28, 64, 128, 224.
        root: folder holding the npz files (default ``$HQMED_DATA`` or ``~/.hqmed/data``).
        download: fetch a missing file from Zenodo (MD5-checked); False -> DataNotFoundError.
        splits: which of "train", "val", "test" to return.
        verify_md5: check an existing file's MD5 against INFO (one pass over the file).

    Returns: ``{"train": ds, "val": ds, "test": ds}``; images (N, C, size, size) float32 in [0, 1].
    """
    flag, size = check_flag_size(flag, size)
    task, _, names, n_samples, _ = INFO[flag]
    if task.startswith("multi-label"):
        raise ConfigError(f"medmnist flag {flag!r}: expected a single-label task; got {task!r} (14 binary "
                          "findings per image). hqmed classifiers are single-label; choose another flag")
    bad = [s for s in splits if s not in SPLITS]
    if bad:
        raise ConfigError(f"medmnist splits: expected a subset of {list(SPLITS)}; got {list(splits)}")
    path = fetch_medmnist(flag, size, root, download, verify_md5)
    out: dict[str, ImageDataset] = {}
    for split in splits:
        images, labels = read_medmnist_npz(path, flag, size, split)
        expected = n_samples[SPLITS.index(split)]
        if len(images) != expected:
            logger.warning("%s %s: %d images, official %d (file is not the official release)",
                           path, split, len(images), expected)
        ids = [f"{flag}_{size}/{split}/{i}" for i in range(len(images))]
        meta = pd.DataFrame({"id": ids, "path": str(path), "group": ids, "box": [None] * len(ids)})
        out[split] = ImageDataset(images, labels, list(names), meta, name=f"{flag}_{size}/{split}")
    return out
