"""Progress of a run, for people watching it.

On a terminal: one tqdm bar per run, in epochs over all its folds (advanced per batch, so it moves
within seconds), with the ETA and the last validation metrics. Anywhere else (a log file, CI):
one line per finished epoch. ``enabled=None`` picks the bar when stderr is a terminal and
``HQMED_NO_PROGRESS`` is not set; False prints nothing.
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import TextIO

from tqdm.auto import tqdm

__all__ = ["RunProgress", "on_terminal"]


def on_terminal(stream: TextIO | None = None) -> bool:
    """True when ``stream`` (default stderr) is a terminal and HQMED_NO_PROGRESS is not set."""
    stream = stream or sys.stderr
    return stream.isatty() and not os.environ.get("HQMED_NO_PROGRESS")


class RunProgress:
    """Progress of one run (``folds`` x ``epochs``): a bar on a terminal, else a line per epoch.

    Args:
        name: what is trained (shown first).
        folds, epochs: the run's size; the bar counts ``folds * epochs`` epochs.
        enabled: True (bar on a terminal, lines elsewhere), False (silent), None (bar on a
            terminal, silent elsewhere: a library call stays quiet in logs unless asked).
        stream: where it goes (default stderr).
    """

    def __init__(self, name: str, folds: int, epochs: int, enabled: bool | None = None,
                 stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        self.name, self.folds, self.epochs = name, folds, epochs
        tty = on_terminal(self.stream)
        self.mode = "bar" if enabled is not False and tty else ("lines" if enabled else "off")
        self._bar = None
        self._base = 0
        if self.mode == "bar":
            # a pseudo-terminal with no size (script, some CI runners) reports 0 x 0, and tqdm then
            # draws nothing at all: give it the size with a fallback
            size = shutil.get_terminal_size((100, 24))
            self._bar = tqdm(total=folds * epochs, desc=name, unit="epoch", file=self.stream,
                             ncols=size.columns, nrows=size.lines, leave=True,
                             bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total} epochs "
                                        "[{elapsed}<{remaining}{postfix}]")

    @property
    def done(self) -> float | None:
        """Epochs done so far on the bar (None without a bar)."""
        return None if self._bar is None else float(self._bar.n)

    def note(self, text: str) -> None:
        """What the run is doing before its first epoch (shown on the bar)."""
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=True)

    def batch(self, n_batches: int, train_loss: float | None = None) -> None:
        """One training batch of an epoch of ``n_batches`` is done (``train_loss``: the running
        training loss, when it was read)."""
        if self._bar is not None:
            self._bar.update(1.0 / max(n_batches, 1))
            if train_loss is not None:
                self._bar.set_postfix_str(f"training loss {train_loss:.3f}", refresh=False)

    def fold(self, position: int, epochs_done: int = 0) -> None:
        """The ``position``-th fold (0-based) starts, with ``epochs_done`` epochs already done
        (a resumed fold; a finished fold passes ``epochs``)."""
        self._base = position * self.epochs
        self._goto(self._base + epochs_done)

    def _goto(self, n: float) -> None:
        if self._bar is not None and abs(self._bar.n - n) > 1e-9:
            self._bar.update(n - self._bar.n)

    def epoch(self, row: dict, metric: str) -> None:
        """A finished epoch (a history.csv row); ``metric`` is the selection metric."""
        shown = ["val_loss", "val_acc"] + ([metric] if metric not in ("val_loss", "val_acc") else [])
        text = ", ".join(f"{k} {row[k]:.3f}" for k in shown)
        if self._bar is not None:
            self._goto(self._base + row["epoch"])  # exactly on the boundary (batches were fractions)
            self._bar.set_postfix_str(f"fold {row['fold']}: {text}", refresh=True)
        elif self.mode == "lines":
            print(f"{self.name}: fold {row['fold']} epoch {row['epoch']}/{self.epochs} "
                  f"({row['seconds']:.0f} s): {text}", file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
