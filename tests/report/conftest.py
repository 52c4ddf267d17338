import pytest
from report_fakes import make_study


@pytest.fixture(scope="session")
def fake_study(tmp_path_factory):
    """A rendered-ready fake study directory, built once per test session."""
    return make_study(tmp_path_factory.mktemp("study"))
