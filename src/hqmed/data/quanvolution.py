"""Quanvolution: 4 quantum channels per image, for whole datasets in large batches.

The circuit is the one of PennyLane's quanvolution demo (Henderson et al. 2019), used by the
hybrid-LCNet paper as extra input channels: every 2x2 patch ``[x(i, j), x(i, j+1), x(i+1, j),
x(i+1, j+1)]`` (wires 0..3) is encoded as ``R_Y(pi * x)`` (or ``R_X``) on 4 qubits, optionally
followed by ``RandomLayers(weights (n_layers, 4), seed=circuit_seed)``, and the 4 ``<Z_w>`` are the
output channels at that patch position. Patches are taken at stride 1 or 2, so an (H, W) image
gives ``(4, (H - 2) // stride + 1, (W - 2) // stride + 1)``.

Fast exact path (``method="fast"``, the default)::

    R(pi x)|0> = [cos(pi x / 2), sin(pi x / 2)]            (R_Y)
               = diag(1, -i) [cos(pi x / 2), sin(pi x / 2)] (R_X)

so the encoded patch is the product state ``D v`` with ``v = a_0 (x) a_1 (x) a_2 (x) a_3`` real
(16,) and ``D`` a fixed diagonal phase. The random layers are one fixed 16x16 unitary ``U``
(built once with :func:`hqmed.quantum.random_layers` on the 16 basis states), hence every patch of
every image is one row of a single real matmul ``v @ [Re(UD)^T | Im(UD)^T]`` (16 -> 32), followed
by ``|amp|^2 @ S`` with the (16, 4) PauliZ sign matrix. Trig is computed once per pixel, not per
patch. Work is chunked to bound memory (``chunk_patches``). ``method="statevector"`` runs the
same circuit gate by gate through hqmed.quantum (reference path, slower).

Colour images are reduced to gray (channel mean) first: 4 quantum channels per image, as in the
paper's "RGB + 4 quantum channels" configuration.

Results are cached on disk (``cache_dir``) in ``quanv-<key>.npz`` where ``key`` hashes the settings
and a SHA-256 fingerprint of the input array, so a changed dataset or setting never hits a stale
cache.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
from pathlib import Path

import numpy as np
import torch

from hqmed.data.base import ImageDataset
from hqmed.data.resize import resize_images
from hqmed.errors import ConfigError, DataError, ShapeError
from hqmed.quantum import angle_embedding, expval_z, random_layers, zero_state
from hqmed.utils.io import atomic_write_bytes

__all__ = ["circuit_weights", "patch_unitary", "quanvolve", "add_quantum_channels",
           "output_size"]

log = logging.getLogger(__name__)
CACHE_VERSION = 1
_WIRE_OFFSETS = ((0, 0), (0, 1), (1, 0), (1, 1))  # (dy, dx) of wires 0..3 in a 2x2 patch


def output_size(h: int, w: int, stride: int) -> tuple[int, int]:
    """(H', W') of the quantum maps of an (H, W) image."""
    return (h - 2) // stride + 1, (w - 2) // stride + 1


def circuit_weights(n_layers: int = 1, seed: int = 0) -> np.ndarray:
    """RandomLayers weights ``(n_layers, 4)`` uniform in [0, 2 pi) from ``default_rng(seed)``.

    (The PennyLane demo draws its weights with the legacy ``np.random.seed(0)``; pass those
    as ``weights=`` to reproduce it exactly.)
    """
    return np.random.default_rng(seed).uniform(0.0, 2 * np.pi, size=(int(n_layers), 4))


def _norm_rotation(rotation: str) -> str:
    r = str(rotation).upper().removeprefix("R")
    if r not in ("X", "Y"):
        raise ConfigError(f"rotation: expected 'Y' or 'X' (or 'RY'/'RX'); got {rotation!r}")
    return r


def patch_unitary(weights: np.ndarray | None, circuit_seed: int = 42) -> torch.Tensor:
    """The 16x16 complex128 unitary of ``RandomLayers(weights, seed=circuit_seed)`` on 4 wires
    (identity when ``weights`` is None), built column by column with hqmed.quantum."""
    if weights is None:
        return torch.eye(16, dtype=torch.complex128)

    w = torch.as_tensor(np.asarray(weights, dtype=np.float64))
    if w.ndim != 2:
        raise ShapeError(f"weights: expected (n_layers, n_rotations); got {tuple(w.shape)}")
    basis = torch.eye(16, dtype=torch.complex128).reshape(16, 2, 2, 2, 2)
    cols = random_layers(basis, w, seed=int(circuit_seed)).reshape(16, 16)  # row j = U e_j
    return cols.T.contiguous()


def _fast_matrix(u: torch.Tensor, rotation: str, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """(16, 32) real matrix M with ``v @ M = [Re(U D v), Im(U D v)]`` and the PauliZ signs
    stacked twice, (32, 4)."""
    j = torch.arange(16)
    popcount = sum(((j >> b) & 1) for b in range(4))
    if rotation == "X":  # R_X(t)|0> = [cos, -i sin]: phase (-i)^popcount
        phase = (-1j) ** popcount.to(torch.complex128)
    else:
        phase = torch.ones(16, dtype=torch.complex128)
    ud = u * phase[None, :]
    m = torch.cat([ud.real.T, ud.imag.T], dim=1).to(dtype)
    shift = torch.arange(3, -1, -1)
    signs = (1 - 2 * ((j[:, None] >> shift[None, :]) & 1)).to(dtype)  # wire 0 = MSB
    return m, torch.cat([signs, signs])  # (32, 4): |re|^2 and |im|^2 rows share the signs


def _as_gray(images) -> np.ndarray:
    x = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if x.ndim == 4:
        x = x.mean(axis=1) if x.shape[1] > 1 else x[:, 0]
    if x.ndim != 3:
        raise ShapeError(f"images: expected (N, H, W) or (N, C, H, W); got {x.shape}")
    if x.shape[1] < 2 or x.shape[2] < 2:
        raise ShapeError(f"images: expected H, W >= 2 for 2x2 patches; got {x.shape[1:]}")
    x = np.ascontiguousarray(x, dtype=np.float32)
    if not np.isfinite(x).all():
        raise DataError("images: expected finite pixel values; got NaN or inf")
    return x


def _quanv_fast(gray: np.ndarray, stride: int, m: torch.Tensor, signs: torch.Tensor,
                chunk_patches: int, device: torch.device) -> np.ndarray:
    n, h, w = gray.shape
    ho, wo = output_size(h, w, stride)
    out = np.empty((n, 4, ho, wo), dtype=np.float32)
    per_img = ho * wo
    step = max(1, int(chunk_patches) // per_img)
    m, signs = m.to(device), signs.to(device)
    with torch.no_grad():
        for i in range(0, n, step):
            x = torch.from_numpy(gray[i:i + step]).to(device=device, dtype=m.dtype) * (np.pi / 2)
            cs = torch.stack([torch.cos(x), torch.sin(x)], dim=-1)  # (b, H, W, 2), once per pixel
            # kron over wires (wire 0 most significant): first the horizontal pairs of every row
            # (wires 0,1 of one patch = wires 2,3 of the patch above at stride 1), then rows i, i+1
            cols = slice(0, stride * (wo - 1) + 1, stride), slice(1, stride * (wo - 1) + 2, stride)
            pair = (cs[:, :, cols[0], :, None] * cs[:, :, cols[1], None, :]).flatten(-2)
            rows = slice(0, stride * (ho - 1) + 1, stride), slice(1, stride * (ho - 1) + 2, stride)
            v = pair[:, rows[0], :, :, None] * pair[:, rows[1], :, None, :]  # (b, H', W', 4, 4)
            amp = v.reshape(-1, 16) @ m  # (P, 32): real and imaginary amplitudes
            z = (amp.square_() @ signs).reshape(-1, ho, wo, 4)  # sum_j |amp_j|^2 S[j, w]
            out[i:i + step] = z.permute(0, 3, 1, 2).float().cpu().numpy()
    return out


def _quanv_statevector(gray: np.ndarray, stride: int, rotation: str, weights, circuit_seed: int,
                       chunk_patches: int) -> np.ndarray:
    n, h, w = gray.shape
    ho, wo = output_size(h, w, stride)
    t = torch.from_numpy(gray).double()
    feats = torch.stack([t[:, dy:dy + stride * (ho - 1) + 1:stride, dx:dx + stride * (wo - 1) + 1:stride]
                         for dy, dx in _WIRE_OFFSETS], dim=-1).reshape(-1, 4) * np.pi
    wt = None if weights is None else torch.as_tensor(np.asarray(weights, dtype=np.float64))
    outs = []
    for i in range(0, len(feats), chunk_patches):
        state = zero_state(4, len(feats[i:i + chunk_patches]), dtype=torch.complex128)
        state = angle_embedding(state, feats[i:i + chunk_patches], rotation=rotation)
        if wt is not None:
            state = random_layers(state, wt, seed=circuit_seed)
        outs.append(expval_z(state))
    z = torch.cat(outs).reshape(n, ho, wo, 4).permute(0, 3, 1, 2)
    return z.float().numpy()


def _cache_key(gray: np.ndarray, settings: dict) -> str:
    h = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    h.update(str(gray.shape).encode())
    h.update(hashlib.sha256(gray.tobytes()).digest())
    return h.hexdigest()[:24]


def quanvolve(
    images,
    stride: int = 1,
    rotation: str = "Y",
    random_layers: bool = True,
    seed: int = 0,
    n_layers: int = 1,
    weights: np.ndarray | None = None,
    circuit_seed: int = 42,
    cache_dir: str | os.PathLike | None = None,
    method: str = "fast",
    dtype: torch.dtype = torch.float32,
    chunk_patches: int = 1 << 19,
    device: str | torch.device | None = None,
) -> np.ndarray:
    """Quantum channels of a batch of images.

    Args:
        images: (N, H, W) or (N, C, H, W) numpy/torch, pixel values in [0, 1] (angles ``pi * x``);
            C > 1 is averaged to gray.
        stride: 1 or 2 (patch step in pixels).
        rotation: "Y" (R_Y, the papers' choice) or "X".
        random_layers: apply ``RandomLayers`` after the encoding (the demo's circuit); False gives
            the encoding alone (``<Z_w> = cos(pi x_w)``).
        seed: seed of the random-layer weights (:func:`circuit_weights`); ignored with ``weights``.
        n_layers: RandomLayers layers (the demo uses 1).
        weights: explicit (n_layers, n_rotations) RandomLayers weights.
        circuit_seed: RandomLayers' own ``seed`` (gate choice; PennyLane's default 42).
        cache_dir: if given, results are read from / written to ``cache_dir/quanv-<key>.npz``.
        method: "fast" (one matmul for all patches) or "statevector" (gate by gate, reference).
        dtype: compute dtype of the fast path (float32 or float64).
        chunk_patches: patches per chunk (memory ~ 200 bytes per patch in float32).
        device: where the fast path computes; default: the input tensor's device (CPU for numpy).

    Returns:
        (N, 4, H', W') float32 PauliZ expectations in [-1, 1], H' = (H - 2) // stride + 1.
    """
    if stride not in (1, 2):
        raise ConfigError(f"stride: expected 1 or 2; got {stride!r}")
    if method not in ("fast", "statevector"):
        raise ConfigError(f"method: expected 'fast' or 'statevector'; got {method!r}")
    rotation = _norm_rotation(rotation)
    if device is None:
        device = images.device if isinstance(images, torch.Tensor) else torch.device("cpu")
    gray = _as_gray(images)
    if random_layers:
        w = circuit_weights(n_layers, seed) if weights is None else np.asarray(weights, np.float64)
    else:
        w = None
    settings = {"v": CACHE_VERSION, "stride": stride, "rotation": rotation,
                "weights": None if w is None else np.round(w, 12).tolist(),
                "circuit_seed": int(circuit_seed)}
    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / f"quanv-{_cache_key(gray, settings)}.npz"
        if path.exists():
            try:
                with np.load(path) as f:
                    log.info("quanvolution cache hit %s", path)
                    return f["channels"]
            except (OSError, ValueError, KeyError) as exc:
                log.warning("ignoring unreadable quanvolution cache %s (%s)", path, exc)
    if method == "fast":
        m, signs = _fast_matrix(patch_unitary(w, circuit_seed), rotation, dtype)
        out = _quanv_fast(gray, stride, m, signs, chunk_patches, torch.device(device))
    else:
        out = _quanv_statevector(gray, stride, rotation, w, int(circuit_seed), chunk_patches)
    if path is not None:
        buf = io.BytesIO()
        np.savez(buf, channels=out, settings=json.dumps(settings))
        atomic_write_bytes(path, buf.getvalue())
    return out


def add_quantum_channels(ds, stride: int = 1, rotation: str = "Y", random_layers: bool = True,
                         seed: int = 0, cache_dir: str | os.PathLike | None = None, **kw):
    """``ds`` (an :class:`~hqmed.data.base.ImageDataset`, C channels) -> a new ImageDataset with
    C + 4 channels: the originals followed by the 4 quantum maps.

    The maps (H', W') are resized back to (H, W) bilinearly (antialiased; at stride 1 this is
    27 -> 28 for MedMNIST, at stride 2 an x2 upsampling) and mapped from [-1, 1] to [0, 1] with
    ``(z + 1) / 2`` so that the dataset keeps its [0, 1] contract. Metadata and labels are kept.
    """
    q = quanvolve(ds.images, stride=stride, rotation=rotation, random_layers=random_layers,
                  seed=seed, cache_dir=cache_dir, **kw)
    h, w = ds.images.shape[-2:]
    q = np.clip((q + 1.0) / 2.0, 0.0, 1.0).astype(np.float32)
    q = resize_images(q, (h, w)) if q.shape[-2:] != (h, w) else q
    images = np.concatenate([ds.images, q.astype(np.float32)], axis=1)
    return ImageDataset(images=images, labels=ds.labels.copy(), class_names=list(ds.class_names),
                        meta=ds.meta.copy(), name=f"{ds.name}+quanv{stride}{rotation.upper()[-1]}")
