"""Resizing image arrays: one function, below both the datasets (base) and the sample store."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["resize_images"]


def resize_images(images: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Resize (C, H, W) or (N, C, H, W) float32 images to ``size`` (bilinear, antialiased), clipped to [0, 1]."""
    out_hw = (size, size) if isinstance(size, int) else tuple(size)
    single = images.ndim == 3
    arr = images[None] if single else images
    if tuple(arr.shape[-2:]) == out_hw:
        out = arr.astype(np.float32, copy=False)
    else:
        t = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
        with torch.no_grad():
            out = F.interpolate(t, size=out_hw, mode="bilinear", align_corners=False, antialias=True).numpy()
        out = np.clip(out, 0.0, 1.0)
    return out[0] if single else out
