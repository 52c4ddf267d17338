"""Acceptance checks on a rendered report's HTML, shared by the report tests and the browser test
of the demo report: the answer first, no class-index headers, no code metric names, no ASCII minus
in numbers, no interval outside the metric's range."""

from __future__ import annotations

import html as html_lib
import re

MINUS = "\u2212"


def visible_text(fragment: str) -> str:
    return html_lib.unescape(re.sub(r"<[^>]+>", " ", fragment))


def report_numbers_text(text: str) -> str:
    """The text of every table and of "At a glance" (where the numbers are)."""
    parts = re.findall(r"<table.*?</table>", text, re.S)
    parts += re.findall(r'<section id="at-a-glance">.*?</section>', text, re.S)
    return visible_text(" ".join(parts))


def intervals(text: str) -> list[tuple[float, float]]:
    return [(float(a.replace(MINUS, "-")), float(b.replace(MINUS, "-")))
            for a, b in re.findall(rf"\[([{MINUS}\d.]+),\s*([{MINUS}\d.]+)\]", text)]


def check_presentation(text: str) -> None:
    """The acceptance checks on a rendered report (also run on the demo report in tests/browser)."""
    # the answer first: "At a glance" directly after the header, before the contents
    order = [text.find(f'id="{sid}"') for sid in ("header", "at-a-glance", "toc", "overall")]
    assert -1 not in order and order == sorted(order), order
    numbers = report_numbers_text(text)
    assert not re.search(r"\bClass \d+\b", numbers), "class index headers instead of names"
    ascii_minus = re.findall(r"(?<![\w.])-\d", numbers)
    assert not ascii_minus, f"ASCII minus in numbers: {ascii_minus[:5]}"
    # class-wise and overall metric intervals lie in [0, 1]; difference intervals (B − A) in [−1, 1]
    for m in re.finditer(r'<table id="tab-(?:overall-)?ci[^"]*".*?</table>', text, re.S):
        for lo, hi in intervals(visible_text(m.group(0))):
            assert 0.0 <= lo <= hi <= 1.0, (lo, hi)
    for lo, hi in intervals(numbers):
        assert -1.0 <= lo <= hi <= 1.0, (lo, hi)
    for code in ("precision_weighted", "auroc_macro", "f1_macro", "recall_weighted"):
        assert code not in numbers, code
