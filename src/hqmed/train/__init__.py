"""hqmed.train: experiment configs, a deterministic resumable trainer, holdout/CV runs.

>>> from hqmed.train import load_config, run_experiment
>>> cfg = load_config("configs/examples/pneumonia-cv.yaml", ["epochs=2", "data.data_root=../shared/data"])
>>> run_dir = run_experiment(cfg, "runs/pneumonia")        # resumable; DONE marks a finished run

See docs/training.md for the config schema, the run-directory format and the protocols.
"""

from hqmed.train.config import ExperimentConfig, dump_config, load_config, parse_config
from hqmed.train.rundir import RunDir, RunPredictor
from hqmed.train.runner import run_experiment
from hqmed.train.trainer import FitResult, Trainer

__all__ = [
    "ExperimentConfig",
    "FitResult",
    "Trainer",
    "RunDir",
    "RunPredictor",
    "dump_config",
    "load_config",
    "parse_config",
    "run_experiment",
]
