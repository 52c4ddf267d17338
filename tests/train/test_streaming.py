"""The streaming data path: on-disk store + virtual SMOTE + DataLoader workers give the same bytes
with 0 or 2 workers, and a SIGKILLed `hqmed train` resumed by the same command gives the same
predictions and metrics as an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from train_testutils import TinyNet, make_images

from hqmed.data.balancing import SmoteImages, smote_plan
from hqmed.data.store import StoredImages, StoreWriter
from hqmed.data.transforms import Augmentation
from hqmed.train.loader import Batches, batch_loader
from hqmed.train.trainer import Trainer

REPO = Path(__file__).resolve().parents[2]


def _stored(tmp_path, x):
    with StoreWriter(tmp_path / "store", x.shape[1:]) as w:
        for img in x:
            w.append(img)
        return StoredImages([w.commit()]).with_format(channels=3)


def _epoch_bytes(images, labels, workers):
    batches = Batches(images, labels, np.random.default_rng(0).permutation(len(labels)), 8,
                      augment=Augmentation({"crop": "pad", "crop_padding": 2}), seed=3, epoch=1,
                      drop_single=True)
    return [(x.numpy().tobytes(), y.numpy().tobytes()) for x, y in batch_loader(batches, workers)]


def test_batches_are_the_same_bytes_with_0_and_2_workers(tmp_path):
    x, y = make_images(n=41, k=3, size=8)
    y[:29] = 0  # imbalanced (33, 4, 4), so SMOTE synthesises up to 32 per class
    view = _stored(tmp_path, x)
    smoted = SmoteImages(view, smote_plan(view, y, target_per_class=32, seed=1))
    labels = smoted.plan.labels
    zero = _epoch_bytes(smoted, labels, 0)
    assert len(labels) == 97 and len(zero) == 12  # the final 1-row batch is dropped
    assert zero == _epoch_bytes(smoted, labels, 2)
    # and a later epoch draws other augmentations
    other = Batches(smoted, labels, np.arange(len(labels)), 8, augment=Augmentation(), seed=3, epoch=2)
    assert other[0][0].numpy().tobytes() != Batches(smoted, labels, np.arange(len(labels)), 8,
                                                   augment=Augmentation(), seed=3, epoch=1)[0][0].numpy().tobytes()


def test_trainer_results_do_not_depend_on_the_worker_count(tmp_path, tiny_cfg):
    x, y = make_images(n=60, k=3, size=8)
    view = _stored(tmp_path, x)
    runs = []
    for workers in (0, 2):
        cfg = tiny_cfg(num_workers=workers, epochs=2)
        torch.manual_seed(0)
        model = TinyNet(3, 3)
        trainer = Trainer(model, cfg, tmp_path / f"w{workers}", augment=Augmentation(),
                          normalize=lambda t: (t - 0.5) / 0.3)
        result = trainer.fit(view[np.arange(40)], y[:40], view[np.arange(40, 60)], y[40:])
        runs.append(([{k: v for k, v in r.items() if k != "seconds"} for r in result.history],
                     trainer.predict_proba(view).tobytes()))
    assert runs[0] == runs[1]


def test_bf16_autocast_step_runs_on_cpu(tmp_path, tiny_cfg):
    x, y = make_images(n=40, k=3, size=8)
    trainer = Trainer(TinyNet(1, 3), tiny_cfg(precision="bf16", channels_last=True, epochs=1),
                      tmp_path / "bf16")
    result = trainer.fit(x[:30], y[:30], x[30:], y[30:])
    assert np.isfinite(result.history[0]["train_loss"])
    assert trainer.model.conv.weight.dtype == torch.float32  # autocast, not a cast of the weights


# --------------------------------------------------------------------------- SIGKILL + resume


def _run(cmd: list[str], env: dict) -> None:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]


def _train_cmd(config: Path, out: Path, workers: int) -> list[str]:
    code = "import sys; from hqmed.cli import main; sys.exit(main(sys.argv[1:]))"
    return [sys.executable, "-c", code, "train", str(config), "--out", str(out), "--no-progress",
            "--set", f"num_workers={workers}"]


@pytest.mark.slow
def test_sigkill_then_same_command_gives_identical_results(tmp_path):
    from hqmed.data.phantoms import generate_phantom_dataset

    root = generate_phantom_dataset(tmp_path / "vindr", n_images=160, seed=2, difficulty=0.3,
                                    image_size=(128, 96))
    config = tmp_path / "exp.yaml"
    config.write_text(yaml.safe_dump({
        "name": "kill", "model": {"name": "litespinenet", "drop_rate": 0.2},
        "data": {"source": "vindr", "params": {"root": str(root), "image_size": 24,
                                               "cache_dir": str(tmp_path / "cache")}},
        "balancing": {"method": "smote", "target_per_class": 12},
        "augmentation": {"enabled": True, "hflip": 0.5, "vflip": 0.0},
        "optim": {"lr": 1e-3}, "batch_size": 16, "epochs": 3, "seed": 5, "num_threads": 1,
        "protocol": {"kind": "holdout", "val_fraction": 0.2}}))
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), HQMED_NO_PROGRESS="1")
    _run(_train_cmd(config, tmp_path / "full", 0), env)

    cut = tmp_path / "cut"
    proc = subprocess.Popen(_train_cmd(config, cut, 2), env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = cut / "fold_0" / "checkpoint" / "last.json"
    deadline = time.monotonic() + 600
    while not last.is_file() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the run and its loader workers, mid-training
    proc.wait()
    assert last.is_file() and not (cut / "DONE").exists(), "the run ended before it could be killed"
    _run(_train_cmd(config, cut, 2), env)
    for name in ("predictions.csv", "metrics.json", "splits.json"):
        assert (cut / name).read_bytes() == (tmp_path / "full" / name).read_bytes(), name
