"""Experiment configuration: one YAML file, validated once, with dotted command-line overrides.

A config names the model, the data source, balancing, augmentation, optimiser, batch size, epochs,
seed and protocol. Every section rejects unknown keys (``extra="forbid"``), so a typo is an error,
not a silently ignored setting. Errors are :class:`hqmed.errors.ConfigError` and name the file, the
dotted key, what was expected and what was got::

    cfg = load_config("configs/examples/pneumonia-cv.yaml", ["optim.lr=3e-4", "epochs=2"])
    text = dump_config(cfg)          # the resolved config, written to run_dir/config.yaml

Minimal YAML::

    name: pneumonia-lcnet
    model: {name: lcnet_050_tanh4}
    data: {source: medmnist, params: {flag: pneumoniamnist, root: medmnist}}
    protocol: {kind: cv, folds: 5}
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from hqmed.data.transforms import AugmentationConfig as TransformsConfig
from hqmed.errors import ConfigError
from hqmed.utils.io import load_yaml, read_yaml
from hqmed.utils.validation import bool_as_number_error, validate

__all__ = [
    "AugmentationConfig",
    "BalancingConfig",
    "DataConfig",
    "ExperimentConfig",
    "ModelConfig",
    "OptimConfig",
    "ProtocolConfig",
    "QuanvolutionConfig",
    "SelectionConfig",
    "apply_overrides",
    "dump_config",
    "load_config",
    "parse_config",
]


def _scalar_types(annotation: Any) -> set:
    """The plain types a field annotation admits (``int | None`` -> {int, NoneType})."""
    args = get_args(annotation)
    if not args:
        return {annotation}
    if get_origin(annotation) is Literal:
        return {type(a) for a in args}
    if get_origin(annotation) in (Union, UnionType):
        return set().union(*(_scalar_types(a) for a in args))
    return {get_origin(annotation)}


class Section(BaseModel):
    """Base of every section: unknown keys are errors, assignments are validated, numbers are
    finite (no ``.inf``/``.nan``) and a boolean is never read as a number (``epochs: true``)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, bool) and info.field_name in cls.model_fields:
            types = _scalar_types(cls.model_fields[info.field_name].annotation)
            if bool not in types and types & {int, float}:
                raise bool_as_number_error(value, "an integer" if int in types else "a number")
        return value


class ModelConfig(Section):
    """Which network to build through ``hqmed.models.create_model``."""

    name: str  # registry name, e.g. "lcnet_050_tanh4", "hq_lcnet_050", "hq_litespinenet"
    # Dropout probability before the classifier; None keeps the model's (paper's) default.
    drop_rate: float | None = Field(None, ge=0.0, lt=1.0)
    # Extra keyword arguments for create_model, e.g. quantum_block: closed_form, bridge: linear,
    # head: gap, stride_list: [1, 2, 2, 1, 2, 1], multi_backbone: true.
    kwargs: dict[str, Any] = Field(default_factory=dict)


class QuanvolutionConfig(Section):
    """Quantum input channels ("QC5"): the image plus 4 quanvolution channels (hqmed.data.quanvolution)."""

    enabled: bool = False
    stride: Literal[1, 2] = 1  # px step of the 2x2 patch window
    rotation: Literal["X", "Y"] = "Y"  # encoding gate of pi * pixel
    random_layers: bool = True  # RandomLayers after the encoding (the PennyLane demo's circuit)
    n_layers: int = Field(1, ge=1)  # RandomLayers layers (the demo uses 1)
    seed: int = 0  # seed of the RandomLayers weights
    cache_dir: str | None = None  # on-disk cache of computed channels (None = $HQMED_CACHE or ~/.hqmed/cache)


class DataConfig(Section):
    """The data source (``hqmed.data.load_source(source, **params)``) and how it is prepared."""

    source: str  # "medmnist" | "cifar10" | "vindr" | "phantoms" | "folder" | "yolo"
    params: dict[str, Any] = Field(default_factory=dict)  # keyword arguments of load_source
    # Folder that relative ``params.root`` paths are resolved against (CLI: --data-root).
    # None = relative to the current working directory.
    data_root: str | None = None
    image_size: int | None = Field(None, ge=8)  # px, square resize of every split (None = as loaded)
    channels: Literal[1, 3] | None = None  # 3: grey -> RGB by repetition; 1: RGB -> grey; None: keep
    quanvolution: QuanvolutionConfig = Field(default_factory=QuanvolutionConfig)
    # Which of the source's splits play which role ("all" when the source has no official split).
    train_split: str = "train"
    val_split: str | None = "val"
    test_split: str | None = "test"
    # Quick runs: keep at most this many images per split (stratified, seeded subsample).
    max_samples: int | None = Field(None, ge=2)
    # Two-class data: the positive class (name or index) of sensitivity/specificity/PPV/NPV, the
    # binary AUROC and the decision curves. None = index 1 (scikit-learn's pos_label).
    positive_class: str | int | None = None


class BalancingConfig(Section):
    """Class balancing, applied to the training portion only (per fold in CV)."""

    method: Literal["none", "smote", "weighted_sampler", "weighted_loss"] = "none"
    target_per_class: int | None = Field(None, ge=1)  # images per class after SMOTE (paper: 3,400)
    # SMOTE neighbour search: None = scikit-learn on one class held in memory as float32
    # (imbalanced-learn's own computation); N = exact search reading N images at a time (for
    # classes too big to hold; the same neighbours except at near-ties).
    neighbor_block: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _smote_needs_target(self) -> BalancingConfig:
        if self.method != "smote" and self.target_per_class is not None:
            raise ValueError(
                f"target_per_class is only used with method 'smote'; got method '{self.method}'"
            )
        return self


@dataclass
class AugmentationConfig(TransformsConfig):
    """Training-time augmentation, ``hqmed.data.transforms.Augmentation``, off unless ``enabled``.

    The LiteSpineNet paper's "random crops, horizontal and vertical flips, and opacity adjustments";
    order crop -> flips -> brightness -> contrast -> opacity -> clip. The other fields, their units,
    bounds and checks are ``hqmed.data.transforms.AugmentationConfig``'s (declared once, there).
    """

    enabled: bool = False


class OptimConfig(Section):
    """Optimiser and learning-rate schedule (stepped once per epoch)."""

    name: Literal["adam", "sgd"] = "adam"
    lr: float = Field(1e-3, gt=0.0)  # initial learning rate
    weight_decay: float = Field(0.0, ge=0.0)  # L2 penalty
    momentum: float = Field(0.9, ge=0.0, lt=1.0)  # SGD only
    schedule: Literal["none", "cosine", "step"] = "none"
    step_size: int = Field(10, ge=1)  # epochs between decays ("step")
    gamma: float = Field(0.1, gt=0.0, le=1.0)  # decay factor ("step")
    min_lr: float = Field(0.0, ge=0.0)  # floor of the cosine schedule


class ProtocolConfig(Section):
    """Holdout (train/val/test) or K-fold cross-validation with out-of-fold predictions."""

    kind: Literal["holdout", "cv"] = "holdout"
    # holdout: use the source's official train/val/test splits when it has them; otherwise (or
    # when False) split the pooled data with these fractions (stratified, group-aware).
    use_official_splits: bool = True
    val_fraction: float = Field(0.1, gt=0.0, lt=1.0)
    test_fraction: float = Field(0.1, ge=0.0, lt=1.0)
    # cv: folds over the pooled train (+ val) splits; the official test split stays untouched.
    folds: int = Field(5, ge=2)
    stratified: bool = True
    group_aware: bool = True  # keep each meta.group (patient/study) on one side of every split
    cv_include_val: bool = True  # pool the source's val split into the CV data
    evaluate_test: bool = True  # predict the test split with every fold's best model
    # Hyperparameter search runs: each fold trains on its training portion minus this stratified
    # (group-aware) fraction of it and is scored only on that inner validation part; the fold's
    # own validation part and the test split are never used (None: the protocol as above).
    inner_val: float | None = Field(None, gt=0.0, lt=1.0)

    @model_validator(mode="after")
    def _fractions(self) -> ProtocolConfig:
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ValueError(
                "val_fraction + test_fraction must be < 1; "
                f"got {self.val_fraction} + {self.test_fraction}"
            )
        return self


class SelectionConfig(Section):
    """Best-epoch selection and optional early stopping, never on the data that is scored.

    ``source: inner`` selects on an inner validation split carved (stratified, group-aware) from
    each fold's training portion (CV, or holdout without a test split); a holdout with a test
    split selects on its validation split and scores the test split. ``none`` trains on the whole
    training portion and keeps the last epoch.
    """

    source: Literal["inner", "none"] = "inner"
    inner_fraction: float = Field(0.15, gt=0.0, lt=0.5)  # of each training portion, for selection
    metric: Literal["val_loss", "val_acc", "val_auc"] = "val_loss"  # min for loss, max otherwise
    patience: int | None = Field(None, ge=1)  # epochs without improvement before stopping; None = never

    @model_validator(mode="after")
    def _patience_needs_selection(self) -> SelectionConfig:
        if self.source == "none" and self.patience is not None:
            raise ValueError("patience: expected null when source is 'none' (no selection data to "
                             f"stop on); got {self.patience}")
        return self


class ExperimentConfig(Section):
    """A whole experiment: everything that ``hqmed.train.runner.run_experiment`` needs."""

    name: str = "experiment"
    model: ModelConfig
    data: DataConfig
    balancing: BalancingConfig = Field(default_factory=BalancingConfig)
    augmentation: AugmentationConfig = Field(default_factory=AugmentationConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    batch_size: int = Field(32, ge=1)  # images per optimiser step
    eval_batch_size: int = Field(256, ge=1)  # images per forward pass in evaluation
    epochs: int = Field(10, ge=1)
    seed: int = Field(42, ge=0)  # seeds weights, shuffling, augmentation, splits and SMOTE
    protocol: ProtocolConfig = Field(default_factory=ProtocolConfig)
    selection: SelectionConfig = Field(default_factory=SelectionConfig)
    device: str = "auto"  # "auto" (CUDA, then MPS, else CPU), "cpu", "cuda" or "cuda:i"
    # Autocast dtype of the forward pass (quantum blocks always simulate in float32/complex64).
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    channels_last: bool = False  # NHWC memory format for the model and its input batches
    # DataLoader worker processes reading, synthesising and augmenting batches (results do not
    # depend on it: every sample's augmentation is seeded from (seed, epoch, position)).
    num_workers: int = Field(0, ge=0)
    log_every: int = Field(50, ge=1)  # steps between progress-bar loss readings (device syncs)
    num_threads: int | None = Field(None, ge=1)  # torch CPU threads (None = torch default)
    tensorboard: bool = False  # also write TensorBoard event files (needs the tensorboard package)


# ----------------------------------------------------------------------------------------------
# Loading, overrides, error messages


def parse_value(text: str) -> Any:
    """A CLI override value: YAML scalars/lists ("3e-4", "true", "[1, 2]", "null") or a string."""
    try:
        return load_yaml(text, "--set value")
    except ConfigError:
        return text


def apply_overrides(raw: dict, overrides: list[str] | None) -> dict:
    """Return a copy of ``raw`` with each ``"a.b.c=value"`` set (value parsed as YAML).

    A numeric part indexes into a list, e.g. ``sweeps.0.widths=[0.5, 1.0]`` or ``models.1.name=x``.
    """
    out = _deepcopy(raw)
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"--set '{item}': expected KEY=VALUE (e.g. optim.lr=1e-4); got no '='")
        key, text = item.split("=", 1)
        parts = [p for p in key.strip().split(".")]
        if not all(parts):
            raise ConfigError(f"--set '{item}': expected a dotted key like optim.lr; got '{key}'")
        node: Any = out
        for i, part in enumerate(parts):
            slot = _slot(node, part, item, ".".join(parts[:i]))
            if i == len(parts) - 1:
                node[slot] = parse_value(text)
                break
            child = node[slot] if isinstance(node, list) else node.get(slot)
            if child is None:
                child = node[slot] = {}
            if not isinstance(child, (dict, list)):
                prefix = ".".join(parts[: i + 1])
                raise ConfigError(
                    f"--set '{item}': expected '{prefix}' to be a section; got {child!r}"
                )
            node = child
    return out


def _slot(node: dict | list, part: str, item: str, prefix: str) -> str | int:
    """The key of ``node`` that ``part`` names: itself for a mapping, an in-range index for a list."""
    if not isinstance(node, list):
        return part
    if not part.isdigit() or int(part) >= len(node):
        raise ConfigError(f"--set '{item}': expected an index 0..{len(node) - 1} into the list "
                          f"'{prefix}'; got '{part}'")
    return int(part)


def _deepcopy(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _deepcopy(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_deepcopy(v) for v in obj]
    return obj


def parse_config(raw: Any, overrides: list[str] | None = None, source: str = "<config>") -> ExperimentConfig:
    """Validate a config given as a dict (e.g. one entry of a study file)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping of config keys; got {type(raw).__name__}")
    return validate(ExperimentConfig, apply_overrides(raw, overrides), source, overrides)


def load_config(path: str | os.PathLike, overrides: list[str] | None = None) -> ExperimentConfig:
    """Read, override and validate a YAML experiment config."""
    return parse_config(read_yaml(path), overrides, source=str(path))


def dump_config(cfg: ExperimentConfig) -> str:
    """The resolved config (every default filled in) as YAML; ``load_config`` reads it back."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
