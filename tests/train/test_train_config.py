"""Config: schema defaults, YAML round trip, overrides, and error messages that name the key."""

from __future__ import annotations

import pytest

from hqmed.errors import ConfigError
from hqmed.train.config import ExperimentConfig, apply_overrides, dump_config, load_config

MINIMAL = "model: {name: lcnet_050_tanh4}\ndata: {source: medmnist, params: {flag: pneumoniamnist}}\n"


def _write(tmp_path, text, name="exp.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_minimal_config_gets_documented_defaults(tmp_path):
    cfg = load_config(_write(tmp_path, MINIMAL))
    assert isinstance(cfg, ExperimentConfig)
    assert (cfg.optim.name, cfg.optim.lr, cfg.batch_size, cfg.epochs, cfg.seed) == ("adam", 1e-3, 32, 10, 42)
    assert cfg.protocol.kind == "holdout" and cfg.protocol.folds == 5
    assert cfg.balancing.method == "none" and not cfg.augmentation.enabled
    assert cfg.device == "auto" and cfg.selection.metric == "val_loss"
    assert cfg.model.drop_rate is None  # keeps the model's own (paper) default


def test_dump_then_load_round_trips(tmp_path):
    cfg = load_config(_write(tmp_path, MINIMAL), ["protocol.kind=cv", "model.kwargs.stride_list=[1,1,2,2,2]",
                                                 "balancing.method=smote", "balancing.target_per_class=3400"])
    again = load_config(_write(tmp_path, dump_config(cfg), "resolved.yaml"))
    assert again == cfg
    assert again.model.kwargs["stride_list"] == [1, 1, 2, 2, 2]


def test_overrides_parse_yaml_values(tmp_path):
    cfg = load_config(_write(tmp_path, MINIMAL), ["optim.lr=3e-4", "epochs=2", "data.max_samples=500",
                                                 "data.val_split=null", "optim.name=sgd"])
    assert cfg.optim.lr == 3e-4 and cfg.epochs == 2 and cfg.data.max_samples == 500
    assert cfg.data.val_split is None and cfg.optim.name == "sgd"
    raw = {"a": {"b": 1}}
    assert apply_overrides(raw, ["a.c.d=x"]) == {"a": {"b": 1, "c": {"d": "x"}}}
    assert raw == {"a": {"b": 1}}  # not modified in place


def test_overrides_index_into_lists():
    raw = {"sweeps": [{"name": "plain", "widths": [0.5, 1.0]}, {"name": "qc5"}], "x": [1, 2]}
    out = apply_overrides(raw, ["sweeps.0.widths=[0.5]", "sweeps.1.suffix=-q", "x.1=7"])
    assert out == {"sweeps": [{"name": "plain", "widths": [0.5]}, {"name": "qc5", "suffix": "-q"}],
                   "x": [1, 7]}
    assert raw["sweeps"][0]["widths"] == [0.5, 1.0]  # not modified in place
    for bad, got in (("sweeps.2.name=y", "'2'"), ("sweeps.first.name=y", "'first'"), ("x.-1=0", "'-1'")):
        with pytest.raises(ConfigError, match=rf"expected an index 0\.\.\d into the list '(sweeps|x)'; got {got}"):
            apply_overrides(raw, [bad])


@pytest.mark.parametrize("text, overrides, pattern", [
    (MINIMAL + "optim: {lr: -1}\n", [], r"exp\.yaml: key 'optim\.lr': expected a number > 0(\.0)?; got -1"),
    (MINIMAL + "optim: {name: rmsprop}\n", [], r"key 'optim\.name': expected one of 'adam' or 'sgd'; got 'rmsprop'"),
    (MINIMAL + "optim: {learning_rate: 0.1}\n", [], r"unknown key 'optim\.learning_rate'; expected one of \[.*'lr'"),
    (MINIMAL + "bogus: 1\n", [], r"unknown key 'bogus'; expected one of \[.*'batch_size'"),
    (MINIMAL, ["batch_size=abc"], r"key 'batch_size': expected a valid integer.*; got 'abc'"),
    (MINIMAL, ["protocol.kind=kfold"], r"key 'protocol\.kind': expected one of 'holdout' or 'cv'; got 'kfold'"),
    (MINIMAL, ["protocol.folds=1"], r"key 'protocol\.folds': expected a number >= 2; got 1"),
    (MINIMAL, ["balancing.target_per_class=10"], r"key 'balancing': target_per_class is only used with method 'smote'"),
    (MINIMAL, ["protocol.val_fraction=0.6", "protocol.test_fraction=0.5"], r"val_fraction \+ test_fraction must be < 1"),
    ("data: {source: medmnist}\n", [], r"key 'model' is required"),
    (MINIMAL, ["model=lcnet"], r"key 'model': expected a valid dictionary"),
    (MINIMAL, ["optim.lr"], r"--set 'optim\.lr': expected KEY=VALUE"),
    (MINIMAL, ["epochs.x=1"], r"key 'epochs': expected a valid integer; got \{'x': 1\}"),
    (MINIMAL, ["augmentation.crop_scale=[0.9, 0.5]"], r"key 'augmentation': augmentation\.crop_scale: expected 0 < lo <= hi <= 1; got \(0\.9, 0\.5\)"),
    (MINIMAL, ["augmentation.crop_ratio=[0, 1]"], r"key 'augmentation': augmentation\.crop_ratio: expected 0 < lo <= hi; got \(0\.0, 1\.0\)"),
    (MINIMAL, ["data.source.x=1"], r"--set 'data\.source\.x=1': expected 'data\.source' to be a section; got 'medmnist'"),
])
def test_errors_name_file_key_expected_and_got(tmp_path, text, overrides, pattern):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError, match=pattern) as info:
        load_config(path, overrides)
    message = str(info.value)
    # the file when the YAML is wrong, the flag and its value when a --set is
    assert (str(path) in message) != any(f"--set {o}" in message or f"--set '{o}'" in message
                                         for o in overrides)


def test_a_set_mistake_names_the_flag_and_its_value_not_the_file(tmp_path):
    path = _write(tmp_path, MINIMAL)
    with pytest.raises(ConfigError) as info:
        load_config(path, ["optim.lrr=0.1"])
    message = str(info.value)
    assert message.startswith("--set optim.lrr=0.1: unknown key 'optim.lrr'; expected one of [")
    assert str(path) not in message


def test_missing_and_invalid_files(tmp_path):
    with pytest.raises(ConfigError, match="expected an existing YAML file"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="expected valid YAML"):
        load_config(_write(tmp_path, "model: [unclosed\n"))
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(_write(tmp_path, "- a\n- b\n"))
