import os

import numpy as np
import pandas as pd
import pytest

import hqmed.data.vindr as vindr
from hqmed.data import load_source
from hqmed.data.vindr import CLASS_NAMES, load_vindr, map_lesion
from hqmed.errors import DataNotFoundError


def _names(ds):
    return [ds.class_names[i] for i in ds.labels]


def test_paper_classes_and_mapping():
    assert CLASS_NAMES == sorted(CLASS_NAMES) and len(CLASS_NAMES) == 8
    assert map_lesion("Spondylolysthesis") == map_lesion("spondylolisthesis") == "Spondylolisthesis"
    for other in ("Ankylosis", "Enthesophytes", "Fracture", "Foreign body", "Sclerotic lesion",
                  "Subchondral sclerosis", "Other lesions"):
        assert map_lesion(other) == "Other lesions"
    assert map_lesion("  disc  SPACE narrowing ") == "Disc space narrowing"
    assert map_lesion("Kyphosis") is None
    assert map_lesion("Kyphosis", {"kyphosis": "Other lesions"}) == "Other lesions"


def test_tiny_layout_rois_labels_groups(tiny_vindr, tmp_path):
    out = load_vindr(tiny_vindr, image_size=16, cache_dir=tmp_path / "c")
    tr, te = out["train"], out["test"]
    assert tr.images.shape == (5, 3, 16, 16) and te.images.shape == (2, 3, 16, 16)
    assert sorted(_names(tr)) == sorted(["Osteophytes", "Disc space narrowing", "Spondylolisthesis",
                                         "No finding", "Other lesions"])
    assert sorted(_names(te)) == ["No finding", "Vertebral collapse"]
    # group = study_id: both img_a crops and img_b share study st1
    assert set(tr.meta.loc[tr.meta.image_id.isin(["img_a", "img_b"]), "group"]) == {"st1"}
    assert (tr.meta["group"] == tr.meta["study_id"]).all()
    # lesion crops cover exactly the bright (0.9) box region, also for MONOCHROME1 and 8/16-bit files
    for i in np.flatnonzero(tr.meta["roi"] == "lesion"):
        np.testing.assert_allclose(tr.images[i], 0.9, atol=0.01)
    # boxes recorded in source pixels
    row = tr.meta[tr.meta.lesion_type == "Osteophytes"].iloc[0]
    assert row.box == (5.0, 10.0, 15.0, 30.0) and row.path.endswith("img_a.dicom")


def test_no_finding_rois_follow_lesion_sizes_and_seed(tiny_vindr, tiny_spec):
    train_sizes = {(b[2] - b[0], b[3] - b[1]) for split, *_, lesions in tiny_spec.values()
                   for _, b in lesions if b is not None and split == "train"}
    boxes = {}
    for seed in (0, 1):
        out = load_vindr(tiny_vindr, image_size=8, seed=seed, rois_per_normal=3, cache=False)
        nf = pd.concat([d.meta[d.meta.roi == "random"] for d in out.values()])
        assert len(nf) == 6  # 2 normal images x 3 ROIs
        for rec in nf.itertuples():
            x0, y0, x1, y1 = rec.box
            h, w = tiny_spec[rec.image_id][2:4]
            assert (round(x1 - x0, 6), round(y1 - y0, 6)) in train_sizes
            assert 0 <= x0 and x1 <= w and 0 <= y0 and y1 <= h
        boxes[seed] = nf["box"].tolist()
    again = load_vindr(tiny_vindr, image_size=8, seed=0, rois_per_normal=3, cache=False)
    assert pd.concat([d.meta[d.meta.roi == "random"] for d in again.values()])["box"].tolist() == boxes[0]
    assert boxes[0] != boxes[1]


def test_cache_hit_and_invalidation(tiny_vindr, tmp_path, monkeypatch):
    first = load_vindr(tiny_vindr, image_size=12, channels=1, cache_dir=tmp_path / "c")
    assert len(list((tmp_path / "c" / "vindr").glob("*/store.json"))) == 2  # one sample store per split

    def boom(path):
        raise AssertionError(f"cache miss: decoded {path}")

    monkeypatch.setattr(vindr, "read_dicom", boom)
    second = load_vindr(tiny_vindr, image_size=12, channels=1, cache_dir=tmp_path / "c")
    for s in ("train", "test"):
        np.testing.assert_array_equal(np.asarray(second[s].images), np.asarray(first[s].images))
        assert second[s].meta["box"].tolist() == first[s].meta["box"].tolist()
        assert second[s].labels.tolist() == first[s].labels.tolist()
    # a half-written store (pixel file cut short) is refused and rebuilt, never read
    pixels = next((tmp_path / "c" / "vindr").glob("train-*/images.bin"))
    pixels.write_bytes(pixels.read_bytes()[:-7])
    with pytest.raises(AssertionError, match="cache miss"):
        load_vindr(tiny_vindr, image_size=12, channels=1, cache_dir=tmp_path / "c", splits=["train"])
    # a changed DICOM (new mtime) or a changed setting invalidates the cache
    f = tiny_vindr / "train_images" / "img_a.dicom"
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 10**9))
    with pytest.raises(AssertionError, match="cache miss"):
        load_vindr(tiny_vindr, image_size=12, channels=1, cache_dir=tmp_path / "c", splits=["train"])
    with pytest.raises(AssertionError, match="cache miss"):
        load_vindr(tiny_vindr, image_size=13, channels=1, cache_dir=tmp_path / "c", splits=["test"])


def test_missing_layout_message(tmp_path):
    with pytest.raises(DataNotFoundError, match="annotations/train.csv.*layout: train_images"):
        load_vindr(tmp_path / "empty")


@pytest.mark.slow
def test_phantom_dataset_through_vindr_loader(tmp_path):
    """Acceptance: a few hundred synthetic phantom images -> VinDr loader -> ROI crops -> SMOTE -> augmentation."""
    out = load_source("phantoms", root=str(tmp_path / "ph"), n_images=200, seed=3, difficulty=0.3,
                      image_size=32, radiograph_size=(224, 160), cache_dir=str(tmp_path / "c"))
    tr, te = out["train"], out["test"]
    ann = {s: pd.read_csv(tmp_path / "ph" / "annotations" / f"{s}.csv", dtype=str) for s in ("train", "test")}
    assert len(ann["train"]) + len(ann["test"]) == 200  # one row per phantom image
    for s, ds in out.items():
        # every CSV row became exactly one crop, with the CSV's class (official spelling mapped)
        assert len(ds) == len(ann[s]) and ds.images.shape[1:] == (3, 32, 32)
        want = ann[s].set_index("image_id")["lesion_type"].map(map_lesion)
        assert (ds.meta.set_index("image_id")["label_name"] == want.loc[ds.meta.image_id]).all()
        assert _names(ds) == ds.meta["label_name"].tolist()
        px = np.asarray(ds.images)  # a lazy view of the sample store, read whole (small here)
        assert 0.0 <= px.min() and px.max() <= 1.0 and px.std() > 0.05
    assert set(tr.counts().nonzero()[0]) == set(range(8))  # all 8 classes present in train
    assert not set(tr.meta.group) & set(te.meta.group)  # studies never straddle the official split
    assert tr.meta.groupby("group").size().max() >= 2  # repeat studies exist -> group splits matter
    again = load_source("phantoms", root=str(tmp_path / "ph"), n_images=200, seed=3, difficulty=0.3,
                        image_size=32, radiograph_size=(224, 160), cache_dir=str(tmp_path / "c"))
    np.testing.assert_array_equal(np.asarray(again["train"].images), np.asarray(tr.images))

    # ... then SMOTE on the training split only, and batched augmentation (data-pipeline helper's API)
    import torch

    from hqmed.data import balancing, transforms

    target = int(tr.counts().max())
    res = balancing.smote(tr.images, tr.labels, target_per_class=target, seed=0, num_classes=8)
    assert np.bincount(res.labels, minlength=8).tolist() == [target] * 8
    np.testing.assert_array_equal(res.images[: len(tr)], np.asarray(tr.images))  # originals kept, test untouched
    aug = transforms.Augmentation({"crop": "pad", "crop_padding": 4})
    batch = aug(torch.from_numpy(res.images[:64]), torch.Generator().manual_seed(0))
    assert batch.shape == (64, 3, 32, 32) and 0.0 <= float(batch.min()) and float(batch.max()) <= 1.0
    assert not torch.equal(batch, torch.from_numpy(res.images[:64]))


def test_phantoms_default_root_is_deterministic(monkeypatch, tmp_path):
    monkeypatch.setenv("HQMED_CACHE", str(tmp_path / "cache"))
    kw = dict(n_images=24, seed=1, difficulty=0.2, image_size=16, radiograph_size=(128, 96), cache=False)
    a = load_source("phantoms", **kw)
    roots = list((tmp_path / "cache" / "phantoms").iterdir())
    assert len(roots) == 1 and (roots[0] / "annotations" / "train.csv").is_file()
    b = load_source("phantoms", **kw)  # reuses the generated folder, same crops
    np.testing.assert_array_equal(a["train"].images, b["train"].images)
    assert a["train"].name.startswith("phantoms (synthetic)")
    load_source("phantoms", **{**kw, "seed": 2})
    assert len(list((tmp_path / "cache" / "phantoms").iterdir())) == 2
