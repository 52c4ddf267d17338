"""The LCNet paper's trio on a classical backbone, shared by PP-LCNet and MobileNetV3
(hybrid-lcnet-medmnist.txt, Sections 4.2-4.5)::

    <plain>          the backbone's own classifier: features (F) -> Linear(F, K)
    <plain>_tanh4    features -> Linear(F, 4) -> tanh -> Linear(4, K)                (classical twin)
    hq_<plain>       features -> Linear(F, 4) -> tanh -> x pi -> 4-qubit H + RY block -> Linear(4, K)

The two twins differ only in the quantum block (``heads.hadamard_ry_bottleneck``). A family's
module registers the trio's default cfgs with :func:`register_trio` and builds each member with
:func:`build_member` from its explicit ``@register_model`` functions.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from hqmed.errors import ConfigError
from hqmed.models.heads import hadamard_ry_bottleneck
from hqmed.models.layers import SMALL_INPUT_STRIDES
from hqmed.models.registry import build_model, register_default_cfgs

__all__ = ["QUANTUM_OPTIONS", "bottleneck_classifier", "build_member", "register_trio", "trio_names"]

# constructor options that only the hybrid member takes
QUANTUM_OPTIONS = ("quantum_block", "backend", "diff_method", "quantum_kwargs")
TWIN_INPUT = (3, 32, 32)  # the paper's CIFAR-10 / MedMNIST-sized inputs


def trio_names(plain: str) -> tuple[str, str, str]:
    """(plain, classical twin, hybrid) registry names, e.g. lcnet_050, lcnet_050_tanh4, hq_lcnet_050."""
    return plain, f"{plain}_tanh4", f"hq_{plain}"


def register_trio(plain: str, family: str, size: dict[str, Any], plain_cfg: dict[str, Any],
                  paper: str, descriptions: tuple[str, str]) -> None:
    """Default cfgs of the trio: the plain network at 1000 classes and 224 px (``plain_cfg``: its
    paper, published count and description), the twins at 10 classes and 32 px, each naming the
    other as its twin. ``size``: the family's width option (``{"scale": 0.5}``); ``descriptions``:
    the classical twin's and the hybrid's."""
    _, tanh4, hq = trio_names(plain)
    base = {"input_size": (3, 224, 224), **size, "family": family,
            "small_input_stride_list": SMALL_INPUT_STRIDES}
    twin = {**base, "num_classes": 10, "paper": paper, "input_size": TWIN_INPUT}
    register_default_cfgs({
        plain: {**base, "num_classes": 1000, "hybrid": False, **plain_cfg},
        tanh4: {**twin, "hybrid": False, "twin": hq, "description": descriptions[0]},
        hq: {**twin, "hybrid": True, "twin": tanh4, "description": descriptions[1]},
    })


def build_member(cls: type[nn.Module], plain: str, kind: str, fixed: dict[str, Any],
                 kwargs: dict[str, Any], family: str) -> nn.Module:
    """The ``kind`` ("plain", "tanh4" or "hq") member of ``plain``'s trio: ``cls(**fixed, **kwargs)``
    through ``registry.build_model``, with the bottleneck and quantum options that ``kind`` fixes
    or refuses; ``family`` names the plain network in errors ("PP-LCNet")."""
    _, tanh4, hq = trio_names(plain)
    if kind == "plain":
        return build_model(cls, plain, fixed, kwargs, unavailable=("bottleneck",) + QUANTUM_OPTIONS)
    if kind == "tanh4":
        return build_model(cls, tanh4, {**fixed, "bottleneck": 4, "quantum_block": "none"}, kwargs,
                           unavailable=QUANTUM_OPTIONS)
    kwargs.setdefault("bottleneck", 4)
    if kwargs["bottleneck"] is None:
        raise ConfigError(f"bottleneck: expected the number of qubits (4) for {hq}; "
                          f"got None (use {plain} for plain {family})")
    return build_model(cls, hq, fixed, kwargs)


def bottleneck_classifier(
    in_features: int, num_classes: int, bottleneck: int | None, quantum_block: str | None,
    backend: str, diff_method: str, quantum_kwargs: dict[str, Any] | None, members: str,
) -> tuple[nn.Module | None, nn.Linear]:
    """(bottleneck or None, fc): the optional n-wide tanh / quantum stage and the classifier after
    it. ``members`` names the models that have a bottleneck, for the error when ``quantum_block``
    is given without one."""
    if bottleneck is None:
        if quantum_block is not None:
            raise ConfigError(f"quantum_block: applies only to models with a bottleneck "
                              f"({members}); got {quantum_block!r}")
        return None, nn.Linear(in_features, num_classes)
    block = hadamard_ry_bottleneck(in_features, bottleneck, quantum_block, backend, diff_method,
                                   quantum_kwargs)
    return block, nn.Linear(bottleneck, num_classes)
