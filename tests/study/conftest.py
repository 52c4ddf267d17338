import sys
from pathlib import Path

import pytest

# the fake run directories of the report tests are reused here
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report"))


@pytest.fixture
def quick_report(monkeypatch):
    """Replace the (figure-heavy, separately tested) HTML rendering by a stub that still reads
    the whole study directory back."""
    import hqmed.report
    import hqmed.report.html
    import hqmed.study.runner
    from hqmed.report.results import load_study

    def stub(study_dir, out=None, options=None):
        s = load_study(study_dir)
        path = Path(out or Path(study_dir) / "report.html")
        path.write_text(f"<html>{len(s.runs)} runs</html>")
        return path

    monkeypatch.setattr(hqmed.report.html, "build_report", stub)
    monkeypatch.setattr(hqmed.report, "build_report", stub)
    monkeypatch.setattr(hqmed.study.runner, "build_report", stub)
