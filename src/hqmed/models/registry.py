"""Model registry in the timm style.

Each family module decorates its entry points with :func:`register_model`. An entry point is a
function ``fn(**kwargs) -> nn.Module`` named like the model (``lcnet_100``, ``hq_lcnet_050`` ...).
Users only call :func:`create_model`, :func:`list_models` and :func:`count_parameters`::

    >>> from hqmed.models import create_model, count_parameters
    >>> model = create_model("lcnet_100", num_classes=1000)
    >>> count_parameters(model)
    2952520

Options are checked once, here, against the model class's constructor, so a misspelt option fails
with a :class:`~hqmed.errors.ConfigError` that lists the valid ones.
"""

from __future__ import annotations

import fnmatch
import inspect
from collections.abc import Callable
from typing import Any

from torch import nn

from hqmed.errors import ConfigError

__all__ = [
    "register_model",
    "register_default_cfgs",
    "create_model",
    "list_models",
    "is_model",
    "count_parameters",
    "build_model",
    "model_default_cfg",
]

_ENTRYPOINTS: dict[str, Callable[..., nn.Module]] = {}
_DEFAULT_CFGS: dict[str, dict[str, Any]] = {}


def register_model(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Decorator: register ``fn`` under its ``__name__``. Names must be unique."""
    name = fn.__name__
    if name in _ENTRYPOINTS:
        raise RuntimeError(f"model {name!r} registered twice")  # programming error, not user input
    _ENTRYPOINTS[name] = fn
    return fn


def register_default_cfgs(cfgs: dict[str, dict[str, Any]]) -> None:
    """Record each model's ``default_cfg`` (input_size, num_classes, paper ...) by name."""
    _DEFAULT_CFGS.update({k: dict(v) for k, v in cfgs.items()})


def list_models(pattern: str | None = None) -> list[str]:
    """Sorted names of all registered models, optionally filtered by a shell-style ``pattern``."""
    names = sorted(_ENTRYPOINTS)
    if pattern is not None:
        names = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
    return names


def is_model(name: str) -> bool:
    """True when ``name`` is a registered model."""
    return name in _ENTRYPOINTS


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not is_model(name):
        raise ConfigError(
            f"model: expected one of {', '.join(list_models())}; got {name!r}"
        )


def create_model(
    name: str,
    num_classes: int | None = None,
    in_chans: int = 3,
    drop_rate: float | None = None,
    **kwargs: Any,
) -> nn.Module:
    """Build a registered model.

    Args:
        name: registered model name (see :func:`list_models`).
        num_classes: number of output logits; ``None`` uses the model's ``default_cfg``.
        in_chans: input channels C of the (B, C, H, W) float32 input (e.g. 3 + 4 quantum channels).
        drop_rate: dropout probability before the classifier; ``None`` keeps the paper's value.
        **kwargs: family options, e.g. ``head``, ``bridge``, ``quantum_block``, ``stride_list``,
            ``multi_backbone``, ``quantum_in_chans``, ``backend``, ``diff_method``.

    Returns:
        an ``nn.Module`` mapping (B, in_chans, H, W) to logits (B, num_classes).

    Raises:
        ConfigError: unknown name or option, or an invalid option value.
    """
    _check_name(name)
    if num_classes is not None:
        kwargs["num_classes"] = num_classes
    kwargs["in_chans"] = in_chans
    if drop_rate is not None:
        kwargs["drop_rate"] = drop_rate
    return _ENTRYPOINTS[name](**kwargs)


def model_default_cfg(name: str) -> dict[str, Any]:
    """The ``default_cfg`` metadata of ``name`` (input size, paper reference ...), without building."""
    _check_name(name)
    return dict(_DEFAULT_CFGS[name])


def build_model(
    cls: type[nn.Module], name: str, fixed: dict[str, Any], user: dict[str, Any],
    unavailable: tuple[str, ...] = (),
) -> nn.Module:
    """Instantiate ``cls(**fixed, **user)`` after checking ``user`` options against its signature.

    Family entry points call this. ``fixed`` holds what the name determines (e.g. ``scale=1.0``);
    the user may not override those. ``unavailable`` names constructor options that do not apply
    to this model (e.g. quantum options on a classical model). The model gets ``default_cfg`` (a
    copy) and ``model_name``.
    """
    default_cfg = _DEFAULT_CFGS[name]
    params = inspect.signature(cls.__init__).parameters
    valid = sorted(p for p in params if p not in ("self", *fixed, *unavailable))
    for key in user:
        if key in fixed:
            raise ConfigError(
                f"{name}: option {key!r} is fixed by the model name (={fixed[key]!r}); "
                f"expected one of {', '.join(valid)}"
            )
        if key not in valid:
            raise ConfigError(f"{name}: unknown option {key!r}; expected one of {', '.join(valid)}")
    kwargs = {"num_classes": default_cfg["num_classes"], **fixed, **user}
    model = cls(**kwargs)
    model.default_cfg = {**default_cfg, "num_classes": model.num_classes, "in_chans": model.in_chans}
    model.model_name = name
    return model


def count_parameters(model: nn.Module, trainable: bool = True) -> int:
    """Number of parameters (only those with ``requires_grad`` when ``trainable``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable)
