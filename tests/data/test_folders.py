import numpy as np
import pytest
from PIL import Image

from hqmed.data import load_source
from hqmed.data.folders import load_image_folder
from hqmed.errors import ConfigError, DataError, DataNotFoundError


@pytest.fixture
def scoliosis(shared_data):
    d = shared_data / "spine" / "scoliosis-xray"
    if not d.is_dir():
        pytest.skip("shared scoliosis-xray absent")
    return d


def test_scoliosis_real_folder(scoliosis):
    ds = load_source("folder", root=str(scoliosis), image_size=16)["all"]
    assert ds.class_names == ["Normal", "Scol"]
    assert ds.counts().tolist() == [71, 188] and len(ds) == 259
    assert ds.images.shape == (259, 3, 16, 16)
    assert any("," in i and " " not in i for i in ds.meta["id"])  # comma file names kept intact
    assert ds.meta["id"].is_unique and ds.meta["group"].tolist() == ds.meta["id"].tolist()
    # independent oracle for one file: PIL decode + our resize of the same pixels
    p = scoliosis / ds.meta["id"][0]
    ref = np.asarray(Image.open(p).convert("RGB"), dtype=np.float32) / 255
    assert abs(ds.images[0].mean() - ref.mean()) < 0.01


def test_scoliosis_unlabelled(scoliosis, caplog):
    ds = load_image_folder(scoliosis, image_size=8, labelled=False, channels=1,
                           class_names=["Normal", "Scol"])["all"]
    assert len(ds) == 259 and (ds.labels == -1).all() and ds.class_names == ["Normal", "Scol"]
    assert "LICENSE" in caplog.text  # the non-image file is reported, not silently dropped


def _png(path, value, size=(12, 10), mode="L"):
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.full(size[::-1], value, dtype=np.uint16 if mode == "I;16" else np.uint8)
    Image.fromarray(arr).save(path)  # uint16 -> 16-bit PNG (mode I;16)
    return path


def test_mixed_formats_spaces_commas(tmp_path, dicom_writer):
    root = tmp_path / "ext set"
    _png(root / "class a" / "x, y 1.png", 255)
    Image.fromarray(np.zeros((9, 7, 3), np.uint8)).save(root / "class a" / "dark img,2.jpg")
    _png(root / "class, b" / "sixteen bit.png", 65535, mode="I;16")
    dicom_writer(root / "class, b" / "scan 3.dcm", np.arange(20).reshape(4, 5), bits=12)
    ds = load_image_folder(root, image_size=6, channels=1)["all"]
    assert ds.class_names == ["class a", "class, b"] and ds.counts().tolist() == [2, 2]
    by_id = dict(zip(ds.meta["id"], ds.images.mean(axis=(1, 2, 3))))
    assert by_id["class a/x, y 1.png"] == pytest.approx(1.0)
    assert by_id["class a/dark img,2.jpg"] == pytest.approx(0.0, abs=0.02)
    assert by_id["class, b/sixteen bit.png"] == pytest.approx(1.0)
    assert 0.3 < by_id["class, b/scan 3.dcm"] < 0.7


def test_class_names_fix_label_order(tmp_path):
    _png(tmp_path / "b" / "1.png", 0)
    _png(tmp_path / "a" / "1.png", 0)
    ds = load_image_folder(tmp_path, image_size=4, class_names=["b", "a", "c"])["all"]
    assert ds.class_names == ["b", "a", "c"] and ds.meta["id"][ds.labels.tolist().index(0)] == "b/1.png"
    with pytest.raises(DataError, match="unknown folders \\['a'\\]"):
        load_image_folder(tmp_path, image_size=4, class_names=["b"])


def test_argument_errors(tmp_path):
    with pytest.raises(DataNotFoundError, match="no such folder"):
        load_image_folder(tmp_path / "nope")
    with pytest.raises(ConfigError, match="image_size"):
        load_image_folder(tmp_path, image_size=0)
    with pytest.raises(DataError, match="expected one sub-folder per class"):
        load_image_folder(tmp_path)
