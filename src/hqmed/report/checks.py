"""What a reader must know before trusting a study's numbers: the report's "Warnings" box.

Each check reads the finished runs and comparison documents and returns plain sentences:

- :func:`not_converged`: validation loss still falling over the last epochs, or training accuracy
  near chance (no better than always predicting the most frequent class);
- :func:`below_majority`: runs that do not clearly beat always predicting the majority class;
- :func:`never_predicted`: classes a model never predicts on a split where they occur;
- :func:`degenerate_dca`: decision curves whose "best threshold" is the grid's lowest value with a
  net benefit no higher than treat-all (the model adds nothing there);
- :func:`confidence`: over- or under-confidence of the top-1 prediction (mean confidence against
  accuracy), named the right way round.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hqmed.report.format import fmt, split_label

# the loss counts as still falling when it fell in each of the last FALLING_EPOCHS epochs
FALLING_EPOCHS = 3
# training accuracy within this margin of the majority-class rate counts as chance
CHANCE_MARGIN = 0.05
# mean confidence − accuracy beyond this is called over- / under-confident
CONFIDENCE_GAP = 0.05


@dataclass(frozen=True)
class Convergence:
    """One run's end of training, averaged over folds."""

    falling_folds: int  # folds whose validation loss fell in each of the last FALLING_EPOCHS epochs
    folds: int
    train_acc: float | None  # last-epoch training accuracy, mean over folds
    chance: float | None  # accuracy of always predicting the most frequent class


def convergence(run) -> Convergence | None:
    """Read a run's history.csv (see :class:`hqmed.report.results.RunResult`)."""
    h = run.history
    if h is None or h.empty or "epoch" not in h:
        return None
    falling = folds = 0
    for _, fold in h.groupby("fold"):
        folds += 1
        loss = fold.sort_values("epoch").get("val_loss")
        if loss is None:
            continue
        tail = loss.dropna().to_numpy()[-(FALLING_EPOCHS + 1):]
        if tail.size == FALLING_EPOCHS + 1 and np.all(np.diff(tail) < 0):
            falling += 1
    train_acc = None
    if "train_acc" in h and h["train_acc"].notna().any():
        last = h.sort_values("epoch").groupby("fold")["train_acc"].last()
        train_acc = float(last.mean())
    scores = run.scores("val")
    chance = None
    if scores is not None and len(scores[0]):
        chance = float(np.bincount(scores[0]).max() / len(scores[0]))
    return Convergence(falling, folds, train_acc, chance)


def not_converged(runs: Sequence) -> list[str]:
    out = []
    for r in runs:
        c = convergence(r)
        if c is None:
            continue
        if c.falling_folds:
            out.append(f"{r.dataset} · {r.label} may not have converged: its validation loss was "
                       f"still falling over the last {FALLING_EPOCHS} epochs in {c.falling_folds} of "
                       f"{c.folds} folds; more epochs could change the comparison.")
        if c.train_acc is not None and c.chance is not None and \
                c.train_acc <= c.chance + CHANCE_MARGIN:
            out.append(f"{r.dataset} · {r.label} did not learn: its final training accuracy "
                       f"({fmt(c.train_acc)}) is near chance (always predicting the most frequent "
                       f"class scores {fmt(c.chance)}).")
    return out


def _split_of(r) -> str:
    return "test" if r.scores("test") is not None else "val"


def _scored(runs: Sequence, read: Callable[[Any, str], Any]) -> Iterator[tuple[Any, str, Any]]:
    """(run, split, read(run, split)) for each run on its test split (else its out-of-fold
    validation predictions), leaving out runs for which ``read`` finds nothing (None)."""
    for r in runs:
        split = _split_of(r)
        data = read(r, split)
        if data is not None:
            yield r, split, data


def never_predicted(runs: Sequence) -> list[str]:
    out = []
    for r, split, cm in _scored(runs, lambda r, split: r.confusion(split)):
        doc = r.metrics.get("test" if split == "test" else "oof") or {}
        missing = doc.get("never_predicted")  # hqmed.eval.metrics' field; older runs: from cm
        if missing is None:
            missing = [name for k, name in enumerate(r.class_names)
                       if cm[:, k].sum() == 0 and cm[k].sum() > 0]
        if missing:
            out.append(f"{r.dataset} · {r.label} never predicts {len(missing)} of "
                       f"{len(r.class_names)} classes on the {split_label(split, int(cm.sum()))}: "
                       f"{', '.join(missing)}. Their recall is 0, and their precision counts as 0 "
                       "in the macro averages (scikit-learn's zero_division=0).")
        folds = [f"fold {i} ({', '.join(f['never_predicted'])})"
                 for i, f in enumerate(r.metrics.get("per_fold") or []) if f.get("never_predicted")]
        if folds:
            out.append(f"{r.dataset} · {r.label}: classes never predicted within single validation "
                       f"folds: {'; '.join(folds)}.")
    return out


def _baseline(r, split: str) -> dict | None:
    return (r.metrics.get("baselines") or {}).get("test" if split == "test" else "oof")


def below_majority(runs: Sequence) -> list[str]:
    """Runs whose accuracy does not clearly beat always predicting the majority class (the lower
    end of its 99% Wilson interval is not above the baseline's accuracy)."""
    out = []
    for r, split, base in _scored(runs, _baseline):
        if not base or base.get("clearly_beats_majority"):
            continue
        m = base["metrics"]
        model_acc = m["accuracy"] + base["accuracy_minus_majority"]
        out.append(f"{r.dataset} · {r.label} does not clearly beat the majority-class baseline on "
                   f"the {split_label(split, m.get('n'))}: accuracy {fmt(model_acc)} against "
                   f"{fmt(m['accuracy'])} for always predicting "
                   f"{' / '.join(m.get('majority_class') or ['?'])} (the 99% Wilson interval of "
                   "its accuracy reaches the baseline).")
    return out


def degenerate_dca(comparisons: Sequence[Mapping]) -> list[str]:
    out = []
    for c in comparisons:
        d = c.get("dca") or {}
        for side in ("a", "b"):
            doc = d.get(side) or {}
            grid = doc.get("thresholds") or []
            if not grid:
                continue
            bad = [name for name, pc in (doc.get("per_class") or {}).items()
                   if pc.get("best_threshold") is not None
                   and abs(float(pc["best_threshold"]) - float(min(grid))) < 1e-9
                   and (pc.get("max_net_benefit_over_treat_all") or 0.0) <= 1e-12]
            if bad:
                out.append(f"{c['dataset']} · {c[f'label_{side}']}: the decision curve's 'best "
                           f"threshold' is the lowest grid value ({fmt(min(grid), 2)}), where the "
                           f"net benefit equals treat-all, for {len(bad)} of "
                           f"{len(doc.get('per_class') or {})} classes ({', '.join(bad)}). Read the "
                           "net benefit at clinically meaningful thresholds in the decision-curve "
                           "table instead.")
    return out


def confidence_gap(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Mean top-1 confidence minus top-1 accuracy: > 0 over-confident, < 0 under-confident."""
    return float(y_score.max(axis=1).mean() - (y_score.argmax(axis=1) == y_true).mean())


def describe_confidence(gap: float) -> str:
    if gap > CONFIDENCE_GAP:
        return "over-confident"
    if gap < -CONFIDENCE_GAP:
        return "under-confident"
    return "about calibrated"


def confidence(runs: Sequence) -> list[str]:
    out = []
    for r, split, (y_true, y_score) in _scored(runs, lambda r, split: r.scores(split)):
        gap = confidence_gap(y_true, y_score)
        word = describe_confidence(gap)
        if word == "about calibrated":
            continue
        out.append(f"{r.dataset} · {r.label} is {word} on the {split_label(split, len(y_true))}: "
                   f"mean confidence {fmt(y_score.max(axis=1).mean())} against accuracy "
                   f"{fmt((y_score.argmax(axis=1) == y_true).mean())}"
                   + (" (its probabilities overstate how often it is right)." if gap > 0 else
                      " (it is right more often than its probabilities say)."))
    return out


def all_warnings(runs: Sequence, comparisons: Sequence[Mapping]) -> list[str]:
    """Every warning of a study, in the order the checks are listed above."""
    return (below_majority(runs) + not_converged(runs) + never_predicted(runs)
            + degenerate_dca(comparisons) + confidence(runs))
