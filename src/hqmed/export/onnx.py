"""A finished run as one ONNX graph: prepared image (N, C, H, W) in [0, 1] -> probabilities (N, K).

Inside the graph: each fold's training-split normaliser, its model with the quantum block folded
to real matrix products (:mod:`hqmed.export.fold`), softmax, and the mean over the fold models
(``fold="ensemble"``). Beside it (``model.json``): reading, channels and resize, which happen
before the graph exactly as in ``hqmed predict``, plus the class names.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import torch

from hqmed import __version__
from hqmed.errors import ConfigError
from hqmed.export.fold import fold_for_export
from hqmed.export.pipeline import RunProbabilities, run_members
from hqmed.utils.io import atomic_write_bytes, atomic_write_json

__all__ = ["export_onnx", "onnx_bytes", "OPSET"]

OPSET = 17


def _preprocessing(predictor, onnx_name: str) -> dict:
    c, h, w = predictor.input_shape
    return {
        "format": "onnx", "opset": OPSET, "graph": onnx_name, "hqmed_version": __version__,
        "run": str(predictor.run_dir), "model": predictor.cfg.model.name,
        "folds": predictor.folds, "description": predictor.description,
        "input": {"name": "image", "shape": ["N", c, h, w], "dtype": "float32", "range": [0.0, 1.0]},
        "output": {"name": "probabilities", "shape": ["N", len(predictor.class_names)],
                   "class_names": predictor.class_names},
        "preprocessing": {
            "read": "hqmed.data.base.read_image_file: DICOM (modality LUT, VOI LUT or window, MONOCHROME1 "
                    "inverted) or PNG/JPEG, scaled to [0, 1]",
            "channels": predictor.source_channels,
            "resize": {"size": [h, w], "method": "bilinear, antialiased, align_corners=False "
                       "(torch.nn.functional.interpolate), then clipped to [0, 1]"},
            "in_graph": ["per-channel normaliser of each fold's training split", "model",
                         "softmax", "mean over fold models"],
        },
    }


def onnx_bytes(module: torch.nn.Module, example: torch.Tensor, output: str = "output") -> bytes:
    """``module`` (already folded: see :func:`~hqmed.export.fold.fold_for_export`) as an ONNX
    model with input ``image`` and one output, both with a dynamic batch axis."""
    buf = io.BytesIO()
    with warnings.catch_warnings():
        # the TorchScript exporter (dynamo=False) is deprecated, but the dynamo one needs
        # onnxscript, which hqmed does not depend on; the graph is checked by onnxruntime in tests
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(module.eval(), (example,), buf, dynamo=False, opset_version=OPSET,
                          input_names=["image"], output_names=[output],
                          dynamic_axes={"image": {0: "N"}, output: {0: "N"}})
    return buf.getvalue()


def export_onnx(predictor, out: str | Path) -> tuple[Path, Path]:
    """Write ``predictor``'s model(s) to ``out`` (.onnx) and the preprocessing JSON beside it
    (same name, ``.json``). Returns both paths. ``predictor`` must be on the CPU."""
    if predictor.cfg.data.quanvolution.enabled:
        raise ConfigError(f"{predictor.run_dir}: expected a run without quanvolution input channels "
                          "(they are computed outside the model); got data.quanvolution.enabled=true")
    out = Path(out)
    if out.suffix != ".onnx":
        raise ConfigError(f"--out: expected a file name ending in .onnx; got {str(out)!r}")
    example = torch.zeros(1, *predictor.input_shape)
    members = run_members(predictor)
    for m in members:
        m.model = fold_for_export(m.model, (example - m.mean) / m.std)
    atomic_write_bytes(out, onnx_bytes(RunProbabilities(members).eval(), example, "probabilities"))
    meta = out.with_suffix(".json")
    atomic_write_json(meta, _preprocessing(predictor, out.name))
    return out, meta
