"""The bad-input corpus of issue #10: every input is generated here, at test time, and checked for
its exact category:

- ``Error``: one clear line (no newline) naming the file / CSV line / key, with "expected" and "got";
  nothing is written that should not be (checked per case);
- ``Skip``: with ``on_error="skip"`` the input is skipped and named in the JSON skip report;
- ``Result``: the input is valid and gives the correct result.

The quantum-layer inputs are here too, in short; tests/quantum checks them in depth against
PennyLane.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hardening_testutils import write_class_folder, write_config
from PIL import Image

from hqmed.cli import main
from hqmed.errors import HqmedError


@dataclass
class Error:
    act: Callable[[], object]
    names: list[str]  # substrings the message must contain (file, line, key)
    types: tuple = (HqmedError,)
    after: Callable[[], None] | None = None  # extra checks once the error was raised
    wording: bool = True  # the message says "expected ...; got ..."


@dataclass
class Skip:
    act: Callable[[Path], object]  # gets the report path to write
    item: str  # must appear in the report's skipped items
    check: Callable[[object], None] = field(default=lambda out: None)


@dataclass
class Result:
    act: Callable[[], None]  # runs and asserts the correct result itself


CASES: dict[str, Callable[[Path], Error | Skip | Result]] = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


# --------------------------------------------------------------------------- generators


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A tiny PNG whose header declares ``width`` x ``height`` (a decompression bomb's header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit gray
    idat = zlib.compress(b"\0" * (width + 1) * 64, 9)  # first 64 rows of zeros; enough for a header
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def phantoms(tmp: Path) -> Path:
    from hqmed.data.phantoms import generate_phantom_dataset

    return generate_phantom_dataset(tmp / "vindr", n_images=8, seed=1, image_size=(96, 96))


def set_image_id(root: Path, row: int, image_id: str) -> Path:
    csv = root / "annotations" / "train.csv"
    df = pd.read_csv(csv, dtype={"image_id": str, "study_id": str})
    df.loc[row, "image_id"] = image_id
    df.to_csv(csv, index=False)
    return csv


def first_image(root: Path) -> Path:
    """The DICOM file of row 0 of ``annotations/train.csv``."""
    csv = root / "annotations" / "train.csv"
    image_id = pd.read_csv(csv, dtype={"image_id": str})["image_id"][0]
    return root / "train_images" / f"{image_id}.dicom"


def load_vindr_train(root: Path, **kw):
    from hqmed.data.vindr import load_vindr

    return load_vindr(root, image_size=8, cache=False, splits=["train"], **kw)


def good_folder(tmp: Path) -> Path:
    return write_class_folder(tmp / "folder", {"a": 3, "b": 3}, size=8)


def load_folder(root: Path, **kw):
    from hqmed.data.folders import load_image_folder

    return load_image_folder(root, image_size=8, channels=1, **kw)["all"]


def train(cfg: Path, out: Path, *extra: str) -> int:
    return main(["train", str(cfg), "--out", str(out), "--no-progress", *extra])


# --------------------------------------------------------------------------- security


@case
def vindr_image_id_parent_traversal(tmp):
    root = phantoms(tmp)
    secret = root.parent / "outside" / "secret.dicom"
    secret.parent.mkdir()
    shutil.copy(next((root / "train_images").iterdir()), secret)
    csv = set_image_id(root, 0, "../../outside/secret")
    return Error(lambda: load_vindr_train(root), [f"{csv} line 2", "image_id", "'../../outside/secret.dicom'",
                                                   "outside"])


@case
def vindr_image_id_absolute_path(tmp):
    root = phantoms(tmp)
    secret = tmp / "abs" / "secret.dicom"
    secret.parent.mkdir()
    shutil.copy(next((root / "train_images").iterdir()), secret)
    csv = set_image_id(root, 0, str(tmp / "abs" / "secret"))
    return Error(lambda: load_vindr_train(root), [f"{csv} line 2", "image_id", str(tmp / "abs" / "secret")])


@case
def vindr_symlink_leading_outside(tmp):
    root = phantoms(tmp)
    csv = root / "annotations" / "train.csv"
    img = first_image(root)
    outside = tmp / "elsewhere.dicom"
    shutil.move(img, outside)
    img.symlink_to(outside)
    return Error(lambda: load_vindr_train(root), [f"{csv} line 2", "image_id", str(outside)])


@case
def vindr_symlink_inside_root(tmp):
    root = phantoms(tmp)
    img = first_image(root)
    kept = root / "train_images" / "store" / "kept.dicom"
    kept.parent.mkdir()
    shutil.move(img, kept)
    img.symlink_to(kept)
    expected = load_vindr_train(phantoms(tmp / "reference"))["train"]

    def act():
        got = load_vindr_train(root)["train"]
        np.testing.assert_array_equal(got.images, expected.images)  # followed, same pixels
        np.testing.assert_array_equal(got.labels, expected.labels)
    return Result(act)


# --------------------------------------------------------------------------- YAML


@case
def yaml_billion_laughs(tmp):
    from hqmed.train.config import load_config

    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    path = tmp / "laughs.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert path.stat().st_size < 2000
    return Error(lambda: load_config(path), [str(path), "aliases"])


@case
def yaml_recursive_alias(tmp):
    from hqmed.train.config import load_config

    path = tmp / "rec.yaml"
    path.write_text("name: &a [*a]\n", encoding="utf-8")
    return Error(lambda: load_config(path), [str(path), "recursive", "line 1"])


@case
def yaml_python_tag_in_run_config(tmp):
    from hqmed.train.rundir import RunDir

    run = tmp / "run"
    run.mkdir()
    (run / "config.yaml").write_text("name: !!python/object/apply:os.system ['touch pwned']\n")

    def after():
        assert not (Path.cwd() / "pwned").exists()
    return Error(lambda: RunDir(run).config(), [str(run / "config.yaml"), "line 1"], after=after)


@case
def config_epochs_true(tmp):
    from hqmed.train.config import load_config

    path = write_config(tmp / "cfg.yaml", tmp / "data")
    path.write_text(path.read_text().replace("epochs: 1", "epochs: true"))
    return Error(lambda: load_config(path), [str(path), "'epochs'", "integer", "true"])


@case
def config_lr_inf(tmp):
    from hqmed.train.config import load_config

    path = write_config(tmp / "cfg.yaml", tmp / "data")
    path.write_text(path.read_text() + "optim: {lr: .inf}\n")
    return Error(lambda: load_config(path), [str(path), "'optim.lr'", "finite", "inf"])


# --------------------------------------------------------------------------- images


@case
def png_header_12000_squared(tmp):
    from hqmed.data.folders import load_image_files

    path = png_header_only(tmp / "bomb.png", 12000, 12000)
    assert path.stat().st_size < 200_000
    return Error(lambda: load_image_files([path]), [str(path), "144,000,000 pixels", "pixel budget"])


@case
def png_header_30000_squared(tmp):
    from hqmed.data.folders import load_image_files

    path = png_header_only(tmp / "bomb.png", 30000, 30000)
    return Error(lambda: load_image_files([path]), [str(path), "pixel budget"])


@case
def png_30000_squared_in_folder_skipped(tmp):
    root = good_folder(tmp)
    png_header_only(root / "a" / "bomb.png", 30000, 30000)

    def check(ds):
        assert len(ds) == 6 and "a/bomb.png" not in set(ds.meta["id"])
    return Skip(lambda report: load_folder(root, on_error="skip", report_path=report), "bomb.png", check)


@case
def png_over_custom_budget(tmp):
    from hqmed.data.base import read_image_file

    path = tmp / "x.png"
    Image.fromarray(np.zeros((40, 30), np.uint8)).save(path)
    os.environ["HQMED_MAX_PIXELS"] = "1000"  # restored by the autouse fixture's monkeypatch
    return Error(lambda: read_image_file(path), [str(path), "1,000 pixels", "40 x 30", "1,200"])


@case
def png_within_budget(tmp):
    from hqmed.data.base import read_image_file

    path = tmp / "x.png"
    pix = np.arange(40 * 30, dtype=np.uint32).reshape(40, 30) % 256
    Image.fromarray(pix.astype(np.uint8)).save(path)

    def act():
        np.testing.assert_allclose(read_image_file(path, channels=1)[0], pix / 255.0, atol=1e-7)
    return Result(act)


@case
def tiff_float_with_nan(tmp):
    from hqmed.data.base import read_image_file

    arr = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)
    arr[3, 4] = np.nan
    path = tmp / "nan.tif"
    Image.fromarray(arr, mode="F").save(path)
    return Error(lambda: read_image_file(path), [str(path), "finite", "1 NaN/inf"])


def _edit_phantom_dicom(tmp, edit) -> Path:
    import pydicom

    src = next((phantoms(tmp) / "train_images").iterdir())
    ds = pydicom.dcmread(src)
    edit(ds)
    out = tmp / "edited.dcm"
    ds.save_as(out)
    return out


@case
def dicom_rescale_slope_zero(tmp):
    from hqmed.data.base import read_image_file

    path = _edit_phantom_dicom(tmp, lambda ds: setattr(ds, "RescaleSlope", "0"))
    return Error(lambda: read_image_file(path), [str(path), "Rescale Slope", "got 0"])


@case
def dicom_header_declares_huge_image(tmp):
    from hqmed.data.base import read_image_file

    def edit(ds):
        ds.Rows, ds.Columns = 20000, 20000  # pixel data stays small: the header alone is refused
    path = _edit_phantom_dicom(tmp, edit)
    return Error(lambda: read_image_file(path), [str(path), "pixel budget", "20000 x 20000 x 1"])


@case
def fifo_named_png_in_class_folder(tmp):
    root = good_folder(tmp)
    fifo = root / "b" / "pipe.png"
    os.mkfifo(fifo)
    return Error(lambda: load_folder(root), [str(fifo), "FIFO"])


@case
def fifo_named_png_skipped(tmp):
    root = good_folder(tmp)
    os.mkfifo(root / "b" / "pipe.png")
    return Skip(lambda report: load_folder(root, on_error="skip", report_path=report), "pipe.png",
                lambda ds: (len(ds) == 6) or pytest.fail(f"expected 6 images; got {len(ds)}"))


@case
def broken_symlink_named_png(tmp):
    root = good_folder(tmp)
    link = root / "a" / "gone.png"
    link.symlink_to(tmp / "does-not-exist.png")
    return Error(lambda: load_folder(root), [str(link), "broken symbolic link"])


@case
def broken_symlink_named_png_skipped(tmp):
    root = good_folder(tmp)
    (root / "a" / "gone.png").symlink_to(tmp / "does-not-exist.png")
    return Skip(lambda report: load_folder(root, on_error="skip", report_path=report), "gone.png")


# --------------------------------------------------------------------------- data for training


@case
def single_class_npz(tmp):
    from hqmed.train.config import parse_config
    from hqmed.train.runner import run_experiment

    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", 12), ("val", 4), ("test", 4)):
        arrays[f"{split}_images"] = rng.integers(0, 255, (n, 28, 28), dtype=np.uint8)
        arrays[f"{split}_labels"] = np.zeros((n, 1), dtype=np.uint8)  # every image "normal"
    np.savez(tmp / "pneumoniamnist.npz", **arrays)
    cfg = parse_config({"model": {"name": "litespinenet"}, "epochs": 1, "data": {
        "source": "medmnist", "params": {"root": str(tmp), "download": False, "verify_md5": False}}})
    run = tmp / "run"

    def after():
        assert not (run / "fold_0").exists()  # refused before training
    return Error(lambda: run_experiment(cfg, run, progress=False),
                 ["pneumoniamnist", "at least 2 classes", "['normal']"], after=after)


@case
def one_class_folder(tmp):
    data = write_class_folder(tmp / "data", {"only": 8})
    cfg = write_config(tmp / "cfg.yaml", data)
    run = tmp / "run"

    def act():
        from hqmed.train.config import load_config
        from hqmed.train.runner import run_experiment

        run_experiment(load_config(cfg), run, progress=False)

    def after():
        assert not (run / "fold_0").exists()
    return Error(act, ["data", "at least 2 classes", "['only']"], after=after)


@case
def nan_loss_stops_training(tmp):
    import torch

    from hqmed.train.config import load_config
    from hqmed.train.runner import run_experiment

    data = write_class_folder(tmp / "data", {"a": 10, "b": 10})
    cfg = load_config(write_config(tmp / "cfg.yaml", data, epochs=3))
    run = tmp / "run"

    def poison(row):  # after epoch 1's checkpoint: every later forward pass gives NaN logits
        if row["epoch"] == 1:
            torch.nn.modules.module.register_module_forward_hook(
                lambda m, i, o: o * float("nan") if type(m).__name__ == "LiteSpineNet" else o)

    def act():
        try:
            run_experiment(cfg, run, progress=False, callbacks=[poison])
        finally:
            torch.nn.modules.module._global_forward_hooks.clear()

    def after():
        state = json.loads((run / "fold_0" / "checkpoint" / "last.json").read_text())
        assert state["epoch"] == 1 and not (run / "DONE").exists()
    return Error(act, ["fold 0 epoch 2 step 1", "finite training loss", "loss nan",
                       "checkpoint of epoch 1"], after=after)


# --------------------------------------------------------------------------- finished runs


@pytest.fixture
def run_dir(run_copy):
    return run_copy


def _predict(run: Path, image: Path, *extra: str) -> Callable[[], None]:
    def act():
        from hqmed.data.folders import load_image_files
        from hqmed.train.rundir import RunDir

        p = RunDir(run).predictor(*extra)
        p.predict_dataset(load_image_files([image], channels=p.source_channels, size=p.input_shape[1:]))
    return act


def _an_image(tmp) -> Path:
    path = tmp / "x.png"
    Image.fromarray(np.full((16, 16), 128, np.uint8)).save(path)
    return path


@case
def checkpoint_truncated(tmp, run):
    best = run / "fold_0" / "checkpoint" / "best.safetensors"
    best.write_bytes(best.read_bytes()[:100])
    return Error(_predict(run, _an_image(tmp)), [str(best), "safetensors"])


@case
def checkpoint_foreign_file(tmp, run):
    best = run / "fold_0" / "checkpoint" / "best.safetensors"
    best.write_bytes(b"PK\x03\x04 this is a zip file, not safetensors" * 4)
    return Error(_predict(run, _an_image(tmp)), [str(best), "safetensors"])


@case
def checkpoint_of_another_model(tmp, run):
    import torch

    from hqmed.train.checkpoint import save_weights

    best = run / "fold_0" / "checkpoint" / "best.safetensors"
    save_weights(best, torch.nn.Linear(3, 2).state_dict())
    return Error(_predict(run, _an_image(tmp)), [str(best), "state_dict", "weight"])


@case
def checkpoint_with_nan_weights(tmp, run):
    from hqmed.train.checkpoint import load_weights, save_weights

    best = run / "fold_0" / "checkpoint" / "best.safetensors"
    state = load_weights(best)
    for v in state.values():
        if v.is_floating_point():
            v.fill_(float("nan"))
    save_weights(best, state)
    return Error(_predict(run, _an_image(tmp)), [str(best), "finite weights"])


@case
def metrics_json_without_class_names(tmp, run):
    path = run / "metrics.json"
    doc = json.loads(path.read_text())
    del doc["class_names"]
    path.write_text(json.dumps(doc))
    return Error(_predict(run, _an_image(tmp)), [str(path), "'class_names'"])


@case
def metrics_json_truncated(tmp, run):
    path = run / "metrics.json"
    path.write_text(path.read_text()[:50])
    return Error(_predict(run, _an_image(tmp)), [str(path), "valid JSON"])


@case
def predict_json_is_strict(tmp, run):
    image = _an_image(tmp)

    def act():
        import contextlib
        import io

        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            assert main(["predict", str(run), str(image), "--json"]) == 0

        def refuse(const):
            raise AssertionError(f"non-standard JSON constant {const}")
        doc = json.loads(buf.getvalue(), parse_constant=refuse)
        probs = doc["predictions"][0]["probabilities"]
        assert abs(sum(probs.values()) - 1.0) < 1e-6
    return Result(act)


@case
def external_on_error_skip_skips_a_bomb(tmp, run):
    folder = tmp / "external"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.full((16, 16), 60 * i, np.uint8)).save(folder / f"{i}.png")
    png_header_only(folder / "bomb.png", 30000, 30000)

    def act():
        import contextlib
        import io

        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            assert main(["external", str(run), str(folder), "--on-error", "skip", "--json"]) == 0
        doc = json.loads(buf.getvalue())
        assert sorted(p["file"] for p in doc["predictions"]) == ["0.png", "1.png", "2.png"]
        reports = list((Path(os.environ["HQMED_CACHE"]) / "skip-reports").glob("*.json"))
        skipped = [s for r in reports for s in json.loads(r.read_text())["skipped"]]
        assert [Path(s["item"]).name for s in skipped] == ["bomb.png"]
        assert "pixel budget" in skipped[0]["error"]
    return Result(act)


@case
def enospc_names_the_file(tmp):
    from hqmed.utils.io import atomic_write_json

    target = tmp / "out" / "metrics.json"
    target.parent.mkdir()
    target.write_text('{"old": true}\n')
    real_fsync = os.fsync

    def full_disk(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def act():
        os.fsync = full_disk
        try:
            atomic_write_json(target, {"new": 1})
        finally:
            os.fsync = real_fsync

    def after():
        assert json.loads(target.read_text()) == {"old": True}  # nothing already written is lost
        assert [p.name for p in target.parent.iterdir()] == ["metrics.json"]  # no temp file left
    return Error(act, [str(target), "No space left on device"], types=(OSError,), after=after)


# --------------------------------------------------------------------------- run directories


def _train_tiny(tmp: Path, name: str, seed: int) -> Path:
    from hqmed.train.config import load_config
    from hqmed.train.runner import run_experiment

    data = write_class_folder(tmp / f"data-{name}", {"a": 10, "b": 10}, seed=seed)
    cfg = load_config(write_config(tmp / f"{name}.yaml", data))
    return run_experiment(cfg, tmp / name, progress=False)


@case
def compare_runs_over_different_data(tmp):
    from hqmed.commands.compare import compare_run_dirs

    a, b = _train_tiny(tmp, "a", seed=0), _train_tiny(tmp, "b", seed=1)  # same labels, other pixels
    sa, sb = (json.loads((r / "splits.json").read_text()) for r in (a, b))
    assert sa["folds"] == sb["folds"] and sa["test"] == sb["test"]  # splits.json alone would pair them
    return Error(lambda: compare_run_dirs(a, b, n_boot=10), [str(a), str(b), "fingerprint", "train"])


@case
def compare_runs_over_the_same_data(tmp):
    from hqmed.commands.compare import compare_run_dirs

    a, b = _train_tiny(tmp, "a", seed=0), _train_tiny(tmp, "b", seed=0)

    def act():
        doc = compare_run_dirs(a, b, n_boot=10)
        assert doc["mcnemar"]["b"] == doc["mcnemar"]["c"] == 0  # identical runs: no discordant pairs
    return Result(act)


@case
def run_dir_holding_only_a_temp_file(tmp):
    data = write_class_folder(tmp / "data", {"a": 10, "b": 10})
    cfg = write_config(tmp / "cfg.yaml", data)
    run = tmp / "run"
    run.mkdir()
    (run / ".config.yaml.x1y2z3.tmp").write_text("name: half")  # killed in its first seconds

    def act():
        assert train(cfg, run) == 0  # the same command recovers the folder
        assert (run / "DONE").is_file() and not list(run.rglob("*.tmp"))
    return Result(act)


# --------------------------------------------------------------------------- quantum layer


def _eval_tracks_weights(layer, x) -> None:
    import torch

    layer.eval()
    with torch.no_grad():
        cached = layer(x)
        reference = layer.circuit.evaluate(x, layer.weights)  # no cache involved
    torch.testing.assert_close(cached, reference, atol=1e-5, rtol=0)


@case
def quantum_validation_after_fused_adam_steps(tmp):
    import torch

    from hqmed.quantum import QuantumLayer

    def act():
        torch.manual_seed(0)
        layer, x = QuantumLayer(4, 2), torch.rand(5, 4)
        opt = torch.optim.Adam(layer.parameters(), lr=0.3, fused=True)
        for _ in range(2):
            layer.train()
            opt.zero_grad()
            layer(x).square().sum().backward()
            opt.step()
            _eval_tracks_weights(layer, x)
    return Result(act)


@case
def quantum_validation_after_data_write(tmp):
    import torch

    from hqmed.quantum import QuantumLayer

    def act():
        torch.manual_seed(1)
        layer, x = QuantumLayer(4, 2).eval(), torch.rand(5, 4)
        with torch.no_grad():
            before = layer(x)
        layer.weights.data.mul_(0.5)
        _eval_tracks_weights(layer, x)
        with torch.no_grad():
            assert (layer(x) - before).abs().max() > 1e-4
    return Result(act)


@case
def quantum_gradient_penalty_on_fused_path(tmp):
    import torch

    from hqmed.quantum import QuantumLayer

    layer, x = QuantumLayer(3, 2), torch.rand(4, 3, requires_grad=True)

    def act():
        (g,) = torch.autograd.grad(layer(x).sum(), x, create_graph=True)
        g.square().sum().backward()
    return Error(act, ["create_graph=True", "simulator='gates'"], types=(RuntimeError,), wording=False)


@case
def quantum_30_qubits(tmp):
    from hqmed.quantum import QuantumLayer

    return Error(lambda: QuantumLayer(30, 1), ["n_qubits", "n_qubits=30", "bytes"])


@case
def quantum_random_ansatz_ratio_imprim_one(tmp):
    from hqmed.quantum import QuantumLayer

    def after():
        try:
            QuantumLayer.from_config(3, 1, ansatz="random", ratio_imprim=1.0)
        except HqmedError as exc:
            assert "{ratio_imprim}" not in str(exc)  # the f-string is formatted
    return Error(lambda: QuantumLayer.from_config(3, 1, ansatz="random", ratio_imprim=1.0),
                 ["ratio_imprim", "1.0"], after=after)


@case
def quantum_no_eval_cache_for_large_circuits(tmp):
    import torch

    from hqmed.quantum import QuantumLayer

    def act():
        layer = QuantumLayer(13, 1).eval()
        with torch.no_grad():
            layer(torch.rand(2, 13))
        assert layer._cache is None  # no 2^13 x 2^13 unitary kept for inference
    return Result(act)


@case
def quantum_pennylane_backend_load_state_dict_assign(tmp):
    import torch

    from hqmed.quantum import QuantumLayer

    pytest.importorskip("pennylane", reason="backend='pennylane' needs PennyLane (pip install 'hqmed[pennylane]')")

    def act():
        torch.manual_seed(3)
        ref = QuantumLayer(3, 1).double()
        pl = QuantumLayer(3, 1, backend="pennylane").double()
        pl.load_state_dict({"weights": ref.weights.detach().clone()}, assign=True)
        x = torch.rand(2, 3, dtype=torch.float64)
        torch.testing.assert_close(pl(x), ref(x), atol=1e-10, rtol=0)
    return Result(act)


# --------------------------------------------------------------------------- the test


NEEDS_RUN = {"checkpoint_truncated", "checkpoint_foreign_file", "checkpoint_of_another_model",
             "checkpoint_with_nan_weights", "metrics_json_without_class_names", "metrics_json_truncated",
             "predict_json_is_strict", "external_on_error_skip_skips_a_bomb"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input(name, tmp_path, request, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HQMED_MAX_PIXELS", os.environ.get("HQMED_MAX_PIXELS", ""))
    make = CASES[name]
    expect = make(tmp_path, request.getfixturevalue("run_dir")) if name in NEEDS_RUN else make(tmp_path)
    if isinstance(expect, Error):
        with pytest.raises(expect.types) as info:
            expect.act()
        msg = str(info.value)
        assert "\n" not in msg, f"expected one line; got {msg!r}"
        assert "<unicode string>" not in msg
        if expect.wording and not isinstance(info.value, OSError):
            assert "expected" in msg and "got" in msg, msg
        for needle in expect.names:
            assert needle in msg, f"{needle!r} not in {msg!r}"
        if expect.after:
            expect.after()
    elif isinstance(expect, Skip):
        report = tmp_path / "skips.json"
        out = expect.act(report)
        doc = json.loads(report.read_text())
        assert doc["n_skipped"] == 1 and expect.item in doc["skipped"][0]["item"], doc
        expect.check(out)
    else:
        expect.act()
