"""hqmed's rivals in the quantum benchmarks: one hand-written circuit per library, each run in
the interpreter (usually its own virtual environment) that has the library.

Circuit, the same everywhere (the LiteSpineNet block at any n): AngleEmbedding (RY) of the inputs,
3 StronglyEntanglingLayers with PennyLane's default ranges (layer l: Rot(w[l, i]) = RZ RY RZ on
every wire, then CNOT(i, (i + l mod (n - 1) + 1) mod n)), <Z_i> on every wire. Inputs x (B, n) and
weights w (L, n, 3) are radians in hqmed's (= PennyLane's) layout. A training step is forward +
backward of a fixed projection of the outputs, with gradients for inputs and weights.

* qujax          qujax 1.x (pure JAX): jax.jit of vmap + value_and_grad, float32
* tensorcircuit  tensorcircuit-ng, pytorch backend, complex64, K.vmap over the batch, torch autograd
* torchquantum   torchquantum 0.1.8, functional gates on a batched QuantumDevice, complex64, torch
                 autograd. Its package __init__ imports its MNIST/CIFAR dataset helpers, which
                 import torchvision (torchvision cannot import next to the CPU torch 2.13 wheel:
                 "operator torchvision::nms does not exist"); :func:`load` registers an empty
                 ``torchquantum.dataset`` first, so the simulator loads unchanged without it.
* qiskit         qiskit-machine-learning EstimatorQNN (StatevectorEstimator, exact) through its
                 TorchConnector: float32 tensors at the torch boundary (the connector's
                 dtype), simulated in float64 (qiskit's only precision); gradients by its
                 default parameter-shift rule, as on hardware

Each library is imported inside :func:`load`, not at the top of this module: each exists only in
its own interpreter. Point the benchmarks at it with ``--python NAME=PATH`` (e.g.
``--python tensorcircuit=/work/venv-tc/bin/python``); by default the benchmark's own interpreter
is used, and a rival it lacks is skipped with one line saying why.

Worker (what quantum_layer.py runs in the rival's interpreter; reads ``{"x", "w"}`` as JSON on
stdin, prints one JSON line)::

    python benchmarks/rivals.py --method tensorcircuit --batches 1 32 256
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import math
import os
import subprocess
import sys
import time
import types
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import numpy as np

N_LAYERS = 3
# rival -> (module that must be importable, distribution whose version is reported)
RIVALS = {"qujax": ("qujax", "qujax"), "tensorcircuit": ("tensorcircuit", "tensorcircuit-ng"),
          "torchquantum": ("torchquantum", "torchquantum"),
          "qiskit": ("qiskit_machine_learning", "qiskit-machine-learning")}
SRC = Path(__file__).resolve().parents[1] / "src"

Calls = tuple[Callable[[], object], Callable[[], np.ndarray]]


# ----------------------------------------------------------------------------- driver side
def python_arg(text: str) -> tuple[str, str]:
    """argparse type of ``--python NAME=PATH``: the rival and the interpreter that has it."""
    name, sep, path = text.partition("=")
    if not sep or name not in RIVALS or not path:
        raise argparse.ArgumentTypeError(
            f"expected NAME=PATH with NAME one of {', '.join(RIVALS)}; got {text!r}")
    return name, path


def skip_reason(name: str, python: str) -> str | None:
    """None when ``python`` can import rival ``name``, else one line saying why not."""
    module = RIVALS[name][0]
    hint = f"point --python {name}=PATH at an interpreter that has it"
    if os.path.abspath(python) == os.path.abspath(sys.executable):  # (venvs share one binary)
        found = importlib.util.find_spec(module) is not None
    elif not (os.path.isfile(python) and os.access(python, os.X_OK)):
        return f"--python {name}={python}: expected an executable Python interpreter; got no such file"
    else:
        probe = subprocess.run([python, "-c", "import importlib.util, sys; "
                                f"sys.exit(importlib.util.find_spec({module!r}) is None)"],
                               capture_output=True, text=True, timeout=60)
        if probe.returncode not in (0, 1):
            return f"{python} failed to start: {(probe.stderr.strip().splitlines() or ['?'])[-1]}"
        found = probe.returncode == 0
    return None if found else f"{module} not installed in {python} ({hint})"


def worker_env(threads: int) -> dict:
    """Environment of a worker subprocess: hqmed's sources and this folder importable, and every
    library held to ``threads`` threads (torch/OpenMP, BLAS, JAX/XLA, qiskit's Rust code)."""
    path = os.pathsep.join([str(SRC), str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])
    t = str(threads)
    return {**os.environ, "PYTHONPATH": path.rstrip(os.pathsep), "OMP_NUM_THREADS": t,
            "OPENBLAS_NUM_THREADS": t, "MKL_NUM_THREADS": t, "RAYON_NUM_THREADS": t,
            "XLA_FLAGS": f"--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads={t}",
            "JAX_PLATFORMS": "cpu"}


def run_json(cmd: list[str], threads: int, timeout: float, stdin: str | None = None) -> dict:
    """Run a worker and return the JSON object on its last stdout line, or ``{"error": line}``."""
    try:
        res = subprocess.run(cmd, input=stdin, capture_output=True, text=True,
                             env=worker_env(threads), timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"worker overran its time limit ({timeout:.0f} s)"}
    if res.returncode != 0:
        lines = res.stderr.strip().splitlines()
        return {"error": lines[-1] if lines else f"exit {res.returncode}"}
    return json.loads(res.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- rival circuits
def load(name: str) -> types.ModuleType:
    """Import rival ``name``'s library (see the module doc for torchquantum's dataset module)."""
    if name == "torchquantum":
        sys.modules.setdefault("torchquantum.dataset", types.ModuleType("torchquantum.dataset"))
    return __import__(RIVALS[name][0])


def version(name: str) -> str:
    return metadata.version(RIVALS[name][1])


def ranges(n: int) -> list[int]:
    """StronglyEntanglingLayers' default CNOT range per layer (PennyLane's)."""
    return [(layer % (n - 1)) + 1 if n > 1 else 0 for layer in range(N_LAYERS)]


def z_signs(n: int) -> np.ndarray:
    """(2^n, n) float32 eigenvalues of Z_i per basis state, wire 0 the most significant bit."""
    return (1 - 2 * ((np.arange(2**n)[:, None] >> np.arange(n - 1, -1, -1)) & 1)).astype(np.float32)


def _inputs(n: int, batch: int, x, w):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, np.pi, (batch, n)) if x is None else np.asarray(x)
    w = rng.uniform(0, 2 * np.pi, (N_LAYERS, n, 3)) if w is None else np.asarray(w).reshape(N_LAYERS, n, 3)
    return x, w, rng.standard_normal(n)


def qujax_calls(n: int, batch: int, x=None, w=None) -> Calls:
    import jax
    import jax.numpy as jnp
    import qujax

    # qujax angles are in half turns: RY(t) = qujax "Ry"(t / pi); parameters: inputs, then weights
    gates, qubits, params = [], [], []
    for i in range(n):
        gates.append("Ry"), qubits.append([i]), params.append([i])
    p = n
    for r in ranges(n):
        for i in range(n):
            for g in ("Rz", "Ry", "Rz"):
                gates.append(g), qubits.append([i]), params.append([p])
                p += 1
        for i in range(n if n > 1 else 0):
            gates.append("CX"), qubits.append([i, (i + r) % n]), params.append([])
    to_state = qujax.get_params_to_statetensor_func(gates, qubits, params, n)
    x, w, proj = _inputs(n, batch, x, w)
    signs, proj = jnp.asarray(z_signs(n)), jnp.asarray(proj, jnp.float32)
    x, w = jnp.asarray(x, jnp.float32), jnp.asarray(w.ravel(), jnp.float32)

    def expvals(xi, wv):
        st = to_state(jnp.concatenate([xi, wv]) / jnp.pi)
        return (jnp.abs(st.reshape(-1)) ** 2) @ signs

    def loss(xb, wv):
        return jnp.sum(jax.vmap(expvals, (0, None))(xb, wv) @ proj)

    train = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))
    infer = jax.jit(jax.vmap(expvals, (0, None)))
    return (lambda: jax.block_until_ready(train(x, w)), lambda: np.asarray(infer(x, w)))


def _torch_step(forward, x, w, proj) -> Calls:
    """(train, inference) of a torch forward(x, w) -> (B, n) with autograd."""
    import torch

    def train():
        x.grad = w.grad = None
        (forward(x, w) @ proj).sum().backward()

    def infer():
        with torch.no_grad():
            return forward(x, w).double().numpy()

    return train, infer


def tensorcircuit_calls(n: int, batch: int, x=None, w=None) -> Calls:
    import torch

    tc = load("tensorcircuit")
    K = tc.set_backend("pytorch")
    tc.set_dtype("complex64")
    x, w, proj = _inputs(n, batch, x, w)
    signs = torch.from_numpy(z_signs(n))

    def expvals(xi, wv):
        c = tc.Circuit(n)
        for i in range(n):
            c.ry(i, theta=xi[i])
        for layer, r in enumerate(ranges(n)):
            for i in range(n):
                c.rz(i, theta=wv[layer, i, 0])
                c.ry(i, theta=wv[layer, i, 1])
                c.rz(i, theta=wv[layer, i, 2])
            for i in range(n if n > 1 else 0):
                c.cnot(i, (i + r) % n)
        return (K.abs(c.state()) ** 2) @ signs

    forward = K.vmap(expvals, vectorized_argnums=0)
    return _torch_step(forward, torch.tensor(x, dtype=torch.float32, requires_grad=True),
                       torch.tensor(w, dtype=torch.float32, requires_grad=True),
                       torch.tensor(proj, dtype=torch.float32))


def torchquantum_calls(n: int, batch: int, x=None, w=None) -> Calls:
    import torch

    tq = load("torchquantum")
    tqf = tq.functional
    x, w, proj = _inputs(n, batch, x, w)
    measure = tq.MeasureAll(tq.PauliZ)

    def forward(xb, wv):
        bsz = xb.shape[0]
        qdev = tq.QuantumDevice(n_wires=n, bsz=bsz, device="cpu")
        for i in range(n):
            tqf.ry(qdev, wires=i, params=xb[:, i])
        for layer, r in enumerate(ranges(n)):
            for i in range(n):
                tqf.rot(qdev, wires=i, params=wv[layer, i].expand(bsz, 3))
            for i in range(n if n > 1 else 0):
                tqf.cnot(qdev, wires=[i, (i + r) % n])
        return measure(qdev)

    return _torch_step(forward, torch.tensor(x, dtype=torch.float32, requires_grad=True),
                       torch.tensor(w, dtype=torch.float32, requires_grad=True),
                       torch.tensor(proj, dtype=torch.float32))


def qiskit_calls(n: int, batch: int, x=None, w=None) -> Calls:
    import torch
    from qiskit import QuantumCircuit
    from qiskit.circuit import ParameterVector
    from qiskit.primitives import StatevectorEstimator
    from qiskit.quantum_info import SparsePauliOp
    from qiskit_machine_learning.connectors import TorchConnector
    from qiskit_machine_learning.neural_networks import EstimatorQNN

    x, w, proj = _inputs(n, batch, x, w)
    xs, ws = ParameterVector("x", n), ParameterVector("w", N_LAYERS * n * 3)
    qc = QuantumCircuit(n)
    for i in range(n):
        qc.ry(xs[i], i)
    for layer, r in enumerate(ranges(n)):
        for i in range(n):
            k = (layer * n + i) * 3
            qc.rz(ws[k], i)
            qc.ry(ws[k + 1], i)
            qc.rz(ws[k + 2], i)
        for i in range(n if n > 1 else 0):
            qc.cx(i, (i + r) % n)
    obs = [SparsePauliOp.from_sparse_list([("Z", [i], 1.0)], num_qubits=n) for i in range(n)]
    qnn = EstimatorQNN(circuit=qc, estimator=StatevectorEstimator(), observables=obs,
                       input_params=list(xs), weight_params=list(ws), input_gradients=True,
                       default_precision=0.0)  # exact (its default adds shot-like noise)
    model = TorchConnector(qnn, initial_weights=w.ravel())
    xt = torch.tensor(x, dtype=torch.float32, requires_grad=True)  # TorchConnector's dtype
    pt = torch.tensor(proj, dtype=torch.float32)

    def train():
        xt.grad = None
        model.zero_grad(set_to_none=True)
        (model(xt) @ pt).sum().backward()

    def infer():
        with torch.no_grad():
            return model(xt).double().numpy()

    return train, infer


CALLS = {"qujax": qujax_calls, "tensorcircuit": tensorcircuit_calls,
         "torchquantum": torchquantum_calls, "qiskit": qiskit_calls}


# ----------------------------------------------------------------------------- timing
def time_calls(fn: Callable[[], object], repeats: int, budget_s: float, warmup: int = 2) -> dict:
    """Seconds per call, wall-clock and process CPU time: ``warmup`` calls (which also size the
    inner loop; none: one sample is one call), then ``repeats`` samples, each the mean of an inner
    loop sized so all samples take about ``budget_s``."""
    t0 = time.perf_counter()
    for _ in range(warmup):
        fn()
    one = (time.perf_counter() - t0) / warmup if warmup else math.inf
    inner = max(1, min(200, int(budget_s / repeats / one)))
    wall, cpu = [], []
    for _ in range(repeats):
        gc.collect()
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(inner):
            fn()
        wall.append((time.perf_counter() - t0) / inner)
        cpu.append((time.process_time() - c0) / inner)
    return {"wall": wall, "cpu": cpu}


def layer_worker(args) -> dict:
    """The quantum_layer.py measurement of one rival (module doc): outputs on the driver's inputs,
    then a training step per batch and batch-1 inference. A batch whose predicted step (the last
    measured step scaled linearly in the batch) exceeds ``point_budget`` is skipped."""
    given = json.loads(sys.stdin.read())
    load(args.method)
    if args.method != "qujax":
        import torch

        torch.set_num_threads(args.threads)
    n = len(given["x"][0])
    make = CALLS[args.method]
    out = {"method": args.method, "version": version(args.method),
           "outputs": make(n, len(given["x"]), given["x"], given["w"])[1]().tolist(),
           "train_step_s": {}, "skipped": {}}
    last = None
    for batch in args.batches:
        if last and last[1] * batch / last[0] > args.point_budget:
            out["skipped"][str(batch)] = (f"predicted {last[1] * batch / last[0]:.0f} s per step "
                                          f"> budget {args.point_budget:g} s")
            continue
        train, _ = make(n, batch)
        train()  # warm-up (compilation, caches)
        t0, c0 = time.perf_counter(), time.process_time()
        train()
        second = {"wall": [time.perf_counter() - t0], "cpu": [time.process_time() - c0]}
        if second["wall"][0] * (args.repeats + 2) < args.point_budget:
            out["train_step_s"][str(batch)] = time_calls(train, args.repeats, args.budget)
        else:  # slow: single-call samples, this one included, as many as fit the point budget
            reps = max(1, min(args.repeats, int(args.point_budget / second["wall"][0])))
            more = time_calls(train, reps - 1, 0.0, warmup=0) if reps > 1 else {"wall": [], "cpu": []}
            out["train_step_s"][str(batch)] = {k: second[k] + more[k] for k in second}
        last = (batch, min(out["train_step_s"][str(batch)]["wall"]))
    infer = make(n, 1)[1]
    out["inference_batch1_s"] = time_calls(infer, args.repeats, args.budget / 4)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="worker: time one rival on the quantum layer "
                                     "benchmark's circuit (inputs as JSON on stdin)")
    parser.add_argument("--method", required=True, choices=list(RIVALS), help="the rival to run")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 32, 256], help="batch sizes")
    parser.add_argument("--repeats", type=int, default=7, help="timed samples per batch")
    parser.add_argument("--budget", type=float, default=2.0, help="seconds of timing per batch (fast rivals)")
    parser.add_argument("--point-budget", type=float, default=60.0,
                        help="seconds one training step may take; slower batches are skipped")
    parser.add_argument("--threads", type=int, default=1, help="threads (torch, BLAS, XLA)")
    args = parser.parse_args(argv)
    import warnings

    warnings.filterwarnings("ignore")
    print(json.dumps(layer_worker(args), allow_nan=False))  # read by quantum_layer.py
    return 0


if __name__ == "__main__":
    sys.exit(main())
