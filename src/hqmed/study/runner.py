"""Run a whole study: every (dataset, model) run, every declared comparison, cost, external
validation, then the HTML report.

Output layout (``out/``)::

    study.json                      what was run, skipped, compared; read by hqmed.report
    study.yaml                      the study config as given (after --set)
    runs/<dataset>/<model>/         run directories (hqmed.train.runner.run_experiment)
    comparisons/<dataset>/<a>__vs__<b>.json
    cost.json                       {model label: hqmed.eval.cost.measure_cost(...) + timings}
    external/<name>/<dataset>__<model>.json
    report.html

Resuming: a run whose directory holds ``DONE`` is not repeated, an unfinished run resumes from its
last checkpoint (run_experiment's own resume), and the derived JSON files are rewritten atomically
from the finished runs, so an interrupted study is finished by running the same command again.

A comparison document (``comparisons/...json``) is::

    {"dataset", "a", "b", "alpha", "split",            # split: "test" if both runs have one, else "val"
     "ttest": {metric: TTestResult.to_dict()} | null,   # over folds, CV only
     "mcnemar": McNemarResult.to_dict() + {"split"},
     "ci": {"split", "level", "a": bootstrap_classwise_ci(...), "b": ...},   # stratified
     "overall_ci": {"split", "level", "a": bootstrap_overall_ci(...), "b": ...},  # plain + Wilson
     "dca": {"split", "a": decision_curve(...), "b": ..., "compare": compare_decision_curves(b, a)}}

where the DCA comparison's ``delta`` is max NB(B) − max NB(A), the paper's Δ (hybrid − classical).
"""

from __future__ import annotations

import datetime as _dt
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from hqmed.data.phantoms import generate_phantom_dataset
from hqmed.errors import DataNotFoundError, HqmedError
from hqmed.eval.compare import compare_runs
from hqmed.eval.cost import (
    compare_timing,
    describe_ratio,
    load_average,
    measure_cost,
    quantum_layers,
)
from hqmed.eval.cost_curve import qubit_cost_curve
from hqmed.eval.external import external_summary
from hqmed.models import create_model
from hqmed.quantum.scaling import parse_qubit_range
from hqmed.report.html import build_report
from hqmed.report.results import RunResult, load_run
from hqmed.study.config import StudyConfig, all_comparisons, resolve_runs, substitute
from hqmed.study.diagnostics import diagnose_study
from hqmed.study.search import chosen_jobs, search_jobs, search_points, summarize_search
from hqmed.train.config import parse_config
from hqmed.train.executor import Job, executor_session, run_jobs
from hqmed.train.prepare import load_datasets
from hqmed.train.rundir import DirLock, RunDir, check_same_data, remove_temp_files
from hqmed.train.runner import run_summary_lines
from hqmed.utils.io import atomic_write_json, atomic_write_text, read_json
from hqmed.utils.runtime import environment_info

log = logging.getLogger(__name__)
Progress = Callable[[str], None]


# ------------------------------------------------------------------------------------------------


def _write_meta(out: Path, meta: dict) -> None:
    atomic_write_json(out / "study.json", meta)


def run_study(cfg: StudyConfig, out: str | Path, data_root: str | None = None,
              command: str | None = None, progress: Progress | None = None,
              source: str = "<study>", executor: str = "serial", address: str | None = None,
              workers: int | None = None, train_progress: bool | None = None) -> Path:
    """Run (or resume) the study into ``out`` and write ``out/report.html``; return its path.

    ``executor``/``address``/``workers``: where the units run (:func:`hqmed.train.executor.run_jobs`).
    ``progress``: receives the study's lines; ``train_progress``: each run's bar or epoch lines
    (:class:`hqmed.train.progress.RunProgress`). The study directory is locked while this runs (a
    second ``hqmed study`` on it stops at once); temporary files left there by a killed process are
    deleted first.
    """
    out = Path(out).resolve()
    with DirLock(out, "study directory"):
        remove_temp_files(out, skip=("runs",))
        return _run_study(cfg, out, data_root, command, progress, source, executor, address,
                          workers, train_progress)


def _run_study(cfg: StudyConfig, out: Path, data_root: str | None, command: str | None,
               progress: Progress | None, source: str, executor: str, address: str | None,
               workers: int | None, train_progress: bool | None) -> Path:
    say = progress or log.info
    runs = resolve_runs(cfg, out, data_root, source=source)  # validates every run up front
    atomic_write_text(out / "study.yaml", yaml.safe_dump(cfg.model_dump(mode="json"),
                                                         sort_keys=False))
    env = environment_info()
    if command:
        env["command"] = command
    meta: dict[str, Any] = {
        "name": cfg.name, "title": cfg.title, "description": cfg.description,
        "synthetic": _is_synthetic(cfg, runs),
        "command": command or env.get("command"), "environment": env,
        "started": _now(), "finished": None,
        "statistics": cfg.statistics.model_dump(), "runs": [], "comparisons": [], "skipped": [],
        "cost": None, "external": [], "search": None,
        "references": {d.name: d.reference.model_dump() for d in cfg.datasets if d.reference},
    }
    _write_meta(out, meta)
    say(f"study '{cfg.name}': {len(runs)} runs over {len(cfg.datasets)} datasets -> {out}")

    skipped: dict[str, str] = {}
    finished: dict[tuple[str, str], RunResult] = {}
    t_study = time.perf_counter()

    def missing(job: Job, exc: DataNotFoundError) -> None:
        ds = job.run_dir.relative_to(out).parts[1]  # runs/<dataset>/... or search/<dataset>/...
        if ds not in skipped:
            skipped[ds] = str(exc)
            meta["skipped"].append({"dataset": ds, "reason": str(exc)})
            say(f"SKIPPED dataset '{ds}': its data is not available -- {exc}")
            _write_meta(out, meta)

    with executor_session(executor, address, workers):  # Ray starts once for both phases
        chosen: dict = {}
        if cfg.search is not None:
            sjobs = search_jobs(cfg, runs, out)
            n_points = len(search_points(cfg.search))
            say(f"search: {n_points} points x {len(sjobs) // n_points} runs = {len(sjobs)} search "
                "runs, each fold selecting on inner validation carved from its training portion")
            sdone = {j.name for j in run_jobs(sjobs, executor, address=address, workers=workers,
                                              progress=say, on_missing_data=missing,
                                         train_progress=train_progress)}
            meta["search"] = summarize_search(cfg, runs, out, sdone)
            atomic_write_json(out / "search.json", meta["search"])
            _write_meta(out, meta)
            chosen = chosen_jobs(meta["search"], runs, out)
            for s_run in meta["search"]["runs"]:
                say(f"search {s_run['dataset']} · {s_run['model']}: chosen {s_run['chosen_values']} "
                    f"(per fold: {', '.join(s_run['chosen_per_fold'])})")
        jobs = [chosen.get((r["dataset"], r["model"])) or
                Job(f"{r['dataset']} · {r['model']}", r["config"], out / "runs" / r["dataset"] / r["model"])
                for r in runs]
        for r, job in zip(runs, jobs):
            r["config"] = job.config  # the chosen point (cost uses its batch size)
        by_name = {j.name: r for j, r in zip(jobs, runs)}
        done = {j.name for j in run_jobs(jobs, executor, address=address, workers=workers,
                                         progress=say, on_missing_data=missing,
                                         train_progress=train_progress)}
    for job in jobs:
        r = by_name[job.name]
        ds, model, spec = r["dataset"], r["model"], r["spec"]
        if job.name not in done or ds in skipped:
            continue
        entry = {"dataset": ds, "model": model, "label": spec.label or model, "kind": spec.kind,
                 "path": str(job.run_dir.relative_to(out))}
        res = load_run(job.run_dir, ds, model, entry["label"], entry)
        finished[(ds, model)] = res
        oof = res.metrics.get("oof") or {}
        say(f"{job.name}: OoF accuracy {oof.get('accuracy', float('nan')):.4f}, macro AUC "
            f"{(oof.get('auroc_macro') or float('nan')):.4f}")
        for line in run_summary_lines(res.metrics):
            say(f"{job.name}: {line}")
        meta["runs"].append(entry)
    _write_meta(out, meta)

    meta["comparisons"] = _comparisons(cfg, out, finished, say)
    _write_meta(out, meta)
    if cfg.diagnostics.enabled and finished:
        meta["diagnostics"] = diagnose_study(cfg, out, runs, finished, say)
        _write_meta(out, meta)
    if cfg.cost.enabled and finished:
        meta["cost"] = _cost(cfg, out, runs, finished, say)
        _write_meta(out, meta)
    if cfg.cost.enabled and cfg.cost.qubits and finished:
        meta["cost_curve"] = _cost_curve(cfg, out, runs, finished, say)
        _write_meta(out, meta)
    meta["external"] = _external(cfg, out, runs, finished, skipped, say, data_root)
    meta["finished"] = _now()
    meta["wall_seconds"] = round(time.perf_counter() - t_study, 1)
    _write_meta(out, meta)
    report = build_report(out)
    for ds, why in skipped.items():
        say(f"skipped dataset '{ds}': {why}")
    return report


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _is_synthetic(cfg: StudyConfig, runs: list[dict]) -> bool:
    """True when any dataset is synthetic: declared so, or its source is "phantoms"."""
    source = {r["dataset"]: r["config"].data.source for r in runs}
    return any(d.synthetic if d.synthetic is not None else source.get(d.name) == "phantoms"
               for d in cfg.datasets)


def _comparisons(cfg: StudyConfig, out: Path, finished: dict, say: Progress) -> list[dict]:
    st = cfg.statistics
    docs = []
    for c in all_comparisons(cfg):
        for ds in [d.name for d in cfg.datasets]:
            if c.get("datasets") is not None and ds not in c["datasets"]:
                continue
            a, b = finished.get((ds, c["a"])), finished.get((ds, c["b"]))
            if a is None or b is None:
                continue
            path = out / "comparisons" / ds / f"{c['a']}__vs__{c['b']}.json"
            check_same_data(a.path, b.path)
            doc = compare_runs(a, b, alpha=st.alpha, ci_level=st.ci_level, n_boot=st.n_boot,
                               seed=st.seed, dca_thresholds=st.dca_thresholds)
            atomic_write_json(path, doc)
            tt = (doc.get("ttest") or {}).get("accuracy") or {}
            p = tt.get("p")
            say(f"compared {ds}: B − A = {c['b']} − {c['a']}"
                + (f" (fold accuracy: mean diff {tt['mean_diff']:+.4f}, t = {tt['t']:.3f}, "
                   f"p = {p:.3g})" if p is not None else ""))
            docs.append({"dataset": ds, "a": c["a"], "b": c["b"], "sweep": c.get("sweep"),
                         "width": c.get("width"), "path": str(path.relative_to(out))})
    return docs


def _cost_model(r: dict, res: RunResult):
    conf = r["config"]
    shape = RunDir(res.path).input_shape()
    return create_model(conf.model.name, num_classes=len(res.class_names), in_chans=shape[0],
                        drop_rate=conf.model.drop_rate, **conf.model.kwargs), shape


def _paired_costs(cfg: StudyConfig, runs: list[dict], finished: dict, wanted: list[str],
                  say: Progress) -> list[dict]:
    """Every declared comparison on a cost dataset, timed interleaved (B against A)."""
    by_key = {(r["dataset"], r["model"]): r for r in runs}
    pairs = []
    for c in all_comparisons(cfg):
        for ds in wanted:
            ra, rb = by_key.get((ds, c["a"])), by_key.get((ds, c["b"]))
            a, b = finished.get((ds, c["a"])), finished.get((ds, c["b"]))
            if a is None or b is None or any(p["a"] == a.label and p["b"] == b.label for p in pairs):
                continue
            (ma, shape), (mb, _) = _cost_model(ra, a), _cost_model(rb, b)
            t = compare_timing(ma, mb, shape, num_classes=len(a.class_names),
                               train_batch_size=ra["config"].batch_size,
                               repeats=cfg.cost.repeats, train_repeats=cfg.cost.train_repeats,
                               threads=cfg.cost.threads)
            pairs.append({"dataset": ds, "a": a.label, "b": b.label, **t})
            say(f"cost {b.label} against {a.label} (interleaved, {t['threads']} thread(s), load "
                f"{t['inference']['load_average_before']}): inference "
                f"{describe_ratio(t['inference'])}; training step {describe_ratio(t['train_step'])}")
    return pairs


def _cost(cfg: StudyConfig, out: Path, runs: list[dict], finished: dict, say: Progress) -> str:
    """Table 8 per model (first or chosen dataset's input shape), plus the run's own timings.

    Timings are paired: each declared comparison's two models are timed interleaved
    (:func:`hqmed.eval.cost.compare_timing`); a model's latency and training-step rows are the
    medians of its first such pair, and B's column gets the ratio B / A with its spread (or "no
    measurable difference"). A model in no comparison is timed alone (pinned threads, warm-up).
    """
    wanted = cfg.cost.datasets or [cfg.datasets[0].name]
    pairs = _paired_costs(cfg, runs, finished, wanted, say) if cfg.cost.timing else []
    paired_ms: dict[str, dict] = {}
    for p in pairs:
        for side, label in (("a", p["a"]), ("b", p["b"])):
            paired_ms.setdefault(label, {"latency_ms": p["inference"][f"{side}_ms"]["median"],
                                         "train_step_ms": p["train_step"][f"{side}_ms"]["median"]})
    doc: dict[str, dict] = {}
    raw: dict[str, Any] = {}
    for r in runs:
        res = finished.get((r["dataset"], r["model"]))
        if res is None or r["dataset"] not in wanted or res.label in doc:
            continue
        model, shape = _cost_model(r, res)
        c = measure_cost(model, shape, repeats=cfg.cost.repeats,
                         timing=cfg.cost.timing and res.label not in paired_ms,
                         train_batch_size=r["config"].batch_size, train_repeats=3,
                         threads=cfg.cost.threads)
        flat = flatten_cost(c) | paired_ms.get(res.label, {})
        for p in pairs:
            if p["b"] == res.label:
                flat[f"inference time vs {p['a']}"] = describe_ratio(p["inference"])
                flat[f"training step time vs {p['a']}"] = describe_ratio(p["train_step"])
        if cfg.cost.timing:
            loads = [p["inference"]["load_average_before"] for p in pairs] or [
                c.get("timing_load_average")]
            flat["timing threads"] = cfg.cost.threads or "unpinned"
            flat["timing load average (1, 5, 15 min)"] = ", ".join(
                "/".join(f"{v:.1f}" for v in la) for la in loads if la) or "unknown"
        hist = res.history
        if not hist.empty and "seconds" in hist:
            flat["train_epoch_s"] = float(hist.groupby("fold")["seconds"].mean().mean())
            flat["train_total_s"] = float(hist["seconds"].sum())
        doc[res.label], raw[res.label] = flat, c
        lat = flat.get("latency_ms")
        say(f"cost {res.label}: {flat['trainable_params']:,} params"
            + (f", {lat:.2f} ms per image" if lat is not None else ""))
    atomic_write_json(out / "cost.json", doc)
    atomic_write_json(out / "cost_raw.json", raw | {"paired_timings": pairs,
                                                    "load_average_end": load_average()})
    return "cost.json"


def _cost_curve(cfg: StudyConfig, out: Path, runs: list[dict], finished: dict,
                say: Progress) -> str | None:
    """Simulated cost vs qubits of the first finished model with a quantum layer (cost.qubits)."""
    qubits = parse_qubit_range(cfg.cost.qubits)
    for r in runs:
        res = finished.get((r["dataset"], r["model"]))
        if res is None:
            continue
        conf = r["config"]
        shape = RunDir(res.path).input_shape()
        model = create_model(conf.model.name, num_classes=len(res.class_names), in_chans=shape[0],
                             drop_rate=conf.model.drop_rate, **conf.model.kwargs)
        layers = [m for _, m in quantum_layers(model) if callable(getattr(m, "resized", None))]
        if not layers:
            continue
        curve = qubit_cost_curve(layers[0], qubits, cfg.cost.qubits_batch, cfg.cost.qubits_budget_s)
        curve["model"] = res.label
        atomic_write_json(out / "cost_curve.json", curve)
        alpha = curve["simulated"]["fit"]["train"]["alpha"]
        say(f"cost curve {res.label}: n = {qubits[0]}..{qubits[-1]}"
            + (f", time ~ 2^({alpha:.2f} n)" if alpha is not None else ""))
        return "cost_curve.json"
    say("cost curve: skipped (no finished model has a quantum layer)")
    return None


def flatten_cost(c: dict) -> dict:
    """The rows of the report's Table 8 from a :func:`hqmed.eval.cost.measure_cost` result."""
    flat: dict[str, Any] = {
        "input_shape": "x".join(str(s) for s in c.get("input_shape", [])),
        "trainable_params": c.get("params"),
        # layers counted by torch + the circuit's analytic estimate: the same whichever
        # simulator ran (the compiled kernel is invisible to torch's FLOP counter)
        "flops": c.get("flops_total_estimate", c.get("flops")),
        "latency_ms": (c.get("latency_ms") or {}).get("median"),
        "train_step_ms": (c.get("train_step_ms") or {}).get("median"),
        "train_batch_size": c.get("train_batch_size"),
        "train_memory_mb": (c.get("memory") or {}).get("train_estimate_bytes", 0) / 1e6 or None,
    }
    q = c.get("quantum") or []
    if q:
        res = q[0].get("resources") or {}
        flat.update({
            "quantum_layers": len(q),
            "n_qubits": res.get("qubits"),
            "circuit_depth": res.get("depth"),
            "variational_layers": res.get("variational_layers"),
            "encoding_gates": res.get("encoding_gates"),
            "parameterized_gates": res.get("trainable_gates"),
            "circuit_params": res.get("trainable_parameters"),
            "cnot_gates": res.get("two_qubit_gates"),
            "gradient_evals": res.get("shift_evaluations_weights"),
            "state_vector_size": res.get("state_vector_size"),
            "circuit_evals_per_sample": sum(x.get("evaluations_per_sample", 0) for x in q),
            "circuit_flops": c.get("flops_circuit_estimate"),
            "qpu_latency_ms": c.get("qpu_inference_ms_per_sample"),
        })
    return flat


def load_external(data: dict, split: str | None):
    """The images of an external source (labels are not used)."""
    cfg = parse_config({"model": {"name": "external"}, "data": data}, source="external.data")
    splits = load_datasets(cfg)
    key = split or next((k for k in ("all", "test") if k in splits), next(iter(splits)))
    if key not in splits:
        raise HqmedError(f"external split: expected one of {sorted(splits)}; got '{key}'")
    return splits[key], cfg


def _external(cfg: StudyConfig, out: Path, runs: list[dict], finished: dict,
              skipped: dict, say: Progress, data_root: str | None = None) -> list[str]:
    paths = []
    for ext in cfg.external:
        try:
            if ext.phantoms:
                gen = substitute(ext.phantoms, {"out": str(out), "data_root": str(data_root or ".")})
                if "image_size" in gen:
                    gen["image_size"] = tuple(gen["image_size"])
                generate_phantom_dataset(**gen)
            data = substitute(ext.data, {"out": str(out), "data_root": str(data_root or ".")})
            if data_root is not None:
                data.setdefault("data_root", str(data_root))
            ds, ecfg = load_external(data, ext.split)
        except DataNotFoundError as exc:
            skipped[f"external:{ext.name}"] = str(exc)
            say(f"SKIPPED external validation '{ext.name}': {exc}")
            continue
        for r in runs:
            res = finished.get((r["dataset"], r["model"]))
            if res is None or (ext.datasets and r["dataset"] not in ext.datasets) or \
                    (ext.models and r["model"] not in ext.models):
                continue
            path = out / "external" / ext.name / f"{r['dataset']}__{r['model']}.json"
            if not (path.is_file() and path.stat().st_mtime >= (res.path / "DONE").stat().st_mtime):
                probs = RunDir(res.path).predictor(device="cpu").predict_dataset(ds)
                summ = external_summary(probs, res.class_names)
                atomic_write_json(path, {"external": ext.name, "dataset": r["dataset"],
                                         "model": r["model"], "label": res.label,
                                         "source": ext.description or ecfg.data.source,
                                         "n": summ["n"], "summary": summ["per_class"]})
                say(f"external '{ext.name}': {res.label} scored {summ['n']} images")
            paths.append(str(path.relative_to(out)))
    return paths


def load_meta(out: str | Path) -> dict:
    return read_json(Path(out) / "study.json")
