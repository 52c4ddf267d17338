"""Issue 4 acceptance: SYNTHETIC phantoms -> VinDr loader -> ROI crops -> splits -> SMOTE ->
normalisation -> augmentation, end to end on a few hundred images."""

import numpy as np
import pandas as pd
import pytest
import torch

from hqmed.data.balancing import smote
from hqmed.data.dicom import read_dicom
from hqmed.data.phantoms import CLASS_NAMES, generate_phantom_dataset
from hqmed.data.registry import load_source
from hqmed.data.splits import check_group_disjoint, holdout_split, stratified_kfold
from hqmed.data.transforms import Augmentation, Normalizer

pytestmark = pytest.mark.slow

N_IMAGES, SIZE, CROP = 200, (256, 192), 32


@pytest.fixture(scope="module")
def phantom_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline") / "vindr-phantoms"
    return generate_phantom_dataset(root, n_images=N_IMAGES, seed=0, difficulty=0.3,
                                    image_size=SIZE, monochrome1_fraction=0.2)


@pytest.fixture(scope="module")
def crops(phantom_root, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    return load_source("vindr", root=phantom_root, image_size=CROP, channels=1, cache_dir=cache)


def test_decoded_radiographs_have_the_spine_bright_in_both_polarities(phantom_root):
    """MONOCHROME1 files must come out with bone bright, like MONOCHROME2 ones."""
    import pydicom

    kinds = set()
    for path in sorted((phantom_root / "train_images").glob("*.dicom"))[:60]:
        img = read_dicom(path)
        kinds.add(pydicom.dcmread(path, stop_before_pixels=True).PhotometricInterpretation)
        w = img.shape[1]
        centre = img[:, w // 3: 2 * w // 3].mean()
        edges = np.concatenate([img[:, : w // 8], img[:, -w // 8:]], axis=1).mean()
        assert centre > edges + 0.05, path.name
    assert kinds == {"MONOCHROME1", "MONOCHROME2"}


def test_loader_crops_match_the_csv(phantom_root, crops):
    assert set(crops) == {"train", "test"}
    for split, ds in crops.items():
        csv = pd.read_csv(phantom_root / "annotations" / f"{split}.csv")
        assert len(ds) == len(csv)  # one lesion or one random ROI per image
        assert ds.images.shape[1:] == (1, CROP, CROP)
        assert ds.class_names == CLASS_NAMES
        want = csv.lesion_type.replace({"Spondylolysthesis": "Spondylolisthesis"})
        got = pd.Series([ds.class_names[k] for k in ds.labels])
        assert sorted(got) == sorted(want)
        assert set(ds.meta["group"]) == set(csv.study_id)
    assert not set(crops["train"].meta["group"]) & set(crops["test"].meta["group"])


def test_crops_carry_a_learnable_signal(crops):
    """A linear model on the 32x32 crops beats the majority class clearly on the test split."""
    from sklearn.linear_model import RidgeClassifier

    tr, te = crops["train"], crops["test"]
    clf = RidgeClassifier(alpha=10.0)
    clf.fit(np.asarray(tr.images).reshape(len(tr), -1), tr.labels)
    acc = clf.score(np.asarray(te.images).reshape(len(te), -1), te.labels)
    majority = np.bincount(te.labels).max() / len(te)
    assert acc > majority + 0.2, (acc, majority)


def test_group_splits_smote_normalise_augment(crops):
    train = crops["train"]
    groups = train.meta["group"].to_numpy()
    # leak-free validation split and CV folds by study
    tr_idx, va_idx, _ = holdout_split(train.labels, 0.2, 0.0, seed=0, groups=groups)
    check_group_disjoint(groups, tr_idx, va_idx)
    for a, b in stratified_kfold(train.labels, k=3, seed=0, groups=groups):
        check_group_disjoint(groups, a, b)
    fit = train.subset(tr_idx)
    val_counts_before = np.bincount(train.labels[va_idx], minlength=8)

    # SMOTE on the training part only, up to the largest class
    target = int(fit.counts().max())
    res = smote(fit.images, fit.labels, target_per_class=target, seed=0, num_classes=8)
    np.testing.assert_array_equal(np.bincount(res.labels, minlength=8), [target] * 8)
    assert res.images.shape[1:] == (1, CROP, CROP) and res.images.dtype == np.float32
    assert 0 <= res.images.min() and res.images.max() <= 1  # convex combinations stay in range
    np.testing.assert_array_equal(np.bincount(train.labels[va_idx], minlength=8), val_counts_before)

    # normalisation statistics from the (real) training images, then a batch through augmentation
    norm = Normalizer.fit(fit.images)
    np.testing.assert_allclose(norm.mean, [np.asarray(fit.images).mean()], rtol=1e-5)
    batch = torch.from_numpy(res.images[:64])
    g = torch.Generator().manual_seed(0)
    out = norm(Augmentation()(batch, g))
    assert out.shape == batch.shape and torch.isfinite(out).all()
    again = norm(Augmentation()(batch, torch.Generator().manual_seed(0)))
    torch.testing.assert_close(out, again, rtol=0, atol=0)


def test_phantoms_source_kind(tmp_path):
    """``load_source("phantoms")`` generates + loads in one call (small and fast)."""
    out = load_source("phantoms", root=tmp_path / "ph", n_images=24, image_size=24,
                      radiograph_size=(160, 128), channels=3, cache_dir=tmp_path / "c")
    assert out["train"].images.shape[1:] == (3, 24, 24)
    assert len(out["train"]) + len(out["test"]) == 24
    assert "synthetic" in out["train"].name
