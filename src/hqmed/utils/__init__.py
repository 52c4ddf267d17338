"""Small shared helpers: atomic file writes, seeding, device choice, environment capture."""

from hqmed.utils.io import atomic_write_bytes, atomic_write_json, atomic_write_text, read_json
from hqmed.utils.runtime import auto_device, environment_info, set_seed

__all__ = [
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "read_json",
    "auto_device",
    "environment_info",
    "set_seed",
]
