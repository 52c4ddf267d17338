import os
import pickle

import numpy as np
import pytest

from hqmed.data import load_source
from hqmed.data.cifar import load_cifar10, safe_unpickle
from hqmed.errors import DataError, DataNotFoundError


@pytest.fixture
def cifar_dir(shared_data):
    d = shared_data / "cifar10" / "cifar-10-batches-py"
    if not d.is_dir():
        pytest.skip("shared CIFAR-10 subset absent")
    return d


def test_real_subset_sizes_and_pixels(cifar_dir):
    out = load_source("cifar10", root=str(cifar_dir.parent))
    assert len(out["train"]) == 5170 and len(out["test"]) == 1017
    assert out["train"].class_names[:2] == ["airplane", "automobile"] and out["train"].num_classes == 10
    # independent oracle: the stdlib unpickler on the (trusted) official file
    with open(cifar_dir / "test_batch", "rb") as fh:
        raw = pickle.load(fh, encoding="bytes")
    first = np.asarray(raw[b"data"][3], dtype=np.float32).reshape(3, 32, 32) / 255
    np.testing.assert_allclose(out["test"].images[3], first, atol=1e-6)
    np.testing.assert_array_equal(out["test"].labels, raw[b"labels"])
    assert load_cifar10(cifar_dir)["test"].labels.tolist() == out["test"].labels.tolist()  # folder itself


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    bad = tmp_path / "data_batch_1"
    bad.write_bytes(pickle.dumps({b"data": _Evil(marker)}, protocol=2))
    with pytest.raises(DataError, match="refused to unpickle.*(posix|os|nt)\\.system is not allowed"):
        safe_unpickle(bad)
    assert not marker.exists()


@pytest.mark.parametrize("obj", [
    {b"x": {1, 2}},                      # set: not among the allowed types
    {b"x": np.array([object()], dtype=object)},
    {b"x": complex(1, 2)},
])
def test_other_types_refused(tmp_path, obj):
    p = tmp_path / "batch"
    p.write_bytes(pickle.dumps(obj, protocol=2))
    with pytest.raises(DataError, match=str(p)):
        safe_unpickle(p)


def test_allowed_types_round_trip(tmp_path):
    obj = {b"data": np.arange(6, dtype=np.uint8).reshape(2, 3), b"labels": [1, 2], "s": "x", b"b": b"\xff"}
    for proto in (2, 4):
        p = tmp_path / f"ok{proto}"
        p.write_bytes(pickle.dumps(obj, protocol=proto))
        back = safe_unpickle(p)
        np.testing.assert_array_equal(back[b"data"], obj[b"data"])
        assert back[b"labels"] == [1, 2] and back[b"b"] == b"\xff"


def test_truncated_pickle_and_missing_folder(tmp_path, cifar_dir):
    p = tmp_path / "trunc"
    p.write_bytes((cifar_dir / "batches.meta").read_bytes()[:40])
    with pytest.raises(DataError, match="expected a CIFAR-10 pickle"):
        safe_unpickle(p)
    with pytest.raises(DataNotFoundError, match="cifar-10-python.tar.gz"):
        load_cifar10(tmp_path / "nowhere")
