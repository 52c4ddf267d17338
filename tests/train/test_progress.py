"""Progress: a bar per run on a terminal, one line per finished epoch elsewhere, nothing when off."""

from __future__ import annotations

import io

import pytest
from train_testutils import make_source

from hqmed.cli import build_parser
from hqmed.train.config import parse_config
from hqmed.train.progress import RunProgress
from hqmed.train.runner import run_experiment

pytestmark = pytest.mark.usefixtures("tiny_model")


def _cfg(*overrides):
    raw = {"name": "t", "model": {"name": "tiny"}, "data": {"source": "memory"}, "epochs": 2,
           "batch_size": 8, "seed": 1, "optim": {"lr": 0.05}, "protocol": {"kind": "cv", "folds": 2}}
    return parse_config(raw, list(overrides))


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_off_a_terminal_one_line_per_finished_epoch(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("HQMED_NO_PROGRESS", raising=False)
    run_experiment(_cfg(), tmp_path / "run", datasets=make_source(), progress=True)
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(lines) == 2 * 2  # folds x epochs
    assert "/run: fold 0 epoch 1/2" in lines[0]
    assert "fold 1 epoch 2/2" in lines[-1] and "val_acc" in lines[-1]


def test_no_progress_prints_nothing(tmp_path, capsys):
    run_experiment(_cfg(), tmp_path / "run", datasets=make_source(), progress=False)
    assert capsys.readouterr().err == ""


def test_library_default_is_quiet_off_a_terminal(tmp_path, capsys):
    run_experiment(_cfg(), tmp_path / "run", datasets=make_source())
    assert capsys.readouterr().err == ""


def test_on_a_terminal_a_bar_in_epochs_with_eta_and_last_metrics(monkeypatch):
    monkeypatch.delenv("HQMED_NO_PROGRESS", raising=False)
    out = Terminal()
    bar = RunProgress("ds/model", folds=2, epochs=1, enabled=True, stream=out)
    bar.note("loading and preparing the data")
    bar.fold(0)
    for _ in range(2):
        bar.batch(4)
    assert bar.done == pytest.approx(0.5)  # advanced per batch, before the epoch ended
    for _ in range(2):
        bar.batch(4)
    bar.epoch({"fold": 0, "epoch": 1, "val_loss": 0.5, "val_acc": 0.75, "val_auc": 0.8,
               "seconds": 1.0}, "val_auc")
    bar.close()
    text = out.getvalue()
    assert "loading and preparing the data" in text  # shown before the first epoch
    assert "1.0/2 epochs" in text and "fold 0: val_loss 0.500, val_acc 0.750, val_auc 0.800" in text
    assert "<" in text  # elapsed<remaining: the ETA


@pytest.mark.parametrize("command", ["study", "cv", "train"])
def test_training_commands_take_progress_flags(command):
    parser = build_parser()
    args = ["configs/demo.yaml"] if command == "study" else ["cfg.yaml"]
    assert parser.parse_args([command, *args]).progress is True
    assert parser.parse_args([command, *args, "--no-progress"]).progress is False
