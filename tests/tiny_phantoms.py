"""The tiny synthetic-phantom experiment and study that the slow end-to-end tests train.

One epoch of 2-fold CV on the ROI crops (32 px) of ``n_images`` phantom radiographs (128 x 96),
seeded: seconds per run on a CPU. Imported by name (``from tiny_phantoms import tiny_study``): the
suite's root folder is on sys.path, as for ``runtime_deps``.
"""

from __future__ import annotations

from typing import Any

from hqmed.study.config import deep_merge


def tiny_experiment(model: str = "litespinenet", root: str = "{out}/data/ph", n_images: int = 96,
                    **overrides: Any) -> dict:
    """An experiment config mapping; ``overrides`` are deep-merged over it (e.g. ``num_threads=1``)."""
    kwargs = {"stride_list": [1, 1, 2, 2, 2]} if "lcnet" in model else {}
    exp = {
        "model": {"name": model, **({"kwargs": kwargs} if kwargs else {})},
        "data": {"source": "phantoms",
                 "params": {"root": root, "n_images": n_images, "seed": 0, "difficulty": 0.2,
                            "image_size": 32, "radiograph_size": [128, 96]}},
        "batch_size": 16, "epochs": 1, "seed": 1,
        "protocol": {"kind": "cv", "folds": 2, "group_aware": False},
    }
    return deep_merge(exp, overrides)


def tiny_study(models: list[str], comparisons: list[tuple[str, str]] = (), *,
               base: dict | None = None, n_images: int = 96, **sections: Any) -> dict:
    """A study mapping named "tiny" on the one phantom dataset: ``models`` (registry names) on
    :func:`tiny_experiment` (plus ``base``), ``comparisons`` as (a, b), 20 bootstrap resamples;
    ``sections`` add or replace top-level keys (name, cost, external, search, ...)."""
    return {
        "name": "tiny",
        "base": tiny_experiment(n_images=n_images, **(base or {})),
        "datasets": [{"name": "phantoms"}],
        "models": [{"name": m} for m in models],
        "comparisons": [{"a": a, "b": b} for a, b in comparisons],
        "statistics": {"n_boot": 20},
        **sections,
    }
