"""Executors: a study gives byte-identical files on serial and on Ray, resumes over finished units
after its driver is killed, and a worker's error reaches the user as one line naming the unit.

The Ray tests share one local Ray instance (started once for this module, like a cluster the
commands join with --address); one test lets the command start and stop its own local Ray with
--workers 2. Every Ray process started here is found by its open files under a private temp
folder and must be gone at the end.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
import yaml
from tiny_phantoms import tiny_study

from hqmed.cli import main
from hqmed.errors import ConfigError, HqmedError
from hqmed.study.config import parse_study
from hqmed.study.runner import run_study
from hqmed.train.config import parse_config
from hqmed.train.executor import UnitError, run_jobs, unit_config, unit_resources

TINY = tiny_study(["litespinenet", "lcnet_050_tanh4"], [("lcnet_050_tanh4", "litespinenet")],
                  cost={"enabled": False})
# files whose bytes must not depend on the executor (history.csv also holds wall-clock seconds,
# config.yaml the output folder)
SAME = ("predictions.csv", "metrics.json", "splits.json")


def result_files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted((out / "runs").rglob("*"))
            if p.name in SAME}


def ray_pids(tmp: str) -> set[int]:
    """Processes holding a file under ``tmp`` open (how Ray's processes of one session are found)."""
    pids = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if (proc / "stat").read_text().split(") ")[1].startswith("Z"):
                continue  # a zombie holds nothing
            if any(os.readlink(fd).startswith(tmp) for fd in (proc / "fd").iterdir()):
                pids.add(int(proc.name))
        except OSError:
            continue
    return pids


def env_for(tmp: str) -> dict:
    src = str(Path(__file__).resolve().parents[2] / "src")
    return {**os.environ, "RAY_TMPDIR": tmp,
            "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}


@pytest.fixture(scope="module")
def serial_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("serial")
    run_study(parse_study(TINY), out)
    return out


@pytest.fixture(scope="module")
def ray_cluster():
    """One local Ray for the module; yields its address for --address."""
    ray = pytest.importorskip("ray")
    tmp = tempfile.mkdtemp(prefix="hqr", dir="/tmp")  # short: Ray's socket paths have a limit
    os.environ["RAY_TMPDIR"] = tmp
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()
    del os.environ["RAY_TMPDIR"]
    left = ray_pids(tmp)
    for pid in left:  # never leave processes behind, even when the assertion fails
        os.kill(pid, signal.SIGKILL)
    shutil.rmtree(tmp, ignore_errors=True)
    assert not left, f"Ray processes left running: {left}"


# ------------------------------------------------------------------------------------------------
# without Ray


def test_unit_resources_and_threads_come_from_the_config():
    cfg = parse_config({"model": {"name": "litespinenet"}, "data": {"source": "phantoms"}})
    assert unit_config(cfg).num_threads == 1 and cfg.num_threads is None
    assert unit_resources(cfg) == {"num_cpus": 1.0, "num_gpus": 0.0}
    big = cfg.model_copy(update={"num_threads": 4, "device": "cuda:0"})
    assert unit_config(big) is big and unit_resources(big) == {"num_cpus": 4.0, "num_gpus": 1.0}


def test_without_ray_installed_the_error_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    cfg = parse_config({"model": {"name": "litespinenet"}, "data": {"source": "phantoms"}})
    from hqmed.train.executor import Job

    with pytest.raises(HqmedError, match=r"pip install 'hqmed\[ray\]'"):
        run_jobs([Job("x", cfg, tmp_path / "run")], "ray")


def test_bad_executor_arguments_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="expected one of"):
        run_jobs([], "dask")
    with pytest.raises(ConfigError, match="expected --executor ray"):
        run_jobs([], "serial", workers=2)


# ------------------------------------------------------------------------------------------------
# with Ray


@pytest.mark.slow
def test_local_ray_with_two_workers_gives_the_serial_bytes(serial_study, tmp_path):
    pytest.importorskip("ray")
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(TINY))
    tmp = tempfile.mkdtemp(prefix="hqr", dir="/tmp")
    try:
        proc = subprocess.run([sys.executable, "-m", "hqmed.cli", "study", str(cfg), "--out",
                               str(tmp_path / "ray"), "--executor", "ray", "--workers", "2"],
                              env=env_for(tmp), capture_output=True, text=True, timeout=900)
        left = ray_pids(tmp)  # the command's own Ray stopped with it
    finally:
        for pid in ray_pids(tmp):
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(tmp, ignore_errors=True)
    assert proc.returncode == 0, proc.stderr
    assert "ray: 4 units submitted (2 CPUs)" in proc.stdout
    assert not left, f"Ray processes left running after the command: {left}"
    serial, ray = result_files(serial_study), result_files(tmp_path / "ray")
    assert len(serial) == 2 * (3 + 2) and serial.keys() == ray.keys()
    assert [k for k in serial if serial[k] != ray[k]] == []


KILLER = textwrap.dedent("""
    import os, signal, sys, yaml
    from hqmed.study.config import parse_study
    from hqmed.study.runner import run_study

    def progress(line):
        print(line, flush=True)
        if " fold " in line and ": done in " in line:  # the first finished unit: die at once
            os.kill(os.getpid(), signal.SIGKILL)

    run_study(parse_study(yaml.safe_load(open(sys.argv[1]))), sys.argv[2], progress=progress,
              executor="ray", address=sys.argv[3])
""")


@pytest.mark.slow
def test_killed_driver_then_rerun_redoes_only_unfinished_units(serial_study, ray_cluster,
                                                               tmp_path):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(TINY))
    out = tmp_path / "ray"
    env = env_for(os.environ["RAY_TMPDIR"])
    proc = subprocess.run([sys.executable, "-c", KILLER, str(cfg), str(out), ray_cluster],
                          env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    killed_after = [ln.split(": done in")[0].split("] ")[1] for ln in proc.stdout.splitlines()
                    if ": done in " in ln]
    assert len(killed_after) == 1  # e.g. "phantoms · litespinenet fold 1"
    finished = sorted(out.glob("runs/*/*/fold_*/DONE"))
    assert 1 <= len(finished) < 4  # others may have finished while the driver died
    stamps = {p: p.parent.joinpath("predictions.csv").stat().st_mtime_ns for p in finished}

    lines: list[str] = []
    run_study(parse_study(TINY), out, progress=lines.append, executor="ray", address=ray_cluster)
    reused = [ln.split(": finished")[0] for ln in lines if ln.endswith("finished earlier, reused")]
    trained = [ln.split(": done in")[0].split("] ")[1] for ln in lines if ": done in " in ln]
    assert killed_after[0] in reused
    assert len(reused) == len(finished) and len(trained) == 4 - len(finished)
    assert not set(reused) & set(trained)
    assert {p: p.parent.joinpath("predictions.csv").stat().st_mtime_ns for p in finished} == stamps
    assert result_files(out) == result_files(serial_study)


@pytest.mark.slow
def test_a_worker_error_is_one_line_naming_the_unit(ray_cluster, tmp_path, capsys):
    raw = {**TINY, "models": [{"name": "litespinenet",
                               "overrides": {"model": {"kwargs": {"no_such_option": 1}}}}],
           "comparisons": []}
    with pytest.raises(UnitError, match=r"unit phantoms · litespinenet fold [01] .*no_such_option"):
        run_study(parse_study(raw), tmp_path / "a", executor="ray", address=ray_cluster)
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml.safe_dump(raw))
    assert main(["study", str(cfg), "--out", str(tmp_path / "b"), "--executor", "ray",
                 "--address", ray_cluster]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("hqmed: error: UnitError: unit phantoms · litespinenet fold ")
    assert "Traceback" not in "\n".join(err) and len(err) == 2  # + the --debug hint


@pytest.mark.slow
def test_cv_on_ray_gives_the_serial_bytes(ray_cluster, tmp_path):
    cfg = tmp_path / "cv.yaml"
    base = {**TINY["base"], "name": "cv-tiny", "model": {"name": "lcnet_050_tanh4"}}
    base["data"] = {**base["data"], "params": {**base["data"]["params"],
                                               "root": str(tmp_path / "ph")}}
    cfg.write_text(yaml.safe_dump(base))
    assert main(["cv", str(cfg), "--out", str(tmp_path / "serial"), "--no-progress"]) == 0
    assert main(["cv", str(cfg), "--out", str(tmp_path / "ray"), "--executor", "ray",
                 "--address", ray_cluster]) == 0
    for name in ("predictions.csv", "metrics.json", "fold_0/predictions.csv"):
        assert (tmp_path / "serial" / name).read_bytes() == (tmp_path / "ray" / name).read_bytes()
