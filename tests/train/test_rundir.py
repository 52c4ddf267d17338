"""The run directory: one predictor for a fold and the ensemble, one test-split average, refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from train_testutils import TinyNet, make_source

from hqmed.data.base import ImageDataset
from hqmed.errors import DataError
from hqmed.train.config import parse_config
from hqmed.train.rundir import RunDir, split_scores
from hqmed.train.runner import run_experiment

pytestmark = pytest.mark.usefixtures("tiny_model")


def _cfg(*overrides):
    raw = {"name": "t", "model": {"name": "tiny"}, "data": {"source": "memory"}, "epochs": 2,
           "batch_size": 8, "seed": 5, "optim": {"lr": 0.05}, "protocol": {"kind": "cv", "folds": 3}}
    return parse_config(raw, list(overrides))


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished 3-fold run on the in-memory source (TinyNet), and that source."""
    mp = pytest.MonkeyPatch()
    import hqmed.train.rundir as rundir
    import hqmed.train.runner as runner

    def build(cfg, num_classes, in_chans, seed):
        torch.manual_seed(seed)
        return TinyNet(in_chans, num_classes, drop_rate=0.2)

    mp.setattr(runner, "build_model", build)
    mp.setattr(rundir, "build_model", build)
    src = make_source()
    path = run_experiment(_cfg(), tmp_path_factory.mktemp("run") / "run", datasets=src)
    mp.undo()
    return path, src


def _oracle_fold_probs(run_path, fold: int, x: np.ndarray) -> np.ndarray:
    """Fold ``fold``'s probabilities computed from the files directly: weights, normaliser, softmax."""
    norm = json.loads((run_path / f"fold_{fold}" / "normalizer.json").read_text())
    mean = np.asarray(norm["mean"]).reshape(1, -1, 1, 1)
    std = np.asarray(norm["std"]).reshape(1, -1, 1, 1)
    net = TinyNet(x.shape[1], 3)
    net.load_state_dict(load_file(run_path / f"fold_{fold}" / "checkpoint" / "best.safetensors"))
    net.eval()
    with torch.no_grad():
        logits = net(torch.from_numpy(((x - mean) / std).astype(np.float32)))
    return torch.softmax(logits, 1).double().numpy()


def _all_images(src) -> np.ndarray:
    return np.concatenate([src[s].images for s in ("train", "val", "test")])


def test_fold_predictor_reproduces_the_runs_own_val_predictions(finished):
    path, src = finished
    x = _all_images(src)
    preds = RunDir(path).predictions()
    for fold in range(3):
        rows = preds[(preds["split"] == "val") & (preds["fold"] == fold)]
        got = RunDir(path).predictor(fold=fold, device="cpu").predict_images(x[rows["index"].to_numpy()])
        stored = rows[[f"prob_{k}" for k in range(3)]].to_numpy()
        np.testing.assert_allclose(got, stored, rtol=0, atol=1e-12)
        np.testing.assert_allclose(got, _oracle_fold_probs(path, fold, x[rows["index"].to_numpy()]),
                                   atol=1e-6)


def test_ensemble_is_the_mean_of_the_fold_models_and_matches_metrics(finished):
    path, src = finished
    x_test = src["test"].images
    got = RunDir(path).predictor(device="cpu").predict_images(x_test)
    oracle = np.mean([_oracle_fold_probs(path, f, x_test) for f in range(3)], axis=0)
    np.testing.assert_allclose(got, oracle, atol=1e-6)
    # the stored test rows, averaged over folds, are the same ensemble
    idx, y, score = split_scores(RunDir(path).predictions(), "test")
    np.testing.assert_array_equal(idx, np.arange(60, 75))
    np.testing.assert_array_equal(y, src["test"].labels)
    np.testing.assert_allclose(score, got, atol=1e-12)
    metrics = RunDir(path).metrics()
    assert metrics["test"]["accuracy"] == pytest.approx(float((oracle.argmax(1) == y).mean()))


def test_split_scores_averages_by_index_with_numpy_oracle():
    import pandas as pd

    rng = np.random.default_rng(0)
    rows = []
    for fold in range(3):
        for i in (7, 3, 5):
            p = rng.dirichlet([1, 1])
            rows.append({"index": i, "fold": fold, "split": "test", "y_true": i % 2,
                         "prob_0": p[0], "prob_1": p[1]})
    df = pd.DataFrame(rows)
    idx, y, score = split_scores(df, "test")
    assert idx.tolist() == [3, 5, 7] and y.tolist() == [1, 1, 1]
    for j, i in enumerate(idx):
        mine = np.array([[r["prob_0"], r["prob_1"]] for r in rows if r["index"] == i]).mean(0)
        np.testing.assert_allclose(score[j], mine)
    assert split_scores(df, "val") is None


def test_new_images_are_prepared_to_the_runs_input_shape(finished):
    """RGB 16x16 images are converted to the run's 1x8x8 input (the config sets no image_size)."""
    path, src = finished
    rgb = np.repeat(src["test"].images, 3, axis=1)
    big = torch.nn.functional.interpolate(torch.from_numpy(rgb), size=(16, 16), mode="nearest").numpy()
    ds = ImageDataset(big, src["test"].labels, ["a", "b", "c"], src["test"].meta, name="big")
    predictor = RunDir(path).predictor(device="cpu")
    assert predictor.input_shape == (1, 8, 8)
    prob = predictor.predict_dataset(ds)
    assert prob.shape == (15, 3)
    np.testing.assert_allclose(prob.sum(1), 1.0)
    with pytest.raises(DataError, match=r"expected prepared images \(N, 1, 8, 8\)"):
        predictor.predict_images(big)


def test_unfinished_run_cannot_predict(tmp_path):
    with pytest.raises(DataError, match="expected a finished run"):
        RunDir(tmp_path).predictor()


def test_refused_data_leaves_nothing_that_blocks_the_corrected_rerun(tmp_path):
    src = make_source()
    bad = dict(src)
    bad["val"] = src["val"].subset(np.arange(len(src["val"])))
    bad["val"].labels[:] = -1  # unlabelled images cannot be trained on: refused
    out = tmp_path / "run"
    with pytest.raises(DataError, match="unlabelled"):
        run_experiment(_cfg(), out, datasets=bad)
    assert not out.exists() or not any(out.iterdir())
    # the rerun with another config (epochs changed) is not refused as a "changed config"
    run_experiment(_cfg("epochs=1"), out, datasets=src)
    assert RunDir(out).is_complete()


def test_a_config_left_by_an_older_refused_run_does_not_block(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.yaml").write_text("name: t\nmodel: {name: tiny}\ndata: {source: memory}\nepochs: 9\n")
    run_experiment(_cfg("epochs=1"), out, datasets=make_source())
    assert RunDir(out).config().epochs == 1


def test_torch_thread_count_is_restored(tmp_path):
    before = torch.get_num_threads()
    wanted = 1 if before != 1 else 2
    run_experiment(_cfg("epochs=1", f"num_threads={wanted}"), tmp_path / "run", datasets=make_source())
    assert torch.get_num_threads() == before
