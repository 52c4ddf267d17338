"""MobileNetV3 Small and Large (torchvision ``torchvision/models/mobilenetv3.py``, Howard et al. 2019)
and their LCNet-paper twins: the second backbone family of hybrid-lcnet-medmnist.txt.

torchvision at width 1.0, input (3, 224, 224):

    stem     Conv3x3(in_chans -> 16, stride_list[0]) + BN + hardswish
    blocks   inverted residuals [k, expand, out, SE, act, stride] (table below)
    last     Conv1x1(-> 6 x last block's out: 576 small / 960 large) + BN + hardswish  -> (C, 7, 7)
    head     GAP -> Linear(C -> 1024 small / 1280 large) -> hardswish -> Dropout(0.2) -> Linear(K)

An inverted residual is [1x1 expand conv + BN + act, when expand != in] -> depthwise kxk (stride)
+ BN + act -> [SE: GAP, 1x1 conv -> make_divisible(expand // 4, 8) + bias, ReLU, 1x1 conv + bias,
hardsigmoid, multiply] -> 1x1 project conv + BN (no act), plus the input when stride == 1 and
in == out. Convs have no bias. The four stride-2 blocks take ``stride_list[1:]`` (stem first), so
``SMALL_INPUT_STRIDES = (1, 1, 2, 2, 2)`` keeps a 4 x 4 map at 28-32 px with the same parameters
(a block whose stride becomes 1 with in == out gains the residual, as torchvision's rule says).

Trainable parameters at num_classes=1000 equal torchvision's: mobilenet_v3_small 2,542,856;
mobilenet_v3_large 5,483,032.

The paper pair on top (same stage as PP-LCNet's, ``hadamard_ry_bottleneck`` in ``heads.py``):

    mobilenetv3_XXX_100_tanh4: features (1024/1280) -> Linear(., 4) -> tanh -> Linear(4, K)
    hq_mobilenetv3_XXX_100:    features -> Linear(., 4) -> tanh -> x pi -> H + RY(angle) + RY(w)
                               on 4 qubits -> 4 <Z> -> Linear(4, K)      (+4 circuit weights)

"features" is torchvision's pre-logits vector (after the first Linear, hardswish and dropout).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from hqmed.models.layers import (
    ConvBNAct,
    build_backbone,
    check_int,
    check_rate,
    check_stride_list,
)
from hqmed.models.lcnet import SEModule, make_divisible
from hqmed.models.registry import register_model
from hqmed.models.twins import bottleneck_classifier, build_member, register_trio, trio_names

__all__ = ["MobileNetV3", "MobileNetV3Backbone", "InvertedResidual", "BLOCKS", "TORCHVISION_PARAMS"]

TORCHVISION_REF = "torchvision torchvision/models/mobilenetv3.py (MobileNetV3, arXiv:1905.02244)"
HYBRID_REF = (
    "Impact of Scaling Classic Component on Performance of Hybrid Multi-Backbone Quantum-Classic "
    "Neural Networks for Medical Applications (hybrid-lcnet-medmnist.txt), MobileNetV3 backbones"
)

# torchvision's inverted_residual_setting: (kernel, expanded, out, use_se, activation, stride).
BLOCKS: dict[str, tuple[tuple[int, int, int, bool, str, int], ...]] = {
    "small": (
        (3, 16, 16, True, "RE", 2),
        (3, 72, 24, False, "RE", 2),
        (3, 88, 24, False, "RE", 1),
        (5, 96, 40, True, "HS", 2),
        (5, 240, 40, True, "HS", 1),
        (5, 240, 40, True, "HS", 1),
        (5, 120, 48, True, "HS", 1),
        (5, 144, 48, True, "HS", 1),
        (5, 288, 96, True, "HS", 2),
        (5, 576, 96, True, "HS", 1),
        (5, 576, 96, True, "HS", 1),
    ),
    "large": (
        (3, 16, 16, False, "RE", 1),
        (3, 64, 24, False, "RE", 2),
        (3, 72, 24, False, "RE", 1),
        (5, 72, 40, True, "RE", 2),
        (5, 120, 40, True, "RE", 1),
        (5, 120, 40, True, "RE", 1),
        (3, 240, 80, False, "HS", 2),
        (3, 200, 80, False, "HS", 1),
        (3, 184, 80, False, "HS", 1),
        (3, 184, 80, False, "HS", 1),
        (3, 480, 112, True, "HS", 1),
        (3, 672, 112, True, "HS", 1),
        (5, 672, 160, True, "HS", 2),
        (5, 960, 160, True, "HS", 1),
        (5, 960, 160, True, "HS", 1),
    ),
}
LAST_CHANNELS = {"small": 1024, "large": 1280}  # width of the head's hidden Linear
STEM_CHANNELS = 16
# torchvision's published counts at num_classes=1000 (the oracle in the tests).
TORCHVISION_PARAMS = {"small": 2_542_856, "large": 5_483_032}
DEFAULT_STRIDES = (2, 2, 2, 2, 2)
STRIDE_PLACES = "stem, then the four stride-2 inverted residuals"
ACTIVATIONS = {"RE": nn.ReLU, "HS": nn.Hardswish}


class InvertedResidual(nn.Module):
    """[expand 1x1] -> depthwise kxk (stride) -> [SE] -> project 1x1 (+ input when shapes match)."""

    def __init__(self, in_chs: int, kernel: int, expanded: int, out_chs: int, use_se: bool,
                 activation: str, stride: int) -> None:
        super().__init__()
        act = ACTIVATIONS[activation]
        self.use_res = stride == 1 and in_chs == out_chs
        self.expand = (ConvBNAct(in_chs, expanded, 1, act_layer=act) if expanded != in_chs
                       else nn.Identity())
        self.dw_conv = ConvBNAct(expanded, expanded, kernel, stride, groups=expanded, act_layer=act)
        self.se = (SEModule(expanded, squeeze_channels=make_divisible(expanded // 4, 8)) if use_se
                   else nn.Identity())
        self.project = ConvBNAct(expanded, out_chs, 1, act_layer=nn.Identity)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.se(self.dw_conv(self.expand(x))))
        return x + y if self.use_res else y


class MobileNetV3Backbone(nn.Module):
    """Stem + inverted residuals + last 1x1 conv: (B, in_chans, H, W) -> (B, 576|960, H/S, W/S)."""

    def __init__(self, variant: str, in_chans: int = 3,
                 stride_list: Sequence[int] = DEFAULT_STRIDES) -> None:
        super().__init__()
        strides = check_stride_list(stride_list, STRIDE_PLACES)
        self.stem = ConvBNAct(in_chans, STEM_CHANNELS, 3, strides[0], act_layer=nn.Hardswish)
        blocks, in_c, downsample = [], STEM_CHANNELS, iter(strides[1:])
        for k, expanded, out_c, se, act, s in BLOCKS[variant]:
            stride = next(downsample) if s == 2 else 1
            blocks.append(InvertedResidual(in_c, k, expanded, out_c, se, act, stride))
            in_c = out_c
        self.blocks = nn.Sequential(*blocks)
        self.num_features = 6 * in_c
        self.last_conv = ConvBNAct(in_c, self.num_features, 1, act_layer=nn.Hardswish)
        for m in self.modules():  # torchvision: Kaiming normal (fan_out) for convs
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.last_conv(self.blocks(self.stem(x)))


class MobileNetV3(nn.Module):
    """MobileNetV3, optionally with the 4-wide tanh bottleneck / quantum block before the classifier.

    Input (B, in_chans, H, W) float32 -> logits (B, num_classes).

    Args:
        variant: ``"small"`` or ``"large"`` (fixed by the model name).
        num_classes: output logits.
        in_chans: input channels (3; 3 + 4 with quanvolution channels; 1 for grey images).
        drop_rate: dropout after the hidden Linear (0.2 in torchvision).
        stride_list: strides of the stem and of the four stride-2 inverted residuals.
        bottleneck: None (plain MobileNetV3) or n, the width of the tanh bottleneck / qubit count.
        quantum_block: ``"quantum"``, ``"classical"``, ``"closed_form"`` or ``"none"`` (twin);
            only with a bottleneck.
        multi_backbone, quantum_in_chans: second backbone on the last ``quantum_in_chans`` input
            channels, feature maps concatenated before the head (``SplitBackbone``).
        backend, diff_method, quantum_kwargs: passed to ``hqmed.quantum.QuantumLayer``.
    """

    def __init__(
        self,
        variant: str = "small",
        num_classes: int = 1000,
        in_chans: int = 3,
        drop_rate: float = 0.2,
        stride_list: Sequence[int] = DEFAULT_STRIDES,
        bottleneck: int | None = None,
        quantum_block: str | None = None,
        multi_backbone: bool = False,
        quantum_in_chans: int = 4,
        backend: str = "torch",
        diff_method: str = "backprop",
        quantum_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.num_classes = check_int("num_classes", num_classes)
        self.in_chans = in_chans
        self.drop_rate = check_rate("drop_rate", drop_rate)
        self.variant = variant
        self.stride_list = check_stride_list(stride_list, STRIDE_PLACES)
        self.multi_backbone = multi_backbone
        self.backbone = build_backbone(
            lambda chans: MobileNetV3Backbone(variant, chans, self.stride_list),
            in_chans, multi_backbone, quantum_in_chans)
        self.num_features = self.backbone.num_features
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        feat = LAST_CHANNELS[variant]
        self.pre_logits = nn.Sequential(nn.Linear(self.num_features, feat), nn.Hardswish(),
                                        nn.Dropout(self.drop_rate))
        self.head_hidden_size = feat
        _, tanh4, hq = trio_names(f"mobilenetv3_{variant}_100")
        self.bottleneck, self.fc = bottleneck_classifier(
            feat, num_classes, bottleneck, quantum_block, backend, diff_method, quantum_kwargs,
            members=f"{tanh4}, {hq}")
        for m in (*self.pre_logits, self.fc):  # torchvision: N(0, 0.01) Linear weights, zero bias
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_chans, H, W) -> (B, num_features, H/S, W/S)."""
        return self.backbone(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Feature map -> logits, or the classifier input (1024/1280-d, or the n bottleneck outputs)."""
        x = self.pre_logits(self.avg_pool(x).flatten(1))
        if self.bottleneck is not None:
            x = self.bottleneck(x)
        return x if pre_logits else self.fc(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


for _variant in BLOCKS:
    _name = f"MobileNetV3-{_variant.capitalize()}"
    register_trio(f"mobilenetv3_{_variant}_100", "mobilenetv3", {"variant": _variant},
                  {"paper": TORCHVISION_REF, "paper_params": TORCHVISION_PARAMS[_variant],
                   "description": f"{_name} x1.0 (torchvision)"},
                  HYBRID_REF, (f"{_name} + Linear(., 4) + tanh (classical)",
                               f"{_name} + 4-qubit H+RY block (hybrid)"))


def _build(variant: str, kind: str, kwargs: dict[str, Any]) -> MobileNetV3:
    """``kind``: "plain" (torchvision), "tanh4" (classical twin) or "hq" (4-qubit hybrid)."""
    return build_member(MobileNetV3, f"mobilenetv3_{variant}_100", kind, {"variant": variant},
                        kwargs, "MobileNetV3")


# One explicit, greppable entry point per model (timm style); _build holds the logic.
@register_model
def mobilenetv3_small_100(**kwargs: Any) -> MobileNetV3:
    """MobileNetV3-Small x1.0 (torchvision mobilenet_v3_small)."""
    return _build("small", "plain", kwargs)


@register_model
def mobilenetv3_small_100_tanh4(**kwargs: Any) -> MobileNetV3:
    """MobileNetV3-Small + Linear(1024, 4) + tanh: the classical twin of hq_mobilenetv3_small_100."""
    return _build("small", "tanh4", kwargs)


@register_model
def hq_mobilenetv3_small_100(**kwargs: Any) -> MobileNetV3:
    """MobileNetV3-Small + the 4-qubit H+RY block: the hybrid of the LCNet paper."""
    return _build("small", "hq", kwargs)


@register_model
def mobilenetv3_large_100(**kwargs: Any) -> MobileNetV3:
    """MobileNetV3-Large x1.0 (torchvision mobilenet_v3_large)."""
    return _build("large", "plain", kwargs)


@register_model
def mobilenetv3_large_100_tanh4(**kwargs: Any) -> MobileNetV3:
    """MobileNetV3-Large + Linear(1280, 4) + tanh: the classical twin of hq_mobilenetv3_large_100."""
    return _build("large", "tanh4", kwargs)


@register_model
def hq_mobilenetv3_large_100(**kwargs: Any) -> MobileNetV3:
    """MobileNetV3-Large + the 4-qubit H+RY block: the hybrid of the LCNet paper."""
    return _build("large", "hq", kwargs)
