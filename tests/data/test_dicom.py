import numpy as np
import pydicom
import pytest
from pydicom.pixels import apply_voi_lut

from hqmed.data.base import read_image_file
from hqmed.data.dicom import dicom_shape, is_dicom, read_dicom
from hqmed.errors import DataError


def _ramp(h=8, w=10, top=4095):
    return np.round(np.linspace(50, top - 100, h * w)).reshape(h, w)


@pytest.mark.parametrize("bits", [8, 12, 16])
def test_minmax_any_bit_depth(tmp_path, dicom_writer, bits):
    top = 2**bits - 1
    pix = _ramp(top=top)
    out = read_dicom(dicom_writer(tmp_path / "a.dcm", pix, bits=bits))
    expected = (pix - pix.min()) / (pix.max() - pix.min())
    assert out.dtype == np.float32 and out.shape == pix.shape
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_monochrome1_is_inverted(tmp_path, dicom_writer):
    pix = _ramp()
    m2 = read_dicom(dicom_writer(tmp_path / "m2.dcm", pix, photometric="MONOCHROME2"))
    m1 = read_dicom(dicom_writer(tmp_path / "m1.dcm", pix, photometric="MONOCHROME1"))
    np.testing.assert_allclose(m1, 1.0 - m2, atol=1e-6)


@pytest.mark.parametrize("function", [None, "LINEAR", "SIGMOID"])
def test_window_matches_pydicom(tmp_path, dicom_writer, function):
    pix = _ramp()
    p = dicom_writer(tmp_path / "w.dcm", pix, bits=12, window=(2000, 1500), voi_function=function)
    ours = read_dicom(p)
    ds = pydicom.dcmread(p)
    # independent oracle: pydicom's VOI windowing, scaled from its 12-bit output range to [0, 1]
    ref = apply_voi_lut(ds.pixel_array, ds).astype(np.float64) / 4095.0
    np.testing.assert_allclose(ours, ref, atol=2e-3)
    if function != "SIGMOID":  # the ramp spans beyond the linear window on both sides
        assert ours.min() == 0.0 and ours.max() == 1.0


def test_rescale_then_window_in_modality_units(tmp_path, dicom_writer):
    pix = _ramp()
    # modality value = 2 * stored - 1024; window centred at modality 0, width 2000 (hand formula)
    p = dicom_writer(tmp_path / "r.dcm", pix, slope=2.0, intercept=-1024.0, window=(0.0, 2000.0))
    mod = pix * 2.0 - 1024.0
    expected = np.clip((mod - (0 - 0.5)) / (2000 - 1) + 0.5, 0, 1)
    np.testing.assert_allclose(read_dicom(p), expected, atol=1e-5)


def test_truncated_and_non_dicom_files(tmp_path, dicom_writer):
    good = dicom_writer(tmp_path / "good.dicom", _ramp(64, 64))
    data = good.read_bytes()
    trunc = tmp_path / "trunc.dicom"
    trunc.write_bytes(data[: len(data) - 3000])
    with pytest.raises(DataError, match=r"trunc\.dicom: expected .*pixel data"):
        read_dicom(trunc)
    head_only = tmp_path / "head.dicom"
    head_only.write_bytes(data[:200])
    with pytest.raises(DataError, match=r"head\.dicom: expected"):
        read_dicom(head_only)
    text = tmp_path / "notes.dcm"
    text.write_text("this is not a dicom file\n" * 20)
    with pytest.raises(DataError, match=r"notes\.dcm: expected a DICOM file.*non-DICOM"):
        read_dicom(text)
    with pytest.raises(DataError, match="no such file"):
        read_dicom(tmp_path / "missing.dcm")


def test_detection_and_header(tmp_path, dicom_writer):
    p = dicom_writer(tmp_path / "noext", _ramp(6, 9))
    assert is_dicom(p) and dicom_shape(p) == (6, 9)
    assert read_image_file(p, channels=3).shape == (3, 6, 9)


def test_voi_lut_sequence_matches_pydicom(tmp_path, dicom_writer):
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    pix = _ramp(top=1023)
    p = dicom_writer(tmp_path / "lut.dcm", pix, bits=10)
    ds = pydicom.dcmread(p)
    item = Dataset()
    item.add_new(0x00283002, "US", [256, 256, 12])  # LUTDescriptor: 256 entries from value 256, 12-bit
    lut = np.round(np.sqrt(np.linspace(0, 1, 256)) * 4000).astype(np.uint16)
    item.add_new(0x00283006, "US", lut.tolist())  # LUTData
    ds.VOILUTSequence = Sequence([item])
    ds.save_as(p)
    ref = apply_voi_lut(ds.pixel_array, ds).astype(np.float64)
    ref = (ref - lut.min()) / (lut.max() - lut.min())  # oracle: pydicom's LUT, scaled by the LUT range
    np.testing.assert_allclose(read_dicom(p), ref, atol=1e-6)


def test_undecodable_compressed_dicom_says_corrupt_or_missing_decoder(tmp_path, dicom_writer):
    from pydicom.uid import JPEG2000Lossless

    p = dicom_writer(tmp_path / "j2k.dcm", _ramp(16, 16))
    ds = pydicom.dcmread(p)
    ds.file_meta.TransferSyntaxUID = JPEG2000Lossless
    from pydicom.encaps import encapsulate

    ds.PixelData = encapsulate([b"\x00" * 64])  # not a real JPEG 2000 stream
    ds["PixelData"].VR = "OB"
    ds.save_as(p, enforce_file_format=True)
    with pytest.raises(DataError, match=r"j2k\.dcm: expected decodable pixel data; got .*"
                       r"(every installed decoder rejects|no installed decoder)") as err:
        read_dicom(p)
    assert "\n" not in str(err.value)
