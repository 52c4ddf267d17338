"""Maps of a finished run: its fold models (the ensemble averages their maps) on prepared images."""

from __future__ import annotations

import numpy as np
import torch

from hqmed.errors import ConfigError
from hqmed.explain.cam import attribute, default_layer, find_layer
from hqmed.export.pipeline import RunProbabilities, run_members

__all__ = ["RunExplainer", "resolve_target"]


def resolve_target(target: str | int | None, class_names: list[str]) -> int | None:
    """``--target``: a class name or index -> index (None stays None: the predicted class)."""
    if target is None:
        return None
    if str(target) in class_names:
        return class_names.index(str(target))
    try:
        index = int(target)
    except (TypeError, ValueError):
        index = -1
    if not 0 <= index < len(class_names):
        raise ConfigError(f"--target: expected a class name ({', '.join(class_names)}) or an index "
                          f"0-{len(class_names) - 1}; got {target!r}")
    return index


class RunExplainer:
    """Heat maps and probabilities of the fold model(s) a :class:`~hqmed.train.rundir.RunPredictor`
    uses. An ensemble's map is the mean of its fold models' maps for the ensemble's target class."""

    def __init__(self, predictor):
        self.predictor = predictor
        self.members = run_members(predictor)
        self.probabilities = RunProbabilities(self.members).eval()

    def explain(self, images: np.ndarray, target: int | None = None, method: str = "gradcam",
                layer: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """PREPARED images (N, C, H, W) -> (maps (N, H, W), probabilities (N, K), targets (N,))."""
        x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).to(self.predictor.device)
        with torch.no_grad():
            probs = self.probabilities(x).double().cpu().numpy()
        targets = probs.argmax(axis=1) if target is None else np.full(len(x), int(target))
        inner = None
        if method != "saliency":  # a layer of the fold model, inside its NormalizedModel wrapper
            layer = layer or default_layer(self.members[0].model)
            find_layer(self.members[0].model, layer)
            inner = f"model.{layer}"
        maps = np.mean([attribute(m, x, targets, method, inner)[0] for m in self.members], axis=0)
        return maps.astype(np.float32), probs, targets.astype(np.int64)
