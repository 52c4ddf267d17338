"""Heat map over image, as an RGB picture (PNG for ``hqmed explain``, the report and the page)."""

from __future__ import annotations

import io

import numpy as np
from matplotlib import colormaps
from PIL import Image

__all__ = ["overlay_rgb", "overlay_png"]


def overlay_rgb(image: np.ndarray, heat: np.ndarray, alpha: float = 0.45,
                min_size: int = 192) -> np.ndarray:
    """(H', W', 3) uint8: ``image`` (C, H, W) in [0, 1] in gray/colour under ``heat`` (H, W) in the
    'jet' colour map, scaled to its own range (min -> 0, max -> 1; a range under 0.1%
    of the peak counts as flat); upscaled so the short side is >= ``min_size``."""
    img = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
    rgb = np.repeat(img[:1], 3, axis=0) if img.shape[0] != 3 else img
    rgb = rgb.transpose(1, 2, 0)
    heat = np.asarray(heat, dtype=np.float32)
    lo, hi = (float(heat.min()), float(heat.max())) if heat.size else (0.0, 0.0)
    # differences under 0.1% of the peak are rounding, not localisation: a flat map stays untinted
    spread = max(hi - lo, 1e-3 * abs(hi))
    level = np.clip((heat - lo) / spread, 0, 1) if spread > 0 else np.zeros_like(heat)
    colour = colormaps["jet"](level)[..., :3].astype(np.float32)
    blend = (1 - alpha * level[..., None]) * rgb + alpha * level[..., None] * colour
    out = Image.fromarray((np.clip(blend, 0, 1) * 255).round().astype(np.uint8))
    scale = max(1, -(-min_size // min(out.size)))
    if scale > 1:
        out = out.resize((out.width * scale, out.height * scale), Image.Resampling.BILINEAR)
    return np.asarray(out)


def overlay_png(image: np.ndarray, heat: np.ndarray, **kwargs) -> bytes:
    """:func:`overlay_rgb` encoded as PNG bytes."""
    buf = io.BytesIO()
    Image.fromarray(overlay_rgb(image, heat, **kwargs)).save(buf, format="PNG", optimize=True)
    return buf.getvalue()
