import pytest
from report_fakes import make_study


@pytest.fixture(scope="session")
def fake_study(tmp_path_factory):
    """A rendered-ready fake study directory, built once per test session."""
    return make_study(tmp_path_factory.mktemp("study"))


@pytest.fixture(scope="session")
def fake_report(fake_study):
    """(path, text) of the fake study's report, rendered once per test session."""
    from hqmed.report.html import build_report

    path = build_report(fake_study)
    return path, path.read_text(encoding="utf-8")
