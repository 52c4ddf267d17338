"""Trainable-parameter counts against independent oracles: PaddleClas's published numbers for
PP-LCNet, and the LiteSpineNet paper's layer list (Table 2) counted by hand here."""

from __future__ import annotations

import pytest

from hqmed.models import count_parameters, create_model

# PaddleClas PPLCNet_x{0_5,0_75,1_0,1_5,2_0} at class_num=1000 (head conv without bias).
PADDLECLAS = {
    "lcnet_050": 1_879_576,
    "lcnet_075": 2_357_008,
    "lcnet_100": 2_952_520,
    "lcnet_150": 4_499_832,
    "lcnet_200": 6_521_512,
}


@pytest.mark.parametrize("name, expected", sorted(PADDLECLAS.items()))
def test_pp_lcnet_matches_paddleclas(name, expected):
    assert count_parameters(create_model(name, num_classes=1000)) == expected


@pytest.mark.parametrize("name", sorted(PADDLECLAS))
def test_stride_list_does_not_change_parameters(name):
    model = create_model(name, num_classes=1000, stride_list=[1, 1, 2, 2, 2])
    assert count_parameters(model) == PADDLECLAS[name]


# torchvision mobilenet_v3_small / mobilenet_v3_large at num_classes=1000 (its published counts,
# torchvision.models.MobileNet_V3_*_Weights.IMAGENET1K_V1.meta["num_params"]).
TORCHVISION = {"mobilenetv3_small_100": 2_542_856, "mobilenetv3_large_100": 5_483_032}


@pytest.mark.parametrize("name, expected", sorted(TORCHVISION.items()))
@pytest.mark.parametrize("stride_list", [[2, 2, 2, 2, 2], [1, 1, 2, 2, 2]])
def test_mobilenetv3_matches_torchvision(name, expected, stride_list):
    assert count_parameters(create_model(name, num_classes=1000, stride_list=stride_list)) == expected


@pytest.mark.parametrize("variant, hidden", [("small", 1024), ("large", 1280)])
def test_mobilenetv3_pair_counts(variant, hidden):
    plain = count_parameters(create_model(f"mobilenetv3_{variant}_100", num_classes=3))
    twin = count_parameters(create_model(f"mobilenetv3_{variant}_100_tanh4", num_classes=3))
    hybrid = count_parameters(create_model(f"hq_mobilenetv3_{variant}_100", num_classes=3))
    # twin: the classifier Linear(hidden, 3) becomes Linear(hidden, 4) + Linear(4, 3)
    assert twin - plain == (hidden * 4 + 4) + (4 * 3 + 3) - (hidden * 3 + 3)
    assert hybrid - twin == 4  # one RY weight per qubit


def _conv_stage() -> int:
    """Table 2: 3x3 convs with bias, each followed by BatchNorm (weight + bias)."""
    chans = [3, 6, 6, 16, 24, 24, 40, 64, 64, 80, 96, 112]
    return sum(c_in * c_out * 9 + c_out + 2 * c_out for c_in, c_out in zip(chans, chans[1:]))


def _mlp(in_features: int, k: int) -> int:
    return (in_features * 84 + 84) + (84 * 56 + 56) + (56 * k + k)


def test_litespinenet_flatten_head_leaves_the_documented_gap_to_the_paper():
    # the paper claims 760,292; Table 2's layers give 758,390 (docs/models.md explains the gap)
    assert 760_292 - count_parameters(create_model("litespinenet", num_classes=8)) == 1_902


@pytest.mark.parametrize("head, expected", [("flatten", 758_390), ("gap", 306_806)])
def test_litespinenet_counts(head, expected):
    assert count_parameters(create_model("litespinenet", num_classes=8, head=head)) == expected


@pytest.mark.parametrize("bridge, bridge_params", [("pool", 0), ("linear", 5488 * 7 + 7)])
@pytest.mark.parametrize("block, block_params", [
    ("quantum", 3 * 3 * 7),      # 3 StronglyEntanglingLayers x 7 qubits x Rot(3 angles) = 63
    ("classical", 7 * 7 + 7),    # tanh(Linear(7, 7))
    ("none", 0),                 # classical twin
])
def test_hq_litespinenet_counts(bridge, bridge_params, block, block_params):
    model = create_model("hq_litespinenet", num_classes=8, bridge=bridge, quantum_block=block)
    expected = _conv_stage() + bridge_params + block_params + _mlp(7, 8)
    assert count_parameters(model) == expected


@pytest.mark.parametrize("bridge, documented", [("pool", 298_049), ("linear", 336_472)])
def test_hq_litespinenet_documented_totals(bridge, documented):
    # the numbers quoted in the model's docstring and docs/models.md
    model = create_model("hq_litespinenet", num_classes=8, bridge=bridge)
    assert count_parameters(model) == documented == _conv_stage() + (bridge == "linear") * (
        5488 * 7 + 7) + 63 + _mlp(7, 8)


@pytest.mark.parametrize("width", ["050", "100", "200"])
@pytest.mark.parametrize("k", [7, 10])
def test_lcnet_pair_counts(width, k):
    plain = count_parameters(create_model(f"lcnet_{width}", num_classes=k))
    bottleneck = (1280 * 4 + 4) + (4 * k + k) - (1280 * k + k)
    twin = create_model(f"lcnet_{width}_tanh4", num_classes=k)
    assert count_parameters(twin) == plain + bottleneck
    assert count_parameters(create_model(f"hq_lcnet_{width}", num_classes=k,
                                         quantum_block="closed_form")) == plain + bottleneck + 4
    assert count_parameters(create_model(f"hq_lcnet_{width}", num_classes=k,
                                         quantum_block="classical")) == plain + bottleneck + 4
    assert count_parameters(create_model(f"hq_lcnet_{width}", num_classes=k)) == (
        plain + bottleneck + 4)
