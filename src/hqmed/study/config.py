"""Study configuration: datasets x models under one protocol, then pairwise comparisons.

A study YAML holds a ``base`` experiment (an :class:`hqmed.train.config.ExperimentConfig` as a
mapping), a list of ``datasets`` and a list of ``models`` whose ``overrides`` are deep-merged onto
the base, optional LCNet-style width ``sweeps`` that expand into classical/hybrid model pairs, the
declared ``comparisons``, statistics settings, optional ``external`` validation and ``cost``. Every
section rejects unknown keys; every expanded run is validated as an ExperimentConfig when the study
is loaded, so a typo fails before any training starts. Minimal example::

    name: demo
    base: {model: {name: litespinenet}, data: {source: phantoms}, protocol: {kind: cv, folds: 3}}
    datasets: [{name: phantoms, data: {params: {root: "{out}/data/phantoms", n_images: 300}}}]
    models: [{name: litespinenet}, {name: hq_litespinenet}]
    comparisons: [{a: litespinenet, b: hq_litespinenet}]

Strings may use ``{out}`` (the study's output folder) and ``{data_root}`` (``--data-root``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from hqmed.data.registry import get_loader, source_params
from hqmed.errors import ConfigError
from hqmed.quantum.scaling import parse_qubit_range
from hqmed.train.config import ExperimentConfig, apply_overrides
from hqmed.train.config import Section as ConfigSection
from hqmed.utils.io import read_yaml
from hqmed.utils.validation import validate

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


class _Section(ConfigSection):
    """Unknown keys are errors; numbers are finite and never booleans (as in experiment configs)."""


def _check_name(v: str) -> str:
    if not NAME_RE.match(v):
        raise ValueError(f"expected a name of letters, digits, '_', '.', '+' or '-' (it becomes a "
                         f"folder name); got {v!r}")
    return v


class ReferenceSpec(_Section):
    """A published result for a dataset, shown as a row beside the study's runs."""

    name: str  # e.g. "ResNet-18 (28)"
    source: str  # where the numbers come from, e.g. "MedMNIST v2, Yang et al., Sci Data 2023, Table 2"
    split: str = "test"
    metrics: dict[str, float]  # hqmed metric names: accuracy, auroc_macro, ...


class DatasetSpec(_Section):
    """One dataset: a name (folder under runs/) and the ``data`` section merged into the base."""

    name: str
    data: dict[str, Any] = Field(default_factory=dict)  # merged into base.data (source, params, ...)
    overrides: dict[str, Any] = Field(default_factory=dict)  # merged into the whole experiment
    synthetic: bool | None = None  # None: synthetic when data.source == "phantoms"
    reference: ReferenceSpec | None = None  # published result shown beside the runs

    _name = field_validator("name")(_check_name)


class ModelSpec(_Section):
    """One model of the study: run name, registry model (or overrides of base.model), extras."""

    name: str  # run folder name, unique in the study
    model: str | dict[str, Any] | None = None  # registry name, or a ModelConfig mapping; None: name
    label: str | None = None  # shown in the report (default: name)
    kind: Literal["classical", "hybrid", "ablation", "other"] = "other"
    overrides: dict[str, Any] = Field(default_factory=dict)  # merged into the experiment
    datasets: list[str] | None = None  # restrict to these datasets (None = all)

    _name = field_validator("name")(_check_name)


class SweepSpec(_Section):
    """LCNet-paper width sweep: for each width, a classical and a hybrid model, compared.

    ``classical``/``hybrid`` are registry names with ``{w}`` for the width code (0.5 -> "050",
    0.75 -> "075", 2.0 -> "200"). ``ablations`` adds, per width, the hybrid with extra model
    overrides (e.g. ``{quantum_block: closed_form}`` as create_model kwargs), each compared with the
    quantum hybrid. Run names are the model names plus ``suffix`` (plus "-<ablation>").
    """

    name: str
    widths: list[float] = Field(min_length=1)
    classical: str = "lcnet_{w}_tanh4"
    hybrid: str = "hq_lcnet_{w}"
    suffix: str = ""
    overrides: dict[str, Any] = Field(default_factory=dict)
    ablations: dict[str, dict[str, Any]] = Field(default_factory=dict)  # name -> model kwargs
    datasets: list[str] | None = None

    @field_validator("widths")
    @classmethod
    def _widths(cls, v: list[float]) -> list[float]:
        bad = [w for w in v if w not in (0.5, 0.75, 1.0, 1.5, 2.0)]
        if bad:
            raise ValueError(f"expected widths among 0.5, 0.75, 1.0, 1.5, 2.0 (the LCNet scales); "
                             f"got {bad}")
        return v


class ComparisonSpec(_Section):
    """A declared pairwise comparison: A is the reference (classical), B the candidate (hybrid)."""

    a: str
    b: str
    datasets: list[str] | None = None


class StatisticsSpec(_Section):
    alpha: float = Field(0.01, gt=0, lt=1)  # t-test significance level (paper: 0.01)
    ci_level: float = Field(0.99, gt=0, lt=1)  # class-wise bootstrap CI level (paper: 99 %)
    n_boot: int = Field(1000, ge=10)  # bootstrap resamples
    seed: int = 0  # bootstrap seed
    dca_thresholds: list[float] | None = None  # None: 0.01 ... 0.99
    # threshold probabilities of the report's net-benefit table (read off the decision curves)
    net_benefit_thresholds: list[float] = Field(
        default_factory=lambda: [0.05, 0.1, 0.2, 0.3, 0.4, 0.5], min_length=1)

    @field_validator("net_benefit_thresholds")
    @classmethod
    def _probabilities(cls, v: list[float]) -> list[float]:
        if any(not 0.0 < x < 1.0 for x in v):
            raise ValueError(f"expected threshold probabilities, each in (0, 1); got {v}")
        return sorted(v)


class ExternalSpec(_Section):
    """Inference-only validation on another data source (labels, if any, are ignored)."""

    name: str
    data: dict[str, Any]  # a DataConfig mapping: source, params, image_size, ...
    split: str | None = None  # which split of the source (None: "all", else "test", else first)
    datasets: list[str] | None = None  # trained datasets whose runs are applied (None = all)
    models: list[str] | None = None  # run names (None = all)
    description: str = ""
    # Generate a synthetic phantom dataset first (hqmed.data.phantoms.generate_phantom_dataset
    # keyword arguments, incl. root), e.g. to validate on unlabelled phantom radiographs.
    phantoms: dict[str, Any] | None = None

    _name = field_validator("name")(_check_name)


class CostSpec(_Section):
    enabled: bool = True
    timing: bool = True  # False: counts only (params, FLOPs, circuit resources), no timings
    repeats: int = Field(20, ge=2)  # timed inference blocks (pairs, when two models are compared)
    train_repeats: int = Field(10, ge=2)  # timed training steps (pairs, when compared)
    threads: int | None = Field(1, ge=1)  # torch threads pinned while timing (None: unpinned)
    datasets: list[str] | None = None  # dataset whose input shape is used (None: the first)
    qubits: str | None = None  # e.g. "4:16:2": simulated-cost curve of the quantum layer vs n (report plot)
    qubits_batch: int = Field(32, ge=1)  # batch of the timed calls of that curve
    qubits_budget_s: float = Field(20.0, gt=0)  # seconds one call may take; larger n are skipped

    @field_validator("qubits")
    @classmethod
    def _qubit_range(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                parse_qubit_range(v)
            except ConfigError as exc:  # pydantic reports ValueErrors with the key's path
                raise ValueError(str(exc).removeprefix("--qubits: ")) from None
        return v


SEARCH_KEYS = ("optim.lr", "batch_size", "model.drop_rate", "optim.weight_decay")


class SearchSpec(_Section):
    """Hyperparameter search (hqmed.study.search), nested in the study's protocol.

    Either a ``grid`` (every combination of the listed values) or ``n_trials`` points drawn with
    ``seed`` from ``ranges`` ([low, high]: log-uniform for optim.lr, uniform for model.drop_rate
    and optim.weight_decay; for batch_size the list of choices). Each point is trained on every
    fold's training portion minus ``inner_val`` of it and scored on that inner part with
    ``metric``; each fold then takes its best point, and the study's run is trained that way.
    """

    grid: dict[str, list[int | float]] = Field(default_factory=dict)
    ranges: dict[str, list[int | float]] = Field(default_factory=dict)
    n_trials: int | None = Field(None, ge=1)
    seed: int = 0  # random sampling seed
    metric: Literal["val_loss", "val_acc", "val_auc"] | None = None  # None: base selection.metric
    inner_val: float = Field(0.2, gt=0.0, lt=1.0)  # fraction of each training portion
    models: list[str] | None = None  # searched models (None = all)
    datasets: list[str] | None = None  # searched datasets (None = all)

    @field_validator("grid", "ranges")
    @classmethod
    def _keys(cls, v: dict) -> dict:
        bad = sorted(set(v) - set(SEARCH_KEYS))
        if bad:
            raise ValueError(f"expected keys among {list(SEARCH_KEYS)}; got {bad}")
        empty = sorted(k for k, vals in v.items() if not vals)
        if empty:
            raise ValueError(f"expected a non-empty list of values per key; got empty lists for {empty}")
        return v

    @model_validator(mode="after")
    def _one_kind(self) -> SearchSpec:
        if bool(self.grid) == (self.n_trials is not None):
            raise ValueError("expected either grid, or n_trials with ranges; got "
                             + ("both" if self.grid else "neither"))
        if self.n_trials is not None and not self.ranges:
            raise ValueError("expected ranges to draw n_trials points from; got none")
        for k, v in self.ranges.items():
            if k != "batch_size" and (len(v) != 2 or v[0] > v[1] or v[0] < 0):
                raise ValueError(f"expected ranges.{k} as [low, high] with 0 <= low <= high; got {v}")
        if "optim.lr" in self.ranges and self.ranges["optim.lr"][0] <= 0:
            raise ValueError("expected ranges.optim.lr low > 0 (it is log-scaled); "
                             f"got {self.ranges['optim.lr']}")
        return self


class DiagnosticsSpec(_Section):
    """``diagnostics:``: "Inside the quantum block" for every run whose model has one."""

    enabled: bool = False
    qubits: list[int] = Field(default_factory=lambda: [2, 4, 6, 8], min_length=2)  # BP curve
    layers: list[int] = Field(default_factory=lambda: [1, 2, 3])  # BP curve over layers
    inits: int = Field(20, ge=2)  # random initialisations per estimate
    inputs: int = Field(64, ge=2)  # random inputs in [-pi, pi] per initialisation
    pairs: int = Field(500, ge=2)  # state pairs for expressibility
    max_samples: int = Field(256, ge=2)  # data samples (the run's test split) for on-data numbers
    seed: int = 0

    @field_validator("qubits", "layers")
    @classmethod
    def _positive(cls, v: list[int]) -> list[int]:
        if any(isinstance(x, bool) or x < 1 for x in v):
            raise ValueError(f"expected ints >= 1; got {v}")
        return v


class StudyConfig(_Section):
    name: str
    title: str | None = None
    description: str = ""
    base: dict[str, Any]
    datasets: list[DatasetSpec] = Field(min_length=1)
    models: list[ModelSpec] = Field(default_factory=list)
    sweeps: list[SweepSpec] = Field(default_factory=list)
    comparisons: list[ComparisonSpec] = Field(default_factory=list)
    statistics: StatisticsSpec = Field(default_factory=StatisticsSpec)
    external: list[ExternalSpec] = Field(default_factory=list)
    cost: CostSpec = Field(default_factory=CostSpec)
    search: SearchSpec | None = None

    diagnostics: DiagnosticsSpec = Field(default_factory=DiagnosticsSpec)


# ------------------------------------------------------------------------------------------------
# Expansion
# ------------------------------------------------------------------------------------------------

def width_code(w: float) -> str:
    """0.5 -> "050", 0.75 -> "075", 1.0 -> "100", 2.0 -> "200" (the registry's LCNet names)."""
    return f"{round(w * 100):03d}"


def deep_merge(base: Any, extra: Any) -> Any:
    """Mappings merge key by key (recursively); anything else in ``extra`` replaces ``base``."""
    if isinstance(base, dict) and isinstance(extra, dict):
        out = dict(base)
        for k, v in extra.items():
            out[k] = deep_merge(base.get(k), v) if k in base else v
        return out
    return extra


def substitute(obj: Any, values: dict[str, str]) -> Any:
    """Replace ``{out}``/``{data_root}`` in every string of ``obj`` (other braces are kept)."""
    if isinstance(obj, str):
        for k, v in values.items():
            obj = obj.replace("{" + k + "}", v)
        return obj
    if isinstance(obj, dict):
        return {k: substitute(v, values) for k, v in obj.items()}
    if isinstance(obj, list):
        return [substitute(v, values) for v in obj]
    return obj


def expand_sweeps(cfg: StudyConfig) -> tuple[list[ModelSpec], list[dict]]:
    """Models and comparisons (with sweep name and width) generated by ``cfg.sweeps``."""
    models: list[ModelSpec] = []
    comps: list[dict] = []
    for sw in cfg.sweeps:
        for w in sw.widths:
            code = width_code(w)
            cls_name, hyb_name = sw.classical.format(w=code), sw.hybrid.format(w=code)
            cls_run, hyb_run = cls_name + sw.suffix, hyb_name + sw.suffix
            models.append(ModelSpec(name=cls_run, model=cls_name, kind="classical",
                                    overrides=sw.overrides, datasets=sw.datasets))
            models.append(ModelSpec(name=hyb_run, model=hyb_name, kind="hybrid",
                                    overrides=sw.overrides, datasets=sw.datasets))
            comps.append({"a": cls_run, "b": hyb_run, "sweep": sw.name, "width": w,
                          "datasets": sw.datasets})
            for abl, kwargs in sw.ablations.items():
                run = f"{hyb_run}-{abl}"
                models.append(ModelSpec(name=run, model={"name": hyb_name, "kwargs": kwargs},
                                        kind="ablation", overrides=sw.overrides,
                                        datasets=sw.datasets, label=f"{hyb_run} ({abl})"))
                comps.append({"a": run, "b": hyb_run, "sweep": f"{sw.name}: {abl} → quantum",
                              "width": w, "datasets": sw.datasets})
    return models, comps


def parse_study(raw: Any, source: str = "<study>", overrides: list[str] | None = None) -> StudyConfig:
    """Validate a study mapping; ``overrides``: the ``--set`` items already applied to it (an
    error at a key one of them set names that flag instead of ``source``)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping with keys name, base, datasets, models; "
                          f"got {type(raw).__name__}")
    cfg = validate(StudyConfig, raw, source, overrides)
    _check_references(cfg, source)
    return cfg


def all_models(cfg: StudyConfig) -> list[ModelSpec]:
    return list(cfg.models) + expand_sweeps(cfg)[0]


def all_comparisons(cfg: StudyConfig) -> list[dict]:
    out = [c.model_dump() | {"sweep": None, "width": None} for c in cfg.comparisons]
    return out + expand_sweeps(cfg)[1]


def _check_references(cfg: StudyConfig, source: str) -> None:
    models = all_models(cfg)
    names = [m.name for m in models]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"{source}: models: expected unique run names; got duplicates {dup}")
    ds_names = [d.name for d in cfg.datasets]
    if len(set(ds_names)) != len(ds_names):
        raise ConfigError(f"{source}: datasets: expected unique names; got {ds_names}")
    for c in all_comparisons(cfg):
        for side in ("a", "b"):
            if c[side] not in names:
                raise ConfigError(f"{source}: comparisons: model '{c[side]}' is not declared; "
                                  f"expected one of {names}")
    for group, items in (("models", models), ("external", cfg.external)):
        for m in items:
            for d in getattr(m, "datasets", None) or []:
                if d not in ds_names:
                    raise ConfigError(f"{source}: {group} '{m.name}': dataset '{d}' is not declared; "
                                      f"expected one of {ds_names}")
    if cfg.search is not None:
        for m in cfg.search.models or []:
            if m not in names:
                raise ConfigError(f"{source}: search.models: model '{m}' is not declared; "
                                  f"expected one of {names}")
        for d in cfg.search.datasets or []:
            if d not in ds_names:
                raise ConfigError(f"{source}: search.datasets: dataset '{d}' is not declared; "
                                  f"expected one of {ds_names}")
    for e in cfg.external:
        for m in e.models or []:
            if m not in names:
                raise ConfigError(f"{source}: external '{e.name}': model '{m}' is not declared; "
                                  f"expected one of {names}")


def apply_study_overrides(raw: dict, overrides: list[str] | None) -> dict:
    """``--set k=v`` on the study mapping, e.g. ``base.epochs=1`` or ``statistics.n_boot=200``."""
    return apply_overrides(raw, overrides)


def load_study_config(path: str | os.PathLike, overrides: list[str] | None = None) -> StudyConfig:
    """Read, override (``--set``) and validate a study YAML."""
    raw = read_yaml(path, what="study config")
    if not isinstance(raw, dict):
        raise ConfigError(f"study config {path}: expected a mapping; got {type(raw).__name__}")
    cfg = parse_study(apply_study_overrides(raw, overrides), str(path), overrides)
    resolve_runs(cfg, ".", source=str(path), overrides=overrides)  # every run is valid, now
    return cfg


# A study --set KEY=VALUE that reaches each run's experiment config, and the key it sets there.
_RUN_KEY = re.compile(r"^(?:base|(?:datasets|models|sweeps)\.\d+\.overrides)\.(?P<key>.+)$"
                      r"|^datasets\.\d+\.(?P<data>data(?:\..+)?)$|^models\.\d+\.(?P<model>model(?:\..+)?)$")


def _run_overrides(overrides: list[str] | None) -> list[tuple[str, str]]:
    """(experiment key, ``--set`` item) of the study overrides that set a run's key, e.g.
    ``base.optim.lr=x`` -> ``optim.lr``: an invalid run value names the flag that set it."""
    pairs = []
    for item in overrides or []:
        match = _RUN_KEY.match(item.split("=", 1)[0].strip())
        if match:
            pairs.append((next(g for g in match.groups() if g), item))
    return pairs


def experiment_dict(cfg: StudyConfig, dataset: DatasetSpec, model: ModelSpec,
                    values: dict[str, str], data_root: str | None = None) -> dict:
    """The ExperimentConfig mapping of one (dataset, model) run, before validation.

    Order: base (without its ``data.params`` when the dataset names another ``data.source``),
    then the dataset's ``data`` and ``overrides``, then the model (a registry name
    other than the base's drops the base's model kwargs), then the model's ``overrides`` (for a
    sweep: the sweep's overrides), each deep-merged over the previous.
    """
    base = dict(cfg.base)
    src = dataset.data.get("source")
    if src is not None and src != (base.get("data") or {}).get("source"):
        # another data source: the base source's params (flag, size, ...) do not apply to it
        base["data"] = {k: v for k, v in (base.get("data") or {}).items() if k != "params"}
    exp = deep_merge(base, {"data": dataset.data})
    exp = deep_merge(exp, dataset.overrides)
    m = model.model
    if m is None and "name" not in (model.overrides.get("model") or {}):
        m = model.name  # the run name is the registry name
    if m is not None:
        m = {"name": m} if isinstance(m, str) else m
        # another registry name keeps the base model's settings (drop_rate) but not its kwargs
        # (LiteSpineNet kwargs would not fit an LCNet): put those in the model's overrides
        base_model = dict(exp.get("model") or {})
        if base_model.get("name") != m.get("name"):
            base_model.pop("kwargs", None)
        exp["model"] = deep_merge(base_model, m)
    exp = deep_merge(exp, model.overrides)
    exp["name"] = f"{cfg.name}-{dataset.name}-{model.name}"
    if data_root is not None:
        exp.setdefault("data", {})["data_root"] = data_root
    return substitute(exp, values)


def resolve_runs(cfg: StudyConfig, out: str | os.PathLike, data_root: str | None = None,
                 source: str = "<study>", overrides: list[str] | None = None) -> list[dict]:
    """Every (dataset, model) run of the study with its validated ExperimentConfig.

    Returns dicts ``{"dataset", "model", "spec", "config"}`` in dataset-major order.
    ``overrides``: the study's ``--set`` items (already in ``cfg``), to name in errors they cause.
    """
    values = {"out": str(Path(out)), "data_root": str(data_root) if data_root else "."}
    runs = []
    for ds in cfg.datasets:
        for m in all_models(cfg):
            if m.datasets is not None and ds.name not in m.datasets:
                continue
            exp = experiment_dict(cfg, ds, m, values, data_root)
            where = f"{source} (dataset '{ds.name}', model '{m.name}')"
            conf = validate(ExperimentConfig, exp, where, _run_overrides(overrides))
            _check_source_params(conf.data.source, conf.data.params, where)
            runs.append({"dataset": ds.name, "model": m.name, "spec": m, "config": conf})
    return runs


def _check_source_params(kind: str, params: dict, where: str) -> None:
    """Unknown ``data.params`` fail at load time, before any training, naming the run."""
    get_loader(kind)  # unknown kinds raise a ConfigError listing the valid ones
    unknown = sorted(set(params) - set(source_params(kind)))
    if unknown:
        raise ConfigError(f"{where}: data.params of source '{kind}': unknown key(s) {unknown}; "
                          f"expected among {source_params(kind)}")
