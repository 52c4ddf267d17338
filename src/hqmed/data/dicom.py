"""Read one DICOM radiograph into a float image in [0, 1] (pydicom).

Display pipeline (DICOM PS3.3 C.11), in order:

1. stored values -> **modality LUT** (Rescale Slope / Intercept, or a Modality LUT Sequence);
2. **VOI**: a VOI LUT Sequence if present (output scaled by the LUT's own range), else the first
   Window Center / Width with its VOI LUT Function (LINEAR, LINEAR_EXACT or SIGMOID), which maps
   straight to [0, 1]; with neither, the image is min-max normalised (any bit depth, 8 to 16 bits);
3. **MONOCHROME1** (white = low values) is inverted, so bone is bright in every output.

Colour DICOMs (Samples per Pixel = 3) are scaled by their bit depth. Multi-frame files are refused.
Before decoding, Rows x Columns x Number of Frames must fit the pixel budget
(:func:`hqmed.data.base.max_pixels`) and a Rescale Slope must be non-zero and finite.
Truncated or corrupt files and non-DICOM files raise :class:`~hqmed.errors.DataError` naming the file.

Compressed pixel data (JPEG Baseline/Extended 12-bit/Lossless, JPEG-LS, JPEG 2000, RLE) is decoded
by pydicom's plugins; the ``hqmed[dicom]`` extra installs pylibjpeg with its libjpeg and openjpeg
plugins and python-gdcm. While reading and decoding, the decoders' own diagnostics (pydicom logs a
traceback per failed plugin; openjpeg and GDCM print to the C-level stderr) are held back, so a
corrupt stream reaches the user as one DataError line only (pydicom's Python warnings, e.g. about
excess padding, still show).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError
from pydicom.pixels import apply_modality_lut, apply_voi_lut
from pydicom.pixels.decoders.base import get_decoder

from hqmed.data.limits import check_pixel_budget, check_regular_file
from hqmed.errors import DataError

DICOM_SUFFIXES = (".dcm", ".dicom", ".dic")


def is_dicom(path: str | os.PathLike) -> bool:
    """True for a ``.dcm``/``.dicom``/``.dic`` suffix or a file with the ``DICM`` magic at byte 128."""
    path = Path(path)
    if path.suffix.lower() in DICOM_SUFFIXES:
        return True
    if path.suffix or not path.is_file():  # never open a FIFO (it would block)
        return False
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def _first(value) -> float:
    """First value of a possibly multi-valued DICOM number."""
    try:
        return float(value[0])
    except (TypeError, IndexError):
        return float(value)


def window(arr: np.ndarray, center: float, width: float, function: str = "LINEAR") -> np.ndarray:
    """Apply a DICOM VOI window (PS3.3 C.11.2.1.2) and return values in [0, 1]."""
    function = (function or "LINEAR").strip().upper()
    if function == "SIGMOID":
        return (1.0 / (1.0 + np.exp(-4.0 * (arr - center) / width))).astype(np.float32)
    if function == "LINEAR_EXACT":
        out = (arr - center) / width + 0.5
    else:  # LINEAR
        if width < 1:
            raise DataError(f"expected Window Width >= 1 for LINEAR windowing; got {width}")
        out = (arr - (center - 0.5)) / (width - 1.0) + 0.5
    return np.clip(out, 0.0, 1.0).astype(np.float32)


@contextlib.contextmanager
def _decoder_diagnostics_held_back() -> Iterator[None]:
    """Hold back what pixel decoders print while they run (see module doc).

    pydicom's decoder logs ``LOGGER.exception`` for every plugin that fails, which a configured root
    logger prints as a third-party traceback; openjpeg and GDCM write to file descriptor 2 from C, out
    of Python's reach. Both are restored on exit; the failure itself still raises.
    """
    log = logging.getLogger("pydicom")
    level = log.level
    log.setLevel(logging.CRITICAL)
    saved = None
    with contextlib.suppress(OSError, ValueError, AttributeError):  # stderr without a real fd
        sys.stderr.flush()
        saved = os.dup(2)
    try:
        if saved is None:
            yield
            return
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        if saved is not None:
            os.close(saved)
        log.setLevel(level)


def _decoders_hint(tsyntax) -> str:
    """Why a compressed stream did not decode: a corrupt stream, or no decoder installed."""
    try:
        available = get_decoder(tsyntax).is_available
    except (NotImplementedError, ValueError):  # a transfer syntax pydicom has no decoder for
        available = False
    if available:
        return f" (a {tsyntax.name} stream that every installed decoder rejects: the file is corrupt)"
    return (f" (compressed transfer syntax {tsyntax.name} and no installed decoder for it: "
            "pip install \"hqmed[dicom]\")")


def decode_pixels(ds, where: str = "DICOM") -> np.ndarray:
    """The stored pixel values of a pydicom Dataset (pydicom's ``pixel_array``), any transfer syntax.

    Raises DataError (one line, naming ``where``) when no decoder can read the pixel data.
    """
    try:
        with _decoder_diagnostics_held_back():
            return ds.pixel_array
    except Exception as exc:  # pydicom raises many types for truncated / odd / corrupt pixel data
        hint = ""
        tsyntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        if tsyntax is not None and getattr(tsyntax, "is_compressed", False):
            hint = _decoders_hint(tsyntax)
        detail = " ".join(str(exc).split())
        raise DataError(f"{where}: expected decodable pixel data; got {type(exc).__name__}: "
                        f"{detail}{hint}") from exc


def dicom_to_float(ds, where: str = "DICOM") -> np.ndarray:
    """pydicom Dataset -> (H, W) or (H, W, 3) float32 in [0, 1] (see module doc)."""
    try:
        frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{where}: expected an integer Number of Frames (0028,0008); got "
                        f"{ds.get('NumberOfFrames')!r}") from exc
    if frames > 1:  # refused before decoding: hqmed reads one 2-D image per file
        raise DataError(f"{where}: expected a single-frame 2-D image; got {frames} frames "
                        "(export the frame you mean as its own DICOM or PNG)")
    try:
        shape = [int(getattr(ds, "Rows", 0) or 0), int(getattr(ds, "Columns", 0) or 0), frames]
        slope = getattr(ds, "RescaleSlope", None)
        slope_value = None if slope is None else _first(slope)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{where}: expected integer Rows/Columns and a numeric Rescale Slope; got "
                        f"Rows={ds.get('Rows')!r}, Columns={ds.get('Columns')!r}, "
                        f"RescaleSlope={ds.get('RescaleSlope')!r}") from exc
    check_pixel_budget(where, shape, " (rows x columns x frames)")
    if slope_value is not None and (not np.isfinite(slope_value) or slope_value == 0):
        raise DataError(f"{where}: expected a non-zero, finite Rescale Slope (0028,1053); got {slope} "
                        "(every pixel would map to the same value)")
    raw = decode_pixels(ds, where)
    spp = int(getattr(ds, "SamplesPerPixel", 1) or 1)
    if spp == 3:
        if raw.ndim != 3 or raw.shape[-1] != 3:
            raise DataError(f"{where}: expected (H, W, 3) colour pixels; got shape {raw.shape}")
        bits = int(getattr(ds, "BitsStored", 8) or 8)
        return np.clip(raw.astype(np.float32) / float(2**bits - 1), 0.0, 1.0)
    if raw.ndim != 2:
        raise DataError(f"{where}: expected a 2-D gray image; got pixel array shape {raw.shape}")

    arr = np.asarray(apply_modality_lut(raw, ds), dtype=np.float64)
    if not np.isfinite(arr).all():
        raise DataError(f"{where}: expected finite pixel values; got "
                        f"{int(arr.size - np.count_nonzero(np.isfinite(arr)))} NaN/inf pixel(s)")
    if "VOILUTSequence" in ds and len(ds.VOILUTSequence):
        item = ds.VOILUTSequence[0]
        # LUT entries are indexed by integer modality values
        arr = np.asarray(apply_voi_lut(np.rint(arr).astype(np.int64), ds, index=0, prefer_lut=True),
                         dtype=np.float64)
        lut = np.asarray(item.LUTData, dtype=np.float64)
        lo, hi = float(lut.min()), float(lut.max())
        out = (arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr)
    elif "WindowCenter" in ds and "WindowWidth" in ds:
        out = window(arr, _first(ds.WindowCenter), _first(ds.WindowWidth),
                     str(getattr(ds, "VOILUTFunction", "LINEAR") or "LINEAR"))
    else:
        lo, hi = float(arr.min()), float(arr.max())
        out = (arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr)
    out = np.clip(out, 0.0, 1.0).astype(np.float32)
    if str(getattr(ds, "PhotometricInterpretation", "MONOCHROME2")).strip().upper() == "MONOCHROME1":
        out = 1.0 - out
    return out


def read_dicom(path: str | os.PathLike) -> np.ndarray:
    """Read a DICOM file -> (H, W) (or (H, W, 3) for colour) float32 in [0, 1].

    Raises DataError naming ``path`` for a missing, non-DICOM, truncated or undecodable file.
    """
    path = check_regular_file(path, "a DICOM file")
    with _decoder_diagnostics_held_back():  # pydicom logs header repairs and odd values as well
        try:
            ds = pydicom.dcmread(path)
        except FileNotFoundError as exc:
            raise DataError(f"{path}: expected a DICOM file; got no such file") from exc
        except InvalidDicomError as exc:
            raise DataError(f"{path}: expected a DICOM file (with 'DICM' preamble); got a non-DICOM file ({exc})") from exc
        except Exception as exc:  # truncated headers raise EOFError, struct.error, ValueError, ...
            raise DataError(f"{path}: expected a readable DICOM file; got {type(exc).__name__}: {exc}") from exc
        if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
            raise DataError(f"{path}: expected a DICOM image with Pixel Data; got a DICOM without pixel data")
        return dicom_to_float(ds, str(path))


def dicom_shape(path: str | os.PathLike) -> tuple[int, int]:
    """(rows, columns) from the header only (no pixel decoding)."""
    try:
        with _decoder_diagnostics_held_back():
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            return int(ds.Rows), int(ds.Columns)
    except Exception as exc:
        raise DataError(f"{path}: expected a DICOM header with Rows/Columns; got {type(exc).__name__}: {exc}") from exc
