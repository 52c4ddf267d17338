"""Study orchestration: runs, resume after interruption, skipped datasets, comparisons, report.

``run_experiment`` is replaced by a fake that writes a valid run directory instantly (the trainer has
its own tests); one slow test trains for real on a tiny phantom set.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from report_fakes import SPINE, make_run

import hqmed.train.executor as train_executor
from hqmed.cli import main
from hqmed.errors import DataNotFoundError
from hqmed.study.config import parse_study
from hqmed.study.runner import run_study

RAW = {
    "name": "t",
    "base": {"model": {"name": "litespinenet"}, "data": {"source": "phantoms"},
             "protocol": {"kind": "cv", "folds": 3}, "epochs": 1},
    "datasets": [{"name": "spine"}, {"name": "absent", "data": {"source": "medmnist",
                                                                 "params": {"flag": "dermamnist"}}}],
    "models": [{"name": "litespinenet", "kind": "classical"},
               {"name": "hq_litespinenet", "kind": "hybrid"}],
    "comparisons": [{"a": "litespinenet", "b": "hq_litespinenet"}],
    "statistics": {"n_boot": 20},
    "cost": {"enabled": False},
}


class FakeTrainer:
    """Stands in for run_experiment: records calls, can fail on a dataset or a call number."""

    def __init__(self, fail_on: int | None = None):
        self.calls: list[str] = []
        self.fail_on = fail_on

    def __call__(self, config, run_dir, resume=True, fold_configs=None, progress=None):
        run_dir = Path(run_dir)
        if config.data.source == "medmnist":
            raise DataNotFoundError("dermamnist.npz: expected the MedMNIST file; got no such file "
                                    "(offline)")
        self.calls.append(run_dir.name)
        if self.fail_on is not None and len(self.calls) == self.fail_on:
            raise KeyboardInterrupt
        skill = 1.6 if run_dir.name == "litespinenet" else 1.2
        make_run(run_dir, SPINE, skill=skill, seed=len(self.calls))
        return run_dir


@pytest.fixture
def fake(monkeypatch):
    def install(**kw):
        f = FakeTrainer(**kw)
        monkeypatch.setattr(train_executor, "run_experiment", f)
        return f
    return install


def test_study_runs_compares_skips_and_reports(fake, tmp_path):
    f = fake()
    lines: list[str] = []
    report = run_study(parse_study(RAW), tmp_path, progress=lines.append)
    assert f.calls == ["litespinenet", "hq_litespinenet"]
    meta = json.loads((tmp_path / "study.json").read_text())
    assert [s["dataset"] for s in meta["skipped"]] == ["absent"]
    assert "dermamnist.npz" in meta["skipped"][0]["reason"]
    assert any(line.startswith("SKIPPED dataset 'absent'") for line in lines)
    comp = json.loads((tmp_path / meta["comparisons"][0]["path"]).read_text())
    assert comp["split"] == "test" and set(comp["ttest"]) >= {"accuracy", "auroc_macro"}
    assert comp["mcnemar"]["n"] == 40
    text = report.read_text()
    assert report == tmp_path / "report.html" and "absent" in text and "dermamnist.npz" in text
    assert 'id="synthetic-banner"' in text  # phantoms are synthetic


def test_interrupted_study_resumes_without_repeating_finished_runs(fake, quick_report, tmp_path):
    f = fake(fail_on=2)
    with pytest.raises(KeyboardInterrupt):
        run_study(parse_study(RAW), tmp_path)
    assert f.calls == ["litespinenet", "hq_litespinenet"]
    assert (tmp_path / "runs/spine/litespinenet/DONE").is_file()
    assert not (tmp_path / "runs/spine/hq_litespinenet/DONE").is_file()
    g = fake()
    run_study(parse_study(RAW), tmp_path)
    assert g.calls == ["hq_litespinenet"]  # the finished run was not repeated
    h = fake()
    run_study(parse_study(RAW), tmp_path)
    assert h.calls == []
    assert (tmp_path / "report.html").is_file()
    assert not list(tmp_path.rglob("*.tmp"))  # derived files were written atomically


def test_cli_prints_the_report_path(fake, quick_report, tmp_path, capsys):
    fake()
    cfg = tmp_path / "study.yaml"
    cfg.write_text(yaml.safe_dump(RAW))
    out = tmp_path / "out"
    assert main(["study", str(cfg), "--out", str(out), "--set", "statistics.n_boot=10"]) == 0
    printed = capsys.readouterr().out
    assert f"report: {(out / 'report.html').resolve()}" in printed
    assert "SKIPPED dataset 'absent'" in printed
    assert main(["study", str(cfg), "--out", str(out), "--report-only"]) == 0


def test_cli_bad_config_is_one_line(tmp_path, capsys):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml.safe_dump({**RAW, "modells": []}))
    assert main(["study", str(cfg)]) == 1
    err = capsys.readouterr().err
    assert "unknown key 'modells'" in err and "Traceback" not in err


def test_config_names_resolve_to_shipped_studies(tmp_path, monkeypatch):
    from hqmed.commands.study import resolve_config

    monkeypatch.chdir(tmp_path)  # works outside the checkout too
    assert resolve_config("demo").name == "demo.yaml" and resolve_config("demo").is_file()
    assert resolve_config("real/medmnist").is_file()
    assert resolve_config("no-such-study") == Path("no-such-study")
