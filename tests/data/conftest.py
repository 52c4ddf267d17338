"""Shared fixtures for the data tests: real-data paths, a DICOM writer and a tiny VinDr-format set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory, monkeypatch):
    """No test reads ~/.hqmed or downloads: data/cache roots point at temp folders, pooch is cut off."""
    base = tmp_path_factory.mktemp("hqmed_home")
    monkeypatch.setenv("HQMED_DATA", str(base / "data"))
    monkeypatch.setenv("HQMED_CACHE", str(base / "cache"))

    def _no_network(*args, **kwargs):
        raise ConnectionError("network disabled in tests")

    import pooch

    monkeypatch.setattr(pooch, "retrieve", _no_network)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"real data folder {SHARED} is absent")
    return SHARED


def write_dicom(path: Path, stored: np.ndarray, bits: int = 12, photometric: str = "MONOCHROME2",
                slope: float = 1.0, intercept: float = 0.0, window: tuple[float, float] | None = None,
                voi_function: str | None = None) -> Path:
    """Write a minimal valid single-frame DX DICOM with the given stored pixel values."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    ds.Rows, ds.Columns = stored.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = 8 if bits <= 8 else 16
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 0
    if slope != 1.0 or intercept != 0.0:
        ds.RescaleSlope = f"{slope:g}"
        ds.RescaleIntercept = f"{intercept:g}"
    if window is not None:
        ds.WindowCenter = f"{window[0]:g}"
        ds.WindowWidth = f"{window[1]:g}"
    if voi_function:
        ds.VOILUTFunction = voi_function
    dtype = np.uint8 if bits <= 8 else np.uint16
    ds.PixelData = stored.astype(dtype).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(str(path), enforce_file_format=True)
    return path


@pytest.fixture
def dicom_writer():
    return write_dicom


# ---------------------------------------------------------------- tiny VinDr-format dataset
# image_id -> (split, study, H, W, photometric, bits, rows of (lesion_type, box or None))
TINY = {
    "img_a": ("train", "st1", 60, 40, "MONOCHROME2", 12,
              [("Osteophytes", (5, 10, 15, 30)), ("Disc space narrowing", (20, 40, 36, 50))]),
    "img_b": ("train", "st1", 60, 40, "MONOCHROME1", 12, [("Spondylolysthesis", (8, 8, 28, 20))]),
    "img_c": ("train", "st2", 50, 50, "MONOCHROME2", 16, [("No finding", None)]),
    "img_d": ("train", "st3", 64, 48, "MONOCHROME2", 8, [("Ankylosis", (0, 0, 10, 12))]),
    "img_e": ("test", "st4", 60, 40, "MONOCHROME2", 12, [("Vertebral collapse", (4, 4, 24, 24))]),
    "img_f": ("test", "st5", 40, 60, "MONOCHROME1", 16, [("No finding", None)]),
}


def tiny_pixels(h: int, w: int, bits: int, boxes, photometric: str) -> np.ndarray:
    """Dark background (10% of range), each lesion box bright (90%); inverted for MONOCHROME1."""
    top = 2**bits - 1
    img = np.full((h, w), 0.1 * top)
    img[-1, 0] = 0  # fixes the min-max range to [0, top] (outside every box)
    img[-1, -1] = top
    for b in boxes:
        if b is not None:
            x0, y0, x1, y1 = b
            img[y0:y1, x0:x1] = 0.9 * top
    img = np.round(img)
    return (top - img) if photometric == "MONOCHROME1" else img


def build_tiny_vindr(root: Path) -> Path:
    rows = {"train": [], "test": []}
    for image_id, (split, study, h, w, phot, bits, lesions) in TINY.items():
        pix = tiny_pixels(h, w, bits, [b for _, b in lesions], phot)
        write_dicom(root / f"{split}_images" / f"{image_id}.dicom", pix, bits=bits, photometric=phot)
        for lesion, box in lesions:
            x = box or (np.nan,) * 4
            rows[split].append({"image_id": image_id, "study_id": study, "rad_id": "rad1",
                                "lesion_type": lesion, "xmin": x[0], "ymin": x[1], "xmax": x[2], "ymax": x[3]})
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    for split, r in rows.items():
        pd.DataFrame(r).to_csv(root / "annotations" / f"{split}.csv", index=False)
    return root


@pytest.fixture
def tiny_spec() -> dict:
    return TINY


@pytest.fixture
def tiny_vindr(tmp_path) -> Path:
    return build_tiny_vindr(tmp_path / "vindr")
