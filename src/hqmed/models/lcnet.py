"""PP-LCNet (PaddleClas ``ppcls/arch/backbone/legendary_models/pp_lcnet.py``) and the LCNet paper's
classical/hybrid pair (hybrid-lcnet-medmnist.txt, Sections 4.2-4.5).

PP-LCNet at scale s (channels c -> make_divisible(c * s, 8)), input (3, 224, 224):

    conv1    Conv3x3(in_chans -> 16s, stride_list[0]) + BN + hardswish
    blocks2  [3, 16, 32, 1, F]
    blocks3  [3, 32, 64, 2, F], [3, 64, 64, 1, F]
    blocks4  [3, 64, 128, 2, F], [3, 128, 128, 1, F]
    blocks5  [3, 128, 256, 2, F], 5 x [5, 256, 256, 1, F]
    blocks6  [5, 256, 512, 2, T], [5, 512, 512, 1, T]          -> (512s, 7, 7)
    head     GAP -> Conv1x1(512s -> 1280, no bias) -> hardswish -> Dropout(0.2) -> Linear(1280, K)

Each block [k, in, out, stride, SE] is depthwise kxk conv (stride) + BN + hardswish, optional SE
(GAP, 1x1 conv C -> C/4 + bias, ReLU, 1x1 conv C/4 -> C + bias, hardsigmoid, multiply), then
pointwise 1x1 conv + BN + hardswish; no residual, convs without bias. ``stride_list[1:]`` replaces
the stride of the first block of blocks3..blocks6, exactly as PaddleClas does.

Trainable parameters at num_classes=1000 equal PaddleClas's (timm adds a bias to the 1280 conv:
+1,280 each): lcnet_050 1,879,576; lcnet_075 2,357,008; lcnet_100 2,952,520; lcnet_150 4,499,832;
lcnet_200 6,521,512.

Small inputs: with the default ``stride_list=(2, 2, 2, 2, 2)`` the network downsamples by 32, so
28 x 28 (MedMNIST) and 32 x 32 (CIFAR-10) images end as a 1 x 1 map. ``SMALL_INPUT_STRIDES =
(1, 1, 2, 2, 2)`` (total stride 8) keeps a 4 x 4 map at 28 or 32 pixels with the same parameters.

The LCNet paper pair differs only in the quantum block (``AngleBottleneck`` in ``heads.py``):

    lcnet_XXX_tanh4: features (1280) -> Linear(1280, 4) -> tanh -> Linear(4, K)
    hq_lcnet_XXX:    features (1280) -> Linear(1280, 4) -> tanh -> x pi -> H + RY(angle) + RY(w)
                     on 4 qubits -> 4 <Z> -> Linear(4, K)        (+4 trainable circuit weights)

"features" is the PP-LCNet pre-logits vector (after the 1280 conv, hardswish and dropout); with
``use_last_conv=False`` it is the 512s-channel GAP vector instead (PaddleClas's option). The paper
(TensorFlow/Keras, no code) does not say which; we keep the full PP-LCNet head so the classical
member is "PP-LCNet with a 4-wide tanh bottleneck".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from hqmed.models.layers import (
    SMALL_INPUT_STRIDES,
    ConvBNAct,
    build_backbone,
    check_int,
    check_rate,
    check_stride_list,
)
from hqmed.models.registry import register_model
from hqmed.models.twins import bottleneck_classifier, build_member, register_trio

__all__ = ["PPLCNet", "LCNetBackbone", "make_divisible", "NET_CONFIG", "SMALL_INPUT_STRIDES",
           "SCALES"]

PADDLE_REF = "PaddleClas ppcls/arch/backbone/legendary_models/pp_lcnet.py (PP-LCNet, arXiv:2109.15099)"
HYBRID_REF = (
    "Impact of Scaling Classic Component on Performance of Hybrid Multi-Backbone Quantum-Classic "
    "Neural Networks for Medical Applications (hybrid-lcnet-medmnist.txt), Sections 4.2-4.5"
)

# [kernel, in_c, out_c, stride, use_se] per depthwise-separable block, before scaling.
NET_CONFIG: dict[str, tuple[tuple[int, int, int, int, bool], ...]] = {
    "blocks2": ((3, 16, 32, 1, False),),
    "blocks3": ((3, 32, 64, 2, False), (3, 64, 64, 1, False)),
    "blocks4": ((3, 64, 128, 2, False), (3, 128, 128, 1, False)),
    "blocks5": ((3, 128, 256, 2, False),) + ((5, 256, 256, 1, False),) * 5,
    "blocks6": ((5, 256, 512, 2, True), (5, 512, 512, 1, True)),
}
DEFAULT_STRIDES = (2, 2, 2, 2, 2)
SCALES = {"050": 0.5, "075": 0.75, "100": 1.0, "150": 1.5, "200": 2.0}
# Trainable parameters at num_classes=1000 according to PaddleClas (the oracle in the tests).
PADDLE_PARAMS = {"050": 1_879_576, "075": 2_357_008, "100": 2_952_520, "150": 4_499_832,
                 "200": 6_521_512}


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round ``v`` to the nearest multiple of ``divisor`` (not below 90% of ``v``), as PaddleClas."""
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class SEModule(nn.Module):
    """Squeeze-excitation: x * hardsigmoid(conv2(relu(conv1(GAP(x))))); (B, C, H, W) -> same.

    The squeeze width is C // reduction (PaddleClas), or ``squeeze_channels`` when given
    (torchvision's MobileNetV3 uses make_divisible(C // 4, 8)).
    """

    def __init__(self, channels: int, reduction: int = 4, squeeze_channels: int | None = None) -> None:
        super().__init__()
        squeeze = channels // reduction if squeeze_channels is None else squeeze_channels
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.conv1 = nn.Conv2d(channels, squeeze, 1)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(squeeze, channels, 1)
        self.hardsigmoid = nn.Hardsigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.hardsigmoid(self.conv2(self.relu(self.conv1(self.avg_pool(x)))))


class DepthwiseSeparable(nn.Module):
    """dw kxk (stride) + BN + hardswish [-> SE] -> pw 1x1 + BN + hardswish; no residual."""

    def __init__(self, in_chs: int, out_chs: int, stride: int, dw_size: int, use_se: bool) -> None:
        super().__init__()
        self.dw_conv = ConvBNAct(in_chs, in_chs, dw_size, stride, groups=in_chs,
                                 act_layer=nn.Hardswish)
        self.se = SEModule(in_chs) if use_se else nn.Identity()
        self.pw_conv = ConvBNAct(in_chs, out_chs, 1, 1, act_layer=nn.Hardswish)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pw_conv(self.se(self.dw_conv(x)))


class LCNetBackbone(nn.Module):
    """conv1 + blocks2..blocks6: (B, in_chans, H, W) -> (B, 512s, H/S, W/S), S = prod(stride_list)."""

    def __init__(self, scale: float, in_chans: int = 3,
                 stride_list: Sequence[int] = DEFAULT_STRIDES) -> None:
        super().__init__()
        strides = check_stride_list(stride_list, "stem, blocks3..blocks6")
        self.conv1 = ConvBNAct(in_chans, make_divisible(16 * scale), 3, strides[0],
                               act_layer=nn.Hardswish)
        for i, name in enumerate(NET_CONFIG):
            blocks = []
            for j, (k, in_c, out_c, s, se) in enumerate(NET_CONFIG[name]):
                if j == 0 and i >= 1:  # blocks3..blocks6: first block takes stride_list[1:]
                    s = strides[i]
                blocks.append(DepthwiseSeparable(make_divisible(in_c * scale),
                                                 make_divisible(out_c * scale), s, k, se))
            self.add_module(name, nn.Sequential(*blocks))
        self.num_features = make_divisible(NET_CONFIG["blocks6"][-1][2] * scale)
        for m in self.modules():  # PaddleClas: KaimingNormal for the ConvBN convolutions
            if isinstance(m, ConvBNAct):
                nn.init.kaiming_normal_(m.conv.weight, mode="fan_in", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        for name in NET_CONFIG:
            x = getattr(self, name)(x)
        return x


class PPLCNet(nn.Module):
    """PP-LCNet, optionally with the 4-wide tanh bottleneck / quantum block before the classifier.

    Input (B, in_chans, H, W) float32 -> logits (B, num_classes).

    Args:
        scale: width multiplier (fixed by the model name).
        num_classes: output logits.
        in_chans: input channels (3; 3 + 4 with quanvolution channels; 1 for grey images).
        drop_rate: dropout after the 1280 conv (0.2 in PaddleClas).
        stride_list: strides of the stem and of the first block of blocks3..blocks6.
        use_last_conv: keep the GAP -> 1x1 conv (1280, no bias) -> hardswish -> dropout head.
        class_expand: channels of that conv (1280).
        bottleneck: None (plain PP-LCNet) or n, the width of the tanh bottleneck / qubit count.
        quantum_block: ``"quantum"``, ``"classical"``, ``"closed_form"`` or ``"none"`` (twin);
            only with a bottleneck.
        multi_backbone, quantum_in_chans: second backbone on the last ``quantum_in_chans`` input
            channels, feature maps concatenated before the head (``SplitBackbone``).
        backend, diff_method, quantum_kwargs: passed to ``hqmed.quantum.QuantumLayer``.
    """

    def __init__(
        self,
        scale: float = 1.0,
        num_classes: int = 1000,
        in_chans: int = 3,
        drop_rate: float = 0.2,
        stride_list: Sequence[int] = DEFAULT_STRIDES,
        use_last_conv: bool = True,
        class_expand: int = 1280,
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
        self.scale, self.drop_rate = scale, check_rate("drop_rate", drop_rate)
        self.stride_list = check_stride_list(stride_list, "stem, blocks3..blocks6")
        self.multi_backbone = multi_backbone
        self.backbone = build_backbone(lambda chans: LCNetBackbone(scale, chans, self.stride_list),
                                       in_chans, multi_backbone, quantum_in_chans)
        self.num_features = self.backbone.num_features

        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        if use_last_conv:
            self.last_conv: nn.Module | None = nn.Conv2d(self.num_features, check_int(
                "class_expand", class_expand), 1, bias=False)
            self.act: nn.Module = nn.Hardswish()
            self.dropout: nn.Module = nn.Dropout(self.drop_rate)
            feat = class_expand
        else:
            self.last_conv, self.act, self.dropout = None, nn.Identity(), nn.Identity()
            feat = self.num_features
        self.head_hidden_size = feat
        self.bottleneck, self.fc = bottleneck_classifier(
            feat, num_classes, bottleneck, quantum_block, backend, diff_method, quantum_kwargs,
            members="lcnet_XXX_tanh4, hq_lcnet_XXX")

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_chans, H, W) -> (B, num_features, H/S, W/S)."""
        return self.backbone(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Feature map -> logits, or the classifier input (1280-d, or the n bottleneck outputs)."""
        x = self.avg_pool(x)
        if self.last_conv is not None:
            x = self.dropout(self.act(self.last_conv(x)))
        x = x.flatten(1)
        if self.bottleneck is not None:
            x = self.bottleneck(x)
        return x if pre_logits else self.fc(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


for _suffix, _scale in SCALES.items():
    register_trio(f"lcnet_{_suffix}", "lcnet", {"scale": _scale},
                  {"paper": PADDLE_REF, "paper_params": PADDLE_PARAMS[_suffix],
                   "description": f"PP-LCNet x{_scale}"},
                  HYBRID_REF, (f"PP-LCNet x{_scale} + Linear(1280,4) + tanh (classical)",
                               f"PP-LCNet x{_scale} + 4-qubit H+RY block (hybrid)"))


def _build(suffix: str, kind: str, kwargs: dict[str, Any]) -> PPLCNet:
    """``kind``: "plain" (PaddleClas), "tanh4" (classical twin) or "hq" (4-qubit hybrid)."""
    return build_member(PPLCNet, f"lcnet_{suffix}", kind, {"scale": SCALES[suffix]}, kwargs,
                        "PP-LCNet")


# One explicit, greppable entry point per model (timm style); _build holds the logic.
@register_model
def lcnet_050(**kwargs: Any) -> PPLCNet:
    """PP-LCNet x0.5 (PaddleClas)."""
    return _build("050", "plain", kwargs)


@register_model
def lcnet_050_tanh4(**kwargs: Any) -> PPLCNet:
    """PP-LCNet x0.5 + Linear(1280, 4) + tanh: the classical twin of hq_lcnet_050."""
    return _build("050", "tanh4", kwargs)


@register_model
def hq_lcnet_050(**kwargs: Any) -> PPLCNet:
    """PP-LCNet x0.5 + the 4-qubit H+RY block: the hybrid of the LCNet paper."""
    return _build("050", "hq", kwargs)


@register_model
def lcnet_075(**kwargs: Any) -> PPLCNet:
    """PP-LCNet x0.75 (PaddleClas)."""
    return _build("075", "plain", kwargs)


@register_model
def lcnet_075_tanh4(**kwargs: Any) -> PPLCNet:
    """PP-LCNet x0.75 + Linear(1280, 4) + tanh: the classical twin of hq_lcnet_075."""
    return _build("075", "tanh4", kwargs)


@register_model
def hq_lcnet_075(**kwargs: Any) -> PPLCNet:
    """PP-LCNet x0.75 + the 4-qubit H+RY block: the hybrid of the LCNet paper."""
    return _build("075", "hq", kwargs)


@register_model
def lcnet_100(**kwargs: Any) -> PPLCNet:
    """PP-LCNet x1.0 (PaddleClas)."""
    return _build("100", "plain", kwargs)


@register_model
def lcnet_100_tanh4(**kwargs: Any) -> PPLCNet:
    """PP-LCNet x1.0 + Linear(1280, 4) + tanh: the classical twin of hq_lcnet_100."""
    return _build("100", "tanh4", kwargs)


@register_model
def hq_lcnet_100(**kwargs: Any) -> PPLCNet:
    """PP-LCNet x1.0 + the 4-qubit H+RY block: the hybrid of the LCNet paper."""
    return _build("100", "hq", kwargs)


@register_model
def lcnet_150(**kwargs: Any) -> PPLCNet:
    """PP-LCNet x1.5 (PaddleClas)."""
    return _build("150", "plain", kwargs)


@register_model
def lcnet_150_tanh4(**kwargs: Any) -> PPLCNet:
    """PP-LCNet x1.5 + Linear(1280, 4) + tanh: the classical twin of hq_lcnet_150."""
    return _build("150", "tanh4", kwargs)


@register_model
def hq_lcnet_150(**kwargs: Any) -> PPLCNet:
    """PP-LCNet x1.5 + the 4-qubit H+RY block: the hybrid of the LCNet paper."""
    return _build("150", "hq", kwargs)


@register_model
def lcnet_200(**kwargs: Any) -> PPLCNet:
    """PP-LCNet x2.0 (PaddleClas)."""
    return _build("200", "plain", kwargs)


@register_model
def lcnet_200_tanh4(**kwargs: Any) -> PPLCNet:
    """PP-LCNet x2.0 + Linear(1280, 4) + tanh: the classical twin of hq_lcnet_200."""
    return _build("200", "tanh4", kwargs)


@register_model
def hq_lcnet_200(**kwargs: Any) -> PPLCNet:
    """PP-LCNet x2.0 + the 4-qubit H+RY block: the hybrid of the LCNet paper."""
    return _build("200", "hq", kwargs)
