"""docs/data.md's table of the two-class MedMNIST flags says which label is which, as INFO does."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from hqmed.data.medmnist import INFO

DOC = Path(__file__).resolve().parents[2] / "docs" / "data.md"
ROW = re.compile(r"^\| (\w+mnist) \| ([^|]+) \| ([^|]+) \| `([^`]+)`", re.M)


def _rows() -> dict[str, tuple[str, str, str]]:
    return {m[1]: (m[2].strip(), m[3].strip(), m[4]) for m in ROW.finditer(DOC.read_text())}


def test_every_two_class_flag_is_documented_in_info_order():
    binary = {f for f, (task, _, names, _, _) in INFO.items() if len(names) == 2}
    rows = _rows()
    assert set(rows) == binary == {"pneumoniamnist", "breastmnist"}
    for flag, (label0, label1, positive) in rows.items():
        assert (label0, label1) == INFO[flag][2]
        assert positive in INFO[flag][2]
    assert rows["breastmnist"][2] == "malignant" and rows["pneumoniamnist"][2] == "pneumonia"


def test_pneumonia_is_label_1_in_the_official_file(shared_data):
    """Kermany et al.'s test set (MedMNIST's PneumoniaMNIST test split): 234 normal, 390 pneumonia."""
    path = shared_data / "medmnist" / "pneumoniamnist.npz"
    if not path.is_file():
        pytest.skip("shared pneumoniamnist.npz absent")
    counts = np.bincount(np.load(path)["test_labels"].ravel())
    assert counts.tolist() == [234, 390]
    assert INFO["pneumoniamnist"][2][1] == "pneumonia"
