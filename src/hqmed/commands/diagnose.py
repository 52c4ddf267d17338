"""``hqmed diagnose MODEL|RUN``: why a hybrid lags — trainability of its quantum blocks.

    hqmed diagnose hq_litespinenet                     # at random initialisations (7 qubits)
    hqmed diagnose hq_litespinenet -o 'quantum_kwargs={init: {kind: normal, std: 0.1}}'
    hqmed diagnose runs/hq --fold 0 --json             # a trained run, on its own data
    hqmed diagnose hq_lcnet_050 --data images/*.png    # an untrained model on some images

For every quantum block: output concentration, gradient variance and its barren-plateau curve over
qubits and layers, Meyer-Wallach entanglement and expressibility at random initialisations; for a
run or with ``--data``, also the angles that reach the circuit, the outputs' spread and the
effective rank of the block's output covariance. See docs/quantum.md ("Trainability").
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hqmed.commands._common import add_predictor_arguments, emit_json, parse_model_options
from hqmed.data.folders import load_image_files
from hqmed.errors import ConfigError
from hqmed.eval.trainability import diagnose_model
from hqmed.models import create_model, model_default_cfg
from hqmed.quantum.scaling import parse_qubit_range
from hqmed.study.diagnostics import diagnose_run, normalised_batches

HELP = "trainability of a model's quantum blocks: concentration, barren plateaus, entanglement"


def _int_range(text: str) -> list[int]:
    """'2:10:2' (start:stop:step, stop included; the cost command's qubit-range syntax) or
    '1,2,3' -> list of ints >= 1."""
    try:
        if "," not in text:
            return parse_qubit_range(text)
        values = [int(p) for p in text.split(",") if p.strip()]
    except (ConfigError, ValueError):
        raise argparse.ArgumentTypeError(f"expected START:STOP[:STEP] or a comma list of ints; "
                                         f"got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected ints >= 1; got {text!r}")
    return values


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="MODEL|RUN",
                        help="a registered model name (see `hqmed models`) or a finished run directory")
    parser.add_argument("--data", nargs="+", default=None, metavar="FILE",
                        help="image files to push through the model (default for a RUN: its own "
                             "test split, else all its data)")
    parser.add_argument("--max-samples", type=int, default=256,
                        help="data samples used for the on-data diagnostics (default 256)")
    parser.add_argument("-o", "--option", action="append", default=[], metavar="KEY=VALUE",
                        help="model option as YAML (MODEL only), e.g. "
                             "-o 'quantum_kwargs={init: {kind: normal, std: 0.1}}'")
    parser.add_argument("--inits", type=int, default=20,
                        help="random initialisations per estimate (default 20)")
    parser.add_argument("--inputs", type=int, default=64,
                        help="random inputs in [-pi, pi] per initialisation (default 64)")
    parser.add_argument("--qubits", type=_int_range, default=[2, 4, 6, 8, 10],
                        help="qubit counts of the barren-plateau curve (default 2:10:2)")
    parser.add_argument("--layers", type=_int_range, default=[1, 2, 3, 4, 6],
                        help="layer counts of the barren-plateau curve (default 1,2,3,4,6)")
    parser.add_argument("--pairs", type=int, default=1000,
                        help="state pairs for expressibility (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    add_predictor_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the full result as JSON")
    parser.add_argument("--out", default=None, help="also write the JSON to this file")


def _cost(r: dict, key: str) -> str:
    c = r["cost"][key]
    return f"[{c['wall']:.1f} s wall, {c['cpu']:.1f} s CPU]"


def run(args: argparse.Namespace) -> int:
    for name in ("inits", "inputs", "pairs", "max_samples"):
        if getattr(args, name) < 2:
            raise ConfigError(f"--{name.replace('_', '-')}: expected an int >= 2; "
                              f"got {getattr(args, name)}")
    kwargs = dict(n_inits=args.inits, n_inputs=args.inputs, qubits=args.qubits,
                  layers=args.layers, expressibility_pairs=args.pairs, seed=args.seed)
    if Path(args.target).is_dir():
        if args.option:
            raise ConfigError("--option: expected a MODEL name, not a run directory; got both")
        doc = diagnose_run(args.target, None if args.fold == "ensemble" else args.fold,
                           args.data, args.max_samples, **kwargs)
    else:
        model = create_model(args.target, **parse_model_options(args.option)).eval()
        batches, source = None, "random initialisations only"
        if args.data:
            in_chans, h, w = model_default_cfg(args.target)["input_size"]
            ds = load_image_files(args.data, channels=3 if in_chans == 3 else 1, size=(h, w))
            batches = normalised_batches(ds.images[:args.max_samples])
            source = f"{len(args.data)} --data files, untrained weights"
        doc = {"target": args.target, "source": source,
               "blocks": diagnose_model(model, batches=batches, **kwargs)}
    doc["seed"] = args.seed
    blocks, source = doc["blocks"], doc["source"]
    if not blocks:
        raise ConfigError(f"{args.target}: expected a model with a quantum block; got a "
                          "classical model (nothing to diagnose)")
    if emit_json(doc, args):
        return 0
    for b in blocks:
        r = b["random_init"]
        bp = r["barren_plateau"]
        print(f"{b['block']}: {b['n_qubits']} qubits, {b['n_layers']} layers, {b['ansatz']}, "
              f"init {b['init']}")
        print(f"  output std over inputs (mean of qubits)   {r['output_std_mean']:.4f}   "
              f"{_cost(r, 'concentration')}")
        print(f"  gradient variance / mean square           {r['gradient']['variance']:.3e} / "
              f"{r['gradient']['mean_square']:.3e}   {_cost(r, 'gradient')}")
        print("  barren plateau (mean square by qubits)    "
              + ", ".join(f"n={n}: {v:.2e}" for n, v in zip(bp["qubits"], bp["mean_square_by_qubits"]))
              + (f"; fitted ~ 2^(-{bp['mean_square_decay_per_qubit']:.2f} n)"
                 if bp["mean_square_decay_per_qubit"] is not None else "")
              + f"   {_cost(r, 'barren_plateau')}")
        if bp["layers"]:
            print("  gradient mean square by layers            "
                  + ", ".join(f"L={n}: {v:.2e}" for n, v in zip(bp["layers"], bp["mean_square_by_layers"])))
        print(f"  Meyer-Wallach entanglement                {r['meyer_wallach']:.3f}   "
              f"{_cost(r, 'entanglement')}")
        if r["expressibility_kl"] is not None:
            print(f"  expressibility KL(circuit || Haar)        {r['expressibility_kl']:.4f}   "
                  f"{_cost(r, 'expressibility')}")
        if "data" in b:
            d = b["data"]
            print(f"  on data ({source}, {d['n_samples']} samples): output std "
                  f"{d['output_std_mean']:.4f}, effective rank {d['effective_rank']:.2f} of "
                  f"{b['n_qubits']}, saturated angles {d['angles']['saturated_fraction']:.1%}, "
                  f"Meyer-Wallach {d['meyer_wallach']:.3f}")
        print(f"  {b['interpretation']}")
    return 0
