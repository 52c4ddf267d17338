"""The training/evaluation commands: --help, one-line errors, train -> resume -> evaluate/predict/external."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hqmed.cli import build_parser, main

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / ".." / "shared" / "data"
NPZ = DATA / "medmnist" / "pneumoniamnist.npz"
CONFIG = REPO / "configs" / "examples" / "pneumonia-cv.yaml"
COMMANDS = ["train", "cv", "evaluate", "compare", "predict", "external"]
TINY = ["--set", "epochs=1", "--set", "data.max_samples=40", "--set", "batch_size=16",
        "--set", "model.name=lcnet_050_tanh4", "--set", "model.kwargs.stride_list=[2,2,2,2,2]",
        "--set", "num_threads=1", "--no-progress"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args([command, "--help"])
    assert info.value.code == 0
    assert "usage: hqmed " + command in capsys.readouterr().out


def test_bad_config_is_one_clear_line(tmp_path, capsys):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("model: {name: lcnet_050_tanh4}\ndata: {source: medmnist}\noptim: {lr: -1}\n")
    assert main(["train", str(cfg), "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("hqmed: error: ConfigError: ") and "key 'optim.lr'" in err[0]
    assert str(cfg) in err[0] and "Traceback" not in "\n".join(err)
    assert main(["train", str(cfg), "--set", "optim.lr=0.1", "--set", "optim.nesterov=true"]) == 1
    err = capsys.readouterr().err
    # a --set mistake names the flag and its value, not the YAML file
    assert "ConfigError: --set optim.nesterov=true: unknown key 'optim.nesterov'" in err
    assert str(cfg) not in err


def test_a_study_set_mistake_is_one_line_naming_the_flag(tmp_path, capsys):
    demo = Path(__file__).resolve().parents[1] / "configs" / "demo.yaml"
    assert main(["study", str(demo), "--out", str(tmp_path / "s"), "--set", "base.epochs=0"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == ("hqmed: error: ConfigError: --set base.epochs=0: key 'epochs': expected a "
                      "number >= 1; got 0")
    assert not (tmp_path / "s").exists()  # refused before anything is written


def test_unfinished_run_is_refused(tmp_path, capsys):
    assert main(["predict", str(tmp_path), str(tmp_path / "x.png")]) == 1
    assert "expected a finished run" in capsys.readouterr().err


@pytest.fixture(scope="module")
def holdout_run(tmp_path_factory):
    if not NPZ.is_file():
        pytest.skip(f"real data absent: {NPZ}")
    run = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", str(CONFIG), "--data-root", str(DATA), "--out", str(run), *TINY]) == 0
    return run


def test_train_writes_a_holdout_run_and_resume_does_not_repeat_it(holdout_run, capsys):
    s = json.loads((holdout_run / "splits.json").read_text())
    assert s["protocol"] == "holdout" and len(s["folds"]) == 1
    before = (holdout_run / "metrics.json").read_text()
    stamp = (holdout_run / "fold_0" / "checkpoint" / "last.safetensors").stat().st_mtime_ns
    capsys.readouterr()
    assert main(["train", str(CONFIG), "--data-root", str(DATA), "--out", str(holdout_run), *TINY]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and f"run directory: {holdout_run}" in out
    assert (holdout_run / "metrics.json").read_text() == before
    assert (holdout_run / "fold_0" / "checkpoint" / "last.safetensors").stat().st_mtime_ns == stamp


def test_evaluate_scores_the_full_official_test_split(holdout_run, capsys):
    # the run trained on a subsample; evaluate scores the FULL official test split
    out = holdout_run.parent / "eval.json"
    assert main(["evaluate", str(holdout_run), "--data-root", str(DATA), "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    m = doc["metrics"]
    assert m["n"] == 624 and doc["model"] == "fold 0 best model"
    cm = np.array(m["confusion_matrix"])
    assert m["accuracy"] == pytest.approx(np.trace(cm) / cm.sum())
    labels = np.load(NPZ)["test_labels"].ravel()
    assert np.bincount(labels).tolist() == cm.sum(1).tolist()


def test_predict_and_external_on_png_files(holdout_run, tmp_path, capsys):
    from PIL import Image

    images = np.load(NPZ)["test_images"][:5]
    folder = tmp_path / "pngs"
    folder.mkdir()
    files = []
    for i, img in enumerate(images):
        files.append(folder / f"img{i}.png")
        Image.fromarray(img).save(files[-1])
    capsys.readouterr()
    assert main(["predict", str(holdout_run), *map(str, files), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    rows = doc["predictions"]
    assert [r["file"] for r in rows] == list(map(str, files))
    for r in rows:
        assert sum(r["probabilities"].values()) == pytest.approx(1.0)
        assert r["class"] == max(r["probabilities"], key=r["probabilities"].get)
    assert main(["external", str(holdout_run), str(folder)]) == 0
    table = capsys.readouterr().out
    assert "mean conf." in table and "total" in table
    counts = {c: sum(r["class"] == c for r in rows) for c in ("normal", "pneumonia")}
    for name, n in counts.items():
        assert any(line.split()[:2] == [name, str(n)] for line in table.splitlines())
