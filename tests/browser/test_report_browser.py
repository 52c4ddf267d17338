"""The demo study report opened in headless Chromium: it renders cleanly and has every section
that docs/study.md promises."""

from __future__ import annotations

from pathlib import Path

import pytest

from hqmed.report.html import SECTIONS

REPO = Path(__file__).resolve().parents[2]


CONDITIONAL = ("width-sweep", "search")  # documented after the list: only with a sweep / a search


def test_every_report_section_is_documented_in_page_order(report_section_ids):
    """docs/study.md's list, the promise the browser test checks the page against, names each of
    the report's sections (hqmed.report.html.SECTIONS) in page order, plus ids inside sections."""
    ids = [sid for sid, _ in SECTIONS]
    assert [s for s in report_section_ids if s in ids] == [s for s in ids if s not in CONDITIONAL]
    assert set(report_section_ids) - set(ids) == {"synthetic-banner", "toc", "skipped"}
    text = (REPO / "docs" / "study.md").read_text()
    after = text[text.index("Sections with nothing to show"):]
    assert all(f"`{sid}`" in after for sid in CONDITIONAL)


@pytest.mark.slow
def test_demo_report_renders_in_chromium(demo_report, report_section_ids, open_page, tmp_path):
    opened = open_page(demo_report, width=1280)
    page = opened.page
    page.wait_for_load_state("networkidle")
    assert opened.problems == []

    missing = [sid for sid in report_section_ids if page.locator(f"#{sid}").count() == 0]
    assert missing == [], f"sections named in docs/study.md but absent from the DOM: {missing}"

    # every <img> decoded to a real bitmap (a broken base64 PNG has naturalWidth 0)
    images = page.eval_on_selector_all(
        "img", "els => els.map(e => [e.alt, e.complete, e.naturalWidth, e.naturalHeight])")
    assert images, "the report has no figures"
    broken = [alt for alt, complete, w, h in images if not (complete and w > 0 and h > 0)]
    assert broken == [], f"broken images: {broken}"

    # both models of each comparison side by side on every fixed test image (one table, with a
    # header row, per comparison)
    tables = page.locator("#where-models-look table.where-look").count()
    rows = page.locator("#where-models-look table.where-look tr").count() - tables
    assert rows >= 2 and page.locator("#where-models-look table.where-look img").count() == 2 * rows

    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
