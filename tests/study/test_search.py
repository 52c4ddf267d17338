"""Hyperparameter search: points, nested per-fold selection on inner validation only, the study's
results JSON and report section.

The leak test permutes the labels of one fold's scored part and of the test split (outer folds
unstratified, so they do not move) and checks that this fold's search scores and choice do not
change, while the other fold's (whose training portion holds those labels) do.
"""

from __future__ import annotations

import copy
import dataclasses
import json

import numpy as np
import pytest
import yaml
from scipy import stats
from tiny_phantoms import tiny_study

import hqmed.train.runner as train_runner
from hqmed.errors import ConfigError
from hqmed.study.config import SearchSpec, parse_study, resolve_runs
from hqmed.study.runner import run_study
from hqmed.study.search import choose, search_points
from hqmed.train.rundir import RunDir

TINY = tiny_study(["litespinenet"], n_images=160, name="tiny-search",
                  base={"num_threads": 1, "protocol": {"stratified": False}},
                  search={"grid": {"optim.lr": [1.0e-3, 1.0e-2], "model.drop_rate": [0.1, 0.5]},
                          "inner_val": 0.25},
                  cost={"enabled": False})


def test_grid_points_are_the_product_in_key_order():
    pts = search_points(SearchSpec(grid={"batch_size": [16, 32], "optim.lr": [1e-4, 1e-3, 1e-2]}))
    assert len(pts) == 6 and pts[0] == {"optim.lr": 1e-4, "batch_size": 16}
    assert pts[1] == {"optim.lr": 1e-4, "batch_size": 32} and isinstance(pts[1]["batch_size"], int)


def test_random_points_are_seeded_and_lr_is_log_uniform():
    spec = SearchSpec(n_trials=400, seed=3, ranges={"optim.lr": [1e-5, 1e-3],
                                                    "model.drop_rate": [0.1, 0.5],
                                                    "batch_size": [16, 32, 64]})
    pts = search_points(spec)
    assert pts == search_points(spec) and pts != search_points(spec.model_copy(update={"seed": 4}))
    lr = np.log10([p["optim.lr"] for p in pts])
    assert lr.min() >= -5 and lr.max() <= -3
    assert stats.kstest(lr, "uniform", args=(-5, 2)).pvalue > 0.01  # uniform in log10(lr)
    assert stats.kstest([p["model.drop_rate"] for p in pts], "uniform", args=(0.1, 0.4)).pvalue > 0.01
    assert {p["batch_size"] for p in pts} == {16, 32, 64}


@pytest.mark.parametrize("search, match", [
    ({"grid": {"optim.lr": [1e-3]}, "n_trials": 3},
     r"key 'search': expected either grid, or n_trials with ranges; got both$"),
    ({"n_trials": 3}, r"key 'search': expected ranges to draw n_trials points from; got none$"),
    ({"grid": {"optim.momentum": [0.9]}},
     r"key 'search\.grid': expected keys among \['optim\.lr', .*\]; got \['optim\.momentum'\]$"),
    ({"grid": {"optim.lr": []}},
     r"key 'search\.grid': expected a non-empty list of values per key; got empty lists for \['optim\.lr'\]$"),
    ({"n_trials": 3, "ranges": {"optim.lr": [0.0, 1e-3]}},
     r"key 'search': expected ranges\.optim\.lr low > 0 \(it is log-scaled\); got \[0\.0, 0\.001\]$"),
    ({"n_trials": 3, "ranges": {"model.drop_rate": [0.5, 0.1]}},
     r"key 'search': expected ranges\.model\.drop_rate as \[low, high\] with 0 <= low <= high; got \[0\.5, 0\.1\]$"),
    ({"grid": {"optim.lr": [1e-3]}, "models": ["nope"]}, "search.models: model 'nope'"),
])
def test_bad_search_sections_are_refused(search, match):
    with pytest.raises(ConfigError, match=match):
        parse_study({**TINY, "search": search})


def test_each_fold_takes_its_best_point_and_the_majority_is_chosen():
    scores = {"p00": [0.5, 0.9, 0.4], "p01": [0.6, 0.2, 0.3], "p02": [0.1, 0.8, 0.9]}
    per_fold, chosen = choose(scores, "min")
    table = np.array(list(scores.values()))
    assert per_fold == [list(scores)[i] for i in table.argmin(0)] == ["p02", "p01", "p01"]
    assert chosen == "p01"
    assert choose(scores, "max")[0] == [list(scores)[i] for i in table.argmax(0)]
    # a tie in votes goes to the best mean
    assert choose({"a": [1.0, 5.0], "b": [2.0, 1.0]}, "min") == (["a", "b"], "b")


def permuting(cfg, positions: np.ndarray):
    """A load_datasets that rolls the labels at ``positions`` of the train split and all test labels."""
    real = train_runner.load_datasets

    def load(c):
        out = real(c)
        out = {k: copy.copy(v) for k, v in out.items()}
        tr, te = out["train"], out["test"]
        y = tr.labels.copy()
        y[positions] = np.roll(y[positions], 1)
        out["train"] = dataclasses.replace(tr, labels=y)
        out["test"] = dataclasses.replace(te, labels=np.roll(te.labels, 1))
        return out
    return load


@pytest.mark.slow
def test_search_selects_on_inner_validation_only_and_reports(tmp_path, monkeypatch):
    study = parse_study(TINY)
    a = tmp_path / "a"
    report = run_study(study, a)
    meta = json.loads((a / "study.json").read_text())
    doc = meta["search"]  # the chosen point is in the study's results JSON
    assert doc == json.loads((a / "search.json").read_text())
    run = doc["runs"][0]
    assert len(doc["points"]) == 4 and run["chosen"] in {p["id"] for p in doc["points"]}
    # oracle: each fold's choice is the argmin of its inner-validation val_loss in the search runs
    for fold, pid in enumerate(run["chosen_per_fold"]):
        vals = {p["id"]: RunDir(a / "search/phantoms/litespinenet" / p["id"]).metrics()
                ["folds"][fold]["best_value"] for p in doc["points"]}
        assert pid == min(vals, key=vals.get)
    # the study's run trained each fold at the point it chose
    final = RunDir(a / "runs/phantoms/litespinenet").metrics()["folds"]
    values = {p["id"]: p["values"] for p in doc["points"]}
    assert [f["hparams"] for f in final] == [values[p] for p in run["chosen_per_fold"]]
    # search runs never see the test split and score on inner parts of the training portions
    splits = RunDir(a / "search/phantoms/litespinenet/p00").splits()
    outer = RunDir(a / "runs/phantoms/litespinenet").splits()
    assert splits["test"] is None and outer["test"]
    for inner, fold in zip(splits["folds"], outer["folds"]):
        assert set(inner["train"]) | set(inner["val"]) == set(fold["train"])
    html = report.read_text()
    assert 'id="search"' in html
    assert html.count('id="fig-search-phantoms-litespinenet-') == 2  # one plot per hyperparameter

    # permute fold 0's scored labels and the test labels: fold 0's search must not move
    conf = resolve_runs(study, a)[0]["config"]
    data = train_runner.load_experiment_data(conf)
    scored0 = np.asarray(outer["folds"][0]["val"])
    assert np.array_equal(train_runner.make_splits(conf, data)["folds"][0][1], scored0)
    monkeypatch.setattr(train_runner, "load_datasets", permuting(conf, scored0))
    b = tmp_path / "b"
    run_study(parse_study(yaml.safe_load(yaml.safe_dump(TINY))), b)
    def outer_folds(folds):  # inner_val (selection) follows each training portion's labels
        return [{k: f[k] for k in ("fold", "train", "val")} for f in folds]
    assert outer_folds(RunDir(b / "runs/phantoms/litespinenet").splits()["folds"]) == \
        outer_folds(outer["folds"])
    other = json.loads((b / "search.json").read_text())["runs"][0]
    fold0 = {p: s["per_fold"][0] for p, s in run["scores"].items()}
    assert {p: s["per_fold"][0] for p, s in other["scores"].items()} == fold0
    assert other["chosen_per_fold"][0] == run["chosen_per_fold"][0]
    # ... while fold 1, trained on those labels, does see the change (the test can fail)
    assert ({p: s["per_fold"][1] for p, s in other["scores"].items()}
            != {p: s["per_fold"][1] for p, s in run["scores"].items()})
