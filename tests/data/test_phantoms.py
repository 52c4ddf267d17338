"""Synthetic spine phantoms: VinDr layout, DICOM tags, determinism, visible signatures."""

import numpy as np
import pandas as pd
import pydicom
import pytest
from pydicom.pixels import apply_modality_lut

from hqmed.data.phantoms import (
    CLASS_NAMES,
    _lesion_box,
    body_corners,
    generate_phantom_dataset,
    render_phantom,
    sample_spec,
)
from hqmed.errors import ConfigError, DataError

COLS = ["image_id", "study_id", "series_id", "rad_id", "lesion_type",
        "xmin", "ymin", "xmax", "ymax"]


@pytest.fixture(scope="module")
def small_phantoms(tmp_path_factory):
    root = tmp_path_factory.mktemp("ph") / "vindr"
    generate_phantom_dataset(root, n_images=48, seed=3, difficulty=0.4, image_size=(160, 128),
                             monochrome1_fraction=0.3)
    return root


def _all_rows(root):
    return pd.concat([pd.read_csv(root / "annotations" / f"{s}.csv").assign(split=s)
                      for s in ("train", "test")], ignore_index=True)


def test_layout_and_csv(small_phantoms):
    root = small_phantoms
    df = _all_rows(root)
    assert list(pd.read_csv(root / "annotations" / "train.csv").columns) == COLS
    assert len(df) == 48 and df["image_id"].is_unique
    for split in ("train", "test"):
        ids = set(df.loc[df.split == split, "image_id"])
        files = {p.stem for p in (root / f"{split}_images").glob("*.dicom")}
        assert ids == files and ids
    # official spelling, no other spellings, every label known
    allowed = (set(CLASS_NAMES) - {"Spondylolisthesis"}) | {"Spondylolysthesis"}
    assert set(df["lesion_type"]) <= allowed
    normal = df[df.lesion_type == "No finding"]
    assert normal[["xmin", "ymin", "xmax", "ymax"]].isna().all().all()
    boxes = df[df.lesion_type != "No finding"]
    assert boxes[["xmin", "ymin", "xmax", "ymax"]].notna().all().all()
    assert (boxes.xmin >= 0).all() and (boxes.xmax <= 127).all() and (boxes.ymax <= 159).all()
    assert ((boxes.xmax - boxes.xmin) > 4).all() and ((boxes.ymax - boxes.ymin) > 4).all()
    # a study never spans train and test
    assert not set(df[df.split == "train"].study_id) & set(df[df.split == "test"].study_id)
    assert "SYNTHETIC" in (root / "SYNTHETIC_PHANTOMS.txt").read_text()


def test_dicom_tags_and_pixels(small_phantoms):
    df = _all_rows(small_phantoms)
    photometric, bits = set(), set()
    for _, row in df.iterrows():
        ds = pydicom.dcmread(small_phantoms / f"{row.split}_images" / f"{row.image_id}.dicom")
        assert ds.Modality == "DX" and ds.BodyPartExamined == "SPINE"
        assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.1.1"
        assert "SYNTHETIC PHANTOM" in ds.SeriesDescription and "SYNTHETIC" in ds.ImageComments
        assert ds.PatientID.startswith("PHANTOM-") and ds.PatientSex in ("M", "F")
        assert (ds.Rows, ds.Columns) == (160, 128)
        assert ds.HighBit == ds.BitsStored - 1
        arr = ds.pixel_array
        assert arr.max() <= 2**ds.BitsStored - 1
        hu = apply_modality_lut(arr, ds)
        np.testing.assert_allclose(hu, arr * float(ds.RescaleSlope) + float(ds.RescaleIntercept))
        lo = float(ds.WindowCenter) - float(ds.WindowWidth) / 2
        assert hu.min() - 1 <= lo <= hu.max()
        photometric.add(ds.PhotometricInterpretation)
        bits.add(int(ds.BitsStored))
    assert photometric == {"MONOCHROME1", "MONOCHROME2"}
    assert bits <= {12, 16}


def test_deterministic_and_independent_of_global_rng(tmp_path):
    kw = dict(n_images=6, seed=11, difficulty=0.5, image_size=(128, 96))
    np.random.seed(0)
    a = generate_phantom_dataset(tmp_path / "a", **kw)
    np.random.seed(123)
    b = generate_phantom_dataset(tmp_path / "b", **kw)
    c = generate_phantom_dataset(tmp_path / "c", **{**kw, "seed": 12})
    for split in ("train", "test"):
        ta = (a / "annotations" / f"{split}.csv").read_text()
        assert ta == (b / "annotations" / f"{split}.csv").read_text()
    ids = pd.read_csv(a / "annotations" / "train.csv").image_id
    for i in ids:
        pa = pydicom.dcmread(a / "train_images" / f"{i}.dicom")
        pb = pydicom.dcmread(b / "train_images" / f"{i}.dicom")
        np.testing.assert_array_equal(pa.pixel_array, pb.pixel_array)
        assert pa.SOPInstanceUID == pb.SOPInstanceUID
    assert (a / "annotations" / "train.csv").read_text() != (c / "annotations" / "train.csv").read_text()
    # same settings -> reused; different settings -> refused unless overwrite
    assert generate_phantom_dataset(tmp_path / "a", **kw) == a
    with pytest.raises(DataError, match="different settings"):
        generate_phantom_dataset(tmp_path / "a", **{**kw, "seed": 1})
    generate_phantom_dataset(tmp_path / "a", **{**kw, "seed": 1}, overwrite=True)


def test_class_probs_and_validation(tmp_path):
    root = generate_phantom_dataset(tmp_path / "p", n_images=10, image_size=(128, 96),
                                    class_probs={"Surgical implant": 1.0}, test_fraction=0.0)
    df = pd.read_csv(root / "annotations" / "train.csv")
    assert set(df.lesion_type) == {"Surgical implant"} and len(df) == 10
    with pytest.raises(ConfigError, match="difficulty"):
        generate_phantom_dataset(tmp_path / "x", 5, difficulty=1.5)
    with pytest.raises(ConfigError, match="class_probs"):
        generate_phantom_dataset(tmp_path / "x", 5, class_probs={"Fracture": 1.0})
    with pytest.raises(ConfigError, match="image_size"):
        generate_phantom_dataset(tmp_path / "x", 5, image_size=(32, 32))
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "f.txt").write_text("x")
    with pytest.raises(DataError, match="non-empty"):
        generate_phantom_dataset(tmp_path / "busy", 5)


def _inside(box, x, y):
    return box[0] <= x <= box[2] and box[1] <= y <= box[3]


@pytest.mark.parametrize("lesion", [c for c in CLASS_NAMES if c != "No finding"])
def test_signature_geometry_inside_box(lesion):
    """Each lesion changes the anatomy beyond normal variation, inside its recorded box."""
    rng = np.random.default_rng(5)
    for _ in range(5):
        spec = sample_spec(rng, lesion, 512, 384, difficulty=0.5)
        spec.flip = False
        (f,) = spec.findings
        box = _lesion_box(spec, f)
        level = f.level
        v = spec.vertebrae[level]
        others = [u for j, u in enumerate(spec.vertebrae) if j not in (level, level + 1)]
        if lesion == "Vertebral collapse":
            assert v.h_ant < 0.85 * np.median([u.h_ant for u in others])
            assert _inside(box, v.cx, v.cy)
        elif lesion == "Disc space narrowing":
            nxt = spec.vertebrae[level + 1]
            def gap(a, b):  # distance between the endplates' midpoints
                ca, cb = body_corners(a), body_corners(b)
                return np.linalg.norm((cb[0] + cb[1]) / 2 - (ca[2] + ca[3]) / 2)

            gaps = [gap(a, b) for a, b in zip(spec.vertebrae[:-1], spec.vertebrae[1:])]
            assert gaps[level] < 0.8 * np.median(gaps)
            assert _inside(box, v.cx, (body_corners(v)[3, 1] + body_corners(nxt)[0, 1]) / 2)
        elif lesion == "Spondylolisthesis":
            # the step at the slipped level stands out from the lordotic curve's steps
            steps = np.diff([u.cx for u in spec.vertebrae])
            assert steps[level] - np.median(np.delete(steps, level)) > 0.08 * v.width
        elif lesion == "Osteophytes":
            assert v.spur > 0.08 * v.width and max(u.spur for u in others) < 0.05 * v.width
            assert _inside(box, body_corners(v)[0, 0] - 0.5 * v.spur, body_corners(v)[0, 1])
        elif lesion == "Foraminal stenosis":
            assert v.foramen_scale < 0.9 * np.median([u.foramen_scale for u in others])
        elif lesion == "Other lesions":
            x, y, r, contrast = f.spot
            assert abs(contrast) > 0.2 and _inside(box, x, y)
        elif lesion == "Surgical implant":
            img = render_phantom(spec, rng, 0.5)
            x0, y0, x1, y1 = (int(round(b)) for b in box)
            inside = img[y0:y1, x0:x1]
            outside = img.copy()
            outside[y0:y1, x0:x1] = 0
            assert inside.max() > 0.9 and np.percentile(inside, 99.5) > outside.max() - 0.05


@pytest.mark.slow
def test_roi_crops_are_learnable_but_harder_when_difficult():
    """A linear classifier on ROI crops beats chance clearly; accuracy drops with difficulty."""
    from sklearn.linear_model import RidgeClassifier
    from sklearn.model_selection import cross_val_score

    def crops(difficulty, n_per_class=14):
        rng = np.random.default_rng(0)
        X, y = [], []
        for k, lesion in enumerate(CLASS_NAMES):
            for _ in range(n_per_class):
                spec = sample_spec(rng, lesion, 256, 192, difficulty)
                img = render_phantom(spec, rng, difficulty)
                if not spec.findings:  # random ROI of typical size, like the paper
                    w, h = rng.uniform(30, 70), rng.uniform(20, 50)
                    x0, y0 = rng.uniform(0, 192 - w), rng.uniform(0, 256 - h)
                    box = (x0, y0, x0 + w, y0 + h)
                else:
                    box = spec.findings[0].box
                x0, y0, x1, y1 = (int(round(b)) for b in box)
                c = img[y0:y1 + 1, x0:x1 + 1]
                yi = np.linspace(0, c.shape[0] - 1, 16).astype(int)
                xi = np.linspace(0, c.shape[1] - 1, 16).astype(int)
                X.append(np.concatenate([c[yi][:, xi].ravel(), [c.shape[0] / 64, c.shape[1] / 64]]))
                y.append(k)
        return np.array(X), np.array(y)

    scores = {}
    for d in (0.1, 1.0):
        X, y = crops(d)
        clf = RidgeClassifier(alpha=1.0)
        scores[d] = cross_val_score(clf, X, y, cv=4).mean()
    assert scores[0.1] > 0.45  # chance is 1/8
    assert scores[1.0] < scores[0.1]


def test_cli_phantoms(tmp_path, capsys):
    from hqmed.cli import main

    rc = main(["phantoms", str(tmp_path / "cli"), "--n-images", "5", "--seed", "2",
               "--difficulty", "0.2", "--image-size", "128", "96"])
    out = capsys.readouterr().out
    assert rc == 0 and "SYNTHETIC" in out
    assert len(list((tmp_path / "cli").glob("*_images/*.dicom"))) == 5
    rc = main(["phantoms", str(tmp_path / "cli"), "--n-images", "5", "--difficulty", "2"])
    assert rc == 1 and "difficulty" in capsys.readouterr().err


def test_multiple_findings_per_image(tmp_path):
    root = generate_phantom_dataset(tmp_path / "m", n_images=30, seed=4, image_size=(192, 144),
                                    max_findings=3, test_fraction=0.0,
                                    class_probs={c: 1.0 for c in CLASS_NAMES if c != "No finding"})
    df = pd.read_csv(root / "annotations" / "train.csv")
    per_image = df.groupby("image_id")
    assert df.image_id.nunique() == 30 and per_image.size().max() > 1
    assert (per_image.lesion_type.nunique() == per_image.size()).all()  # distinct types per image
    assert df[["xmin", "ymin", "xmax", "ymax"]].notna().all().all()
    assert ((df.xmax > df.xmin) & (df.ymax > df.ymin)).all()
    # every row of an image shares study/series ids
    assert (per_image.study_id.nunique() == 1).all() and (per_image.series_id.nunique() == 1).all()
    with pytest.raises(ConfigError, match="max_findings"):
        generate_phantom_dataset(tmp_path / "x", 3, max_findings=0)
