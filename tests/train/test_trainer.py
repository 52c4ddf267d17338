"""Trainer: determinism, kill-and-resume equals uninterrupted, checkpoints, selection, schedules."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from train_testutils import TinyNet, make_images

from hqmed.train.checkpoint import load_weights
from hqmed.train.trainer import Trainer, lr_at, quick_auc


def flip_augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Random horizontal flips + brightness jitter drawn from the trainer's generator."""
    flip = torch.rand(x.shape[0], generator=g) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    return x + 0.05 * torch.rand(x.shape[0], 1, 1, 1, generator=g)


class Killed(RuntimeError):
    pass


def _strip(history):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


def _fit(cfg, ckpt, data, *, init_seed=0, callbacks=(), resume=True, sample_weights=None):
    x, y = data
    torch.manual_seed(init_seed)
    model = TinyNet()
    trainer = Trainer(model, cfg, ckpt, augment=flip_augment, normalize=lambda t: (t - 0.5) / 0.3,
                      sample_weights=sample_weights, callbacks=callbacks)
    result = trainer.fit(x[:40], y[:40], x[40:], y[40:], resume=resume)
    return result, model, trainer


def test_same_seed_same_metrics_and_weights(tmp_path, tiny_cfg, tiny_data):
    cfg = tiny_cfg()
    r1, m1, _ = _fit(cfg, tmp_path / "a", tiny_data)
    r2, m2, _ = _fit(cfg, tmp_path / "b", tiny_data)
    assert _strip(r1.history) == _strip(r2.history)
    for (k, a), b in zip(m1.state_dict().items(), m2.state_dict().values()):
        assert torch.equal(a, b), k
    # a different seed changes shuffling/augmentation/dropout, hence the training curve
    r3, _, _ = _fit(tiny_cfg(seed=8), tmp_path / "c", tiny_data)
    assert _strip(r3.history) != _strip(r1.history)


@pytest.mark.parametrize("sampler", [False, True])
def test_killed_then_resumed_equals_uninterrupted(tmp_path, tiny_cfg, tiny_data, sampler):
    cfg = tiny_cfg(epochs=4, **{"model.drop_rate": 0.2})
    weights = np.linspace(1.0, 2.0, 40) if sampler else None
    full, m_full, t_full = _fit(cfg, tmp_path / "full", tiny_data, sample_weights=weights)

    def kill_after_two(row):
        if row["epoch"] == 2:
            raise Killed("simulated kill after the epoch-2 checkpoint")

    with pytest.raises(Killed):
        _fit(cfg, tmp_path / "cut", tiny_data, callbacks=[kill_after_two], sample_weights=weights)
    state = json.loads((tmp_path / "cut" / "last.json").read_text())
    assert state["epoch"] == 2 and not state["finished"]
    # resume into a model initialised differently: everything must come from the checkpoint
    resumed, m_res, t_res = _fit(cfg, tmp_path / "cut", tiny_data, init_seed=123, sample_weights=weights)
    assert len(resumed.history) == 4
    assert _strip(resumed.history) == _strip(full.history)
    assert resumed.best_epoch == full.best_epoch
    for (k, a), b in zip(m_full.state_dict().items(), m_res.state_dict().values()):
        assert torch.equal(a, b), k
    x, _ = tiny_data
    np.testing.assert_array_equal(t_full.predict_proba(x), t_res.predict_proba(x))


def test_no_resume_starts_again(tmp_path, tiny_cfg, tiny_data):
    cfg = tiny_cfg(epochs=2)
    first, _, _ = _fit(cfg, tmp_path / "r", tiny_data)
    again, _, _ = _fit(cfg, tmp_path / "r", tiny_data, resume=False)
    assert _strip(again.history) == _strip(first.history)
    # resuming a finished fit trains nothing more and returns the stored history
    done, _, _ = _fit(cfg, tmp_path / "r", tiny_data, init_seed=99)
    assert _strip(done.history) == _strip(first.history)


def test_checkpoint_files_and_best_epoch_restored(tmp_path, tiny_cfg, tiny_data):
    cfg = tiny_cfg(epochs=4, **{"selection.metric": "val_acc"})
    result, model, _ = _fit(cfg, tmp_path / "ck", tiny_data)
    ck = tmp_path / "ck"
    assert {p.name for p in ck.iterdir()} >= {"last.safetensors", "last.json", "best.safetensors"}
    state = json.loads((ck / "last.json").read_text())
    assert state["epoch"] == 4 and state["finished"]
    assert set(state["rng"]) == {"python", "numpy"}
    accs = [row["val_acc"] for row in result.history]
    assert result.best_epoch == int(np.argmax(accs)) + 1  # first maximum wins ties
    best = load_weights(ck / "best.safetensors")
    for k, v in model.state_dict().items():
        assert torch.equal(best[k], v), k
    # last.safetensors also holds the optimiser's tensors (Adam moments) and RNG states
    from safetensors.torch import load_file

    keys = load_file(str(ck / "last.safetensors")).keys()
    assert any(k.startswith("optim.") and k.endswith("exp_avg") for k in keys)
    assert {"rng.torch", "rng.generator"} <= set(keys)
    # logs
    assert (tmp_path / "log.jsonl").read_text().count("\n") == 4
    assert (tmp_path / "history.csv").read_text().splitlines()[0].startswith("fold,epoch,train_loss")


def test_early_stopping(tmp_path, tiny_cfg, tiny_data):
    cfg = tiny_cfg(epochs=30, **{"selection.patience": 1, "optim.lr": 5.0})
    result, _, _ = _fit(cfg, tmp_path / "es", tiny_data)
    assert result.stopped_early and len(result.history) < 30
    assert len(result.history) - result.best_epoch == 1


def test_class_weights_change_training(tmp_path, tiny_cfg, tiny_data):
    x, y = tiny_data
    cfg = tiny_cfg(epochs=1)
    out = []
    for w in (None, np.array([1.0, 1.0, 5.0])):
        torch.manual_seed(0)
        trainer = Trainer(TinyNet(), cfg, tmp_path / str(w is None), class_weights=w)
        out.append(trainer.fit(x[:40], y[:40], x[40:], y[40:]).history[0]["train_loss"])
    assert out[0] != out[1]


def test_lr_schedules(tiny_cfg):
    cfg = tiny_cfg(**{"optim.schedule": "step", "optim.step_size": 2, "optim.gamma": 0.5}).optim
    assert [lr_at(e, cfg, 6) for e in range(5)] == pytest.approx([0.05, 0.05, 0.025, 0.025, 0.0125])
    cfg = tiny_cfg(**{"optim.schedule": "cosine", "optim.min_lr": 0.01}).optim
    assert lr_at(0, cfg, 10) == pytest.approx(0.05)
    assert lr_at(5, cfg, 10) == pytest.approx(0.03)
    # against torch's own CosineAnnealingLR
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.05)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10, eta_min=0.01)
    for e in range(10):
        assert lr_at(e, cfg, 10) == pytest.approx(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()


def test_quick_auc_matches_sklearn():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 50)
    p = rng.dirichlet(np.ones(3), 50)
    assert quick_auc(y, p) == pytest.approx(roc_auc_score(y, p, multi_class="ovr", average="macro"))
    assert quick_auc(y % 2, p[:, :2] / p[:, :2].sum(1, keepdims=True)) == pytest.approx(
        roc_auc_score(y % 2, p[:, 1] / p[:, :2].sum(1)))
    assert math.isnan(quick_auc(np.zeros(5, int), p[:5]))


def test_make_images_is_learnable():
    x, y = make_images()
    assert x.shape == (60, 1, 8, 8) and set(y) == {0, 1, 2}


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_unavailable_device_is_a_config_error(tmp_path, tiny_cfg):
    from hqmed.errors import ConfigError

    with pytest.raises(ConfigError, match="device: expected .*got 'cuda' but CUDA is not available"):
        Trainer(TinyNet(), tiny_cfg(device="cuda"), tmp_path)
