"""The prediction web app: one page and a JSON API around a finished run.

    GET  /          the page: upload a DICOM/PNG/JPEG, see the probabilities and the Grad-CAM overlay
    POST /predict   multipart field ``file`` -> the JSON of ``hqmed predict --json`` for that file
    POST /explain   the same, each prediction with ``overlay`` (PNG data URL), ``target``, ``method``
    GET  /health    {"status": "ok", "model": ...}

Uploads are read through the same code as the CLI (so the same pixel budget and the same
one-line errors, naming the uploaded file); an upload over the size limit is refused before it
is read. Errors are ``{"error": "<the CLI's line>"}`` with a 4xx status; the model runs behind
one lock, so concurrent requests never share its state.
"""

from __future__ import annotations

import base64
import re
import tempfile
import threading
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from hqmed.data.folders import load_image_files
from hqmed.errors import HqmedError
from hqmed.explain import RunExplainer, default_layer, overlay_png
from hqmed.serve.page import render_page
from hqmed.train.rundir import RunDir

__all__ = ["create_app", "DEFAULT_MAX_UPLOAD_BYTES"]

DEFAULT_MAX_UPLOAD_BYTES = 32 * 1024 * 1024  # a large uncompressed radiograph is ~20-30 MB


class UploadError(HqmedError):
    """A request that carries no usable file (status chosen by the caller)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def _safe_name(name: str | None) -> str:
    base = Path(name or "").name
    return re.sub(r"[^A-Za-z0-9._-]", "_", base)[:120] or "upload"


class _Service:
    def __init__(self, run_dir: str | Path, fold: str, method: str):
        self.run = str(run_dir)
        self.predictor = RunDir(run_dir).predictor(fold=fold, device="cpu")
        self.explainer = RunExplainer(self.predictor)
        self.method = method
        self.layer = None if method == "saliency" else default_layer(self.explainer.members[0].model)
        self.lock = threading.Lock()

    def answer(self, name: str, data: bytes, with_overlay: bool) -> dict:
        """The predict-contract document for one uploaded file (plus the overlay when asked)."""
        p = self.predictor
        names = p.class_names
        with tempfile.TemporaryDirectory(prefix="hqmed-serve-") as tmp:
            path = Path(tmp) / name
            path.write_bytes(data)
            try:
                with self.lock:
                    ds = load_image_files([path], channels=p.source_channels, size=p.input_shape[1:])
                    prob = p.predict_dataset(ds)[0]
                    if with_overlay:
                        images = p.prepare(ds).images
                        maps, _, _ = self.explainer.explain(images, int(prob.argmax()), self.method, self.layer)
            except HqmedError as exc:  # name the upload, as the CLI names the file it was given
                raise UploadError(f"{type(exc).__name__}: {str(exc).replace(str(path), name)}") from exc
        row = {"file": name, "class": names[int(prob.argmax())], "confidence": float(prob.max()),
               "probabilities": {n: float(v) for n, v in zip(names, prob)}}
        if with_overlay:
            png = overlay_png(images[0][:p.source_channels], maps[0])
            row.update(target=row["class"], method=self.method, layer=self.layer,
                       overlay="data:image/png;base64," + base64.b64encode(png).decode("ascii"))
        return {"run": self.run, "model": p.description, "predictions": [row]}


async def _read_upload(request: Request, limit: int) -> tuple[str, bytes]:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + 64 * 1024:  # + multipart framing
        raise UploadError(f"upload: expected at most {limit} bytes; got {int(declared)}", 413)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        got = request.headers.get("content-type") or "no content type"
        raise UploadError(f"upload: expected a multipart/form-data form with a 'file' field; got {got}", 415)
    try:
        form = await request.form()
    except HTTPException as exc:  # starlette's multipart parser refuses a malformed body
        raise UploadError(f"upload: expected a well-formed multipart form; got {exc.detail}") from exc
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise UploadError("upload: expected a form field 'file' holding an image file; got "
                          + ("none" if upload is None else "a text field"))
    data = await upload.read(limit + 1)
    await form.close()
    if len(data) > limit:
        raise UploadError(f"upload: expected at most {limit} bytes; got more", 413)
    if not data:
        raise UploadError(f"{_safe_name(upload.filename)}: expected an image file (PNG, JPEG or DICOM); "
                          "got an empty upload")
    return _safe_name(upload.filename), data


def create_app(run_dir: str | Path, fold: str = "ensemble", method: str = "gradcam",
               max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES) -> FastAPI:
    """The app for ``run_dir`` (models loaded once, on the CPU)."""
    service = _Service(run_dir, fold, method)
    app = FastAPI(title="hqmed", docs_url=None, redoc_url=None, openapi_url=None)
    page = render_page(service.run, service.predictor.description, service.predictor.class_names,
                       method, max_upload_bytes)

    async def _handle(request: Request, with_overlay: bool) -> JSONResponse:
        try:
            name, data = await _read_upload(request, max_upload_bytes)
            doc = await run_in_threadpool(service.answer, name, data, with_overlay)
        except UploadError as exc:
            return JSONResponse({"error": str(exc)}, status_code=exc.status)
        return JSONResponse(doc)

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return page

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "run": service.run, "model": service.predictor.description}

    @app.post("/predict")
    async def predict(request: Request) -> JSONResponse:
        return await _handle(request, with_overlay=False)

    @app.post("/explain")
    async def explain(request: Request) -> JSONResponse:
        return await _handle(request, with_overlay=True)

    return app
