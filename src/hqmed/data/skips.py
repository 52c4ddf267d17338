"""``on_error`` handling for loaders: raise (default) or skip bad samples, never silently.

A loader creates one :class:`SkipLog`, wraps each sample in ``with log.guard(item):`` and calls
:meth:`SkipLog.finish` at the end. With ``on_error="raise"`` the first :class:`DataError` propagates.
With ``on_error="skip"`` the sample is dropped, and ``finish`` writes a JSON report
(``[{"item": ..., "error": ...}, ...]``) and logs a warning with the count and the report path.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hqmed.data.base import default_cache_dir
from hqmed.errors import ConfigError, DataError
from hqmed.utils.io import atomic_write_json

logger = logging.getLogger("hqmed.data")

ON_ERROR = ("raise", "skip")


def check_on_error(on_error: str) -> str:
    if on_error not in ON_ERROR:
        raise ConfigError(f"on_error: expected one of {list(ON_ERROR)}; got {on_error!r}")
    return on_error


class SkipLog:
    """Collects skipped samples of one load and reports them (see module doc)."""

    def __init__(self, source: str, on_error: str = "raise", report_path: str | os.PathLike | None = None,
                 cache_dir: str | os.PathLike | None = None) -> None:
        self.source = source
        self.on_error = check_on_error(on_error)
        self.report_path = Path(report_path) if report_path else None
        self.cache_dir = cache_dir
        self.skipped: list[dict[str, str]] = []

    def add(self, item: str, error: DataError | str) -> None:
        """Record a bad sample: raises ``error`` under on_error="raise", else remembers it."""
        if self.on_error == "raise":
            raise error if isinstance(error, DataError) else DataError(str(error))
        self.skipped.append({"item": str(item), "error": str(error)})

    @contextmanager
    def guard(self, item: str) -> Iterator[None]:
        """Run a block for one sample; a DataError inside it is raised or recorded."""
        try:
            yield
        except DataError as exc:
            self.add(item, exc)

    def extend(self, entries: list[dict[str, str]]) -> None:
        """Re-record entries from an earlier run (e.g. stored next to a cache)."""
        self.skipped.extend(entries)

    def finish(self) -> Path | None:
        """Write the report and warn if anything was skipped; returns the report path (or None)."""
        if not self.skipped:
            return None
        path = self.report_path
        if path is None:
            slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.source).strip("_") or "source"
            stamp = time.strftime("%Y%m%d-%H%M%S")
            path = default_cache_dir(self.cache_dir) / "skip-reports" / f"{slug}-{stamp}.json"
        atomic_write_json(path, {"source": self.source, "n_skipped": len(self.skipped),
                                 "skipped": self.skipped})
        first = self.skipped[0]
        logger.warning("%s: skipped %d bad sample(s) (on_error='skip'); report: %s; first: %s: %s",
                       self.source, len(self.skipped), path, first["item"], first["error"])
        self.report_path = path
        return path
