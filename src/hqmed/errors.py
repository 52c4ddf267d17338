"""Exception types shared by the whole package.

Every error a user can cause derives from :class:`HqmedError`. The CLI prints these as one
clear line (no traceback unless ``--debug``). Messages name the file, row or argument, what
was expected and what was got, e.g. ``"train.csv row 17: expected xmin < xmax; got 310 >= 120"``.
"""

from __future__ import annotations


class HqmedError(Exception):
    """Base class for errors caused by user input (files, configs, arguments)."""


class ConfigError(HqmedError, ValueError):
    """A configuration key or value is invalid."""


class DataError(HqmedError, ValueError):
    """A data file, CSV row, image or label is invalid."""


class DataNotFoundError(HqmedError, FileNotFoundError):
    """A data file is missing (and could not be downloaded)."""


class ShapeError(HqmedError, ValueError):
    """A tensor argument has the wrong shape: "<arg>: expected X; got Y"."""


class LockError(HqmedError, RuntimeError):
    """Another hqmed process holds the lock of a run or study directory."""


class TrainingError(HqmedError, RuntimeError):
    """Training cannot go on (a NaN/inf loss or weights); the last good checkpoint is kept."""
