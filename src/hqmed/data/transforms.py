"""Batched data augmentation and normalisation in plain PyTorch.

:class:`Augmentation` implements the LiteSpineNet paper's training augmentation ("random crops,
horizontal and vertical flips, and opacity adjustments", done there with torchvision) on whole
batches ``(B, C, H, W)`` of float images in [0, 1], every random draw coming from an explicit
``torch.Generator`` -- the same generator state gives the same batch, on any device.

Order: crop -> flips -> brightness -> contrast -> opacity -> clip to [0, 1]. Each sample draws
its own crop, flips and factors. Output has the input's shape, dtype and device.

"Opacity" is read as compositing the image with opacity ``alpha`` over a black background,
``x' = alpha * x`` with ``alpha ~ U[1 - opacity, 1]`` -- the usual meaning of an opacity
adjustment in image editors (the paper does not define it further).

:class:`Normalizer` holds per-channel mean/std fitted on the TRAINING split only and is saved with
a run (``to_dict`` / ``from_dict``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from functools import cache
from typing import Annotated, Any, Literal, get_type_hints

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, create_model

from hqmed.errors import ConfigError, DataError, ShapeError
from hqmed.utils.validation import bool_as_number_error, format_validation_error

__all__ = ["AugmentationConfig", "Augmentation", "Normalizer"]


def _number(value: Any) -> Any:
    """A boolean is not a probability or a factor (pydantic would read ``true`` as 1.0)."""
    error = bool_as_number_error(value, "a number")
    if error is not None:
        raise error
    return value


Probability = Annotated[float, Field(ge=0.0, le=1.0), BeforeValidator(_number)]
Factor = Annotated[float, Field(ge=0.0, lt=1.0), BeforeValidator(_number)]  # of the image's value


@dataclass
class AugmentationConfig:
    """Augmentation settings (probabilities in [0, 1], factors as fractions).

    The one declaration of these settings: a config's ``augmentation:`` section is this dataclass
    (plus ``enabled``, :class:`hqmed.train.config.AugmentationConfig`), validated by pydantic from
    the annotations below; a direct call is checked against the same annotations.
    """

    __pydantic_config__ = ConfigDict(extra="forbid", allow_inf_nan=False)

    crop: Literal["pad", "resized", "none"] = "pad"  # pad + random crop back to H x W, random resized crop, or none
    crop_padding: Annotated[int, Field(ge=0), BeforeValidator(_number)] = 8  # px of reflection padding per side (crop="pad")
    crop_scale: tuple[float, float] = (0.7, 1.0)  # area fraction range (crop="resized")
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)  # aspect-ratio (w/h) range (crop="resized")
    hflip: Probability = 0.5  # probability of a horizontal flip
    vflip: Probability = 0.5  # probability of a vertical flip
    brightness: Factor = 0.2  # multiply by a factor in [1 - b, 1 + b]
    contrast: Factor = 0.2  # scale deviations from the per-image mean by a factor in [1 - c, 1 + c]
    opacity: Probability = 0.2  # alpha in [1 - o, 1] over a black background
    clip: bool = True  # clip the result to [0, 1]

    def __post_init__(self) -> None:
        # Each field against its annotation (pydantic has done so already when this is a config
        # section; a direct call has not), then the rules between values.
        try:
            checked = _fields_model(type(self)).model_validate(self.__dict__)
        except ValidationError as exc:
            raise ConfigError(format_validation_error(exc, "augmentation")) from None
        self.__dict__.update(checked.model_dump())
        lo, hi = self.crop_scale
        if not 0.0 < lo <= hi <= 1.0:
            raise ConfigError(f"augmentation.crop_scale: expected 0 < lo <= hi <= 1; got {self.crop_scale!r}")
        rlo, rhi = self.crop_ratio
        if not 0.0 < rlo <= rhi:
            raise ConfigError(f"augmentation.crop_ratio: expected 0 < lo <= hi; got {self.crop_ratio!r}")

    def to_dict(self) -> dict:
        return asdict(self)


@cache
def _fields_model(cls: type) -> type[BaseModel]:
    """A pydantic model with the dataclass ``cls``'s fields (annotations and defaults), to check
    a directly constructed instance field by field."""
    hints = get_type_hints(cls, include_extras=True)
    return create_model(f"{cls.__name__}Fields", __config__=cls.__pydantic_config__,
                        **{f.name: (hints[f.name], f.default) for f in fields(cls)})


def _uniform(gen: torch.Generator | None, n: int, lo: float, hi: float, device) -> torch.Tensor:
    """(n,) float32 U[lo, hi], drawn on the generator's device and moved to ``device``."""
    dev = gen.device if gen is not None else torch.device("cpu")
    u = torch.rand(n, generator=gen, device=dev, dtype=torch.float32)
    return (lo + (hi - lo) * u).to(device)


class Augmentation:
    """Random batched augmentation: ``aug(x, generator) -> x'`` for ``x`` (B, C, H, W) float."""

    def __init__(self, cfg: AugmentationConfig | dict | None = None) -> None:
        if cfg is None:
            cfg = AugmentationConfig()
        elif isinstance(cfg, dict):
            cfg = AugmentationConfig(**cfg)
        self.cfg = cfg

    def __repr__(self) -> str:
        return f"Augmentation({self.cfg})"

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or not x.is_floating_point():
            got = (tuple(x.shape), x.dtype) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ShapeError(f"x: expected a float tensor (B, C, H, W); got {got}")
        cfg, b, dev = self.cfg, x.shape[0], x.device
        if b == 0:
            return x
        if cfg.crop == "pad" and cfg.crop_padding > 0:
            x = self._pad_crop(x, int(cfg.crop_padding), generator)
        elif cfg.crop == "resized":
            x = self._resized_crop(x, generator)
        for p, dim in ((cfg.hflip, -1), (cfg.vflip, -2)):
            if p > 0:
                flip = (_uniform(generator, b, 0, 1, dev) < p).view(b, 1, 1, 1)
                x = torch.where(flip, x.flip(dim), x)
        if cfg.brightness > 0:
            f = _uniform(generator, b, 1 - cfg.brightness, 1 + cfg.brightness, dev)
            x = x * f.view(b, 1, 1, 1).to(x.dtype)
        if cfg.contrast > 0:
            f = _uniform(generator, b, 1 - cfg.contrast, 1 + cfg.contrast, dev).view(b, 1, 1, 1)
            mean = x.mean(dim=(1, 2, 3), keepdim=True)
            x = mean + (x - mean) * f.to(x.dtype)
        if cfg.opacity > 0:
            alpha = _uniform(generator, b, 1 - cfg.opacity, 1.0, dev)
            x = x * alpha.view(b, 1, 1, 1).to(x.dtype)
        return x.clamp(0.0, 1.0) if cfg.clip else x

    @staticmethod
    def _pad_crop(x: torch.Tensor, pad: int, gen) -> torch.Tensor:
        """Reflect-pad by ``pad`` px and take a random H x W window per sample (one gather)."""
        b, c, h, w = x.shape
        mode = "reflect" if pad < min(h, w) else "replicate"
        xp = F.pad(x, (pad, pad, pad, pad), mode=mode)
        oy = (_uniform(gen, b, 0, 1, x.device) * (2 * pad + 1)).long().clamp_(max=2 * pad)
        ox = (_uniform(gen, b, 0, 1, x.device) * (2 * pad + 1)).long().clamp_(max=2 * pad)
        rows = oy[:, None] + torch.arange(h, device=x.device)  # (B, H)
        cols = ox[:, None] + torch.arange(w, device=x.device)  # (B, W)
        bi = torch.arange(b, device=x.device)[:, None, None]
        out = xp.permute(0, 2, 3, 1)[bi, rows[:, :, None], cols[:, None, :]]  # (B, H, W, C)
        return out.permute(0, 3, 1, 2).contiguous()

    def _resized_crop(self, x: torch.Tensor, gen) -> torch.Tensor:
        """Random area/aspect crop resampled back to H x W (bilinear), like RandomResizedCrop."""
        b, _, h, w = x.shape
        cfg = self.cfg
        area = _uniform(gen, b, cfg.crop_scale[0], cfg.crop_scale[1], x.device)
        log_r = _uniform(gen, b, math.log(cfg.crop_ratio[0]), math.log(cfg.crop_ratio[1]), x.device)
        r = torch.exp(log_r)
        sw = torch.sqrt(area * r).clamp(max=1.0)  # crop width / W
        sh = torch.sqrt(area / r).clamp(max=1.0)  # crop height / H
        cx = (_uniform(gen, b, -1, 1, x.device)) * (1 - sw)  # centre in normalised coords
        cy = (_uniform(gen, b, -1, 1, x.device)) * (1 - sh)
        theta = torch.zeros(b, 2, 3, device=x.device, dtype=x.dtype)
        theta[:, 0, 0], theta[:, 0, 2] = sw, cx
        theta[:, 1, 1], theta[:, 1, 2] = sh, cy
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


class Normalizer:
    """Per-channel ``(x - mean) / std`` with statistics from the training split only."""

    def __init__(self, mean, std) -> None:
        self.mean = np.asarray(mean, dtype=np.float64).reshape(-1)
        self.std = np.asarray(std, dtype=np.float64).reshape(-1)
        if self.mean.shape != self.std.shape or (self.std <= 0).any():
            raise ConfigError(f"normalizer: expected equal-length mean/std with std > 0; got "
                              f"mean {self.mean.tolist()}, std {self.std.tolist()}")

    @classmethod
    def fit(cls, train_images, eps: float = 1e-6, chunk: int = 1024) -> Normalizer:
        """Mean/std per channel of (N, C, H, W) ``train_images`` (numpy or torch), float64
        accumulation in chunks of ``chunk`` images; std is floored at ``eps``."""
        x = train_images
        if x.ndim != 4 or x.shape[0] == 0:
            raise ShapeError(f"train_images: expected a non-empty (N, C, H, W) array; got {tuple(x.shape)}")
        c = x.shape[1]
        s = np.zeros(c)
        s2 = np.zeros(c)
        n = 0
        for i in range(0, x.shape[0], chunk):
            part = x[i:i + chunk]
            part = part.detach().cpu().numpy() if isinstance(part, torch.Tensor) else np.asarray(part)
            part = part.astype(np.float64)
            s += part.sum(axis=(0, 2, 3))
            s2 += np.square(part).sum(axis=(0, 2, 3))
            n += part.shape[0] * part.shape[2] * part.shape[3]
        mean = s / n
        var = np.maximum(s2 / n - mean**2, 0.0)
        if not np.isfinite(mean).all():
            raise DataError("train_images: expected finite values; got NaN or inf")
        return cls(mean, np.maximum(np.sqrt(var), eps))

    def __call__(self, x):
        return self.apply(x)

    def apply(self, x):
        """Normalise (B, C, H, W) or (C, H, W) numpy/torch input; same type and dtype back."""
        c = len(self.mean)
        if x.ndim not in (3, 4) or x.shape[-3] != c:
            raise ShapeError(f"x: expected (B, {c}, H, W) or ({c}, H, W); got {tuple(x.shape)}")
        if isinstance(x, torch.Tensor):
            m = torch.as_tensor(self.mean, dtype=x.dtype, device=x.device).view(c, 1, 1)
            s = torch.as_tensor(self.std, dtype=x.dtype, device=x.device).view(c, 1, 1)
            return (x - m) / s
        m = self.mean.astype(x.dtype).reshape(c, 1, 1)
        s = self.std.astype(x.dtype).reshape(c, 1, 1)
        return (x - m) / s

    def on_device(self, device: torch.device | str) -> _DeviceNormalizer:
        """The same ``(x - mean) / std`` for float32 batches, statistics placed on ``device`` once."""
        c = len(self.mean)
        return _DeviceNormalizer(torch.as_tensor(self.mean, dtype=torch.float32, device=device).view(c, 1, 1),
                                 torch.as_tensor(self.std, dtype=torch.float32, device=device).view(c, 1, 1))

    def to_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> Normalizer:
        if not isinstance(d, dict) or not {"mean", "std"} <= set(d):
            raise ConfigError(f"normalizer: expected a dict with 'mean' and 'std'; got {d!r}")
        return cls(d["mean"], d["std"])

    def __repr__(self) -> str:
        return f"Normalizer(mean={np.round(self.mean, 4).tolist()}, std={np.round(self.std, 4).tolist()})"


class _DeviceNormalizer:
    """:meth:`Normalizer.on_device`: per-channel statistics as device tensors (no copy per batch)."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.mean, self.std = mean, std

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.mean.shape[0]:
            raise ShapeError(f"x: expected (B, {self.mean.shape[0]}, H, W); got {tuple(x.shape)}")
        return (x - self.mean) / self.std
