"""Where a model looks: Grad-CAM, Grad-CAM++ and saliency maps for any hqmed model.

    maps = attribute(model, images, method="gradcam")        # (N, H, W) float32, >= 0

The class score is the target class's LOGIT (before softmax), as in Selvaraju et al. (2017).
Grad-CAM weighs each channel of the target layer's map by its mean gradient; Grad-CAM++
(Chattopadhay et al., 2018) by positive gradients with per-pixel alpha coefficients; saliency
(Simonyan et al., 2014) is the largest absolute input gradient over channels. CAMs are upsampled
bilinearly to the input size. For the hybrids the gradient reaches the convolutional map through
the quantum block (the simulator is differentiable), so the map shows what feeds the circuit.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hqmed.errors import ConfigError, ShapeError

__all__ = ["METHODS", "attribute", "default_layer", "find_layer"]

METHODS = ("gradcam", "gradcam++", "saliency")
_EPS = 1e-7


def default_layer(model: nn.Module) -> str:
    """The last convolutional stage: the last child of ``model.backbone`` (both model families)."""
    backbone = getattr(model, "backbone", None)
    children = [name for name, _ in backbone.named_children()] if backbone is not None else []
    if not children:
        raise ConfigError(f"--layer: expected a layer name for {type(model).__name__} (it has no "
                          "'backbone' stages to default to); got none")
    return f"backbone.{children[-1]}"


def find_layer(model: nn.Module, name: str) -> nn.Module:
    """The submodule called ``name`` (as in ``model.named_modules()``)."""
    modules = dict(model.named_modules())
    if not name or name not in modules:
        examples = ", ".join(n for n in list(modules)[1:6])
        raise ConfigError(f"--layer: expected a module name of {type(model).__name__} (e.g. "
                          f"{default_layer(model) if hasattr(model, 'backbone') else examples}); "
                          f"got {name!r}")
    return modules[name]


def _cam(activation: torch.Tensor, grad: torch.Tensor, method: str) -> torch.Tensor:
    """(N, C, h, w) activations and gradients -> (N, h, w) class activation map (>= 0)."""
    if method == "gradcam":
        weights = grad.mean(dim=(2, 3))
    else:  # gradcam++ with the exponential-score closed form of its alphas
        g2 = grad.square()
        denom = 2 * g2 + activation.sum(dim=(2, 3), keepdim=True) * g2 * grad
        alpha = torch.where(grad != 0, g2 / (denom + _EPS), torch.zeros_like(g2))
        weights = (alpha * grad.clamp(min=0)).sum(dim=(2, 3))
    return torch.relu((weights[:, :, None, None] * activation).sum(dim=1))


def attribute(model: nn.Module, images: torch.Tensor, target=None, method: str = "gradcam",
              layer: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Heat maps of ``model`` (eval mode; include any normaliser in it) for ``images`` (N, C, H, W).

    Args:
        target: class index per image (int or (N,) ints); ``None`` = the predicted class.
        method: one of :data:`METHODS`.
        layer: module name for the CAM methods; ``None`` = :func:`default_layer`.

    Returns ``(maps (N, H, W) float32 >= 0, probabilities (N, K) float64, targets (N,) int64)``.
    """
    if method not in METHODS:
        raise ConfigError(f"--method: expected one of {', '.join(METHODS)}; got {method!r}")
    if images.ndim != 4:
        raise ShapeError(f"images: expected (N, C, H, W); got {tuple(images.shape)}")
    x = images.detach().float().clone().requires_grad_(method == "saliency")
    saved: list[torch.Tensor] = []
    handle = None
    if method != "saliency":
        module = find_layer(model, layer or default_layer(model))
        handle = module.register_forward_hook(lambda _m, _i, out: saved.append(out))
    try:
        with torch.enable_grad():
            logits = model(x)
    finally:
        if handle is not None:
            handle.remove()
    n, k = logits.shape
    if target is None:
        targets = logits.argmax(dim=1)
    else:
        targets = torch.as_tensor(target, dtype=torch.long).expand(n).clone()
        if (targets < 0).any() or (targets >= k).any():
            raise ConfigError(f"--target: expected a class index in [0, {k - 1}]; got {target!r}")
    score = logits.gather(1, targets[:, None]).sum()  # samples are independent in eval mode
    if method == "saliency":
        (grad,) = torch.autograd.grad(score, x)
        maps = grad.abs().amax(dim=1)
    else:
        if not saved or saved[-1].ndim != 4:
            got = "no output" if not saved else f"shape {tuple(saved[-1].shape)}"
            raise ConfigError(f"--layer: expected a layer with a (N, C, h, w) map; got {got}")
        activation = saved[-1]
        (grad,) = torch.autograd.grad(score, activation)
        cam = _cam(activation.detach(), grad, method)
        maps = F.interpolate(cam[:, None], size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    probs = torch.softmax(logits.detach().double(), dim=1)
    return maps.detach().float().cpu().numpy(), probs.cpu().numpy(), targets.cpu().numpy()
