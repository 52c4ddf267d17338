"""The /predict JSON API against ``hqmed predict --json``, and every bad upload as a 4xx line."""

from __future__ import annotations

import json

import pytest

from hqmed.cli import main

pytest.importorskip("fastapi")
pytest.importorskip("multipart")
from fastapi.testclient import TestClient  # noqa: E402

from hqmed.serve.app import create_app  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(tiny_run):
    run = tiny_run("hq_litespinenet")
    with TestClient(create_app(run, max_upload_bytes=200_000)) as client:
        yield run, client


def _dicoms(run, n=2):
    return sorted((run.parent / "data" / "test_images").iterdir())[:n]


def test_predict_matches_the_cli_json(served, capsys):
    run, client = served
    for f in _dicoms(run):
        r = client.post("/predict", files={"file": (f.name, f.read_bytes(), "application/dicom")})
        assert r.status_code == 200, r.text
        capsys.readouterr()
        assert main(["predict", str(run), str(f), "--json"]) == 0
        cli = json.loads(capsys.readouterr().out)
        doc = r.json()
        assert doc["model"] == cli["model"] and doc["run"] == cli["run"]
        (ours,), (ref,) = doc["predictions"], cli["predictions"]
        assert ours["file"] == f.name and ours["class"] == ref["class"]
        assert ours["probabilities"] == pytest.approx(ref["probabilities"], abs=1e-9)
        assert set(ours) == set(ref)  # the same contract, nothing added


def test_explain_adds_an_overlay(served):
    run, client = served
    f = _dicoms(run, 1)[0]
    doc = client.post("/explain", files={"file": (f.name, f.read_bytes())}).json()
    pred = doc["predictions"][0]
    assert pred["overlay"].startswith("data:image/png;base64,") and pred["target"] == pred["class"]
    assert pred["method"] == "gradcam" and pred["layer"] == "backbone.10"


def test_page_says_research_tool_and_binds_nothing_itself(served):
    _, client = served
    page = client.get("/").text
    assert "Research tool, not a medical device" in page and 'type="file"' in page


def test_bad_uploads_get_the_cli_line_and_a_4xx(served, tmp_path, monkeypatch, capsys):
    run, client = served
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.png").write_bytes(b"this is not a picture")
    assert main(["predict", str(run), "bad.png"]) == 1
    cli_line = capsys.readouterr().err.splitlines()[0].removeprefix("hqmed: error: ")
    r = client.post("/predict", files={"file": ("bad.png", b"this is not a picture", "image/png")})
    assert r.status_code == 400 and r.json() == {"error": cli_line}

    cases = [
        (dict(files={"file": ("big.png", b"x" * 300_000)}), 413, "upload: expected at most 200000 bytes"),
        (dict(files={"file": ("empty.dcm", b"")}), 400, "empty.dcm: expected an image file"),
        (dict(files={"other": ("a.png", b"abc")}), 400, "upload: expected a form field 'file'"),
        (dict(data={"file": "text"}, files={"other": ("a.png", b"abc")}), 400, "got a text field"),
        (dict(content=b"raw", headers={"content-type": "application/octet-stream"}), 415,
         "expected a multipart/form-data form"),
        (dict(content=b"--x\r\nbroken", headers={"content-type": "multipart/form-data; boundary=x"}),
         400, "upload: expected"),
        (dict(files={"file": ("../../etc/passwd", b"\x89PNG\r\n\x1a\n" + b"\0" * 40)}), 400, "passwd:"),
    ]
    for kwargs, status, text in cases:
        r = client.post("/predict", **kwargs)
        assert r.status_code == status, (kwargs, r.text)
        assert text in r.json()["error"] and "\n" not in r.json()["error"]
    # the server is still answering after all of that
    f = _dicoms(run, 1)[0]
    assert client.post("/predict", files={"file": (f.name, f.read_bytes())}).status_code == 200


def test_uploads_over_the_pixel_budget_are_refused_with_the_cli_line(served, monkeypatch):
    import io

    from PIL import Image

    import hqmed.data.base as base

    if not hasattr(base, "max_pixels"):
        pytest.skip("the image loaders' pixel budget ($HQMED_MAX_PIXELS) has not landed")
    _, client = served
    monkeypatch.setenv("HQMED_MAX_PIXELS", "1000")
    buf = io.BytesIO()
    Image.new("L", (64, 64)).save(buf, format="PNG")
    r = client.post("/predict", files={"file": ("wide.png", buf.getvalue(), "image/png")})
    assert r.status_code == 400 and r.json()["error"].startswith("DataError: wide.png")
    monkeypatch.setenv("HQMED_MAX_PIXELS", "5000")
    assert client.post("/predict", files={"file": ("wide.png", buf.getvalue())}).status_code == 200
