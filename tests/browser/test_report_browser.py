"""The demo study report opened in headless Chromium: it renders cleanly and has every section
that docs/study.md promises."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# configs/demo.yaml itself, cut down from the command line to a ~15 s CPU run
DEMO_CUT_DOWN = [
    "base.epochs=1", "base.data.params.n_images=96", "base.data.params.image_size=32",
    "base.data.params.radiograph_size=[128,96]", "base.protocol.folds=2", "statistics.n_boot=20",
    "external.0.phantoms.n_images=6", "external.0.phantoms.image_size=[128,96]",
    "external.0.data.params.image_size=32", "cost.timing=false",
]


def documented_section_ids() -> list[str]:
    """The ids listed in docs/study.md's 'Sections (stable ids)' paragraph, in order."""
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


def test_documented_section_list_is_parsed():
    ids = documented_section_ids()
    # the parse above is what the browser test relies on: check it found the whole list
    assert {"header", "toc", "synthetic-banner", "ttest", "dca", "cost", "methods"} <= set(ids)
    assert len(ids) >= 20


@pytest.mark.slow
def test_demo_report_renders_in_chromium(demo_report, open_page, tmp_path):
    opened = open_page(demo_report, width=1280)
    page = opened.page
    page.wait_for_load_state("networkidle")
    assert opened.problems == []

    missing = [sid for sid in documented_section_ids() if page.locator(f"#{sid}").count() == 0]
    assert missing == [], f"sections named in docs/study.md but absent from the DOM: {missing}"

    # every <img> decoded to a real bitmap (a broken base64 PNG has naturalWidth 0)
    images = page.eval_on_selector_all(
        "img", "els => els.map(e => [e.alt, e.complete, e.naturalWidth, e.naturalHeight])")
    assert images, "the report has no figures"
    broken = [alt for alt, complete, w, h in images if not (complete and w > 0 and h > 0)]
    assert broken == [], f"broken images: {broken}"

    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
