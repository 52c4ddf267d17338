"""Balancing: SMOTE against imbalanced-learn and against its geometric definition; weights vs sklearn."""

import numpy as np
import pytest
from imblearn.over_sampling import SMOTE
from sklearn.utils.class_weight import compute_class_weight

from hqmed.data.balancing import class_weights, smote, weighted_sampler_weights
from hqmed.errors import ConfigError, DataError


def _data(counts=(40, 12, 6), shape=(1, 6, 5), seed=0):
    rng = np.random.default_rng(seed)
    y = np.concatenate([np.full(n, k) for k, n in enumerate(counts)]).astype(np.int64)
    x = (rng.random((len(y), *shape)) * 0.5 + y[:, None, None, None] * 0.2).astype(np.float32)
    return x, y


def test_smote_counts_and_mask():
    x, y = _data()
    res = smote(x, y, target_per_class=30, seed=0)
    # class 0 (40 >= 30) untouched; 1 and 2 raised to 30
    np.testing.assert_array_equal(np.bincount(res.labels), [40, 30, 30])
    assert res.images.shape == (100, 1, 6, 5) and res.images.dtype == np.float32
    np.testing.assert_array_equal(res.images[: len(x)], x)  # originals first, unchanged
    assert res.n_synthetic == 42 and not res.is_synthetic[: len(x)].any()
    assert res.is_synthetic[len(x):].all()


def test_smote_matches_imblearn_oracle():
    x, y = _data()
    res = smote(x, y, target_per_class=25, seed=7)
    ref_x, ref_y = SMOTE(sampling_strategy={1: 25, 2: 25}, k_neighbors=5,
                         random_state=7).fit_resample(x.reshape(len(x), -1), y)
    np.testing.assert_allclose(res.images.reshape(len(ref_x), -1), ref_x, rtol=1e-6)
    np.testing.assert_array_equal(res.labels, ref_y)


def test_synthetic_samples_lie_between_same_class_samples():
    """SMOTE's definition: s = a + lam * (b - a), a and b of the same class, lam in [0, 1]."""
    x, y = _data(counts=(20, 8), shape=(4,))
    x = x.reshape(len(x), -1)
    res = smote(x, y, target_per_class=20, seed=1)
    for s, c in zip(res.images[res.is_synthetic], res.labels[res.is_synthetic]):
        own = x[y == c]
        ok = False
        for a in own:
            d = own - a
            lam = (d @ (s - a)) / np.maximum((d * d).sum(1), 1e-12)
            resid = np.linalg.norm(a + lam[:, None] * d - s, axis=1)
            if np.any((resid < 1e-5) & (lam >= -1e-6) & (lam <= 1 + 1e-6)):
                ok = True
                break
        assert ok


def test_smote_dict_target_deterministic_and_noop():
    x, y = _data()
    a = smote(x, y, {2: 10}, seed=3)
    b = smote(x, y, {2: 10}, seed=3)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(np.bincount(a.labels), [40, 12, 10])
    same = smote(x, y, target_per_class=5)
    assert same.n_synthetic == 0 and len(same.labels) == len(y)


def test_smote_small_class_lowers_k():
    x, y = _data(counts=(20, 3))
    res = smote(x, y, 20, seed=0)  # k_neighbors 5 > 3 - 1: lowered to 2
    np.testing.assert_array_equal(np.bincount(res.labels), [20, 20])


def test_smote_errors():
    x, y = _data()
    with pytest.raises(DataError, match="empty class \\[3\\]"):
        smote(x, y, 30, num_classes=4)
    with pytest.raises(DataError, match="class 1 with 1"):
        smote(x[:41], y[:41], 30)
    with pytest.raises(DataError, match="rows"):
        smote(x[:10], y, 30)
    with pytest.raises(ConfigError, match="target_per_class"):
        smote(x, y, {5: 10})
    with pytest.raises(DataError, match="-1"):
        smote(x, np.where(y == 2, -1, y), 30)


def test_class_weights_match_sklearn():
    _, y = _data()
    ref = compute_class_weight("balanced", classes=np.arange(3), y=y)
    np.testing.assert_allclose(class_weights(y, 3), ref, rtol=1e-6)
    with pytest.raises(DataError, match="empty class"):
        class_weights(y, num_classes=5)


def test_sampler_weights_equalise_classes():
    _, y = _data()
    w = weighted_sampler_weights(y)
    per_class = np.bincount(y, weights=w)
    np.testing.assert_allclose(per_class, [1.0, 1.0, 1.0])
    # drawing with these weights gives ~uniform classes
    rng = np.random.default_rng(0)
    draws = rng.choice(len(y), size=30000, p=w / w.sum())
    np.testing.assert_allclose(np.bincount(y[draws]) / 30000, [1 / 3] * 3, atol=0.02)
