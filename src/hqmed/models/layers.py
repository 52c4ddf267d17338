"""Small building blocks shared by the model families.

* :class:`ConvBNAct` -- conv, BatchNorm, activation (LiteSpineNet and PP-LCNet blocks).
* :class:`SplitBackbone` -- "multi-backbone" quanvolution input: one backbone on the original image
  channels, one on the quantum channels, feature maps concatenated along channels.
* :func:`check_choice` / :func:`check_int` -- option validation with :class:`ConfigError` messages.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from hqmed.errors import ConfigError

__all__ = ["ConvBNAct", "SplitBackbone", "check_choice", "check_int", "check_backbone_split",
           "check_stride_list", "SMALL_INPUT_STRIDES"]

# Strides of the five downsampling points (stem + four stages) that keep a 4 x 4 map at 28-32 px
# (total stride 8 instead of 32); used by PP-LCNet and MobileNetV3, parameters unchanged.
SMALL_INPUT_STRIDES = (1, 1, 2, 2, 2)


def check_choice(arg: str, value: Any, choices: Sequence[Any]) -> Any:
    """Return ``value`` if it is one of ``choices``; else raise ``ConfigError`` naming ``arg``."""
    if value not in choices:
        raise ConfigError(f"{arg}: expected one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def check_int(arg: str, value: Any, minimum: int = 1) -> int:
    """Return ``value`` if it is an int >= ``minimum``; else raise ``ConfigError`` naming ``arg``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{arg}: expected an integer >= {minimum}; got {value!r}")
    return value


def check_rate(arg: str, value: Any) -> float:
    """Return ``value`` as a float if it is a probability in [0, 1); else raise ``ConfigError``."""
    if isinstance(value, bool) or not (isinstance(value, (int, float)) and 0.0 <= value < 1.0):
        raise ConfigError(f"{arg}: expected a number in [0, 1); got {value!r}")
    return float(value)


def check_backbone_split(in_chans: int, multi_backbone: bool, quantum_in_chans: int) -> None:
    """Validate the (``in_chans``, ``multi_backbone``, ``quantum_in_chans``) combination."""
    check_int("in_chans", in_chans)
    if not isinstance(multi_backbone, bool):
        raise ConfigError(f"multi_backbone: expected True or False; got {multi_backbone!r}")
    if multi_backbone:
        check_int("quantum_in_chans", quantum_in_chans)
        if quantum_in_chans >= in_chans:
            raise ConfigError(
                "quantum_in_chans: expected fewer than in_chans (the input holds the original "
                f"channels followed by the quantum channels); got {quantum_in_chans} >= {in_chans}"
            )


def check_stride_list(stride_list: Any, where: str) -> tuple[int, ...]:
    """Return ``stride_list`` as a tuple if it is 5 positive ints (``where`` names the 5 places)."""
    ok = isinstance(stride_list, (list, tuple)) and len(stride_list) == 5 and all(
        isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in stride_list)
    if not ok:
        raise ConfigError(f"stride_list: expected 5 positive integers ({where}), "
                          f"e.g. {list(SMALL_INPUT_STRIDES)} for 28-32 px inputs; "
                          f"got {stride_list!r}")
    return tuple(stride_list)


class ConvBNAct(nn.Sequential):
    """``Conv2d(k, stride, padding=(k-1)//2, groups) -> BatchNorm2d -> act``.

    Shapes: (B, in_chs, H, W) -> (B, out_chs, ceil(H / stride), ceil(W / stride)) for odd k.
    """

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
        bias: bool = False,
        act_layer: Callable[[], nn.Module] = nn.ReLU,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            in_chs, out_chs, kernel_size, stride=stride, padding=(kernel_size - 1) // 2,
            groups=groups, bias=bias,
        )
        self.bn = nn.BatchNorm2d(out_chs)
        self.act = act_layer()


class SplitBackbone(nn.Module):
    """Two backbones over a channel split of one input ("multi-backbone" quanvolution input).

    The input (B, C, H, W) holds the original image channels first and the ``quantum_in_chans``
    quanvolution channels last (as written by ``hqmed.data.quanvolution.add_quantum_channels``).
    ``image`` runs on x[:, :C - q], ``quantum`` on x[:, C - q:]; their feature maps (same
    architecture, so same spatial size) are concatenated along channels:
    (B, C, H, W) -> (B, 2 * F, h, w) where F is one backbone's ``num_features``.

    Args:
        make_backbone: ``make_backbone(in_chans) -> nn.Module`` with a ``num_features`` attribute.
        in_chans: total input channels C.
        quantum_in_chans: number of trailing quantum channels q (0 < q < C).
    """

    def __init__(
        self, make_backbone: Callable[[int], nn.Module], in_chans: int, quantum_in_chans: int
    ) -> None:
        super().__init__()
        check_backbone_split(in_chans, True, quantum_in_chans)
        self.split = in_chans - quantum_in_chans
        self.image = make_backbone(self.split)
        self.quantum = make_backbone(quantum_in_chans)
        self.num_features = self.image.num_features + self.quantum.num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.image(x[:, : self.split]), self.quantum(x[:, self.split :])], dim=1)


def build_backbone(make_backbone: Callable[[int], nn.Module], in_chans: int, multi_backbone: bool,
                   quantum_in_chans: int) -> nn.Module:
    """``make_backbone(in_chans)``, or with ``multi_backbone`` a :class:`SplitBackbone` of two
    (image and quantum channels); the combination is checked first."""
    check_backbone_split(in_chans, multi_backbone, quantum_in_chans)
    if multi_backbone:
        return SplitBackbone(make_backbone, in_chans, quantum_in_chans)
    return make_backbone(in_chans)
