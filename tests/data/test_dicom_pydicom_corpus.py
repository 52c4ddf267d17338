"""Every file that ships in pydicom's own test-data folder, read through hqmed.

The oracle is pydicom itself (with the ``hqmed[dicom]`` decoders installed): a single-frame image
that pydicom decodes must decode to exactly pydicom's ``pixel_array`` and display as a monotone
function of its modality values; anything else (corrupt streams, multi-frame objects, non-images,
non-DICOM files) must fail with one DataError line naming the file, and nothing else may reach the
terminal (no decoder traceback through a configured logger, no C-level stderr noise).
"""

import logging
import sys
from pathlib import Path

import numpy as np
import pydicom
import pydicom.data
import pytest
from pydicom.pixels import apply_modality_lut

from hqmed.data.dicom import decode_pixels, read_dicom
from hqmed.errors import DataError

# JPEG Extended / JPEG-LS / JPEG 2000 decode through the dicom extra's plugins
pytest.importorskip("pylibjpeg", reason="the compressed DICOM corpus needs the 'dicom' extra")

TEST_FILES = Path(pydicom.data.__file__).parent / "test_files"
FILES = sorted(p for p in TEST_FILES.rglob("*") if p.is_file())

# Compressed transfer syntaxes that PACS exports use and that must decode with hqmed[dicom].
MUST_DECODE = {
    "JPGExtended.dcm": "JPEG Extended 12-bit",
    "JPEGLSNearLossless_08.dcm": "JPEG-LS near-lossless 8-bit",
    "JPEGLSNearLossless_16.dcm": "JPEG-LS near-lossless 16-bit",
    "MR_small_jpeg_ls_lossless.dcm": "JPEG-LS lossless",
    "SC_rgb_jls_lossy_line.dcm": "JPEG-LS colour, line interleaved",
    "SC_rgb_jls_lossy_sample.dcm": "JPEG-LS colour, sample interleaved",
    "JPEG2000.dcm": "JPEG 2000",
    "MR_small_jp2klossless.dcm": "JPEG 2000 lossless",
    "693_J2KI.dcm": "JPEG 2000",
    "GDCMJ2K_TextGBR.dcm": "JPEG 2000 colour",
}


class _Stderr(logging.Handler):
    """Prints every record to whatever sys.stderr is at the time (capfd swaps it per test)."""

    def emit(self, record):
        sys.stderr.write(self.format(record) + "\n")


@pytest.fixture
def terminal(capfd):
    """A root logger that prints to stderr, as the CLI configures it; yields capfd."""
    handler = _Stderr()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield capfd
    finally:
        root.removeHandler(handler)


def _oracle(path: Path):
    """(dataset, undecoded copy, pixel_array) from pydicom; pixel_array None where it cannot decode."""
    logging.getLogger("pydicom").disabled = True  # the oracle's own noise is not under test
    try:
        ds, fresh = pydicom.dcmread(path), pydicom.dcmread(path)
    except Exception:
        return None, None, None
    try:
        if "PixelData" not in ds or int(ds.get("NumberOfFrames", 1) or 1) != 1:
            return ds, fresh, None
        return ds, fresh, ds.pixel_array
    except Exception:
        return ds, fresh, None
    finally:
        logging.getLogger("pydicom").disabled = False


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(TEST_FILES)))
def test_pydicom_test_file_decodes_like_pydicom_or_fails_in_one_line(path, terminal):
    ds, fresh, ref = _oracle(path)
    terminal.readouterr()
    if ref is None:
        assert path.name not in MUST_DECODE, f"pydicom cannot decode {path.name}: is hqmed[dicom] installed?"
        with pytest.raises(DataError) as err:
            read_dicom(path)
        msg = str(err.value)
        assert msg.startswith(str(path)) and "expected" in msg and "\n" not in msg
    else:
        out = read_dicom(path)
        np.testing.assert_array_equal(decode_pixels(fresh), ref)
        assert out.dtype == np.float32 and np.isfinite(out).all()
        assert out.min() >= 0.0 and out.max() <= 1.0
        assert out.shape == ref.shape
        if ref.ndim == 2:  # gray: the display is a monotone map of the modality values
            mod = np.asarray(apply_modality_lut(ref, ds), dtype=np.float64).ravel()
            disp = out.astype(np.float64).ravel()[np.argsort(mod, kind="stable")]
            step = np.diff(disp)
            if str(ds.get("PhotometricInterpretation", "")).strip() == "MONOCHROME1":
                step = -step
            assert step.min() >= -1e-6
    captured = terminal.readouterr()
    assert captured.err == "" and captured.out == ""


def test_must_decode_files_are_not_blank():
    # the corpus is there (else the parametrised test above checks nothing)
    assert len(FILES) > 70, f"expected pydicom's test files under {TEST_FILES}; got {len(FILES)}"
    for name, what in MUST_DECODE.items():
        out = read_dicom(TEST_FILES / name)
        assert out.max() > out.min(), f"{name} ({what}) decoded to a constant image"
