import os
import stat

import pytest

from hqmed.utils.io import atomic_write_bytes, atomic_write_json, read_json


def test_atomic_write_roundtrip_and_permissions(tmp_path):
    path = atomic_write_json(tmp_path / "sub" / "x.json", {"a": 1})
    assert read_json(path) == {"a": 1}
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~mask
    assert [p.name for p in path.parent.iterdir()] == ["x.json"]  # no temp file left behind


def test_atomic_write_failure_keeps_old_file(tmp_path):
    path = atomic_write_bytes(tmp_path / "y.bin", b"old")

    with pytest.raises(TypeError):
        atomic_write_bytes(path, object())  # type: ignore[arg-type]
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["y.bin"]
