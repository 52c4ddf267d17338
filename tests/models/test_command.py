"""``hqmed models``: the listing shows every model with its parameter count; NAME describes one."""

from __future__ import annotations

from hqmed.cli import main


def test_list_shows_counts(capsys):
    assert main(["models", "lcnet_1*"]) == 0
    out = capsys.readouterr().out
    assert "lcnet_100 " in out and "2,952,520" in out
    assert "lcnet_150 " in out and "4,499,832" in out
    assert "litespinenet" not in out
    assert "reference: the trainable-parameter count published for the model" in out


def test_list_all_names(capsys):
    from hqmed.models import list_models

    assert main(["models", "--num-classes", "8"]) == 0
    out = capsys.readouterr().out
    for name in list_models():
        assert name in out
    assert "758,390" in out and "298,049" in out  # litespinenet, hq_litespinenet (pool)


def test_describe_with_options(capsys):
    assert main(["models", "hq_litespinenet", "-o", "bridge=linear", "--input-size", "64"]) == 0
    out = capsys.readouterr().out
    assert "trainable parameters: 336,472" in out
    assert "features (1, 112, 2, 2)" in out and "logits (1, 8)" in out


def test_describe_small_strides(capsys):
    assert main(["models", "lcnet_050", "-o", "stride_list=[1, 1, 2, 2, 2]",
                 "--input-size", "32"]) == 0
    assert "features (1, 256, 4, 4)" in capsys.readouterr().out


def test_errors_are_one_line(capsys):
    assert main(["models", "nosuchmodel"]) == 1
    err = capsys.readouterr().err
    assert "ConfigError" in err and "litespinenet" in err
    assert main(["models", "litespinenet", "-o", "head"]) == 1
    assert "expected KEY=VALUE" in capsys.readouterr().err
