"""Registry behaviour: names, errors that list the valid choices, metadata on every model."""

from __future__ import annotations

import pytest

from hqmed.errors import ConfigError
from hqmed.models import count_parameters, create_model, is_model, list_models, model_default_cfg

WIDTHS = ("050", "075", "100", "150", "200")
EXPECTED = (
    {"litespinenet", "hq_litespinenet"}
    | {f"lcnet_{w}" for w in WIDTHS}
    | {f"lcnet_{w}_tanh4" for w in WIDTHS}
    | {f"hq_lcnet_{w}" for w in WIDTHS}
    | {f"{p}mobilenetv3_{v}_100{s}" for v in ("small", "large") for p, s in
       (("", ""), ("", "_tanh4"), ("hq_", ""))}
)


def test_all_documented_names_registered():
    assert set(list_models()) == EXPECTED
    assert list_models() == sorted(EXPECTED)


def test_pattern_filter():
    assert list_models("hq_*") == sorted(n for n in EXPECTED if n.startswith("hq_"))
    assert list_models("*_tanh4") == sorted([f"lcnet_{w}_tanh4" for w in WIDTHS]
                                            + ["mobilenetv3_large_100_tanh4",
                                               "mobilenetv3_small_100_tanh4"])
    assert list_models("nothing*") == []


def test_unknown_name_lists_valid_names():
    with pytest.raises(ConfigError) as info:
        create_model("resnet50", num_classes=3)
    msg = str(info.value)
    assert "'resnet50'" in msg
    for name in EXPECTED:
        assert name in msg
    assert not is_model("resnet50")


def test_unknown_option_lists_valid_options():
    with pytest.raises(ConfigError, match=r"unknown option 'heda'.*head"):
        create_model("litespinenet", num_classes=8, heda="gap")


def test_option_not_applicable_is_rejected():
    with pytest.raises(ConfigError, match="unknown option 'quantum_block'"):
        create_model("lcnet_100", quantum_block="classical")
    with pytest.raises(ConfigError, match="option 'bridge' is fixed by the model name"):
        create_model("litespinenet", bridge="pool")
    with pytest.raises(ConfigError, match="fixed by the model name"):
        create_model("lcnet_100_tanh4", quantum_block="quantum")
    with pytest.raises(ConfigError, match="fixed by the model name"):
        create_model("lcnet_100", scale=2.0)


@pytest.mark.parametrize("kwargs, match", [
    ({"head": "mean"}, "head: expected one of"),
    ({"num_classes": 0}, "num_classes: expected an integer >= 1"),
    ({"drop_rate": 1.5}, r"drop_rate: expected a number in \[0, 1\)"),
    ({"in_chans": 7, "multi_backbone": True, "quantum_in_chans": 7}, "quantum_in_chans"),
])
def test_bad_option_values(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        create_model("litespinenet", **kwargs)


def test_bad_bridge_and_block():
    with pytest.raises(ConfigError, match="bridge: expected one of"):
        create_model("hq_litespinenet", bridge="conv")
    with pytest.raises(ConfigError, match="quantum_block: expected one of"):
        create_model("hq_lcnet_050", quantum_block="quantumish")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_metadata_and_interface(name):
    model = create_model(name, num_classes=5, in_chans=4)
    cfg = model.default_cfg
    assert cfg == {**model_default_cfg(name), "num_classes": 5, "in_chans": 4}
    assert len(cfg["input_size"]) == 3 and cfg["paper"]
    assert model.num_classes == 5 and model.in_chans == 4 and model.model_name == name
    for method in ("forward_features", "forward_head", "forward"):
        assert callable(getattr(model, method))
    assert count_parameters(model) > 0


def test_count_parameters_trainable_only():
    model = create_model("lcnet_050", num_classes=10)
    total = count_parameters(model)
    for p in model.fc.parameters():
        p.requires_grad_(False)
    assert count_parameters(model) == total - (1280 * 10 + 10)
    assert count_parameters(model, trainable=False) == total


def test_drop_rate_passed_through():
    assert create_model("litespinenet", drop_rate=0.3).head.drop.p == 0.3
    assert create_model("lcnet_050", drop_rate=0.1).dropout.p == 0.1
    assert create_model("litespinenet").head.drop.p == 0.2


def test_quantum_options_pass_through():
    model = create_model("hq_litespinenet", diff_method="parameter-shift")
    assert model.bottleneck.block.impl.diff_method == "parameter-shift"
    with pytest.raises(ConfigError, match="backend"):
        create_model("hq_lcnet_050", backend="qiskit")


def test_pennylane_backend_passes_through():
    pytest.importorskip("pennylane", reason="backend='pennylane' needs the pennylane extra")
    model = create_model("hq_lcnet_050", backend="pennylane",
                         quantum_kwargs={"device": "default.qubit"})
    assert model.bottleneck.block.impl.backend == "pennylane"
