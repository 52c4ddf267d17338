"""hqmed.data: every image source as one :class:`ImageDataset` contract.

``load_source(kind, **params)`` loads "medmnist", "cifar10", "vindr", "phantoms" (synthetic),
"folder" or "yolo" data as ``{split: ImageDataset}``. Balancing, transforms, splits and quanvolution
live in their own submodules (``hqmed.data.balancing`` etc.).
"""

from hqmed.data.base import ImageDataset, default_cache_dir, resolve_data_root
from hqmed.data.registry import list_sources, load_source, source_params

__all__ = [
    "ImageDataset",
    "default_cache_dir",
    "list_sources",
    "load_source",
    "resolve_data_root",
    "source_params",
]
