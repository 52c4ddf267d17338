"""What a reader sees: the answer first, one direction (B − A), class and metric names, numbers
with true minus signs and intervals inside the metric's range."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from presentation_checks import MINUS, check_presentation, visible_text

from hqmed.report.html import glance_sentence
from hqmed.report.results import RunResult, load_study


def test_fake_study_report_presentation(fake_report):
    _, text = fake_report
    check_presentation(text)
    glance = visible_text(re.search(r'<section id="at-a-glance">.*?</section>', text, re.S).group(0))
    assert glance.count("B − A") >= 3 and "McNemar p" in glance
    assert "df = 2" in glance and "test split, n = 40" in glance
    assert "A − B" not in text  # one direction everywhere
    assert "99% Wilson intervals" in glance and 'id="tab-overall-ci"' in text


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
    assert f"[{MINUS}1.000,\u00a00.440]" in text  # B − A ± 0.9, clipped at −1


def test_net_benefit_thresholds_are_configurable(fake_study):
    from hqmed.report.html import ReportOptions, options_of, render

    s = load_study(fake_study)
    assert options_of(s).dca_thresholds == (0.05, 0.1, 0.2, 0.3, 0.4, 0.5)  # the default
    s.meta["statistics"]["net_benefit_thresholds"] = [0.15, 0.25]
    assert options_of(s) == ReportOptions(dca_thresholds=(0.15, 0.25))
    dca = re.search(r'<table id="tab-dca".*?</table>', render(s), re.S).group(0)
    assert "pt = 0.15" in dca and "pt = 0.25" in dca and "pt = 0.05" not in dca
    assert "Mean B − A, 0.15–0.25" in dca
