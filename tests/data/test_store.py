"""On-disk sample store and virtual SMOTE: views equal in-memory arrays, half-written stores are
refused, views pickle without pixels, and virtual SMOTE equals imbalanced-learn bit for bit."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from imblearn.over_sampling import SMOTE

from hqmed.data.balancing import SmoteImages, smote_plan
from hqmed.data.base import ImageDataset
from hqmed.data.store import StoredImages, StoreWriter, open_store, read_rows


def _gray(n=23, size=10, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 1, size, size), dtype=np.float32)


def _store(path, x, dtype="uint16"):
    with StoreWriter(path, x.shape[1:], dtype) as w:
        for img in x:
            w.append(img)
        return w.commit()


def _quantised(x, dtype="uint16"):
    scale = 65535 if dtype == "uint16" else 255
    return np.round(x * scale).astype(dtype).astype(np.float32) / np.float32(scale)


@pytest.mark.parametrize("dtype", ["uint8", "uint16"])
def test_view_reads_the_quantised_pixels_per_batch(tmp_path, dtype):
    x = _gray()
    view = StoredImages([_store(tmp_path / "s", x, dtype)])
    q = _quantised(x, dtype)
    assert view.shape == x.shape and view.dtype == np.float32
    np.testing.assert_array_equal(view.read(), q)
    idx = np.array([5, 0, 5, 22])
    np.testing.assert_array_equal(read_rows(view, idx), q[idx])
    np.testing.assert_array_equal(view[idx][1:].read(), q[idx][1:])  # views of views
    np.testing.assert_array_equal(view[3], q[3])
    mask = np.arange(len(x)) % 3 == 0
    np.testing.assert_array_equal(np.asarray(view[mask]), q[mask])


def test_channels_and_resize_happen_per_batch_like_in_memory(tmp_path):
    x = _gray(size=12)
    q = _quantised(x)
    view = StoredImages([_store(tmp_path / "s", x)]).with_format(channels=3, size=(7, 9))
    want = F.interpolate(torch.from_numpy(q), size=(7, 9), mode="bilinear", align_corners=False,
                         antialias=True).clamp(0, 1).numpy().repeat(3, axis=1)
    assert view.shape == (23, 3, 7, 9)
    np.testing.assert_array_equal(view.read([2, 4]), want[[2, 4]])


def test_subset_and_concat_stay_lazy(tmp_path):
    a, b = _gray(8, seed=1), _gray(5, seed=2)
    da = ImageDataset(StoredImages([_store(tmp_path / "a", a)]), np.arange(8) % 2, ["x", "y"])
    db = ImageDataset(StoredImages([_store(tmp_path / "b", b)]), np.arange(5) % 2, ["x", "y"])
    both = da.concat(db).subset([12, 0, 9])
    assert isinstance(both.images, StoredImages)
    np.testing.assert_array_equal(both.images.read(), _quantised(np.concatenate([a, b]))[[12, 0, 9]])


def test_half_written_store_is_refused(tmp_path):
    x = _gray()
    # a build killed before commit leaves only a hidden temporary folder: no store at the path
    w = StoreWriter(tmp_path / "k", x.shape[1:])
    w.append(x[0])
    assert open_store(tmp_path / "k") is None
    w.abort()
    assert not any(tmp_path.iterdir())
    # a truncated pixel file or a broken header at the final path is refused
    store = _store(tmp_path / "s", x)
    assert open_store(store.path) is not None
    pixels = store.path / "images.bin"
    pixels.write_bytes(pixels.read_bytes()[:-1])
    assert open_store(store.path) is None
    (store.path / "store.json").write_text("{")
    assert open_store(store.path) is None
    # rebuilding over the stale folder replaces it
    again = _store(tmp_path / "s", x)
    np.testing.assert_array_equal(StoredImages([again]).read(), _quantised(x))


def test_view_pickles_as_paths_not_pixels(tmp_path):
    x = _gray(200, size=32)
    view = StoredImages([_store(tmp_path / "s", x)]).with_format(channels=3)
    view.read([0])  # opens the memory map
    blob = pickle.dumps(view[np.arange(0, 200, 2)])
    assert len(blob) < 5_000 < x.nbytes
    np.testing.assert_array_equal(pickle.loads(blob).read([1]), view.read([2]))


# --------------------------------------------------------------------------- virtual SMOTE


def _imbalanced(counts=(30, 9, 5, 12), shape=(1, 6, 5), seed=0):
    rng = np.random.default_rng(seed)
    y = np.concatenate([np.full(n, k) for k, n in enumerate(counts)]).astype(np.int64)
    rng.shuffle(y)  # classes interleaved, as in a real split
    x = (rng.random((len(y), *shape)) * 0.5 + y[:, None, None, None] * 0.15).astype(np.float32)
    return x, y


@pytest.mark.parametrize("k_neighbors", [5, 3])
def test_virtual_smote_equals_imblearn_bit_for_bit_in_order(k_neighbors):
    x, y = _imbalanced()
    plan = smote_plan(x, y, target_per_class=20, seed=11, k_neighbors=k_neighbors)
    got = SmoteImages(x, plan)
    ref_x, ref_y = SMOTE(sampling_strategy={1: 20, 2: 20, 3: 20}, k_neighbors=min(k_neighbors, 4),
                         random_state=11).fit_resample(x.reshape(len(x), -1), y)
    assert ref_x.dtype == np.float32
    np.testing.assert_array_equal(plan.labels, ref_y)
    np.testing.assert_array_equal(got.read().reshape(len(ref_x), -1), ref_x)
    # any batch, in any order, synthesises the same rows
    idx = np.array([len(x) + 7, 3, len(ref_x) - 1, len(x)])
    np.testing.assert_array_equal(got.read(idx).reshape(len(idx), -1), ref_x[idx])
    # only (base, neighbour, lambda) are kept per synthetic sample
    assert plan.base.shape == plan.neighbour.shape == plan.lam.shape == (len(ref_x) - len(x),)


def test_virtual_smote_over_a_store_view_equals_imblearn(tmp_path):
    x, y = _imbalanced(shape=(1, 8, 8), seed=3)
    view = StoredImages([_store(tmp_path / "s", x)]).with_format(channels=3)
    plan = smote_plan(view, y, target_per_class=25, seed=0)
    dense = view.read()
    ref_x, ref_y = SMOTE(sampling_strategy={1: 25, 2: 25, 3: 25}, k_neighbors=4,
                         random_state=0).fit_resample(dense.reshape(len(dense), -1), y)
    np.testing.assert_array_equal(plan.labels, ref_y)
    np.testing.assert_array_equal(SmoteImages(view, plan).read().reshape(len(ref_x), -1), ref_x)


def test_blocked_neighbour_search_equals_scikit_learn(tmp_path):
    """The opt-in blocked search (classes too big to hold) finds scikit-learn's neighbours, so
    the plan -- and the synthetic images -- are the same."""
    x, y = _imbalanced(counts=(40, 23, 9, 17), shape=(1, 7, 6), seed=5)
    view = StoredImages([_store(tmp_path / "s", x)]).with_format(channels=3)
    default = smote_plan(view, y, target_per_class=45, seed=2)
    for block in (1, 5, 64):
        blocked = smote_plan(view, y, target_per_class=45, seed=2, block=block)
        for field in ("labels", "base", "neighbour", "lam"):
            np.testing.assert_array_equal(getattr(blocked, field), getattr(default, field))
