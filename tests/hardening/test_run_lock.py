"""Run and study directories: one writer at a time, stale locks taken over, leftovers cleaned.

No test depends on timing: the first writer is paused at a known point (its epoch callback waits
on an event) while the second one tries the same directory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest
from hardening_testutils import write_class_folder, write_config

from hqmed.errors import LockError
from hqmed.train.config import load_config
from hqmed.train.rundir import LOCK_NAME, DirLock
from hqmed.train.runner import run_experiment


@pytest.fixture
def data(tmp_path):
    return write_class_folder(tmp_path / "data", {"a": 10, "b": 10})


def _cfg(tmp_path, data, **overrides):
    cfg = load_config(write_config(tmp_path / "cfg.yaml", data, epochs=2),
                      [f"{k}={v}" for k, v in overrides.items()])
    return cfg


def test_second_writer_gets_the_lock_error_and_the_first_finishes_intact(tmp_path, data):
    run = tmp_path / "run"
    cfg_a = _cfg(tmp_path, data)
    cfg_b = _cfg(tmp_path, data, **{"model.kwargs.head": "flatten", "optim.lr": 0.01})
    reference = run_experiment(cfg_a, tmp_path / "reference", progress=False)

    paused, resume = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def pause_after_epoch_1(row):
        if row["epoch"] == 1:
            paused.set()
            resume.wait()

    def writer_a():
        try:
            run_experiment(cfg_a, run, progress=False, callbacks=[pause_after_epoch_1])
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
            paused.set()

    thread = threading.Thread(target=writer_a)
    thread.start()
    try:
        assert paused.wait(timeout=600), "writer A never reached its first epoch"
        assert not errors, errors
        holder = json.loads((run / LOCK_NAME).read_text())
        assert holder["pid"] == os.getpid()
        with pytest.raises(LockError) as info:
            run_experiment(cfg_b, run, progress=False)
        msg = str(info.value)
        assert "\n" not in msg and str(run) in msg and f"pid {os.getpid()}" in msg
        assert "expected no other hqmed process" in msg and "got a lock held by" in msg
        with pytest.raises(LockError):  # also with --no-resume: nothing is deleted
            run_experiment(cfg_b, run, resume=False, progress=False)
    finally:
        resume.set()
        thread.join()
    assert not errors, errors
    # A finished intact: its own config, and the same predictions as an undisturbed run
    assert load_config(run / "config.yaml").model.kwargs == cfg_a.model.kwargs
    for name in ("predictions.csv", "splits.json", "history.csv"):
        if name == "history.csv":  # holds wall-clock seconds
            a, b = pd.read_csv(run / name), pd.read_csv(reference / name)
            pd.testing.assert_frame_equal(a.drop(columns="seconds"), b.drop(columns="seconds"))
        else:
            assert (run / name).read_bytes() == (reference / name).read_bytes(), name
    assert (run / "DONE").is_file() and not (run / LOCK_NAME).exists()


def test_stale_lock_of_a_killed_process_is_taken_over(tmp_path, data, caplog):
    run = tmp_path / "run"
    # a process that takes the lock and dies without releasing it (like kill -9)
    code = ("import os, sys; from hqmed.train.rundir import DirLock; "
            f"DirLock({str(run)!r}).acquire(); os._exit(0)")
    subprocess.run([sys.executable, "-c", code], check=True, env=os.environ | {
        "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")})
    stale = json.loads((run / LOCK_NAME).read_text())
    assert stale["pid"] != os.getpid()
    with caplog.at_level("INFO", logger="hqmed.train.rundir"):
        run_experiment(_cfg(tmp_path, data), run, progress=False)
    assert (run / "DONE").is_file()
    assert f"stale lock of pid {stale['pid']}" in caplog.text


def test_folder_with_only_temp_files_counts_as_empty_and_leftovers_are_cleaned(tmp_path, data):
    run = tmp_path / "run"
    (run / "fold_0" / "checkpoint").mkdir(parents=True)
    (run / ".config.yaml.k2j3h4.tmp").write_text("half a config")  # killed in its first seconds
    with pytest.raises(Exception):  # noqa: B017 - any refusal: the first attempt's data are missing
        run_experiment(_cfg(tmp_path, tmp_path / "missing"), run, progress=False)
    (run / "fold_0" / "checkpoint" / ".last.safetensors.a1b2c3.tmp").write_bytes(b"partial")
    run_experiment(_cfg(tmp_path, data), run, progress=False)  # the same command, now with data
    assert (run / "DONE").is_file()
    assert not list(run.rglob("*.tmp")) and not (run / LOCK_NAME).exists()


def test_folder_with_other_files_is_still_refused(tmp_path, data):
    run = tmp_path / "run"
    run.mkdir()
    (run / "notes.txt").write_text("mine")
    with pytest.raises(Exception, match="expected an empty folder or an hqmed run"):
        run_experiment(_cfg(tmp_path, data), run, progress=False)
    assert (run / "notes.txt").read_text() == "mine"


def test_dirlock_is_exclusive_and_released(tmp_path):
    with DirLock(tmp_path / "d", "study directory"):
        with pytest.raises(LockError, match="study directory"):
            DirLock(tmp_path / "d", "study directory").acquire()
    with DirLock(tmp_path / "d"):  # released: free again
        pass
    assert not (tmp_path / "d" / LOCK_NAME).exists()
