"""``hqmed serve`` in a real browser: upload a phantom DICOM through the page's file input, wait
for the probabilities and the overlay, and check them against ``hqmed predict --json``."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from hqmed.cli import main

pytestmark = pytest.mark.slow
pytest.importorskip("fastapi")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tiny_run):
    run = tiny_run("hq_litespinenet")
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "hqmed.cli", "serve", str(run), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120  # start-up only; nothing below depends on how fast it is
    while True:
        try:
            with urllib.request.urlopen(url + "health", timeout=5) as r:
                assert json.loads(r.read())["status"] == "ok"
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"hqmed serve did not start: {proc.stdout.read()[-2000:]}")
            time.sleep(0.2)
    yield run, url
    proc.terminate()
    proc.wait(timeout=30)


def test_upload_shows_probabilities_and_overlay_matching_predict(server, open_page, tmp_path, capsys):
    run, url = server
    dicom = sorted((run.parent / "data" / "test_images").iterdir())[0]
    opened = open_page(url, width=1100)
    page = opened.page
    assert "Research tool, not a medical device" in page.locator("#note").inner_text()

    page.set_input_files("#file", str(dicom))
    page.wait_for_function(
        "() => { const img = document.getElementById('overlay');"
        " return !document.getElementById('result').hidden && img.complete && img.naturalWidth > 0; }",
        timeout=60_000)
    bars = page.eval_on_selector_all(
        "#probabilities .bar", "els => els.map(e => [e.dataset.class, Number(e.dataset.probability)])")
    shown = dict(bars)
    predicted = page.locator("#predicted").inner_text()

    capsys.readouterr()
    assert main(["predict", str(run), str(dicom), "--json"]) == 0
    (ref,) = json.loads(capsys.readouterr().out)["predictions"]
    assert list(shown) == list(ref["probabilities"])
    assert shown == pytest.approx(ref["probabilities"], abs=1e-9)
    assert predicted.startswith(ref["class"] + " (")
    assert page.locator("#probabilities .bar.top").get_attribute("data-class") == ref["class"]
    assert page.locator("#error").inner_text() == ""
    assert opened.problems == []
    page.screenshot(path=str(tmp_path / "serve.png"), full_page=True)


def test_a_bad_upload_shows_the_one_line_error(server, open_page, tmp_path):
    _, url = server
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    opened = open_page(url, width=800)
    opened.page.set_input_files("#file", str(bad))
    opened.page.wait_for_function("() => document.getElementById('error').textContent.length > 0",
                                  timeout=60_000)
    text = opened.page.locator("#error").inner_text()
    assert text.startswith("DataError: notes.png: expected a readable PNG/JPEG/DICOM image; got")
    # the 400 response itself is the expected failure here; nothing else may go wrong
    assert [p for p in opened.problems if "400" not in p] == []
