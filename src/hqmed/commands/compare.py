"""``hqmed compare RUN_A RUN_B``: paired statistics of two runs on the same data and splits.

- paired two-tailed t-tests over folds for every overall metric (alpha 0.01 as in the paper);
- McNemar's test on the paired predictions: the test split (fold ensemble) when both runs have
  one, and the out-of-fold predictions;
- 99% intervals of the overall metrics (plain percentile bootstrap, Wilson for accuracy) and
  99% class-wise stratified percentile-bootstrap intervals (test split, else out-of-fold);
- decision-curve analysis per class (best threshold, maximum net benefit, Δ = B - A).

Writes the whole result as JSON (``--out``, default ``<parent of RUN_B>/compare-<A>-vs-<B>.json``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hqmed.eval import statistics
from hqmed.eval.compare import compare_runs, paired_scores
from hqmed.report.results import load_run
from hqmed.study.diagnostics import lag_hint
from hqmed.train.rundir import check_same_data
from hqmed.utils.io import atomic_write_json, dumps_json

HELP = "compare two runs: paired t-tests over folds, McNemar, 99% class-wise CIs, decision curves"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_a", metavar="RUN_A", help="reference run directory (e.g. the classical model)")
    parser.add_argument("run_b", metavar="RUN_B", help="run directory compared with it (e.g. the hybrid)")
    parser.add_argument("--alpha", type=float, default=0.01, help="t-test significance level (default 0.01)")
    parser.add_argument("--level", type=float, default=0.99, help="bootstrap CI level (default 0.99)")
    parser.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    parser.add_argument("--out", metavar="FILE", help="where to write the JSON result")
    parser.add_argument("--json", action="store_true", help="print the JSON result instead of tables")


def _f(v, digits: int = 4) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "-"
    return f"{v:.{digits}g}" if abs(v) < 1e-3 and v != 0 else f"{v:.{digits}f}"


def _table(head: list[str], rows: list[list]) -> list[str]:
    rows = [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in [head, *rows]]


def format_comparison(doc: dict) -> str:
    a, b = doc["a"], doc["b"]
    out = [f"A = {a}   B = {b}   (every difference is B - A; t > 0 means B is higher)", ""]
    if doc.get("ttest"):
        out.append(f"Paired two-tailed t-test over folds (alpha = {doc['alpha']}):")
        rows = []
        for name, r in doc["ttest"].items():
            if "error" in r:
                rows.append([name, "-", "-", "-", "-", "-", "-", r["error"]])
                continue
            rows.append([name, _f(r["mean_a"]), _f(r["mean_b"]), _f(r["mean_diff"]), _f(r["t"], 3),
                         _f(r["t_critical"], 3), _f(r["p"]), "yes" if r["significant"] else "no"])
        out += _table(["metric", "mean A", "mean B", "diff (B - A)", "t", "t crit", "p", "significant"],
                      rows)
    else:
        out.append("Paired t-test: needs two cross-validated runs with the same number of folds (skipped).")
    out.append("")
    rows = []
    for m in doc["mcnemar_all"]:
        rows.append([m["split"], m["n"], m["b"], m["c"], m["method"], _f(m["statistic"], 3), _f(m["p"])])
    out.append("McNemar's test (b = A right & B wrong, c = A wrong & B right):")
    out += _table(["predictions", "n", "b", "c", "method", "statistic", "p"], rows)
    out.append("")
    oc = doc.get("overall_ci")
    if oc:
        out.append(f"{oc['level']:.0%} intervals of the overall metrics ({oc['split']} split, "
                   f"{oc['a']['method']}, {oc['a']['n_boot']} resamples; Wilson for accuracy):")
        rows = []
        for metric, ra in oc["a"]["metrics"].items():
            rb = oc["b"]["metrics"][metric]
            rows.append([metric, _ci(ra), _ci(rb), _f(_diff(ra, rb))])
            if "wilson" in ra:
                rows.append([f"{metric} (Wilson)", _ci(ra["wilson"] | {"estimate": ra["estimate"]}),
                             _ci(rb["wilson"] | {"estimate": rb["estimate"]}), ""])
        out += _table(["metric", "A estimate [low, high]", "B estimate [low, high]", "B - A"], rows)
        out.append("")
    ci = doc["ci"]
    out.append(f"{int(ci['level'] * 100)}% class-wise bootstrap CIs ({ci['split']} split, "
               f"{ci['a'].get('method', 'stratified percentile bootstrap')}, "
               f"{ci['a']['n_boot']} resamples):")
    rows = []
    for metric in ("recall", "precision", "f1", "auroc"):
        for cls, ra in (ci["a"]["per_class"].get(metric) or {}).items():
            rb = ci["b"]["per_class"][metric][cls]
            rows.append([cls, metric, _ci(ra), _ci(rb)])
    out += _table(["class", "metric", "A estimate [low, high]", "B estimate [low, high]"], rows)
    out.append("")
    d = doc["dca"]["compare"]
    out.append(f"Decision curves, one-vs-rest ({doc['dca']['split']} split); Δ = max NB(B) - max NB(A):")
    rows = []
    for cls, r in d["per_class"].items():
        ra, rb = r["a"], r["b"]
        rows.append([cls, _f(ra["best_threshold"], 2), _f(ra["max_net_benefit"]), _f(rb["best_threshold"], 2),
                     _f(rb["max_net_benefit"]), _f(-r["delta"] if d["models"][0] == "a" else r["delta"])])
    out += _table(["class", "A best pt", "A max NB", "B best pt", "B max NB", "Δ (B - A)"], rows)
    return "\n".join(out)


def _diff(ra: dict, rb: dict):
    a, b = ra.get("estimate"), rb.get("estimate")
    return None if a is None or b is None else b - a


def _ci(r: dict) -> str:
    return f"{_f(r.get('estimate'))} [{_f(r.get('low'))}, {_f(r.get('high'))}]"


def compare_run_dirs(run_a: str | Path, run_b: str | Path, alpha: float = 0.01, level: float = 0.99,
                     n_boot: int = 1000, seed: int = 0) -> dict:
    """Every paired statistic of two finished run directories (see the module docstring)."""
    ra, rb = load_run(run_a), load_run(run_b)
    check_same_data(run_a, run_b)
    doc = compare_runs(ra, rb, alpha=alpha, ci_level=level, n_boot=n_boot, seed=seed)
    doc["a"], doc["b"] = str(run_a), str(run_b)
    mc = [dict(doc["mcnemar"])]
    if doc["split"] != "val":
        aligned = paired_scores(ra, rb, "val")
        if aligned is not None:
            y, pa, pb = aligned
            mc.append(statistics.mcnemar(y, pa.argmax(1), pb.argmax(1)).to_dict() | {"split": "val"})
    for m in mc:
        m["split"] = {"val": "out-of-fold (val)", "test": "test (fold ensemble)"}.get(m["split"], m["split"])
    doc["mcnemar_all"] = mc
    return doc


def run(args: argparse.Namespace) -> int:
    doc = compare_run_dirs(args.run_a, args.run_b, alpha=args.alpha, level=args.level,
                           n_boot=args.n_boot, seed=args.seed)
    a, b = Path(args.run_a), Path(args.run_b)
    out = Path(args.out) if args.out else b.resolve().parent / f"compare-{a.name}-vs-{b.name}.json"
    atomic_write_json(out, doc)
    if args.json:
        print(dumps_json(doc, indent=2))
    else:
        print(format_comparison(doc))
    print(f"written: {out}", file=sys.stderr if args.json else sys.stdout)
    hint = lag_hint(args.run_a, args.run_b)
    if hint:
        print(hint, file=sys.stderr if args.json else sys.stdout)
    return 0
