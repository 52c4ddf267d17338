"""Number and name formatting of the report (hand-computed expectations)."""

import math

import pytest

from hqmed.report.format import (
    MINUS,
    bounded,
    fmt,
    fmt_interval,
    fmt_p,
    fmt_pm,
    fmt_signed,
    metric_name,
    split_label,
)


@pytest.mark.parametrize("x, want", [(0.12345, "0.123"), (1, "1.000"), (-0.0464, f"{MINUS}0.046"),
                                     (-0.0001, "0.000"), (None, "–"), (math.nan, "–"),
                                     (2.5e-7, "0.000"), (-2.5e7, f"{MINUS}2.50e+07"), ("n/a", "n/a")])
def test_fmt_three_decimals_true_minus(x, want):
    assert fmt(x) == want
    assert "-" not in fmt(x).replace("e+", "") or x == "n/a"


@pytest.mark.parametrize("x, want", [(0.12, "+0.120"), (-0.4567, f"{MINUS}0.457"), (0.0, "0.000"),
                                     (-0.0002, "0.000"), (None, "–")])
def test_fmt_signed(x, want):
    assert fmt_signed(x) == want


@pytest.mark.parametrize("p, want", [(5.42e-10, "< 0.001"), (0.0009999, "< 0.001"), (0.001, "0.00100"),
                                     (0.0184, "0.0184"), (0.5, "0.500"), (0.98765, "0.988"),
                                     (1.0, "1.00"), (None, "–"), (math.nan, "–")])
def test_fmt_p_three_significant_digits(p, want):
    assert fmt_p(p) == want


def test_interval_is_bounded_to_the_metric_range():
    # the "0.909 ± 0.143" would reach 1.052: an interval never leaves [0, 1]
    assert fmt_interval(0.766, 1.052) == "[0.766,\u00a01.000]"
    assert fmt_interval(-0.2, 0.3) == "[0.000,\u00a00.300]"
    assert fmt_interval(-1.7, 0.4, (-1, 1)) == f"[{MINUS}1.000,\u00a00.400]"
    assert fmt_interval(None, 0.3) == "–"
    assert bounded(1.2, -0.1) == (1.0, 0.0)


def test_mean_sd_keeps_sd_together_when_wrapping():
    assert fmt_pm(0.909, 0.143) == "0.909 ±\u00a00.143"
    assert fmt_pm(None, 0.1) == "–"


def test_human_metric_names_and_split_labels():
    assert metric_name("precision_weighted") == "Precision (weighted)"
    assert metric_name("auroc_macro") == "AUROC (macro)"
    assert metric_name("auroc_micro") == "AUROC (micro)"
    assert metric_name("some_new_metric") == "Some new metric"
    assert split_label("test", 100) == "test split, n = 100"
    assert split_label("val", 1200, folds=3) == \
        "pooled out-of-fold validation predictions (3 folds), n = 1,200"


def test_class_styles_separate_similar_hues():
    from hqmed.report.plots import PALETTE, class_styles

    styles = class_styles(12)
    assert len(set(styles)) == 12  # every class distinct
    similar = [(PALETTE[0], PALETTE[4]), (PALETTE[1], PALETTE[5])]  # blue/sky blue, vermillion/orange
    for a, b in similar:
        for ca, la in styles:
            for cb, lb in styles:
                if (ca, cb) == (a, b):
                    assert la != lb
    assert "#F0E442" not in PALETTE  # Okabe-Ito yellow is too faint on white
