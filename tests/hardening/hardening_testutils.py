"""Helpers for the hardening tests: small generated image folders and a tiny experiment config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def write_class_folder(root: Path, classes: dict[str, int], size: int = 16, seed: int = 0) -> Path:
    """``root/<class>/<i>.png``: gray PNGs whose brightness depends on the class (learnable)."""
    rng = np.random.default_rng(seed)
    for k, (name, n) in enumerate(classes.items()):
        d = root / name
        d.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            pix = np.clip(rng.normal(60 + 120 * k, 30, (size, size)), 0, 255).astype(np.uint8)
            Image.fromarray(pix).save(d / f"{i}.png")
    return root


TINY_CONFIG = """\
name: tiny
model: {{name: litespinenet, kwargs: {{head: gap}}}}
data: {{source: folder, params: {{root: {root}, image_size: 16, channels: 1}}}}
epochs: {epochs}
batch_size: 8
num_threads: 1
protocol: {{kind: holdout, val_fraction: 0.3, test_fraction: 0.2}}
"""


def write_config(path: Path, data_root: Path, epochs: int = 1) -> Path:
    path.write_text(TINY_CONFIG.format(root=data_root, epochs=epochs), encoding="utf-8")
    return path
