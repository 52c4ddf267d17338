"""A finished run's fold models as plain torch modules: prepared image -> logits / probabilities.

``NormalizedModel`` puts a fold's training-split normaliser in front of its model, so gradients
(``hqmed explain``) and exported graphs (``hqmed export``) start from the prepared image in
[0, 1]; ``RunProbabilities`` averages the softmax of several of them, like ``hqmed predict``'s
ensemble.
"""

from __future__ import annotations

import torch
from torch import nn

from hqmed.data.transforms import Normalizer
from hqmed.train.rundir import RunPredictor

__all__ = ["NormalizedModel", "RunProbabilities"]


class NormalizedModel(nn.Module):
    """``model((x - mean) / std)``: one fold's model with its normaliser; (N, C, H, W) -> logits."""

    def __init__(self, model: nn.Module, normalizer: Normalizer):
        super().__init__()
        self.model = model
        c = len(normalizer.mean)
        self.register_buffer("mean", torch.as_tensor(normalizer.mean, dtype=torch.float32).view(1, c, 1, 1))
        self.register_buffer("std", torch.as_tensor(normalizer.std, dtype=torch.float32).view(1, c, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model((x - self.mean) / self.std)


class RunProbabilities(nn.Module):
    """Mean softmax probabilities of the fold models (one model: its own); (N, C, H, W) -> (N, K)."""

    def __init__(self, members: list[NormalizedModel]):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probs = [torch.softmax(m(x), dim=1) for m in self.members]
        return torch.stack(probs).mean(dim=0) if len(probs) > 1 else probs[0]


def run_members(predictor: RunPredictor) -> list[NormalizedModel]:
    """One :class:`NormalizedModel` (eval mode, on ``predictor.device``) per fold that ``predictor`` uses."""
    return [NormalizedModel(model, norm).to(predictor.device).eval() for model, norm in predictor.models]
