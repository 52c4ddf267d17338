import numpy as np
import pytest
from PIL import Image

from hqmed.data import load_source
from hqmed.data.yolo import load_yolo, parse_label_file
from hqmed.errors import ConfigError


@pytest.fixture
def vertebrae(shared_data):
    d = shared_data / "spine" / "vertebrae-ap-yolo"
    if not d.is_dir():
        pytest.skip("shared vertebrae-ap-yolo absent")
    return d


def test_real_yolo_crops(vertebrae):
    out = load_source("yolo", root=str(vertebrae), image_size=16, splits=["test"], max_images=12)
    ds = out["test"]
    assert ds.class_names == ["Vertebrae"]
    images = sorted((vertebrae / "test" / "images").iterdir())[:12]
    # oracle: non-empty lines of the matching label files
    n_lines = sum(sum(1 for ln in (vertebrae / "test" / "labels" / f"{p.stem}.txt").read_text().splitlines()
                      if ln.strip()) for p in images)
    assert len(ds) == n_lines and ds.images.shape == (n_lines, 3, 16, 16)
    assert ds.meta["group"].nunique() == 12 and (ds.labels == 0).all()
    for rec in ds.meta.itertuples():
        w, h = Image.open(rec.path).size
        x0, y0, x1, y1 = rec.box
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h


def test_real_yolo_split_names_and_whole_images(vertebrae):
    out = load_yolo(vertebrae, image_size=8, mode="images", max_images=3)
    assert sorted(out) == ["test", "train", "val"]  # "valid" folder -> "val"
    assert all(len(d) == 3 and (d.labels == -1).all() and d.meta["box"].isna().all() for d in out.values())


def test_box_and_polygon_lines(tmp_path):
    root = tmp_path / "yolo"
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    img = np.zeros((40, 100), np.uint8)
    img[10:30, 20:40] = 255  # box 0 region (white)
    Image.fromarray(img).save(root / "images" / "a b,1.png")
    (root / "labels" / "a b,1.txt").write_text(
        "0 0.3 0.5 0.2 0.5\n\n"                         # cx cy w h -> x 20..40, y 10..30
        "1 0.6 0.25 0.8 0.25 0.8 0.75 0.6 0.75\n"      # polygon -> bbox x 60..80, y 10..30
    )
    Image.fromarray(img).save(root / "images" / "empty.png")  # background image: no label file
    out = load_yolo(root, image_size=4, channels=1, class_names=["w", "k"])
    ds = out["all"]
    assert ds.labels.tolist() == [0, 1]
    np.testing.assert_allclose(ds.meta["box"][0], (20, 10, 40, 30), atol=1e-6)
    np.testing.assert_allclose(ds.meta["box"][1], (60, 10, 80, 30), atol=1e-6)
    assert ds.images[0].min() > 0.99 and ds.images[1].max() < 0.01
    rows = parse_label_file(root / "labels" / "a b,1.txt", 2)
    assert rows[1][0] == 1 and rows[1][3] == pytest.approx(0.2)


def test_bad_arguments(tmp_path, vertebrae):
    with pytest.raises(ConfigError, match="mode"):
        load_yolo(vertebrae, mode="boxes")
    with pytest.raises(ConfigError, match="splits: expected a subset of \\['test', 'train', 'val'\\]"):
        load_yolo(vertebrae, splits=["valid"])
