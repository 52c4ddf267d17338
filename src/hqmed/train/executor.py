"""Executors: run the units of many experiments one after another (serial) or on Ray.

A *unit* is one fold of one experiment (one model on one dataset at one hyperparameter point):
:func:`hqmed.train.runner.run_unit`. Its files depend only on its config, seed and data, and it
writes them atomically into ``run_dir/fold_<i>/``, so the outputs are byte-identical whichever
executor, worker or order ran it, and a study resumes over the finished units.

- ``serial`` (default): every experiment through :func:`run_experiment` in this process.
- ``ray``: the driver prepares each run directory (config.yaml, splits.json; the data is
  generated or cached on disk by that first load), submits every unfinished unit as a Ray task
  (``num_cpus``/``num_gpus`` from :func:`unit_resources`), and pools each experiment's folds
  (:func:`finish_run`) once they are all done; the driver holds each run directory's lock
  throughout. A task receives the config as a small mapping plus
  the run directory; the worker loads the data itself from the data root, so no array is ever
  pickled into task arguments. Without ``address`` a local Ray instance with ``workers`` CPUs starts
  and stops with the command; ``address="auto"`` or ``"ray://host:port"`` joins a running cluster
  (every node needs hqmed installed and the data root at the same absolute path).

Every unit runs with a fixed number of torch threads (:func:`unit_config`): float reductions in
another thread count differ in the last bits, so this is what keeps the executors' answers equal.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from hqmed.errors import ConfigError, DataNotFoundError, HqmedError
from hqmed.train.config import ExperimentConfig, parse_config
from hqmed.train.rundir import RunDir
from hqmed.train.runner import finish_run, prepare_run, run_experiment, run_unit

__all__ = ["EXECUTORS", "Job", "UnitError", "executor_session", "run_jobs", "unit_config",
           "unit_resources"]

log = logging.getLogger(__name__)
EXECUTORS = ("serial", "ray")
Progress = Callable[[str], None]


class UnitError(HqmedError):
    """A unit failed (in this process or a worker); the message names the unit."""


@dataclass(frozen=True)
class Job:
    """One experiment of a study (or ``hqmed cv``): a name for messages, its config, its folder."""

    name: str  # e.g. "phantoms · litespinenet"
    config: ExperimentConfig
    run_dir: Path
    # {fold: (config, hparams)}: folds trained with their own hyperparameters (search choice)
    fold_configs: dict | None = None


def unit_config(cfg: ExperimentConfig) -> ExperimentConfig:
    """``cfg`` with ``num_threads`` fixed (1 unless set): the thread count a unit trains with on
    every executor (Ray gives the task as many CPUs)."""
    return cfg if cfg.num_threads is not None else cfg.model_copy(update={"num_threads": 1})


def unit_resources(cfg: ExperimentConfig) -> dict[str, float]:
    """What a unit asks Ray for: ``num_threads`` CPUs (default 1), and one GPU when the config's
    ``device`` is a CUDA device (``device: auto`` asks for none, so it trains on the CPU)."""
    return {"num_cpus": float(cfg.num_threads or 1),
            "num_gpus": 1.0 if cfg.device.startswith("cuda") else 0.0}


def _worker_config(cfg: ExperimentConfig) -> dict:
    """The mapping a worker rebuilds the config from; relative data roots are made absolute
    (a worker's working directory is not the driver's)."""
    d = cfg.model_dump(mode="json")
    root = d["data"]["params"].get("root")
    if cfg.data.data_root:
        d["data"]["data_root"] = str(Path(cfg.data.data_root).expanduser().resolve())
    elif isinstance(root, str):
        d["data"]["params"]["root"] = str(Path(root).expanduser().resolve())
    return d


def _unit_task(cfg: dict, run_dir: str, fold: int, hparams: dict | None) -> float:
    """The Ray task: rebuild the config, train fold ``fold`` into ``run_dir``; seconds taken."""
    t0 = time.perf_counter()
    run_unit(parse_config(cfg, source=f"{run_dir}/config.yaml"), run_dir, fold, progress=False,
             hparams=hparams)
    return time.perf_counter() - t0


def run_jobs(jobs: Iterable[Job], executor: str = "serial", *, address: str | None = None,
             workers: int | None = None, progress: Progress | None = None,
             on_missing_data: Callable[[Job, DataNotFoundError], None] | None = None,
             resume: bool = True, train_progress: bool | None = None) -> list[Job]:
    """Run (or resume) every job's units on ``executor``; return the jobs that finished.

    ``resume=False`` deletes each job's earlier run files first (``--no-resume``).
    ``train_progress``: each serial run's :class:`~hqmed.train.progress.RunProgress` (True: a bar on
    a terminal, a line per epoch elsewhere; None: the bar on a terminal only; False: none).

    A job whose data is missing (DataNotFoundError) goes to ``on_missing_data`` (and is not
    finished) when given, else the error is raised. Any other failure of a unit is raised as
    :class:`UnitError` naming the unit, after the running units have stopped.
    """
    if executor not in EXECUTORS:
        raise ConfigError(f"--executor: expected one of {list(EXECUTORS)}; got '{executor}'")
    if executor == "serial" and (address is not None or workers is not None):
        raise ConfigError("--address/--workers: expected --executor ray with them; got "
                          "--executor serial")
    say = progress or log.info
    jobs = [Job(j.name, unit_config(j.config), j.run_dir,
                {k: (unit_config(c), h) for k, (c, h) in (j.fold_configs or {}).items()} or None)
            for j in jobs]
    if executor == "serial" or (resume and all(RunDir(j.run_dir).is_complete() for j in jobs)):
        return list(_run_serial(jobs, say, on_missing_data, resume, train_progress))  # nothing to start Ray for
    with _RaySession(address, workers) as ray:
        return _run_ray(ray, jobs, say, on_missing_data, resume)


@contextmanager
def executor_session(executor: str, address: str | None = None,
                     workers: int | None = None) -> Iterator[None]:
    """One Ray session around several :func:`run_jobs` calls (a study's search, then its runs),
    so Ray and its warm workers start once; nothing for the serial executor."""
    if executor != "ray":
        yield
        return
    with _RaySession(address, workers):
        yield


def _missing(job: Job, exc: DataNotFoundError, on_missing_data) -> None:
    if on_missing_data is None:
        raise exc
    on_missing_data(job, exc)


def _run_serial(jobs: list[Job], say: Progress, on_missing_data, resume: bool,
                train_progress: bool | None = None) -> Iterator[Job]:
    for i, job in enumerate(jobs, 1):
        tag = f"[{i}/{len(jobs)}] {job.name}"
        if resume and RunDir(job.run_dir).is_complete():
            say(f"{tag}: finished earlier, reused")
            yield job
            continue
        proto = job.config.protocol
        what = f"{proto.folds}-fold CV" if proto.kind == "cv" else "holdout"
        say(f"{tag}: training ({what}, {job.config.epochs} epochs) ...")
        t0 = time.perf_counter()
        try:
            run_experiment(job.config, job.run_dir, resume=resume, fold_configs=job.fold_configs,
                           progress=train_progress)
        except DataNotFoundError as exc:
            _missing(job, exc, on_missing_data)
            continue
        say(f"{tag}: done in {time.perf_counter() - t0:.0f} s")
        yield job


# ------------------------------------------------------------------------------------------------
# Ray


class _RaySession:
    """``ray.init`` on enter (local with ``workers`` CPUs, or joining ``address``), ``ray.shutdown``
    on exit, unless Ray was already initialised by the caller (then it is used and left alone)."""

    def __init__(self, address: str | None, workers: int | None):
        if workers is not None and workers < 1:
            raise ConfigError(f"--workers: expected a number >= 1; got {workers}")
        if address is not None and workers is not None:
            raise ConfigError("--workers: expected it only for a local Ray (without --address); "
                              "a cluster's size is set where it is started (ray start)")
        self.address, self.workers, self.started = address, workers, False

    def __enter__(self):
        try:  # lazy: Ray is the optional extra hqmed[ray]
            import ray
        except ImportError:
            raise HqmedError("--executor ray: expected the ray package; got none installed "
                             "(pip install 'hqmed[ray]')") from None
        if not ray.is_initialized():
            kw = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
            if self.address is not None:
                ray.init(address=self.address, **kw)
            else:
                ray.init(num_cpus=self.workers or os.cpu_count() or 1, **kw)
            self.started = True
        return ray

    def __exit__(self, *exc) -> None:
        if self.started:
            import ray

            ray.shutdown()


def _cause(exc: BaseException) -> BaseException:
    """The worker's own exception inside a Ray task error."""
    return getattr(exc, "cause", None) or exc


def _run_ray(ray, jobs: list[Job], say: Progress, on_missing_data, resume: bool) -> list[Job]:
    # the driver holds every run directory's lock while workers fill in its folds
    with contextlib.ExitStack() as locks:
        return _run_ray_locked(ray, jobs, say, on_missing_data, resume, locks)


def _run_ray_locked(ray, jobs: list[Job], say: Progress, on_missing_data, resume: bool,
                    locks: contextlib.ExitStack) -> list[Job]:
    task = ray.remote(_unit_task)
    pending: dict = {}  # ObjectRef -> (job, fold)
    left: dict[int, set[int]] = {}  # job index -> unfinished folds
    shapes: dict[int, tuple] = {}  # job index -> (n_folds, class_names, input_shape)
    done: list[int] = []
    for i, job in enumerate(jobs):
        if resume and RunDir(job.run_dir).is_complete():
            say(f"{job.name}: finished earlier, reused")
            done.append(i)
            continue
        locks.enter_context(RunDir(job.run_dir).lock())
        try:
            data, splits = prepare_run(job.config, job.run_dir, resume=resume)
        except DataNotFoundError as exc:
            _missing(job, exc, on_missing_data)
            continue
        n = len(splits["folds"])
        shapes[i] = (n, data.class_names, data.full.image_shape)
        del data, splits
        left[i] = set()
        for fold in range(n):
            if RunDir(job.run_dir).fold_is_done(fold):
                say(f"{job.name} fold {fold}: finished earlier, reused")
                continue
            cfg, hparams = (job.fold_configs or {}).get(fold, (job.config, None))
            ref = task.options(**unit_resources(cfg)).remote(_worker_config(cfg), str(job.run_dir),
                                                            fold, hparams)
            pending[ref] = (i, fold)
            left[i].add(fold)
    say(f"ray: {len(pending)} units submitted ({ray.cluster_resources().get('CPU', 0):.0f} CPUs)")
    for i in [i for i, f in left.items() if not f]:
        _finish(jobs[i], shapes[i], say)
        done.append(i)
    n_total, n_done = len(pending), 0
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            i, fold = pending.pop(ready[0])
            job = jobs[i]
            try:
                seconds = ray.get(ready[0])
            except ray.exceptions.RayError as exc:
                cause = _cause(exc)
                if isinstance(cause, DataNotFoundError) and on_missing_data is not None:
                    on_missing_data(job, cause)
                    left.pop(i, None)
                    continue
                raise UnitError(f"unit {job.name} fold {fold} ({job.run_dir}): "
                                f"{type(cause).__name__}: {cause}") from None
            n_done += 1
            say(f"[{n_done}/{n_total}] {job.name} fold {fold}: done in {seconds:.0f} s")
            if i in left:
                left[i].discard(fold)
                if not left[i]:
                    _finish(job, shapes[i], say)
                    done.append(i)
    finally:
        for ref in pending:  # on an error or Ctrl-C: stop the units still running
            ray.cancel(ref, force=True)
    return [jobs[i] for i in sorted(done)]


def _finish(job: Job, shape: tuple, say: Progress) -> None:
    finish_run(job.run_dir, *shape)
    say(f"{job.name}: all folds done")
