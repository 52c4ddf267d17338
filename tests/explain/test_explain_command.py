"""``hqmed explain`` on a tiny trained run: files written, and the JSON agrees with ``hqmed predict``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from hqmed.cli import main

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("model", ["hq_litespinenet"])
def test_explain_writes_overlay_map_and_json_matching_predict(tiny_run, tmp_path, capsys, model):
    run = tiny_run(model)
    files = sorted(str(p) for p in (run.parent / "data" / "test_images").iterdir())[:3]
    out = tmp_path / "cam"
    assert main(["explain", str(run), *files, "--out", str(out), "--method", "gradcam++"]) == 0
    capsys.readouterr()
    assert main(["predict", str(run), *files, "--json"]) == 0
    predicted = json.loads(capsys.readouterr().out)["predictions"]
    for f, pred in zip(files, predicted):
        stem = f.rsplit("/", 1)[1].rsplit(".", 1)[0]
        doc = json.loads((out / f"{stem}.json").read_text())
        assert doc["class"] == pred["class"] and doc["target"] == pred["class"]
        assert doc["layer"] == "backbone.10" and doc["method"] == "gradcam++"
        for name, p in pred["probabilities"].items():
            assert doc["probabilities"][name] == pytest.approx(p, abs=1e-6)
        heat = np.load(out / f"{stem}.npy")
        assert heat.shape == (32, 32) and (heat >= 0).all() and np.isfinite(heat).all()
        with Image.open(out / f"{stem}.png") as im:
            assert im.mode == "RGB" and min(im.size) >= 192


def test_explain_bad_target_is_one_line(tiny_run, tmp_path, capsys):
    run = tiny_run("litespinenet")
    f = str(next((run.parent / "data" / "test_images").iterdir()))
    assert main(["explain", str(run), f, "--out", str(tmp_path), "--target", "nope"]) != 0
    err = capsys.readouterr().err.strip().splitlines()[0]  # (the second line is the --debug hint)
    assert "--target: expected a class name" in err and err.endswith("got 'nope'")
