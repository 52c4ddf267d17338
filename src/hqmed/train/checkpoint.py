"""Atomic, resumable checkpoints: weights and optimiser tensors in safetensors, state in JSON.

Layout of one fold's ``checkpoint/`` folder:

- ``last.safetensors``: everything needed to continue training, in ONE atomically written file so a
  kill can never leave weights and state out of step. Tensor keys: ``model.<name>`` (model
  ``state_dict``), ``optim.<i>.<name>`` (per-parameter optimiser tensors, e.g. Adam's ``exp_avg``),
  ``rng.torch`` / ``rng.generator`` / ``rng.cuda.<d>`` (RNG states as uint8). The safetensors
  metadata entry ``"state"`` holds the JSON state (epoch, history, best metric, optimiser
  hyper-parameters, Python and NumPy RNG states).
- ``last.json``: a human-readable copy of that JSON state (written after the safetensors file).
- ``best.safetensors``: the model ``state_dict`` (plain keys) of the best validation epoch; load it
  with :func:`load_weights`.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save

from hqmed.errors import DataError
from hqmed.utils.io import atomic_write_bytes, atomic_write_json

__all__ = [
    "capture_rng",
    "load_checkpoint",
    "load_model_weights",
    "load_weights",
    "restore_rng",
    "save_checkpoint",
    "save_weights",
]


def _contiguous(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}


def save_weights(path: str | Path, state_dict: dict[str, torch.Tensor], metadata: dict | None = None) -> Path:
    """Write a model ``state_dict`` atomically as safetensors (metadata values become strings)."""
    meta = {k: str(v) for k, v in (metadata or {}).items()}
    return atomic_write_bytes(path, save(_contiguous(state_dict), metadata=meta))


def load_weights(path: str | Path, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """Read a ``state_dict`` written by :func:`save_weights` (or the ``model.*`` part of a last checkpoint)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"checkpoint {path}: expected a safetensors file; got no such file")
    try:
        tensors = load_file(str(path), device=str(device))
    except (SafetensorError, OSError, ValueError) as exc:  # truncated, foreign or unreadable file
        detail = " ".join(str(exc).split())
        raise DataError(f"checkpoint {path}: expected a readable safetensors file; got "
                        f"{type(exc).__name__}: {detail}") from exc
    if any(k.startswith("model.") for k in tensors) and any(k.startswith("optim.") for k in tensors):
        return {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    return tensors


def load_model_weights(model: torch.nn.Module, path: str | Path,
                       device: str | torch.device = "cpu") -> None:
    """Load :func:`load_weights` ``path`` into ``model``; a mismatch or NaN/inf weights are one
    DataError naming the file (so no prediction is made from broken weights)."""
    state = load_weights(path, device)
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise DataError(f"checkpoint {path}: expected finite weights; got NaN/inf in {len(bad)} "
                        f"tensor(s), e.g. {bad[:3]}")
    _load_state(model, state, path)


def _load_state(model: torch.nn.Module, state: dict[str, torch.Tensor], path: str | Path) -> None:
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:  # missing/unexpected keys or shape mismatches
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        detail = "; ".join(lines[1:3] or lines[:1])
        raise DataError(f"checkpoint {path}: expected weights for {type(model).__name__} as configured "
                        f"in this run; got a state_dict that does not fit ({detail:.300})") from exc


# ---------------------------------------------------------------------------------------------
# RNG state


def capture_rng(generator: torch.Generator | None) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Python/NumPy RNG states as JSON, torch/generator/CUDA states as uint8 tensors."""
    py = random.getstate()
    np_state = np.random.get_state()
    json_state = {
        "python": [py[0], list(py[1]), py[2]],
        "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]),
                  float(np_state[4])],
    }
    tensors = {"rng.torch": torch.get_rng_state()}
    if generator is not None:
        tensors["rng.generator"] = generator.get_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, st in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = st
    return json_state, tensors


def restore_rng(json_state: dict[str, Any], tensors: dict[str, torch.Tensor],
                generator: torch.Generator | None) -> None:
    """Inverse of :func:`capture_rng`."""
    py = json_state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    ns = json_state["numpy"]
    np.random.set_state((ns[0], np.asarray(ns[1], dtype=np.uint32), ns[2], ns[3], ns[4]))
    torch.set_rng_state(tensors["rng.torch"].cpu())
    if generator is not None and "rng.generator" in tensors:
        generator.set_state(tensors["rng.generator"].cpu())
    cuda = sorted((k for k in tensors if k.startswith("rng.cuda.")), key=lambda k: int(k.rsplit(".", 1)[1]))
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([tensors[k].cpu() for k in cuda])


# ---------------------------------------------------------------------------------------------
# Optimiser state: tensors to safetensors, the rest to JSON


def _split_optimizer(opt_state: dict) -> tuple[dict, dict[str, torch.Tensor]]:
    tensors: dict[str, torch.Tensor] = {}
    per_param: dict[str, dict[str, Any]] = {}
    for idx, st in opt_state["state"].items():
        entry: dict[str, Any] = {}
        for name, val in st.items():
            if torch.is_tensor(val):
                tensors[f"optim.{idx}.{name}"] = val
                entry[name] = {"tensor": True}
            else:
                entry[name] = val
        per_param[str(idx)] = entry
    return {"param_groups": opt_state["param_groups"], "state": per_param}, tensors


def _join_optimizer(meta: dict, tensors: dict[str, torch.Tensor]) -> dict:
    state: dict[int, dict[str, Any]] = {}
    for idx, entry in meta["state"].items():
        state[int(idx)] = {
            name: tensors[f"optim.{idx}.{name}"] if isinstance(val, dict) and val.get("tensor") else val
            for name, val in entry.items()
        }
    return {"state": state, "param_groups": meta["param_groups"]}


# ---------------------------------------------------------------------------------------------


def save_checkpoint(ckpt_dir: str | Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    state: dict[str, Any], generator: torch.Generator | None) -> Path:
    """Write ``last.safetensors`` (atomically, weights + optimiser + RNG + JSON state) then ``last.json``.

    ``state`` is JSON-serialisable (epoch, history, best metric, ...). Returns the safetensors path.
    """
    ckpt_dir = Path(ckpt_dir)
    rng_json, rng_tensors = capture_rng(generator)
    opt_meta, opt_tensors = _split_optimizer(optimizer.state_dict())
    full_state = dict(state, optimizer=opt_meta, rng=rng_json)
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    tensors.update(opt_tensors)
    tensors.update(rng_tensors)
    blob = save(_contiguous(tensors), metadata={"state": json.dumps(full_state)})
    path = atomic_write_bytes(ckpt_dir / "last.safetensors", blob)
    atomic_write_json(ckpt_dir / "last.json", full_state)
    return path


def load_checkpoint(ckpt_dir: str | Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    generator: torch.Generator | None) -> dict | None:
    """Restore model, optimiser and RNG states from ``last.safetensors``; return the JSON state.

    Returns None when there is no checkpoint (a fresh start).
    """
    path = Path(ckpt_dir) / "last.safetensors"
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            state = json.loads(fh.metadata()["state"])
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118 - safe_open API
    except Exception as exc:  # noqa: BLE001 - a corrupt checkpoint is a user-facing data error
        raise DataError(f"checkpoint {path}: expected a readable hqmed checkpoint; got {exc}") from exc
    _load_state(model, {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}, path)
    # torch moves/casts optimiser tensors to each parameter's device itself (Adam's step stays on CPU).
    opt_state = _join_optimizer(state.pop("optimizer"),
                                {k: v for k, v in tensors.items() if k.startswith("optim.")})
    optimizer.load_state_dict(opt_state)
    restore_rng(state.pop("rng"), tensors, generator)
    return state
