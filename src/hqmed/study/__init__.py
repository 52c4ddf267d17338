"""hqmed.study: run datasets x models under one protocol, compare every declared pair, report.

``load_study_config(path, overrides)`` validates a study YAML; ``run_study(cfg, out)`` runs or
resumes it and returns the path of ``out/report.html``. See docs/study.md.
"""

from hqmed.study.config import StudyConfig, load_study_config, parse_study, resolve_runs
from hqmed.study.runner import run_study

__all__ = ["StudyConfig", "load_study_config", "parse_study", "resolve_runs", "run_study"]
