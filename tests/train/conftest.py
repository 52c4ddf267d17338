"""Fixtures for the training tests (helpers live in train_testutils.py)."""

from __future__ import annotations

import pytest
import torch
from train_testutils import TinyNet, make_images

from hqmed.train.config import parse_config


@pytest.fixture
def tiny_data():
    return make_images()


@pytest.fixture
def tiny_cfg():
    def build(**overrides):
        raw = {"name": "tiny", "model": {"name": "tiny"}, "data": {"source": "memory"},
               "epochs": 3, "batch_size": 8, "seed": 7, "optim": {"lr": 0.05}}
        return parse_config(raw, [f"{k}={v}" for k, v in overrides.items()])
    return build


@pytest.fixture
def tiny_model(monkeypatch):
    """Make the runner build TinyNet whatever model name the config gives."""
    import hqmed.train.rundir as rundir
    import hqmed.train.runner as runner

    def build(cfg, num_classes, in_chans, seed):
        torch.manual_seed(seed)
        return TinyNet(in_chans, num_classes, drop_rate=0.2)

    monkeypatch.setattr(runner, "build_model", build)  # training
    monkeypatch.setattr(rundir, "build_model", build)  # reloading fold models
    return build
