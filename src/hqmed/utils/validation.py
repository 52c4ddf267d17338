"""Pydantic validation errors as hqmed's one-line messages, for every config schema.

Experiment configs, study configs and the augmentation dataclass all report a bad value the same
way: one line per error naming where it came from (the file, or the ``--set KEY=VALUE`` flag that
set the key), the dotted key, what was expected and what was got::

    exp.yaml: key 'optim.lr': expected a number > 0; got -1
    --set optim.lrr=0.1: unknown key 'optim.lrr'; expected one of ['gamma', 'lr', ...]

Validators raise ``ValueError("expected X; got Y")`` (full sentences); the formatter adds only the
source and the key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from types import UnionType
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

from pydantic import BaseModel, TypeAdapter, ValidationError

from hqmed.errors import ConfigError

__all__ = ["bool_as_number_error", "format_validation_error", "validate"]

T = TypeVar("T")

_BOUNDS = {"greater_than": "> {gt}", "greater_than_equal": ">= {ge}",
           "less_than": "< {lt}", "less_than_equal": "<= {le}"}
_UNKNOWN = ("extra_forbidden", "unexpected_keyword_argument")  # models / dataclasses
_MISSING = ("missing", "missing_argument")


def bool_as_number_error(value: Any, kind: str) -> ValueError | None:
    """The error for a boolean given where ``kind`` ("an integer", "a number") is expected, else
    None (pydantic would read ``true`` as 1)."""
    if isinstance(value, bool):
        return ValueError(f"expected {kind}; got {str(value).lower()} (a boolean)")
    return None


def _expected(err: dict) -> str:
    """A short 'expected ...' phrase for one pydantic error."""
    ctx = err.get("ctx") or {}
    kind = err.get("type", "")
    if kind == "literal_error":
        return f"one of {ctx.get('expected', '')}"
    if kind in _BOUNDS:
        return "a number " + _BOUNDS[kind].format(**{k: ctx.get(k) for k in ("gt", "ge", "lt", "le")})
    return err.get("msg", "a valid value").removeprefix("Input should be ")


def _fields(schema: Any) -> dict[str, Any] | None:
    """Field name -> annotation of a pydantic model or a dataclass; None for anything else."""
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        return {name: f.annotation for name, f in schema.model_fields.items()}
    if isinstance(schema, type) and dataclasses.is_dataclass(schema):
        return get_type_hints(schema)
    return None


def _allowed_keys(schema: Any, loc: tuple) -> list[str]:
    """Field names of the section at ``loc`` below ``schema`` (for 'unknown key' messages)."""
    for part in loc:
        if isinstance(part, int):  # an item of a list of sections
            args = get_args(schema)
            schema = args[0] if get_origin(schema) is list and args else None
        else:
            schema = (_fields(schema) or {}).get(part)
            if get_origin(schema) in (Union, UnionType):  # SearchSpec | None -> SearchSpec
                sections = [a for a in get_args(schema) if _fields(a) is not None]
                schema = sections[0] if len(sections) == 1 else None
    return sorted(_fields(schema) or {})


def _flag_for(key: str, overrides: Iterable[tuple[str, str]]) -> str | None:
    """The ``--set`` item that set ``key`` (or a section of it, or a key inside it), if any."""
    for k, item in reversed(list(overrides)):
        if k == key or key.startswith(k + ".") or k.startswith(key + "."):
            return item
    return None


def format_validation_error(exc: ValidationError, source: str, schema: Any = None,
                            overrides: Iterable[str | tuple[str, str]] | None = None) -> str:
    """One line per error of ``exc``, naming ``source`` -- or the ``--set`` flag that caused it.

    ``schema``: the validated model or dataclass (lists the allowed keys of an unknown one).
    ``overrides``: the ``--set KEY=VALUE`` items applied before validation; a ``(key, item)`` pair
    blames ``item`` for errors at ``key`` (a study's ``--set base.epochs=x`` is key ``epochs`` of
    each run).
    """
    pairs = [(o.split("=", 1)[0].strip(), o) if isinstance(o, str) else o for o in overrides or []]
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in loc) or "<top level>"
        flag = _flag_for(key, pairs)
        where = f"--set {flag}" if flag is not None else source
        if err["type"] in _UNKNOWN:
            lines.append(f"{where}: unknown key '{key}'; expected one of {_allowed_keys(schema, loc[:-1])}")
        elif err["type"] in _MISSING:
            lines.append(f"{where}: key '{key}' is required; got nothing")
        elif err["type"] == "value_error":  # our validators: a full "expected X; got Y" sentence
            lines.append(f"{where}: key '{key}': {err['msg'].removeprefix('Value error, ')}")
        else:
            lines.append(f"{where}: key '{key}': expected {_expected(err)}; got {err.get('input')!r}")
    return "\n".join(lines)


def validate(schema: type[T], raw: Any, source: str,
             overrides: Iterable[str | tuple[str, str]] | None = None) -> T:
    """``raw`` validated as ``schema`` (a pydantic model or dataclass); a ConfigError otherwise."""
    try:
        return TypeAdapter(schema).validate_python(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source, schema, overrides)) from None
