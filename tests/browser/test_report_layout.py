"""The demo report's layout in headless Chromium at a desktop (1280 px) and a narrow (800 px) width:
the answer on the first screen, no table wider than its column, every caption readable outside
any scroll box, every figure loaded with its text at 9 px or more, no console errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report"))
from presentation_checks import check_presentation  # noqa: E402

FIRST_SCREEN_PX = 600
MIN_FIGURE_TEXT_PX = 9.0

LAYOUT = """() => {
  const scrollers = el => {
    const out = [];
    for (let p = el.parentElement; p; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === 'auto' || o === 'scroll' || o === 'hidden') out.push(p.className || p.tagName);
    }
    return out;
  };
  const docWidth = document.documentElement.clientWidth;
  const glance = document.querySelector('#at-a-glance h2');
  return {
    glanceTop: glance ? glance.getBoundingClientRect().top + window.scrollY : null,
    tables: [...document.querySelectorAll('table')].map(t => ({
      id: t.id || t.className, width: t.scrollWidth,
      room: (t.closest('.table-wrap') || t.parentElement).clientWidth})),
    captions: [...document.querySelectorAll('p.caption, figcaption, p.note')].map(c => {
      const r = c.getBoundingClientRect();
      return {text: c.textContent.slice(0, 60), visible: r.width > 0 && r.height > 0,
              left: r.left, right: r.right, docWidth, clipped: c.scrollWidth > c.clientWidth + 1,
              scrollers: scrollers(c)};
    }),
    images: [...document.querySelectorAll('img')].map(i => ({
      id: i.closest('figure') ? i.closest('figure').id : i.alt.slice(0, 40),
      ok: i.complete && i.naturalWidth > 0, natural: i.naturalWidth, shown: i.clientWidth,
      plot: !!i.closest('figure'), font: parseFloat(i.dataset.minFontPx)})),
  };
}"""


@pytest.mark.slow
@pytest.mark.parametrize("width", [1280, 800])
def test_demo_report_layout(demo_report, open_page, width):
    opened = open_page(demo_report, width=width, height=900)
    page = opened.page
    page.wait_for_load_state("networkidle")
    got = page.evaluate(LAYOUT)
    assert opened.problems == []

    assert got["glanceTop"] is not None and got["glanceTop"] < FIRST_SCREEN_PX, got["glanceTop"]

    if width == 1280:
        too_wide = [t for t in got["tables"] if t["width"] > t["room"] + 1]
        assert too_wide == [], f"tables wider than their column at {width} px: {too_wide}"

    assert got["captions"], "no captions found"
    bad = [c for c in got["captions"] if not c["visible"] or c["scrollers"] or c["clipped"]
           or c["left"] < 0 or c["right"] > c["docWidth"] + 1]
    assert bad == [], f"captions not readable at {width} px: {bad[:3]}"

    assert got["images"], "the report has no figures"
    broken = [i["id"] for i in got["images"] if not i["ok"]]
    assert broken == [], f"images that did not load: {broken}"
    # every plot (a <figure>) says its smallest font; images without text (e.g. Grad-CAM
    # overlays in a table) say nothing and have nothing to read
    small = [(i["id"], round(i["font"] * i["shown"] / i["natural"], 1)) for i in got["images"]
             if (i["plot"] and not i["font"] == i["font"])  # NaN: a plot without its font size
             or i["font"] * i["shown"] / i["natural"] < MIN_FIGURE_TEXT_PX]
    assert small == [], f"figure text below {MIN_FIGURE_TEXT_PX} px at {width} px: {small}"


def test_demo_report_presentation(demo_report):
    """No 'Class 0' headers, no ASCII minus in numbers, no interval outside its range; the answer
    first (see tests/report/presentation_checks.py)."""
    check_presentation(demo_report.read_text(encoding="utf-8"))
