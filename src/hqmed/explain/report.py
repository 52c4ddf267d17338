"""The report's "Where the models look" section: Grad-CAM of both models of each comparison, side
by side, on the same fixed test images (the first ``per_class`` of each class, in file order)."""

from __future__ import annotations

import base64
import html

import numpy as np

from hqmed.errors import HqmedError
from hqmed.explain.overlay import overlay_png
from hqmed.explain.run import RunExplainer
from hqmed.train.prepare import load_datasets
from hqmed.train.rundir import RunDir

__all__ = ["where_models_look", "fixed_images"]

PER_CLASS = 2
MAX_CLASSES = 10


def fixed_images(labels: np.ndarray, per_class: int = PER_CLASS, max_classes: int = MAX_CLASSES) -> np.ndarray:
    """Indices of the first ``per_class`` images of each of the first ``max_classes`` classes."""
    out = [np.flatnonzero(labels == c)[:per_class] for c in np.unique(labels[labels >= 0])[:max_classes]]
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def _img(png: bytes, alt: str) -> str:
    return (f'<img alt="{html.escape(alt)}" width="96" height="96" '
            f'src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">')


def _source_images(run_path, cache: dict):
    """(dataset subset of the fixed images, split name) for a run's data, loaded once per config."""
    cfg = RunDir(run_path).config()
    key = cfg.data.model_dump_json()
    if key not in cache:
        splits = load_datasets(cfg)
        name = cfg.data.test_split if cfg.data.test_split in splits else next(iter(splits))
        ds = splits[name]
        cache[key] = (ds.subset(fixed_images(ds.labels)), name)
    return cache[key]


def _maps(run_path, ds) -> tuple[list[bytes], np.ndarray]:
    predictor = RunDir(run_path).predictor(device="cpu")
    images = predictor.prepare(ds).images
    maps, probs, _ = RunExplainer(predictor).explain(images, None, "gradcam")
    return [overlay_png(im[:predictor.source_channels], m, min_size=96) for im, m in zip(images, maps)], probs


def where_models_look(study) -> tuple[str, str]:
    """(body HTML, "data" line) of the section for a :class:`~hqmed.report.results.StudyResults`;
    ("", "") when no comparison has both runs."""
    parts, data, cache = [], [], {}
    for c in study.comparisons:
        ra, rb = study.run(c["dataset"], c["a"]), study.run(c["dataset"], c["b"])
        if ra is None or rb is None:
            continue
        title = f"{c['dataset']}: {ra.label} vs {rb.label}"
        try:
            ds, split = _source_images(ra.path, cache)
            (pa, qa), (pb, qb) = _maps(ra.path, ds), _maps(rb.path, ds)
        except HqmedError as exc:  # data gone since the study ran: say so, keep the report
            parts.append(f"<h3>{html.escape(title)}</h3><p class=\"empty\">Images unavailable: "
                         f"{html.escape(str(exc))}</p>")
            continue
        names = ds.class_names
        data.append(f"{c['dataset']} {split} split, {len(ds)} images")
        rows = []
        for i in range(len(ds)):
            cells = [f"<td>{html.escape(names[int(ds.labels[i])])}</td>"]
            for png, prob, r in ((pa[i], qa[i], ra), (pb[i], qb[i], rb)):
                k = int(prob.argmax())
                cells.append(f"<td>{_img(png, f'{r.label}: Grad-CAM of {names[k]}')}<br>"
                             f"{html.escape(names[k])} ({prob[k]:.2f})</td>")
            rows.append("<tr>" + "".join(cells) + "</tr>")
        head = (f"<tr><th>true class</th><th>{html.escape(ra.label)}</th>"
                f"<th>{html.escape(rb.label)}</th></tr>")
        parts.append(f"<h3>{html.escape(title)}</h3><p>{split} split, first {PER_CLASS} images per "
                     f"class; each cell: Grad-CAM of the predicted class at the last convolutional "
                     f"stage, and the prediction (probability).</p>"
                     f'<table class="where-look">{head}{"".join(rows)}</table>')
    return "".join(parts), "; ".join(dict.fromkeys(data)) + ("." if data else "")
