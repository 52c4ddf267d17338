import numpy as np
import pandas as pd
import pytest

from hqmed.data.base import (
    ImageDataset,
    crop_box,
    default_cache_dir,
    resolve_data_root,
    to_channels,
)
from hqmed.data.resize import resize_images
from hqmed.errors import DataError, ShapeError


def _ds(n=6, k=3, name="toy"):
    rng = np.random.default_rng(0)
    images = rng.random((n, 1, 4, 4), dtype=np.float32)
    labels = np.arange(n, dtype=np.int64) % k
    return ImageDataset(images, labels, [f"c{i}" for i in range(k)], name=name)


def test_contract_fields_and_default_meta():
    ds = _ds()
    assert len(ds) == 6 and ds.num_classes == 3 and ds.image_shape == (1, 4, 4)
    assert list(ds.meta.columns[:4]) == ["id", "path", "group", "box"]
    assert ds.meta["group"].tolist() == ds.meta["id"].tolist()
    assert ds.labels.dtype == np.int64 and ds.images.dtype == np.float32
    np.testing.assert_array_equal(ds.counts(), np.bincount(ds.labels, minlength=3))


def test_unlabelled_not_counted():
    ds = ImageDataset(np.zeros((3, 1, 2, 2), np.float32), np.array([-1, 0, -1]), ["a", "b"])
    np.testing.assert_array_equal(ds.counts(), [1, 0])


def test_subset_indices_and_mask_keep_meta_aligned():
    ds = _ds()
    sub = ds.subset([4, 1])
    np.testing.assert_array_equal(sub.images, ds.images[[4, 1]])
    assert sub.meta["id"].tolist() == [ds.meta["id"][4], ds.meta["id"][1]]
    mask = ds.labels == 2
    assert ds.subset(mask).labels.tolist() == [2, 2]
    with pytest.raises(DataError, match="subset indices"):
        ds.subset([6])


def test_concat_checks_classes_and_shapes():
    a, b = _ds(name="a"), _ds(name="b")
    c = ImageDataset.concat(a, b)
    assert len(c) == 12 and c.meta.index.tolist() == list(range(12))
    with pytest.raises(DataError, match="class_names"):
        a.concat(_ds(k=2))
    with pytest.raises(ShapeError, match="image shape"):
        a.concat(ImageDataset(np.zeros((1, 3, 4, 4), np.float32), np.array([0]), a.class_names))


@pytest.mark.parametrize(
    "images, labels, match",
    [
        (np.zeros((2, 4, 4), np.float32), np.array([0, 1]), "expected an array \\(N, C, H, W\\)"),
        (np.zeros((2, 1, 4, 4), np.float64), np.array([0, 1]), "expected dtype float32"),
        (np.full((2, 1, 4, 4), 2.0, np.float32), np.array([0, 1]), "expected values in \\[0, 1\\]"),
        (np.zeros((2, 1, 4, 4), np.float32), np.array([0, 5]), "labels: expected values in \\[-1, 1\\]"),
        (np.zeros((2, 1, 4, 4), np.float32), np.array([0]), "labels: expected shape \\(2,\\)"),
    ],
)
def test_invalid_contract_is_rejected(images, labels, match):
    with pytest.raises((DataError, ShapeError), match=match):
        ImageDataset(images, labels, ["a", "b"], name="bad")


def test_meta_must_have_columns():
    with pytest.raises(DataError, match="missing \\['group', 'box'\\]"):
        ImageDataset(np.zeros((1, 1, 2, 2), np.float32), np.array([0]), ["a"],
                     meta=pd.DataFrame({"id": ["x"], "path": ["p"]}))


def test_root_resolution_order(monkeypatch, tmp_path):
    monkeypatch.setenv("HQMED_DATA", str(tmp_path / "env"))
    assert resolve_data_root(tmp_path / "arg") == tmp_path / "arg"
    assert resolve_data_root(None) == tmp_path / "env"
    monkeypatch.delenv("HQMED_DATA")
    assert resolve_data_root(None).parts[-2:] == (".hqmed", "data")
    monkeypatch.setenv("HQMED_CACHE", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"


def test_resize_matches_pil_on_downscale():
    from PIL import Image

    rng = np.random.default_rng(1)
    img = rng.random((32, 32)).astype(np.float32)
    ours = resize_images(img[None], 16)[0]
    # independent oracle: PIL's antialiased bilinear on the same float image
    ref = np.asarray(Image.fromarray(img, mode="F").resize((16, 16), Image.BILINEAR))
    assert ours.shape == (16, 16)
    assert np.abs(ours - np.clip(ref, 0, 1)).max() < 0.03


def test_crop_and_channels():
    img = np.arange(20, dtype=np.float32).reshape(1, 4, 5)
    np.testing.assert_array_equal(crop_box(img, (1, 1, 3, 3)), img[:, 1:3, 1:3])
    np.testing.assert_array_equal(crop_box(img, (1.2, 0.5, 2.1, 1.5)), img[:, 0:2, 1:3])  # outward rounding
    assert to_channels(np.zeros((4, 5), np.float32), 3).shape == (3, 4, 5)
    rgb = np.stack([np.zeros((2, 2)), np.ones((2, 2)), np.ones((2, 2)) * 0.5], axis=-1)
    np.testing.assert_allclose(to_channels(rgb, 1), 0.5)


def test_registry_rejects_unknown_kind_and_params():
    from hqmed.data import list_sources, load_source, source_params
    from hqmed.errors import ConfigError

    assert list_sources() == ["medmnist", "cifar10", "vindr", "phantoms", "folder", "yolo"]
    with pytest.raises(ConfigError, match=r"data kind: expected one of \['medmnist', .*'yolo'\]; got 'mnist'"):
        load_source("mnist")
    with pytest.raises(ConfigError, match=r"unknown parameter\(s\) \['sise'\]; expected among \['flag', 'size'"):
        load_source("medmnist", flag="pathmnist", sise=28)
    for kind in list_sources():
        assert "root" in source_params(kind)
    assert {"n_images", "seed", "difficulty", "image_size"} <= set(source_params("phantoms"))
