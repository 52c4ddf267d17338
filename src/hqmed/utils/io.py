"""File I/O every module shares: the user folders (data root, cache), atomic writes, strict JSON, and the one bounded
YAML reader.

Atomic writes go to a temporary file in the same folder (``.<name>.<random>.tmp``), are fsynced,
then renamed, so a reader (or a resumed run) sees either the old file or the new one, never half of
one. A failed write (e.g. a full disk) names the file it was writing.

JSON output is strict: NaN and infinities are written as ``null`` (``json.loads`` in any language
reads every file hqmed writes).

YAML input is parsed safely (no tags that run code) with aliases bounded: at most
:data:`YAML_MAX_NODES` values after expanding ``*alias`` references, and no alias inside its own
anchor, checked on the node graph before anything is constructed or copied.
"""

from __future__ import annotations

import json
import math
import os
import secrets
from pathlib import Path
from typing import Any

import yaml

from hqmed.errors import ConfigError, DataError

TEMP_SUFFIX = ".tmp"  # atomic writes' temporary files: ".<final name>.<random>.tmp"
YAML_MAX_NODES = 100_000  # values a YAML document may hold after alias expansion


def user_dir(given: str | os.PathLike | None, env: str, default: str) -> Path:
    """``given`` if set, else ``$env``, else ``~/.hqmed/<default>`` (not created here)."""
    if given is not None and str(given) != "":
        return Path(given).expanduser()
    value = os.environ.get(env)
    if value:
        return Path(value).expanduser()
    return Path.home() / ".hqmed" / default


def default_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """``cache_dir`` if given, else ``$HQMED_CACHE``, else ``~/.hqmed/cache``."""
    return user_dir(cache_dir, "HQMED_CACHE", "cache")


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (same-folder temp file + ``os.replace``)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}{TEMP_SUFFIX}"
        # 0o666 minus the process umask, like a plain open(): the umask is applied by the kernel,
        # never read or changed here (os.umask is process-wide and not thread-safe).
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    except OSError as exc:
        raise _with_path(exc, path) from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp.exists():
            tmp.unlink()
        if isinstance(exc, OSError):
            raise _with_path(exc, path) from exc
        raise
    return path


def _with_path(exc: OSError, path: Path) -> OSError:
    """``exc`` naming ``path`` (e.g. ENOSPC from a write says which file it was writing)."""
    if exc.filename is not None:
        return exc
    return type(exc)(exc.errno, f"{exc.strerror or exc} while writing", str(path))


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def to_json_safe(obj: Any) -> Any:
    """``obj`` with NaN/inf floats as None, numpy values as Python ones and paths as strings."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: to_json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_json_safe(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "tolist"):  # numpy scalars and arrays
        return to_json_safe(obj.tolist())
    return obj


def dumps_json(obj: Any, indent: int | None = 2) -> str:
    """Strict JSON text of ``obj`` (see :func:`to_json_safe`); never emits NaN or Infinity."""
    return json.dumps(to_json_safe(obj), indent=indent, allow_nan=False)


def atomic_write_json(path: str | os.PathLike, obj: Any, indent: int | None = 2) -> Path:
    return atomic_write_text(path, dumps_json(obj, indent=indent) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    """Parse a JSON file; invalid JSON is a DataError naming the file."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: expected a valid JSON file; got {type(exc).__name__}: {exc}") from exc


# ---------------------------------------------------------------------------------------------
# YAML


def _check_aliases(root: yaml.Node, source: str, max_nodes: int) -> None:
    """Refuse recursive aliases and documents larger than ``max_nodes`` once aliases are expanded.

    Walks the composed node graph (aliases are shared nodes there) iteratively, memoising each
    node's expanded size, so the check itself is linear in the file size.
    """
    size: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        children = _children(node)
        if done:
            on_path.discard(key)
            size[key] = 1 + sum(size[id(c)] for c in children)
            if size[key] > max_nodes:
                raise ConfigError(f"{source}: expected at most {max_nodes:,} values after expanding "
                                  f"YAML aliases (*name); got more than {max_nodes:,} (an alias "
                                  f"expansion bomb?) at line {node.start_mark.line + 1}")
            continue
        if key in size:
            continue
        if key in on_path:
            raise ConfigError(f"{source}: expected YAML without recursive aliases; got an alias "
                              f"inside its own anchor at line {node.start_mark.line + 1}")
        on_path.add(key)
        stack.append((node, True))
        for child in children:
            if id(child) in on_path:
                raise ConfigError(f"{source}: expected YAML without recursive aliases; got an alias "
                                  f"inside its own anchor at line {child.start_mark.line + 1}")
            if id(child) not in size:
                stack.append((child, False))


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def load_yaml(text: str, source: str = "<string>", what: str = "",
              max_nodes: int = YAML_MAX_NODES) -> Any:
    """Parse YAML ``text`` safely (SafeLoader, bounded aliases); errors are one-line ConfigErrors.

    ``source`` (e.g. the file path) names the text in YAML's own marks instead of
    ``<unicode string>``; messages start with ``what`` (e.g. "config file") and ``source``.
    """
    loader = yaml.SafeLoader(text)
    loader.name = source
    source = f"{what} {source}" if what else source
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_aliases(node, source, max_nodes)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        detail = " ".join(str(exc).split())
        raise ConfigError(f"{source}: expected valid YAML; got {detail}") from None
    except RecursionError:
        raise ConfigError(f"{source}: expected YAML nested at most a few hundred levels deep; got "
                          "deeper nesting") from None
    finally:
        loader.dispose()


def read_yaml(path: str | os.PathLike, what: str = "config file") -> Any:
    """Parse a YAML file with :func:`load_yaml`; a missing or unreadable file is a ConfigError
    naming ``what`` and the path. An empty file reads as ``{}``."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{what} {path}: expected an existing YAML file; got no such file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{what} {path}: expected UTF-8 text; got {exc}") from None
    raw = load_yaml(text, str(path), what)
    return {} if raw is None else raw
