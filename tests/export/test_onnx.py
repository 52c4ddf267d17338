"""``hqmed export`` -> onnxruntime gives ``hqmed predict``'s probabilities (1e-5) on the run's test
images, with inputs prepared from the JSON written beside the graph; no complex types in the graph."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from hqmed.cli import main
from hqmed.data.base import read_image_file

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

pytestmark = pytest.mark.slow
COMPLEX = {onnx.TensorProto.COMPLEX64, onnx.TensorProto.COMPLEX128}


def _prepare_from_json(files, meta):
    """The preprocessing exactly as model.json describes it, written out independently."""
    pre = meta["preprocessing"]
    h, w = pre["resize"]["size"]
    out = []
    for f in files:
        img = torch.from_numpy(read_image_file(f, channels=pre["channels"]))[None]
        img = F.interpolate(img, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
        out.append(img.clamp(0, 1)[0].numpy())
    x = np.stack(out).astype(np.float32)
    c = meta["input"]["shape"][1]
    return np.repeat(x, c, axis=1) if x.shape[1] != c else x


def _complex_tensors(model) -> list[str]:
    g = onnx.shape_inference.infer_shapes(model).graph
    typed = [*g.input, *g.output, *g.value_info]
    bad = [v.name for v in typed if v.type.tensor_type.elem_type in COMPLEX]
    bad += [t.name for t in g.initializer if t.data_type in COMPLEX]
    bad += [n.name for n in g.node for a in n.attribute if a.t.data_type in COMPLEX]
    return bad


@pytest.mark.parametrize("model", ["litespinenet", "hq_litespinenet", "lcnet_050_tanh4", "hq_lcnet_050"])
@pytest.mark.parametrize("fold", ["ensemble", "1"])
def test_onnxruntime_matches_hqmed_predict(tiny_run, tmp_path, capsys, model, fold):
    run = tiny_run(model)
    files = sorted(str(p) for p in (run.parent / "data" / "test_images").iterdir())[:8]
    graph = tmp_path / "model.onnx"
    assert main(["export", str(run), "--format", "onnx", "--out", str(graph), "--fold", fold]) == 0
    meta = json.loads(graph.with_suffix(".json").read_text())
    capsys.readouterr()
    assert main(["predict", str(run), *files, "--json", "--fold", fold]) == 0
    predicted = json.loads(capsys.readouterr().out)["predictions"]
    names = meta["output"]["class_names"]
    expected = np.array([[p["probabilities"][n] for n in names] for p in predicted])

    onnx_model = onnx.load(str(graph))
    onnx.checker.check_model(onnx_model)
    assert _complex_tensors(onnx_model) == []
    session = ort.InferenceSession(str(graph), providers=["CPUExecutionProvider"])
    (probs,) = session.run(["probabilities"], {"image": _prepare_from_json(files, meta)})
    np.testing.assert_allclose(probs, expected, atol=1e-5, rtol=0)
    assert meta["folds"] == ([0, 1] if fold == "ensemble" else [1])


def test_export_refuses_a_wrong_suffix_in_one_line(tiny_run, tmp_path, capsys):
    run = tiny_run("litespinenet")
    assert main(["export", str(run), "--out", str(tmp_path / "model.pt")]) != 0
    err = capsys.readouterr().err.splitlines()[0]
    assert "--out: expected a file name ending in .onnx; got" in err
