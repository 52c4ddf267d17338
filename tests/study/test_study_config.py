"""Study YAML: validation with clear errors, sweep expansion, merging onto the base experiment."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hqmed.errors import ConfigError
from hqmed.study.config import (
    all_comparisons,
    all_models,
    deep_merge,
    load_study_config,
    parse_study,
    resolve_runs,
    width_code,
)

REPO = Path(__file__).resolve().parents[2]

BASE = {"model": {"name": "litespinenet"}, "data": {"source": "phantoms"},
        "protocol": {"kind": "cv", "folds": 3}, "epochs": 2}


def study(**kw):
    raw = {"name": "s", "base": BASE, "datasets": [{"name": "d"}],
           "models": [{"name": "litespinenet"}, {"name": "hq_litespinenet"}],
           "comparisons": [{"a": "litespinenet", "b": "hq_litespinenet"}]}
    raw.update(kw)
    return raw


def test_unknown_key_is_named():
    with pytest.raises(ConfigError, match=r"^x\.yaml: unknown key 'statistics\.alpah'; expected one of "
                                          r"\['alpha', 'ci_level', .*\]$"):
        parse_study(study(statistics={"alpah": 0.05}), source="x.yaml")
    with pytest.raises(ConfigError, match=r"^x\.yaml: unknown key 'datasets\.0\.flag'; expected one of "
                                          r"\['data', 'name', 'overrides', 'reference', 'synthetic'\]$"):
        parse_study(study(datasets=[{"name": "d", "flag": 1}]), source="x.yaml")
    with pytest.raises(ConfigError, match="x.yaml: key 'datasets' is required"):
        parse_study({"name": "s", "base": BASE}, source="x.yaml")


def test_comparison_must_name_declared_models():
    with pytest.raises(ConfigError, match="model 'hq_lcnet_050' is not declared"):
        parse_study(study(comparisons=[{"a": "litespinenet", "b": "hq_lcnet_050"}]))


def test_bad_experiment_value_fails_before_training(tmp_path):
    cfg = parse_study(study(models=[{"name": "litespinenet", "overrides": {"optim": {"lr": -1}}},
                                    {"name": "hq_litespinenet"}]))
    with pytest.raises(ConfigError, match=r"model 'litespinenet'.*optim\.lr"):
        resolve_runs(cfg, tmp_path)


def test_width_codes_and_sweep_expansion():
    assert [width_code(w) for w in (0.5, 0.75, 1.0, 1.5, 2.0)] == ["050", "075", "100", "150", "200"]
    cfg = parse_study(study(models=[], comparisons=[], sweeps=[
        {"name": "qc5", "widths": [0.5, 2.0], "suffix": "-qc5",
         "ablations": {"closed_form": {"quantum_block": "closed_form"}}}]))
    names = [m.name for m in all_models(cfg)]
    assert names == ["lcnet_050_tanh4-qc5", "hq_lcnet_050-qc5", "hq_lcnet_050-qc5-closed_form",
                     "lcnet_200_tanh4-qc5", "hq_lcnet_200-qc5", "hq_lcnet_200-qc5-closed_form"]
    comps = all_comparisons(cfg)
    assert {(c["a"], c["b"], c["width"]) for c in comps} >= {
        ("lcnet_050_tanh4-qc5", "hq_lcnet_050-qc5", 0.5),
        ("hq_lcnet_200-qc5-closed_form", "hq_lcnet_200-qc5", 2.0)}
    runs = resolve_runs(cfg, "/tmp/out")
    abl = next(r for r in runs if r["model"] == "hq_lcnet_050-qc5-closed_form")["config"]
    assert abl.model.name == "hq_lcnet_050" and abl.model.kwargs == {"quantum_block": "closed_form"}


def test_unknown_source_param_fails_before_training(tmp_path):
    cfg = parse_study(study(datasets=[{"name": "c", "data": {"source": "cifar10",
                                                              "params": {"flag": "x"}}}]))
    with pytest.raises(ConfigError, match=r"dataset 'c'.*unknown key\(s\) \['flag'\]"):
        resolve_runs(cfg, tmp_path)


def test_sweep_rejects_unknown_width():
    with pytest.raises(ConfigError, match=r"^x\.yaml: key 'sweeps\.0\.widths': expected widths among "
                                          r"0\.5, 0\.75, 1\.0, 1\.5, 2\.0 \(the LCNet scales\); got \[0\.6\]$"):
        parse_study(study(sweeps=[{"name": "x", "widths": [0.6, 2.0]}]), source="x.yaml")


def test_run_names_become_folders():
    with pytest.raises(ConfigError, match=r"^<study>: key 'models\.1\.name': expected a name of letters, "
                                          r"digits, .*\(it becomes a folder name\); got 'hq/x'$"):
        parse_study(study(models=[{"name": "litespinenet"}, {"name": "hq/x"}]))


def test_merge_order_and_placeholders(tmp_path):
    cfg = parse_study(study(
        datasets=[{"name": "d", "data": {"params": {"root": "{out}/data"}},
                   "overrides": {"epochs": 5}}],
        models=[{"name": "litespinenet", "overrides": {"epochs": 7, "optim": {"lr": 1e-4}}},
                {"name": "hq_litespinenet"}]))
    runs = resolve_runs(cfg, tmp_path, data_root="/data")
    a, b = runs[0]["config"], runs[1]["config"]
    assert (a.epochs, b.epochs) == (7, 5)  # model overrides beat dataset overrides beat base
    assert a.optim.lr == 1e-4 and b.model.name == "hq_litespinenet"
    assert a.data.params["root"] == f"{tmp_path}/data" and a.data.data_root == "/data"
    assert deep_merge({"a": {"b": 1, "c": 2}}, {"a": {"c": 3}}) == {"a": {"b": 1, "c": 3}}


def test_dataset_with_another_source_drops_the_base_params(tmp_path):
    cfg = parse_study(study(
        base={**BASE, "data": {"source": "medmnist", "params": {"flag": "dermamnist", "size": 28},
                               "channels": 3}},
        datasets=[{"name": "derma"}, {"name": "pneu", "data": {"params": {"flag": "pneumoniamnist"}}},
                  {"name": "cifar", "data": {"source": "cifar10", "params": {"root": "cifar10"}}}]))
    runs = {r["dataset"]: r["config"].data for r in resolve_runs(cfg, tmp_path)}
    assert runs["pneu"].params == {"flag": "pneumoniamnist", "size": 28}
    assert runs["cifar"].params == {"root": "cifar10"} and runs["cifar"].channels == 3


def test_set_overrides_apply_to_the_study(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(study()))
    cfg = load_study_config(p, ["base.epochs=1", "statistics.n_boot=20"])
    assert cfg.base["epochs"] == 1 and cfg.statistics.n_boot == 20
    with pytest.raises(ConfigError, match="no such file"):
        load_study_config(tmp_path / "missing.yaml")


STUDY_CONFIGS = sorted([*(REPO / "configs").glob("*.yaml"), *(REPO / "configs" / "real").glob("*.yaml"),
                        REPO / "configs" / "examples" / "search-demo.yaml"])


@pytest.mark.parametrize("path", STUDY_CONFIGS, ids=lambda p: p.name)
def test_shipped_study_configs_resolve(path, tmp_path):
    """Every shipped study config validates, and each of its runs is a valid ExperimentConfig."""
    cfg = load_study_config(path)
    runs = resolve_runs(cfg, tmp_path, data_root=str(REPO.parent / "shared" / "data"))
    assert runs and len({(r["dataset"], r["model"]) for r in runs}) == len(runs)


def test_net_benefit_thresholds_are_probabilities():
    cfg = parse_study(study(statistics={"net_benefit_thresholds": [0.3, 0.1]}))
    assert cfg.statistics.net_benefit_thresholds == [0.1, 0.3]
    assert parse_study(study()).statistics.net_benefit_thresholds == [0.05, 0.1, 0.2, 0.3, 0.4, 0.5]
    with pytest.raises(ConfigError, match=r"^<study>: key 'statistics\.net_benefit_thresholds': expected "
                                          r"threshold probabilities, each in \(0, 1\); got \[0\.1, 1\.5\]$"):
        parse_study(study(statistics={"net_benefit_thresholds": [0.1, 1.5]}))


@pytest.mark.parametrize("flag, message", [
    ("statistics.n_boot=5", "key 'statistics.n_boot': expected a number >= 10; got 5"),
    ("statistics.alpah=0.1", "unknown key 'statistics.alpah'; expected one of ['alpha', "),
    # keys of every run's experiment config: base, a model's or dataset's overrides, dataset data
    ("base.epochs=abc", "key 'epochs': expected a valid integer, unable to parse string as an "
                        "integer; got 'abc'"),
    ("base.optim.lrr=0.1", "unknown key 'optim.lrr'; expected one of ['gamma', 'lr', "),
    ("models.1.overrides.batch_size=0", "key 'batch_size': expected a number >= 1; got 0"),
    ("datasets.0.data.image_size=4", "key 'data.image_size': expected a number >= 8; got 4"),
])
def test_a_study_set_mistake_names_the_flag_and_its_value(tmp_path, flag, message):
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(study()))
    with pytest.raises(ConfigError) as info:
        load_study_config(p, ["statistics.n_boot=20", flag])
    assert str(info.value).startswith(f"--set {flag}: {message}")
    assert str(p) not in str(info.value)


def test_shipped_search_points_and_search_runs():
    """search-demo's 2 x 2 grid and litespinenet.yaml's grid over the paper's ranges expand into
    search runs that are valid experiments scored on inner validation only."""
    from hqmed.study.search import search_jobs, search_points

    demo = load_study_config(REPO / "configs" / "examples" / "search-demo.yaml")
    assert len(search_points(demo.search)) == 4
    paper = load_study_config(REPO / "configs" / "litespinenet.yaml")
    grid = paper.search.grid
    assert (min(grid["optim.lr"]), max(grid["optim.lr"])) == (1e-5, 1e-3)
    assert grid["batch_size"] == [16, 32, 64] and (min(grid["model.drop_rate"]),
                                                   max(grid["model.drop_rate"])) == (0.1, 0.5)
    runs = resolve_runs(paper, "/tmp/out")
    jobs = search_jobs(paper, runs, Path("/tmp/out"))
    assert len(jobs) == 27 * 2  # holdout dataset only, both models
    assert all(j.config.protocol.inner_val == 0.2 for j in jobs)


def test_demo_external_validation_reads_every_generated_radiograph(tmp_path):
    """The demo's external phantoms all land in the folder its external data reads (40 of 40)."""
    from hqmed.data.folders import list_files
    from hqmed.data.phantoms import generate_phantom_dataset

    ext = load_study_config(REPO / "configs" / "demo.yaml").external[0]
    params = {**ext.phantoms, "root": str(tmp_path / "ext"), "image_size": [128, 96], "n_images": 12}
    generate_phantom_dataset(**params)
    folder = Path(ext.data["params"]["root"].replace("{out}/data/phantoms-external", params["root"]))
    assert len(list_files(folder, recursive=True)) == 12
