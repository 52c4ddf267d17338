import hashlib
import re
import shutil

import numpy as np
import pytest

from hqmed.data import load_source
from hqmed.data.medmnist import (
    FLAGS,
    INFO,
    SIZES,
    fetch_medmnist,
    load_medmnist,
    medmnist_filename,
    medmnist_md5,
    medmnist_url,
)
from hqmed.errors import ConfigError, DataError, DataNotFoundError


@pytest.fixture
def mm_root(shared_data):
    root = shared_data / "medmnist"
    if not (root / "pneumoniamnist.npz").is_file():
        pytest.skip("shared medmnist files absent")
    return root


@pytest.mark.parametrize("flag, sizes, channels, k", [
    ("pneumoniamnist", (4708, 524, 624), 1, 2),
    ("retinamnist", (1080, 120, 400), 3, 5),
])
def test_official_split_sizes(mm_root, flag, sizes, channels, k):
    out = load_source("medmnist", flag=flag, root=str(mm_root), download=False)
    assert tuple(len(out[s]) for s in ("train", "val", "test")) == sizes
    for ds in out.values():
        assert ds.images.shape[1:] == (channels, 28, 28) and ds.images.dtype == np.float32
        assert ds.num_classes == k and 0.0 <= ds.images.min() and ds.images.max() <= 1.0
        assert ds.meta["group"].is_unique  # no patient ids in MedMNIST: one group per image


def test_pixels_and_labels_match_raw_npz(mm_root):
    raw = np.load(mm_root / "retinamnist.npz")
    ds = load_medmnist("retinamnist", root=mm_root, download=False, splits=["test"])["test"]
    np.testing.assert_allclose(ds.images[7].transpose(1, 2, 0) * 255, raw["test_images"][7], atol=1e-3)
    np.testing.assert_array_equal(ds.labels, raw["test_labels"].ravel())
    assert ds.class_names == ["0", "1", "2", "3", "4"]


def test_md5_table_matches_files_and_readme(mm_root):
    # independent oracle: hashlib on the shared files, and the values quoted in shared/data/README.md
    readme = (mm_root.parent / "README.md").read_text()
    for flag in ("pneumoniamnist", "retinamnist"):
        got = hashlib.md5((mm_root / f"{flag}.npz").read_bytes()).hexdigest()
        assert medmnist_md5(flag, 28) == got
        assert re.search(rf"{flag}\.npz \| {got}", readme)
    assert medmnist_md5("dermamnist") == "0744692d530f8e62ec473284d019b0c7"  # README's DermaMNIST fact


def test_info_covers_every_2d_flag_and_size():
    assert set(FLAGS) == {"pathmnist", "chestmnist", "dermamnist", "octmnist", "pneumoniamnist",
                          "retinamnist", "breastmnist", "bloodmnist", "tissuemnist", "organamnist",
                          "organcmnist", "organsmnist"}
    md5s = [INFO[f][4][s] for f in FLAGS for s in SIZES]
    assert all(re.fullmatch(r"[0-9a-f]{32}", m) for m in md5s) and len(set(md5s)) == len(md5s)
    assert medmnist_filename("bloodmnist", 28) == "bloodmnist.npz"
    assert medmnist_filename("bloodmnist", 224) == "bloodmnist_224.npz"
    assert medmnist_url("octmnist", 64) == "https://zenodo.org/records/10519652/files/octmnist_64.npz?download=1"
    assert INFO["dermamnist"][3] == (7007, 1003, 2005) and len(INFO["dermamnist"][2]) == 7


def test_offline_error_names_file_path_url_md5(tmp_path):
    with pytest.raises(DataNotFoundError) as e:
        load_medmnist("dermamnist", size=64, root=tmp_path, download=False)
    msg = str(e.value)
    for part in ("dermamnist_64.npz", str(tmp_path / "dermamnist_64.npz"), medmnist_url("dermamnist", 64),
                 "b70a2f5635c6199aeaa28c31d7202e1f"):
        assert part in msg


def test_failed_download_is_data_not_found(tmp_path):
    # pooch.retrieve is replaced by a network failure in conftest
    with pytest.raises(DataNotFoundError, match="download failed: ConnectionError") as e:
        fetch_medmnist("breastmnist", 28, root=tmp_path, download=True)
    assert "750601b1f35ba3300ea97c75c52ff8f6" in str(e.value)


def test_default_root_is_env(monkeypatch, tmp_path):
    monkeypatch.setenv("HQMED_DATA", str(tmp_path / "envroot"))
    with pytest.raises(DataNotFoundError, match=re.escape(str(tmp_path / "envroot" / "pathmnist.npz"))):
        load_medmnist("pathmnist", download=False)


def test_corrupt_file_md5_mismatch(mm_root, tmp_path):
    p = tmp_path / "pneumoniamnist.npz"
    shutil.copy(mm_root / "pneumoniamnist.npz", p)
    with open(p, "ab") as fh:
        fh.write(b"x")
    with pytest.raises(DataError, match="expected MD5 28209eda62fecd6e6a2d98b1501bb15f.*got [0-9a-f]{32}"
                       ) as info:
        load_medmnist("pneumoniamnist", root=tmp_path, download=False)
    assert "--set data.params.verify_md5=false" in str(info.value)  # the way out is named


def test_missing_file_names_the_absolute_path_and_the_flag(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataNotFoundError) as info:
        load_medmnist("pneumoniamnist", root="rel", download=False)
    message = str(info.value)
    assert str((tmp_path / "rel" / "pneumoniamnist.npz").resolve()) in message
    assert "--data-root DIR (config: data.data_root)" in message
    # the folder to pass is the one that holds the config's root folder, not the file's own folder
    assert "looked up at DIR/<data.params.root>/pneumoniamnist.npz" in message


def test_chestmnist_multilabel_refused(tmp_path):
    with pytest.raises(ConfigError, match="chestmnist.*single-label.*multi-label"):
        load_medmnist("chestmnist", root=tmp_path, download=False)


@pytest.mark.parametrize("kw, match", [
    ({"flag": "nodulemnist3d"}, "medmnist flag: expected one of"),
    ({"flag": "pathmnist", "size": 32}, "medmnist size: expected one of \\[28, 64, 128, 224\\]"),
    ({"flag": "pathmnist", "splits": ["dev"]}, "medmnist splits"),
])
def test_bad_arguments(tmp_path, kw, match):
    with pytest.raises(ConfigError, match=match):
        load_medmnist(root=tmp_path, download=False, **kw)


def test_md5_remembered_by_size_and_mtime(mm_root, tmp_path, monkeypatch):
    import hqmed.data.medmnist as mm

    p = tmp_path / "retinamnist.npz"
    shutil.copy(mm_root / "retinamnist.npz", p)
    calls = []
    real = mm.md5sum
    monkeypatch.setattr(mm, "md5sum", lambda path: calls.append(path) or real(path))
    fetch_medmnist("retinamnist", root=tmp_path, download=False)
    fetch_medmnist("retinamnist", root=tmp_path, download=False)
    assert len(calls) == 1
    with open(p, "ab") as fh:  # a changed file is hashed again and refused
        fh.write(b"!")
    with pytest.raises(DataError, match="expected MD5"):
        fetch_medmnist("retinamnist", root=tmp_path, download=False)
    assert len(calls) == 2
