"""Splits: sklearn's StratifiedKFold is the oracle; group splits never leak a group."""

import numpy as np
import pytest
from sklearn.model_selection import StratifiedKFold

from hqmed.data.splits import (
    check_group_disjoint,
    holdout_split,
    load_splits,
    save_splits,
    stratified_kfold,
)
from hqmed.errors import ConfigError, DataError


def _labels(n=200, k=4, seed=0):
    p = np.array([0.4, 0.3, 0.2, 0.1])[:k]
    return np.random.default_rng(seed).choice(k, size=n, p=p / p.sum())


def test_kfold_matches_sklearn_oracle():
    y = _labels()
    ours = stratified_kfold(y, k=5, seed=7)
    ref = StratifiedKFold(5, shuffle=True, random_state=7).split(np.zeros(len(y)), y)
    for (tr, va), (rtr, rva) in zip(ours, ref):
        np.testing.assert_array_equal(tr, np.sort(rtr))
        np.testing.assert_array_equal(va, np.sort(rva))


def test_kfold_partitions_and_is_deterministic():
    y = _labels()
    a = stratified_kfold(y, k=5, seed=3)
    b = stratified_kfold(y, k=5, seed=3)
    c = stratified_kfold(y, k=5, seed=4)
    vals = np.concatenate([va for _, va in a])
    np.testing.assert_array_equal(np.sort(vals), np.arange(len(y)))
    for tr, va in a:
        assert len(np.intersect1d(tr, va)) == 0 and len(tr) + len(va) == len(y)
    assert all(np.array_equal(x[1], z[1]) for x, z in zip(a, b))
    assert not all(np.array_equal(x[1], z[1]) for x, z in zip(a, c))


def test_kfold_group_aware_never_leaks():
    rng = np.random.default_rng(1)
    groups = rng.integers(0, 60, size=300)
    y = (groups % 3).astype(int)  # label constant within a study, like one finding per study
    folds = stratified_kfold(y, k=5, seed=0, groups=groups)
    for tr, va in folds:
        assert not set(groups[tr]) & set(groups[va])
        check_group_disjoint(groups, tr, va)
    vals = np.concatenate([va for _, va in folds])
    np.testing.assert_array_equal(np.sort(vals), np.arange(300))


def test_kfold_too_few_members_raises():
    y = np.array([0] * 10 + [1] * 2)
    with pytest.raises(DataError, match="class 1 has 2"):
        stratified_kfold(y, k=5)
    with pytest.raises(ConfigError, match="k: expected"):
        stratified_kfold(y, k=1)
    with pytest.raises(DataError, match="1-D"):
        stratified_kfold(np.zeros((3, 2), int), k=2)


def test_holdout_fractions_stratified_and_partition():
    y = _labels(n=1000)
    tr, va, te = holdout_split(y, val_fraction=0.15, test_fraction=0.2, seed=0)
    np.testing.assert_array_equal(np.sort(np.concatenate([tr, va, te])), np.arange(1000))
    assert abs(len(te) - 200) <= 1 and abs(len(va) - 150) <= 1
    for part in (tr, va, te):  # class proportions kept within 2 points
        p = np.bincount(y[part], minlength=4) / len(part)
        np.testing.assert_allclose(p, np.bincount(y, minlength=4) / len(y), atol=0.02)
    tr2, va2, te2 = holdout_split(y, 0.15, 0.2, seed=0)
    np.testing.assert_array_equal(te, te2)
    _, _, te0 = holdout_split(y, 0.2, 0.0, seed=0)
    assert te0.size == 0


def test_holdout_group_aware():
    rng = np.random.default_rng(2)
    groups = rng.integers(0, 100, size=400)
    y = (groups % 4).astype(int)
    tr, va, te = holdout_split(y, 0.2, 0.2, seed=5, groups=groups)
    check_group_disjoint(groups, tr, va, te)
    np.testing.assert_array_equal(np.sort(np.concatenate([tr, va, te])), np.arange(400))
    assert 0.1 < len(te) / 400 < 0.3 and 0.1 < len(va) / 400 < 0.3
    with pytest.raises(DataError, match="group"):
        check_group_disjoint(groups, np.arange(200), np.arange(100, 400))


def test_holdout_bad_fractions():
    y = _labels()
    with pytest.raises(ConfigError, match="val_fraction"):
        holdout_split(y, 1.2, 0.1)
    with pytest.raises(ConfigError, match="< 1"):
        holdout_split(y, 0.6, 0.5)


def test_save_load_roundtrip(tmp_path):
    y = _labels()
    folds = stratified_kfold(y, k=3, seed=0)
    path = save_splits(tmp_path / "splits.json", folds, test=np.array([5, 6]), protocol="cv")
    back = load_splits(path)
    assert back["protocol"] == "cv"
    np.testing.assert_array_equal(back["test"], [5, 6])
    for (a, b), (c, d) in zip(folds, back["folds"]):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)
    (tmp_path / "bad.json").write_text('{"folds": []}')
    with pytest.raises(DataError, match="protocol"):
        load_splits(tmp_path / "bad.json")
