"""Training logs: per-epoch JSONL and CSV (always), TensorBoard (optional, lazily imported).

The JSONL/CSV files are rewritten from the full history after every epoch (atomically), so a
resumed run never holds duplicated or half-written lines.
"""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path

from hqmed.errors import ConfigError
from hqmed.utils.io import atomic_write_text, dumps_json

__all__ = ["HISTORY_COLUMNS", "EpochLogger", "history_to_csv"]

log = logging.getLogger(__name__)

# Columns of history.csv (run directory contract).
HISTORY_COLUMNS = ["fold", "epoch", "train_loss", "train_acc", "val_loss", "val_acc", "val_auc", "lr",
                   "seconds"]


def history_to_csv(rows: list[dict], columns: list[str] = HISTORY_COLUMNS) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return buf.getvalue()


class EpochLogger:
    """Writes ``log.jsonl`` and ``history.csv`` into ``log_dir``; TensorBoard events when asked."""

    def __init__(self, log_dir: str | Path, tensorboard: bool = False):
        self.log_dir = Path(log_dir)
        self._tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter  # lazy: optional dependency
            except ImportError as exc:
                raise ConfigError(
                    "tensorboard: expected the 'tensorboard' package to be installed "
                    "(pip install 'hqmed[tensorboard]'); got ImportError. Set tensorboard: false to skip it."
                ) from exc
            self._tb = SummaryWriter(log_dir=str(self.log_dir / "tensorboard"))

    def write(self, history: list[dict]) -> None:
        """Rewrite both files from ``history`` and send the newest epoch to TensorBoard."""
        atomic_write_text(self.log_dir / "log.jsonl", "".join(dumps_json(r, indent=None) + "\n" for r in history))
        atomic_write_text(self.log_dir / "history.csv", history_to_csv(history))
        if history:
            row = history[-1]
            log.info("fold %s epoch %s: %s", row.get("fold"), row.get("epoch"),
                     ", ".join(f"{k}={row[k]:.4g}" for k in HISTORY_COLUMNS[2:] if
                               isinstance(row.get(k), float)))
            if self._tb is not None:
                for key in HISTORY_COLUMNS[2:]:
                    val = row.get(key)
                    if isinstance(val, (int, float)):
                        self._tb.add_scalar(key, val, row["epoch"])
                self._tb.flush()

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None
