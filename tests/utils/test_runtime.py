"""Environment capture: the git commit is the hqmed source tree's, wherever the command runs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

import hqmed
from hqmed.utils.runtime import environment_info

SOURCE = Path(hqmed.__file__).resolve().parent


def _git_head(cwd: Path) -> str | None:
    out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else None


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_commit_is_recorded_outside_the_checkout(tmp_path, monkeypatch):
    head = _git_head(SOURCE)  # the oracle: git itself, asked in the source tree
    if head is None:
        pytest.skip(f"hqmed is not imported from a git checkout ({SOURCE})")
    monkeypatch.chdir(tmp_path)  # cv/train/study run from a folder that is no checkout
    assert _git_head(tmp_path) is None
    assert environment_info()["git_commit"] == head
