"""hqmed.report: one self-contained HTML report of a study (tables mirror both papers).

``build_report(study_dir)`` writes ``study_dir/report.html``; ``build_run_report(run_dirs, out)``
reports bare run directories. Figures are matplotlib PNGs embedded as base64; no external assets.
"""

from hqmed.report.html import SECTIONS, build_report, build_run_report, render
from hqmed.report.results import RunResult, StudyResults, load_run, load_study

__all__ = ["SECTIONS", "RunResult", "StudyResults", "build_report", "build_run_report", "load_run",
           "load_study", "render"]
