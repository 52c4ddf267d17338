"""What a reader sees: the answer first, one direction (B − A), class and metric names, numbers
with true minus signs and intervals inside the metric's range."""

from __future__ import annotations

import html as html_lib
import re
from pathlib import Path

import pandas as pd
import pytest

from hqmed.report.html import glance_sentence
from hqmed.report.results import RunResult, load_study

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
    # class-wise intervals lie in [0, 1]; difference intervals (B − A) in [−1, 1]
    for m in re.finditer(r'<table id="tab-ci[^"]*".*?</table>', text, re.S):
        for lo, hi in intervals(visible_text(m.group(0))):
            assert 0.0 <= lo <= hi <= 1.0, (lo, hi)
    for lo, hi in intervals(numbers):
        assert -1.0 <= lo <= hi <= 1.0, (lo, hi)
    for code in ("precision_weighted", "auroc_macro", "f1_macro", "recall_weighted"):
        assert code not in numbers, code


def test_fake_study_report_presentation(fake_report):
    _, text = fake_report
    check_presentation(text)
    glance = visible_text(re.search(r'<section id="at-a-glance">.*?</section>', text, re.S).group(0))
    assert glance.count("B − A") >= 3 and "McNemar p" in glance
    assert "df = 2" in glance and "test split, n = 40" in glance
    assert "A − B" not in text  # one direction everywhere


def test_class_names_are_written_out(fake_study, fake_report):
    _, text = fake_report
    s = load_study(fake_study)
    ci = re.search(r'<table id="tab-ci".*?</table>', text, re.S).group(0)
    for name in s.run("phantoms", "litespinenet").class_names:
        assert name in ci


def _run(label: str, acc: float) -> RunResult:
    return RunResult(path=Path("."), dataset="spine", model=label.lower(), label=label, config={},
                     environment={}, metrics={"test": {"accuracy": acc}}, history=pd.DataFrame(),
                     predictions=pd.DataFrame())


@pytest.mark.parametrize("direction", ["A - B", "B - A"])
def test_glance_sentence_issue_example(direction):
    """The issue's case: a 46-point gap, 'not significant' by a 3-fold t-test (df = 2, critical
    t 9.92) but McNemar p = 5.4e-10. Whichever direction the t-test document uses, the sentence
    says B − A and names A as better."""
    sign = 1 if direction == "A - B" else -1
    tt = {"n": 3, "df": 2, "mean_a": 0.77, "mean_b": 0.31, "mean_diff": sign * 0.46, "t": sign * 5.1,
          "t_critical": 9.925, "p": 0.0364, "ci_low": sign * 0.46 - 0.9, "ci_high": sign * 0.46 + 0.9,
          "significant": False}
    c = {"dataset": "spine", "a": "cnn", "b": "hq", "label_a": "CNN", "label_b": "HQ", "alpha": 0.01,
         "split": "test", "ttest": {"accuracy": tt},
         "mcnemar": {"n": 100, "b": 48, "c": 2, "p": 5.42e-10, "split": "test"}}
    text = visible_text(glance_sentence(c, _run("CNN", 0.77), _run("HQ", 0.31)))
    assert "CNN (A) is more accurate than HQ (B)" in text
    assert f"B − A = {MINUS}0.460" in text
    assert "McNemar p < 0.001" in text
    assert "test split, n = 100" in text
    assert "df = 2" in text and "9.93" in text and "little power" in text
    assert f"t = {MINUS}5.10" in text
    assert f"[{MINUS}1.000, 0.440]" in text  # B − A ± 0.9, clipped at −1
