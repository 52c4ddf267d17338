"""Every kind of bad input gets a DataError naming the file / CSV line, what was expected and got;
``on_error="skip"`` skips it and writes a report, never silently."""

import json
import logging
import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from hqmed.data.folders import load_image_folder
from hqmed.data.medmnist import load_medmnist
from hqmed.data.vindr import load_vindr
from hqmed.data.yolo import load_yolo
from hqmed.errors import ConfigError, DataError, ShapeError


def _edit_csv(root, split, fn):
    p = root / "annotations" / f"{split}.csv"
    df = pd.read_csv(p, dtype={"image_id": str, "study_id": str})
    fn(df)
    df.to_csv(p, index=False)
    return p


def _truncate(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


# ---------------------------------------------------------------- DICOM / VinDr

def test_truncated_dicom_in_vindr_raises_then_skips(tiny_vindr, tmp_path, caplog):
    bad = tiny_vindr / "train_images" / "img_b.dicom"
    _truncate(bad, 0.8)
    with pytest.raises(DataError, match=re.escape(str(bad)) + ": expected decodable pixel data"):
        load_vindr(tiny_vindr, image_size=8, cache=False, splits=["train"])
    report = tmp_path / "skips.json"
    with caplog.at_level(logging.WARNING, logger="hqmed.data"):
        out = load_vindr(tiny_vindr, image_size=8, cache=False, on_error="skip", report_path=report)
    assert len(out["train"]) == 4 and "img_b" not in set(out["train"].meta.image_id)
    rep = json.loads(report.read_text())
    assert rep["n_skipped"] == 1 and "img_b.dicom" in rep["skipped"][0]["item"]
    assert "expected decodable pixel data" in rep["skipped"][0]["error"]
    assert "skipped 1 bad sample" in caplog.text and str(report) in caplog.text
    assert out["train"].meta.attrs["skip_report"] == str(report)


def test_skip_report_survives_the_cache(tiny_vindr, tmp_path, caplog):
    _truncate(tiny_vindr / "test_images" / "img_e.dicom", 0.3)
    kw = dict(image_size=8, cache_dir=tmp_path / "c", on_error="skip", splits=["test"])
    load_vindr(tiny_vindr, **kw)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="hqmed.data"):
        again = load_vindr(tiny_vindr, **kw)  # served from cache: still reports the skip
    assert len(again["test"]) == 1 and "skipped 1 bad sample" in caplog.text


def test_missing_dicom_file(tiny_vindr):
    (tiny_vindr / "test_images" / "img_f.dicom").unlink()
    with pytest.raises(DataError, match=r"test.csv line \d+: expected .*img_f.dicom; got no such file"):
        load_vindr(tiny_vindr, image_size=8, cache=False, splits=["test"])


def test_csv_missing_columns(tiny_vindr):
    p = _edit_csv(tiny_vindr, "train", lambda df: df.drop(columns=["study_id", "ymax"], inplace=True))
    with pytest.raises(DataError, match=re.escape(str(p)) + r": expected columns .* missing \['study_id', 'ymax'\]"):
        load_vindr(tiny_vindr, image_size=8, cache=False)


def test_box_outside_image(tiny_vindr):
    # img_a is 40 px wide; its first box (line 2) now ends at x = 55
    p = _edit_csv(tiny_vindr, "train", lambda df: df.__setitem__("xmax", df["xmax"].where(df.index != 0, 55)))
    with pytest.raises(DataError, match=re.escape(str(p)) + r" line 2: box outside the image: expected xmax "
                       r"<= 40 .* got xmax=55"):
        load_vindr(tiny_vindr, image_size=8, cache=False)
    p = _edit_csv(tiny_vindr, "train", lambda df: df.__setitem__("xmin", df["xmin"].where(df.index != 0, -7)))
    with pytest.raises(DataError, match=r"line 2: box outside the image: expected xmin, ymin >= 0; got xmin=-7"):
        load_vindr(tiny_vindr, image_size=8, cache=False)


def test_zero_area_box_and_skip(tiny_vindr, tmp_path):
    # row 4 (file line 6) is img_d's only box
    p = _edit_csv(tiny_vindr, "train", lambda df: df.__setitem__("ymax", df["ymax"].where(df.index != 4, df["ymin"])))
    with pytest.raises(DataError, match=re.escape(str(p)) + r" line 6: expected a box with xmin < xmax and ymin "
                       r"< ymax .* got .*zero or negative area"):
        load_vindr(tiny_vindr, image_size=8, cache=False)
    out = load_vindr(tiny_vindr, image_size=8, cache=False, on_error="skip", report_path=tmp_path / "r.json")
    rep = json.loads((tmp_path / "r.json").read_text())
    assert [e["item"] for e in rep["skipped"]] == [f"{p} line 6"]
    assert len(out["train"]) == 4 and "img_d" not in set(out["train"].meta.image_id)


def test_unknown_label_and_conflicting_rows(tiny_vindr):
    p = _edit_csv(tiny_vindr, "test", lambda df: df.__setitem__("lesion_type", ["Kyphosis", "No finding"]))
    with pytest.raises(DataError, match=re.escape(str(p)) + r" line 2: lesion_type: expected one of .*got 'Kyphosis'"):
        load_vindr(tiny_vindr, image_size=8, cache=False, splits=["test"])
    out = load_vindr(tiny_vindr, image_size=8, cache=False, splits=["test"],
                     label_map={"Kyphosis": "Other lesions"})
    assert "Other lesions" in [out["test"].class_names[i] for i in out["test"].labels]
    with pytest.raises(ConfigError, match="label_map: expected values among"):
        load_vindr(tiny_vindr, image_size=8, cache=False, label_map={"Kyphosis": "Kyphosis"})

    def both(df):
        df.loc[len(df)] = {**df.iloc[0].to_dict(), "lesion_type": "No finding"}

    _edit_csv(tiny_vindr, "test", both)
    with pytest.raises(DataError, match="expected either 'No finding' or lesion rows; got both"):
        load_vindr(tiny_vindr, image_size=8, cache=False, splits=["test"],
                   label_map={"Kyphosis": "Other lesions"})


# ---------------------------------------------------------------- folders / images

def test_non_image_file_and_fake_png(tmp_path):
    root = tmp_path / "set"
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        Image.fromarray(np.zeros((5, 5), np.uint8)).save(root / c / "ok.png")
    (root / "a" / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match=r"notes\.txt: expected an image file .* got a non-image file \(\.txt\)"):
        load_image_folder(root, image_size=4)
    (root / "a" / "notes.txt").unlink()
    (root / "b" / "fake.png").write_text("not a png")
    with pytest.raises(DataError, match=r"fake\.png: expected a readable PNG/JPEG/DICOM image; got "):
        load_image_folder(root, image_size=4)
    out = load_image_folder(root, image_size=4, on_error="skip", report_path=tmp_path / "r.json")["all"]
    assert len(out) == 2 and "fake.png" in (tmp_path / "r.json").read_text()


def test_empty_class(tmp_path):
    root = tmp_path / "set"
    (root / "full").mkdir(parents=True)
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(root / "full" / "x.png")
    (root / "empty").mkdir()
    with pytest.raises(DataError, match=r"empty: class 'empty' is empty: expected at least one image"):
        load_image_folder(root, image_size=4)
    ds = load_image_folder(root, image_size=4, on_error="skip", report_path=tmp_path / "r.json")["all"]
    assert ds.class_names == ["empty", "full"] and ds.counts().tolist() == [0, 1]
    assert json.loads((tmp_path / "r.json").read_text())["n_skipped"] == 1


def test_on_error_value_checked(tmp_path):
    with pytest.raises(ConfigError, match="on_error: expected one of \\['raise', 'skip'\\]; got 'ignore'"):
        load_image_folder(tmp_path, on_error="ignore")


# ---------------------------------------------------------------- npz

def _npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def _good_arrays(n=4):
    return {f"{s}_{k}": (np.zeros((n, 28, 28), np.uint8) if k == "images" else np.zeros((n, 1), np.uint8))
            for s in ("train", "val", "test") for k in ("images", "labels")}


@pytest.mark.parametrize("change, err, match", [
    (lambda a: a.pop("val_labels"), DataError, r"expected keys 'val_images' and 'val_labels'; got keys \["),
    (lambda a: a.__setitem__("train_images", np.zeros((4, 28, 28, 3), np.uint8)), ShapeError,
     r"key 'train_images': expected shape \(N, 28, 28\); got \(4, 28, 28, 3\)"),
    (lambda a: a.__setitem__("test_labels", np.zeros((4, 14), np.uint8)), ShapeError,
     r"key 'test_labels': expected shape \(4, 1\); got \(4, 14\) \(multi-label\)"),
    (lambda a: a.__setitem__("train_labels", np.array([[0], [1], [2], [7]], np.uint8)), DataError,
     r"key 'train_labels': expected labels in \[0, 1\]; got 2 at index 2 \(2 out of range\)"),
    (lambda a: a.__setitem__("val_images", np.zeros((4, 28, 28), np.float32)), DataError,
     r"key 'val_images': expected dtype uint8; got float32"),
])
def test_npz_wrong_keys_shapes_labels(tmp_path, change, err, match):
    arrays = _good_arrays()
    change(arrays)
    p = _npz(tmp_path / "pneumoniamnist.npz", **arrays)
    with pytest.raises(err, match=re.escape(str(p)) + " " + match if "expected keys" not in match
                       else re.escape(str(p)) + ": " + match):
        load_medmnist("pneumoniamnist", root=tmp_path, download=False, verify_md5=False)


def test_npz_not_an_archive(tmp_path):
    (tmp_path / "pneumoniamnist.npz").write_text("garbage")
    with pytest.raises(DataError, match=r"pneumoniamnist\.npz: expected a MedMNIST \.npz archive"):
        load_medmnist("pneumoniamnist", root=tmp_path, download=False, verify_md5=False)


# ---------------------------------------------------------------- YOLO labels

@pytest.mark.parametrize("line, match", [
    ("0 0.5 0.5 0.2", r"line 1: expected 5 fields 'class cx cy w h'"),
    ("3 0.5 0.5 0.2 0.2", r"line 1: class: expected an integer >= 0 < 1; got 3"),
    ("0 0.95 0.5 0.2 0.2", r"line 1: box outside the image: expected normalised"),
    ("0 0.5 0.5 0.0 0.2", r"line 1: expected a box with w > 0 and h > 0; got w=0, h=0.2 \(zero area\)"),
    ("0 a 0.5 0.2 0.2", r"line 1: expected numbers"),
])
def test_yolo_bad_lines(tmp_path, line, match):
    root = tmp_path / "y"
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(root / "images" / "im.png")
    (root / "labels" / "im.txt").write_text(line + "\n")
    with pytest.raises(DataError, match=re.escape(str(root / "labels" / "im.txt")) + " " + match):
        load_yolo(root, image_size=4, class_names=["v"])
    out = load_yolo(root, image_size=4, class_names=["v"], on_error="skip", report_path=tmp_path / "r.json")
    assert len(out["all"]) == 0 and "im.png" in (tmp_path / "r.json").read_text()
