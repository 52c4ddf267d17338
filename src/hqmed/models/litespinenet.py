"""LiteSpineNet and HQ-LiteSpineNet (litespinenet-hq-litespinenet.txt, Section 3 and Table 2).

Backbone (``forward_features``), at a (3, 224, 224) input:

    stem      Conv3x3(in_chans -> 6, s2) + BN + LeakyReLU            -> (6, 112, 112)
    blocks    8 x Conv3x3 + BN + LeakyReLU, channels 6, 16, 24, 24, 40, 64, 64, 80,
              strides 1, 1, 2, 1, 2, 1, 2, 1                          -> (80, 14, 14)
    conv_head Conv3x3(80 -> 96, s2) + BN + LeakyReLU                   -> (96, 7, 7)
              Conv3x3(96 -> 112, s1) + BN + LeakyReLU                  -> (112, 7, 7)

All convolutions have padding 1 and a bias (PyTorch's default), all are followed by BatchNorm
(the paper lists BN for every conv) and LeakyReLU(0.01). Head (``forward_head``):

    head="flatten" (default): AdaptiveAvgPool(7, 7) -> flatten 5488 -> MLP
    head="gap":               AdaptiveAvgPool(1, 1) -> 112 -> MLP (what the text says)
    MLP: FC(->84) + LeakyReLU -> FC(84->56) + LeakyReLU -> Dropout(0.2) -> FC(56->num_classes)

Parameter counts at num_classes=8 (checked in tests/models):

    flatten head: 758,390   (conv stage 292,098 + MLP 466,292)
    gap head:     306,806   (conv stage 292,098 + MLP  14,708)
    paper:        760,292   = flatten + 1,902

The paper's 760,292 matches neither reading of its own layer list. The flatten head is the
closest (1,902 short), so it is the default; dropping conv biases or BN makes the gap larger
(-532 / -1,064), counting BN running statistics adds 1,075 non-trainable numbers, and no
combination of conv bias, BN, input channels (1, 3, 4), class count (1-29), pooled grid
(1, 2, 3, 4, 7) or BatchNorm1d in the MLP gives 760,292 exactly. We therefore keep the listed
layers and document the 1,902 unexplained parameters (docs/models.md).

Non-224 inputs: the backbone downsamples by 32, so a (3, 32, 32) image gives a (112, 1, 1) map.
The flatten head therefore starts with ``AdaptiveAvgPool2d((7, 7))``: an identity at 224 x 224,
an average (larger inputs) or nearest-style replication (smaller inputs) otherwise, so the
5488 -> 84 layer and its parameter count stay the same at every input size.

HQ-LiteSpineNet inserts the 7-qubit block (AngleEmbedding RY + 3 StronglyEntanglingLayers + PauliZ,
63 weights) between the conv stage and the MLP; the MLP's first layer becomes FC(7 -> 84). The
paper does not say how (112, 7, 7) becomes 7 angles, and its total "760,292 + 63 = 760,355" cannot
hold once FC(5488 -> 84) becomes FC(7 -> 84). The mapping is the ``bridge`` option:

    bridge="pool" (default, parameter-free): mean over channels and columns of the 7 x 7 map
        -> 7 values (one per row) -> tanh -> x pi.           298,049 parameters at 8 classes
    bridge="linear": flatten 5488 -> Linear(5488 -> 7) -> tanh -> x pi.
                                                             336,472 parameters at 8 classes

``quantum_block="none"`` on ``hq_litespinenet`` gives its exact classical twin (the bridge feeds
FC(7 -> 84) directly); ``"classical"`` puts tanh(Linear(7, 7)) (56 weights) in place of the circuit.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from hqmed.errors import ConfigError
from hqmed.models.heads import AngleBottleneck, LinearProjection, QuantumBlock
from hqmed.models.layers import ConvBNAct, build_backbone, check_choice, check_int, check_rate
from hqmed.models.registry import build_model, register_default_cfgs, register_model

__all__ = ["LiteSpineNet", "LiteSpineNetBackbone", "RowMean"]

PAPER = (
    "LiteSpineNet Integrates Quantum Computing for Spinal Fracture Diagnosis "
    "(litespinenet-hq-litespinenet.txt), Section 3, Table 2"
)
# (out_channels, stride) of blocks 1-8, then the two final convolutions.
BLOCKS = ((6, 1), (16, 1), (24, 2), (24, 1), (40, 2), (64, 1), (64, 2), (80, 1))
FINAL_CONVS = ((96, 2), (112, 1))
STEM_CHANNELS = 6
QUANTUM_OPTIONS = ("quantum_block", "n_qubits", "n_layers", "backend", "diff_method",
                   "quantum_kwargs")
GRID = 7  # the (7, 7) map the paper's head and quantum block are defined on


def _leaky_relu() -> nn.Module:
    return nn.LeakyReLU(0.01)


class LiteSpineNetBackbone(nn.Sequential):
    """Conv stage: (B, in_chans, H, W) -> (B, 112, ceil(H/32), ceil(W/32)). 292,098 params at 3 ch."""

    def __init__(self, in_chans: int = 3) -> None:
        layers: list[nn.Module] = [
            ConvBNAct(in_chans, STEM_CHANNELS, 3, 2, bias=True, act_layer=_leaky_relu)
        ]
        prev = STEM_CHANNELS
        for out, stride in BLOCKS + FINAL_CONVS:
            layers.append(ConvBNAct(prev, out, 3, stride, bias=True, act_layer=_leaky_relu))
            prev = out
        super().__init__(*layers)
        self.num_features = prev


class RowMean(nn.Module):
    """Parameter-free bridge: (B, C, 7, 7) -> mean over channels and columns -> (B, 7), one per row."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(1, 3))


class MLPHead(nn.Module):
    """FC(in -> 84) + LeakyReLU -> FC(84 -> 56) + LeakyReLU -> Dropout -> FC(56 -> num_classes)."""

    def __init__(self, in_features: int, num_classes: int, drop_rate: float) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_features, 84)
        self.act1 = _leaky_relu()
        self.fc2 = nn.Linear(84, 56)
        self.act2 = _leaky_relu()
        self.drop = nn.Dropout(drop_rate)
        self.fc = nn.Linear(56, num_classes)

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.drop(self.act2(self.fc2(self.act1(self.fc1(x)))))
        return x if pre_logits else self.fc(x)


class LiteSpineNet(nn.Module):
    """LiteSpineNet / HQ-LiteSpineNet. Input (B, in_chans, H, W) float32 -> logits (B, num_classes).

    Args:
        num_classes: output logits (8 VinDr-SpineXR lesion classes in the paper).
        in_chans: input channels (3; or 3 + 4 with quanvolution channels).
        drop_rate: dropout before the last FC (0.2 in the paper).
        head: ``"flatten"`` (7 x 7 x 112 = 5488 -> 84, default) or ``"gap"`` (112 -> 84).
            Used only without a bridge.
        bridge: ``None`` (LiteSpineNet) or ``"pool"`` / ``"linear"`` (HQ-LiteSpineNet: the map
            from (112, 7, 7) to the 7 angles, see the module docstring).
        quantum_block: ``"quantum"`` (default with a bridge), ``"classical"``, ``"closed_form"`` (not available: the
            circuit entangles) or ``"none"`` (classical twin). Only with a bridge.
        n_qubits, n_layers: circuit size (7 qubits = 7 rows of the map, 3 layers in the paper).
        multi_backbone, quantum_in_chans: run a second backbone on the last ``quantum_in_chans``
            input channels and concatenate the feature maps (see ``SplitBackbone``).
        backend, diff_method, quantum_kwargs: passed to ``hqmed.quantum.QuantumLayer``.
    """

    def __init__(
        self,
        num_classes: int = 8,
        in_chans: int = 3,
        drop_rate: float = 0.2,
        head: str = "flatten",
        bridge: str | None = None,
        quantum_block: str | None = None,
        n_qubits: int = GRID,
        n_layers: int = 3,
        multi_backbone: bool = False,
        quantum_in_chans: int = 4,
        backend: str = "torch",
        diff_method: str = "backprop",
        quantum_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.num_classes = check_int("num_classes", num_classes)
        self.in_chans = in_chans
        check_choice("head", head, ("flatten", "gap"))
        check_choice("bridge", bridge, (None, "pool", "linear"))
        check_rate("drop_rate", drop_rate)
        if bridge is not None and head != "flatten":
            raise ConfigError(f"head: applies only without a bridge; got head={head!r} with "
                              f"bridge={bridge!r}")
        if bridge is None and quantum_block is not None:
            raise ConfigError(f"quantum_block: applies only with a bridge (hq_litespinenet); got "
                              f"quantum_block={quantum_block!r} without one")
        if bridge == "pool" and n_qubits != GRID:
            raise ConfigError(f"n_qubits: bridge='pool' gives one angle per row of the {GRID} x "
                              f"{GRID} map, expected {GRID}; got {n_qubits!r}")
        self.head_type, self.bridge_type, self.drop_rate = head, bridge, float(drop_rate)
        self.multi_backbone = multi_backbone

        self.backbone = build_backbone(LiteSpineNetBackbone, in_chans, multi_backbone,
                                       quantum_in_chans)
        self.num_features = self.backbone.num_features

        grid = 1 if (bridge is None and head == "gap") else GRID
        self.pool = nn.AdaptiveAvgPool2d((grid, grid))
        flat = self.num_features * grid * grid
        if bridge is None:
            self.bottleneck: nn.Module | None = None
            head_in = flat
        else:
            projection = RowMean() if bridge == "pool" else LinearProjection(flat, n_qubits)
            block = QuantumBlock(
                n_qubits, "strongly_entangling", n_layers, kind=quantum_block or "quantum",
                angle_scale=math.pi, backend=backend, diff_method=diff_method,
                quantum_kwargs=quantum_kwargs,
            )
            self.bottleneck = AngleBottleneck(projection, block)
            head_in = n_qubits
        self.head = MLPHead(head_in, num_classes, self.drop_rate)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_chans, H, W) -> (B, num_features, ceil(H/32), ceil(W/32))."""
        return self.backbone(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Feature map -> logits (B, num_classes), or the 56-d input of the last FC."""
        x = self.pool(x)
        x = x.flatten(1) if self.bottleneck is None else self.bottleneck(x)
        return self.head(x, pre_logits=pre_logits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


register_default_cfgs({
    "litespinenet": {
        "num_classes": 8, "input_size": (3, 224, 224), "paper": PAPER,
        "paper_params": 760_292, "family": "litespinenet", "hybrid": False,
        "description": "LiteSpineNet CNN (head='flatten' | 'gap')",
    },
    "hq_litespinenet": {
        "num_classes": 8, "input_size": (3, 224, 224), "paper": PAPER,
        "paper_params": 760_355, "family": "litespinenet", "hybrid": True, "twin": "litespinenet",
        "description": "HQ-LiteSpineNet: 7-qubit strongly entangling block (bridge='pool' | "
        "'linear')",
    },
})


@register_model
def litespinenet(**kwargs: Any) -> LiteSpineNet:
    """LiteSpineNet; 758,390 params at 8 classes (head='flatten'), 306,806 (head='gap')."""
    return build_model(LiteSpineNet, "litespinenet", {"bridge": None}, kwargs,
                       unavailable=QUANTUM_OPTIONS)


@register_model
def hq_litespinenet(**kwargs: Any) -> LiteSpineNet:
    """HQ-LiteSpineNet; 298,049 params at 8 classes (bridge='pool'), 336,472 (bridge='linear')."""
    kwargs.setdefault("bridge", "pool")
    if kwargs["bridge"] is None:
        raise ConfigError("bridge: expected 'pool' or 'linear' for hq_litespinenet; got None")
    return build_model(LiteSpineNet, "hq_litespinenet", {}, kwargs, unavailable=("head",))
