"""Real-browser harness: Debian's Chromium driven headless through Playwright.

Playwright only drives the system browser (executable_path=/usr/bin/chromium); it never downloads
one. Outside CI a machine without Chromium skips these tests with the reason; in CI (CI=true) a
missing Chromium or Playwright is a failure, because `.ci/run` installs both.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _unavailable() -> str | None:
    """Why the browser cannot run here, or None."""
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        return f"expected Chromium at {CHROMIUM} (apt-get install -y chromium); got none"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "expected the Python package 'playwright' (pip install -e '.[dev]'); got none"
    return None


@pytest.fixture(scope="session")
def chromium_browser():
    """A headless Playwright Browser on the system Chromium, shared by the session."""
    why = _unavailable()
    if why is not None:
        if IN_CI:
            pytest.fail(f"real-browser tests in CI: {why}")
        pytest.skip(f"real-browser tests: {why}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM if CHROMIUM.exists()
                                                         else shutil.which("chromium")),
                                     headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class OpenedPage:
    """A loaded page with what went wrong while loading and using it."""

    page: object  # playwright.sync_api.Page
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return self.console_errors + self.failed_requests + self.page_errors


@pytest.fixture
def open_page(chromium_browser):
    """open_page(url_or_path, width=1280) -> OpenedPage; a local path becomes a file:// URL.

    Console errors, uncaught page errors, failed requests and HTTP >= 400 responses are collected
    from before navigation on, so nothing at load time is missed."""
    contexts = []

    def _open(url_or_path, width: int = 1280, height: int = 900) -> OpenedPage:
        url = str(url_or_path)
        if "://" not in url:
            url = Path(url).resolve().as_uri()
        context = chromium_browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        opened = OpenedPage(page)
        page.on("console", lambda m: m.type == "error" and opened.console_errors.append(
            f"console error: {m.text}"))
        page.on("pageerror", lambda e: opened.page_errors.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: opened.failed_requests.append(
            f"request failed: {r.url[:120]} ({r.failure})"))
        page.on("response", lambda r: r.status >= 400 and opened.failed_requests.append(
            f"HTTP {r.status}: {r.url[:120]}"))
        page.goto(url, wait_until="load")
        return opened

    yield _open
    for context in contexts:
        context.close()


REPO = Path(__file__).resolve().parents[2]

# configs/demo.yaml itself, cut down from the command line to a ~15 s CPU run
DEMO_CUT_DOWN = [
    "base.epochs=1", "base.data.params.n_images=96", "base.data.params.image_size=32",
    "base.data.params.radiograph_size=[128,96]", "base.protocol.folds=2", "statistics.n_boot=20",
    "external.0.phantoms.n_images=6", "external.0.phantoms.image_size=[128,96]",
    "external.0.data.params.image_size=32", "cost.timing=false",
    "diagnostics.qubits=[2,3]", "diagnostics.layers=[1]", "diagnostics.inits=3",
    "diagnostics.inputs=8", "diagnostics.pairs=20", "diagnostics.max_samples=16",
]


@pytest.fixture(scope="session")
def report_section_ids() -> list[str]:
    """The report section ids listed in docs/study.md's 'Sections (stable ids)' paragraph, in order."""
    text = (REPO / "docs" / "study.md").read_text()
    match = re.search(r"Sections\s+\(stable ids\):(.*?)Sections with nothing to show", text, re.S)
    assert match, "docs/study.md no longer has its 'Sections (stable ids):' paragraph"
    return re.findall(r"`([a-z][a-z0-9-]*)`", match.group(1))


@pytest.fixture(scope="session")
def demo_report(tmp_path_factory) -> Path:
    """The demo study report, built once per session by the real `hqmed study` command."""
    out = tmp_path_factory.mktemp("demo-study")
    sets = [arg for kv in DEMO_CUT_DOWN for arg in ("--set", kv)]
    proc = subprocess.run([sys.executable, "-m", "hqmed.cli", "study", str(REPO / "configs" / "demo.yaml"),
                           "--out", str(out), *sets], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out / "report.html"
