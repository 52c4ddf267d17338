"""The HTML report: self-contained, every section present, every figure a decodable PNG."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
from PIL import Image

from hqmed.report.html import SECTIONS, build_run_report
from hqmed.report.results import load_study

IMG_RE = re.compile(r'<img[^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


@pytest.fixture
def report(fake_report):
    return fake_report


def test_report_file_exists_with_every_section(report):
    path, text = report
    assert path.is_file() and path.name == "report.html"
    for sid, _ in SECTIONS:
        assert f'id="{sid}"' in text, sid
    for tid in ("tab-overall", "tab-ttest", "tab-mcnemar", "tab-ci", "tab-dca", "tab-external",
                "tab-cost", "tab-sweep-auc", "tab-sweep-acc", "tab-per-class", "tab-per-fold",
                "tab-quantum-random", "tab-quantum-trained", "fig-barren-plateau"):
        assert f'id="{tid}"' in text, tid
    assert 'id="synthetic-banner"' in text
    assert "dermamnist" in text and "offline" in text  # skipped dataset and why


def test_report_has_no_external_references(report):
    _, text = report
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', text)
    assert "<script" not in text and "<link" not in text and "@import" not in text
    # every link is an in-page anchor
    for href in re.findall(r'href="([^"]*)"', text):
        assert href.startswith("#"), href


def test_every_figure_decodes_as_png(report):
    _, text = report
    blobs = IMG_RE.findall(text)
    # 6 runs x (confusion, roc) + per dataset (curves, reliability, per-fold) x2 + dca x3 + sweep x2
    # + search sensitivity x2 + the barren-plateau plot of "Inside the quantum block"
    assert len(blobs) == 6 * 2 + 3 * 2 + 3 + 2 + 2 + 1
    assert len(blobs) == text.count("<img")
    for b in blobs:
        raw = base64.b64decode(b, validate=True)
        assert raw[:8] == b"\x89PNG\r\n\x1a\n"
        with Image.open(io.BytesIO(raw)) as im:
            im.load()
            assert im.width > 100 and im.height > 100


def test_tables_show_the_numbers_of_the_documents(fake_study, report):
    """Spot-check: values in the tables equal those in the JSON documents (an independent read),
    written with 3 decimals, true minus signs and B − A differences."""
    _, text = report
    s = load_study(fake_study)
    c = next(c for c in s.comparisons if c["a"] == "litespinenet")
    t = c["ttest"]["accuracy"]
    assert f"{t['t_critical']:.2f}" in text
    # the net-benefit table reads NB(B) − NB(A) at pt = 0.10 off the curves (grid 0.01 ... 0.99)
    d = c["dca"]
    k = d["a"]["thresholds"].index(0.1) if 0.1 in d["a"]["thresholds"] else \
        min(range(len(d["a"]["thresholds"])), key=lambda i: abs(d["a"]["thresholds"][i] - 0.1))
    nb_a = d["a"]["per_class"]["Osteophytes"]["net_benefit"][k]
    nb_b = d["b"]["per_class"]["Osteophytes"]["net_benefit"][k]
    assert f"{nb_b:.3f} / {nb_a:.3f}".replace("-", "\u2212") in text
    acc = s.run("retina", "hq_lcnet_050").metrics["oof"]["accuracy"]
    assert f"{acc:.3f}" in text
    # B − A of the width table: hybrid − classical of the fold means
    a = s.run("retina", "lcnet_100_tanh4").metrics["summary"]["accuracy"]["mean"]
    b = s.run("retina", "hq_lcnet_100").metrics["summary"]["accuracy"]["mean"]
    assert f"{b - a:+.3f}".replace("-", "\u2212") in text
    assert "758,390" in text  # cost table formats parameter counts


def test_real_data_study_has_no_synthetic_banner(fake_study):
    from hqmed.report.html import _header

    s = load_study(fake_study)
    assert 'id="synthetic-banner"' in _header(s)
    s.meta["synthetic"] = False
    assert 'id="synthetic-banner"' not in _header(s)


def test_run_report_from_bare_run_directories(fake_study, tmp_path):
    runs = [fake_study / "runs" / "phantoms" / m for m in ("litespinenet", "hq_litespinenet")]
    text = build_run_report(runs, tmp_path / "r.html", title="two runs").read_text()
    assert "No pairwise comparison" in text
    for sid in ("header", "at-a-glance", "warnings", "overall", "per-fold", "confusion", "roc",
                "calibration", "methods"):
        assert f'id="{sid}"' in text, sid
    # sections with nothing to show are left out, and out of the contents
    for sid in ("ttest", "classwise-ci", "dca", "external", "cost", "width-sweep"):
        assert f'id="{sid}"' not in text and f'href="#{sid}"' not in text, sid


def test_test_scores_average_the_fold_ensemble(fake_study):
    s = load_study(fake_study)
    r = s.run("phantoms", "litespinenet")
    y, p = r.scores("test")
    raw = r.predictions[r.predictions.split == "test"]
    first = raw[raw["index"] == raw["index"].min()]
    np.testing.assert_allclose(p[0], first[[c for c in raw if c.startswith("prob_")]].mean().values)
    assert len(y) == raw["index"].nunique()


def test_summary_markdown_lists_every_run_and_comparison(fake_study):
    from hqmed.report.tables import summary_markdown

    s = load_study(fake_study)
    md = summary_markdown(s.runs, s.comparisons)
    assert md.count("\n| ") == len(s.runs)  # one row per run after header and separator
    assert md.count("\n- ") == len(s.comparisons)
    acc = s.run("phantoms", "litespinenet").metrics["test"]["accuracy"]
    assert f"| {acc:.3f} |" in md


def test_search_section_has_the_table_one_plot_per_hyperparameter_and_the_choice(report):
    _, text = report
    sec = text[text.index('id="search"'):]
    sec = sec[:sec.index("</section>")]
    table = sec[sec.index('id="tbl-search-phantoms-litespinenet"'):sec.index("</table>")]
    assert table.count("<tr>") == 1 + 4  # header + 4 points
    assert "1.033 ±\u00a00.153" in table  # p02: mean ± sd of [0.9, 1.0, 1.2] (sd kept with ±)
    assert sec.count('id="fig-search-phantoms-litespinenet-') == 2
    assert "Chosen configuration: optim.lr = 0.001, model.drop_rate = 0.1" in sec
