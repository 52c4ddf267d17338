"""Quanvolution speed: hqmed's batched exact path vs PennyLane, on all 5,856 PneumoniaMNIST images.

Task: 4 quantum channels of every 28x28 image at stride 1 (27x27 = 729 patches per image,
4,269,024 patches in all), R_Y(pi x) encoding + RandomLayers(n_layers=1) -- the PennyLane
quanvolution demo's circuit. Rivals, interleaved in each repeat:

1. ``hqmed``: :func:`hqmed.data.quanvolution.quanvolve` on all images (measured in full).
2. ``pennylane_patch_loop``: the demo's per-patch QNode call on ``default.qubit``. Timed on a
   sample of patches and EXTRAPOLATED linearly to all 4.27M patches (a full run would take hours).
3. ``pennylane_broadcast``: one QNode call per image with the 729 patches as a broadcast
   (parameter-batch) dimension. Timed on a sample of images and EXTRAPOLATED to 5,856 images.
4. ``lightning_patch_loop`` (optional, ``--lightning``): as 2 on ``lightning.qubit``
   (with ``OMP_NUM_THREADS=1`` unless set: its OpenMP threads only slow 4-qubit circuits).

Outputs are cross-checked (max |hqmed - PennyLane| on the sampled patches). Ratios are
rival / hqmed per repeat, shown as mean ± std over repeats. Targets: hqmed >= 1000x faster than
the per-patch loop, and all images in < 10 s with 2 threads.

    python benchmarks/quanvolution.py                # ~1-2 minutes on 2 cores
    python benchmarks/quanvolution.py --quick        # smoke run

Writes benchmarks/results/quanvolution.json.
"""

from __future__ import annotations

import os

# PennyLane-Lightning's OpenMP threads only slow a 4-qubit circuit down (35 ms instead of ~6 ms
# per call on a busy 2-core machine); give it one thread. torch gets --threads explicitly below.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from hqmed.data.quanvolution import circuit_weights, output_size, quanvolve  # noqa: E402
from hqmed.utils.io import atomic_write_json  # noqa: E402
from hqmed.utils.runtime import environment_info  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "medmnist" / "pneumoniamnist.npz"
RESULTS = Path(__file__).resolve().parent / "results" / "quanvolution.json"


def load_images(path: Path) -> np.ndarray:
    with np.load(path) as f:
        parts = [f[f"{s}_images"] for s in ("train", "val", "test")]
    return (np.concatenate(parts).astype(np.float32) / 255.0)


def demo_qnode(weights, device: str, broadcast: bool):
    import pennylane as qml

    dev = qml.device(device, wires=4)

    @qml.qnode(dev)
    def circuit(phi):
        for j in range(4):
            qml.RY(np.pi * (phi[:, j] if broadcast else phi[j]), wires=j)
        qml.RandomLayers(weights, wires=list(range(4)))
        return [qml.expval(qml.PauliZ(j)) for j in range(4)]

    return circuit


def patches_of(img: np.ndarray, stride: int = 1) -> np.ndarray:
    """(H'*W', 4) patch values in the demo's wire order."""
    ho, wo = output_size(*img.shape, stride)
    out = [[img[y, x], img[y, x + 1], img[y + 1, x], img[y + 1, x + 1]]
           for y in range(0, stride * ho, stride) for x in range(0, stride * wo, stride)]
    return np.asarray(out, dtype=np.float64)


def mean_std(xs):
    return statistics.fmean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5, help="timed repeats per method (default 5)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    ap.add_argument("--patch-sample", type=int, default=400,
                    help="patches timed for the per-patch loop (default 400)")
    ap.add_argument("--image-sample", type=int, default=10,
                    help="images timed for the broadcast rival (default 10)")
    ap.add_argument("--lightning", action="store_true", help="also time lightning.qubit per patch")
    ap.add_argument("--quick", action="store_true", help="smoke run: 2 repeats, small samples")
    ap.add_argument("--out", type=Path, default=RESULTS,
                    help="JSON results file (default benchmarks/results/quanvolution.json)")
    args = ap.parse_args(argv)
    if args.quick:
        args.repeats, args.patch_sample, args.image_sample = 2, 50, 2
    if not DATA.exists():
        print(f"missing {DATA}; this benchmark needs ../shared/data/medmnist/pneumoniamnist.npz")
        return 2
    torch.set_num_threads(args.threads)
    print(f"torch threads {torch.get_num_threads()}, OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}",
          file=sys.stderr)
    images = load_images(DATA)
    n_img = len(images)
    per_img = int(np.prod(output_size(28, 28, 1)))
    n_patches = n_img * per_img
    weights = circuit_weights(1, seed=0)

    sample_patches = np.concatenate([patches_of(im) for im in images[:3]])[: args.patch_sample]
    rivals = {
        "pennylane_patch_loop": ("default.qubit", False),
        "pennylane_broadcast": ("default.qubit", True),
    }
    if args.lightning:
        rivals["lightning_patch_loop"] = ("lightning.qubit", False)
    qnodes = {k: demo_qnode(weights, dev, bc) for k, (dev, bc) in rivals.items()}

    # correctness first (also warms up every path)
    ours_full = quanvolve(images, stride=1, weights=weights)
    ours_sample = ours_full[:3].transpose(0, 2, 3, 1).reshape(-1, 4)[: args.patch_sample]
    ref = np.array([qnodes["pennylane_patch_loop"](p) for p in sample_patches[:50]])
    ref_bc = np.stack(qnodes["pennylane_broadcast"](patches_of(images[0])), axis=1)
    max_err = float(max(np.abs(ours_sample[:50] - ref).max(),
                        np.abs(ours_full[0].transpose(1, 2, 0).reshape(-1, 4) - ref_bc).max()))

    times: dict[str, list[float]] = {"hqmed": []} | {k: [] for k in rivals}
    for rep in range(args.repeats):
        t0 = time.perf_counter()
        quanvolve(images, stride=1, weights=weights)
        times["hqmed"].append(time.perf_counter() - t0)
        for name, (_, broadcast) in rivals.items():
            qn = qnodes[name]
            t0 = time.perf_counter()
            if broadcast:
                for im in images[: args.image_sample]:
                    qn(patches_of(im))
                dt = (time.perf_counter() - t0) / args.image_sample * n_img
            else:
                for p in sample_patches:
                    qn(p)
                dt = (time.perf_counter() - t0) / len(sample_patches) * n_patches
            times[name].append(dt)
        print(f"repeat {rep + 1}/{args.repeats}: " + ", ".join(
            f"{k} {v[-1]:.3g} s" for k, v in times.items()), file=sys.stderr)

    env = environment_info()
    print("# Quanvolution benchmark: PneumoniaMNIST, all", n_img, "images, stride 1,",
          f"{n_patches:,} patches, RY + RandomLayers(1)")
    print(f"# cpu: {env['cpu']} ({env['cpu_count']} cores visible), torch threads {args.threads}, "
          f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}; load average {os.getloadavg()[0]:.1f}")
    print("# versions: " + ", ".join(f"{k} {v}" for k, v in env["packages"].items() if v))
    print(f"# repeats {args.repeats}; rivals EXTRAPOLATED from {len(sample_patches)} patches "
          f"(per-patch loops) / {args.image_sample} images (broadcast); hqmed measured in full")
    print(f"# max |hqmed - PennyLane| on checked patches: {max_err:.2e}")
    print()
    print(f"| method | time for all {n_img} images (s) | ratio rival / hqmed |")
    print("|---|---|---|")
    rows = {}
    for name, ts in times.items():
        m, s = mean_std(ts)
        ratios = [t / h for t, h in zip(ts, times["hqmed"])]
        rm, rs = mean_std(ratios)
        rows[name] = {"seconds": ts, "mean_s": m, "std_s": s, "ratio_mean": rm, "ratio_std": rs,
                      "extrapolated": name != "hqmed"}
        ratio = "1 (reference)" if name == "hqmed" else f"{rm:,.0f} ± {rs:,.0f}"
        note = "" if name == "hqmed" else " (extrapolated)"
        print(f"| {name}{note} | {m:,.2f} ± {s:,.2f} | {ratio} |")
    hq = rows["hqmed"]["mean_s"]
    loop_ratio = rows["pennylane_patch_loop"]["ratio_mean"]
    ok_time, ok_ratio = hq < 10.0, loop_ratio >= 1000
    print()
    print(f"target all images < 10 s with {args.threads} threads: {'MET' if ok_time else 'MISSED'} "
          f"({hq:.2f} s, {n_patches / hq / 1e6:.2f} M patches/s)")
    print(f"target >= 1000x over the per-patch loop: {'MET' if ok_ratio else 'MISSED'} "
          f"({loop_ratio:,.0f}x)")
    atomic_write_json(args.out, {
        "benchmark": "quanvolution", "environment": env, "n_images": n_img,
        "n_patches": n_patches, "stride": 1, "rotation": "Y", "random_layers": 1,
        "threads": args.threads, "repeats": args.repeats,
        "patch_sample": len(sample_patches), "image_sample": args.image_sample,
        "max_abs_error_vs_pennylane": max_err, "results": rows,
        "targets": {"all_images_under_10s": ok_time, "ratio_vs_patch_loop_ge_1000": ok_ratio},
    })
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
