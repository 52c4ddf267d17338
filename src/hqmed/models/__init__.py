"""hqmed.models: LiteSpineNet / HQ-LiteSpineNet, PP-LCNet and MobileNetV3 with their hybrid twins, in one registry.

>>> from hqmed.models import create_model, list_models, count_parameters
>>> model = create_model("hq_lcnet_050", num_classes=7, stride_list=[1, 1, 2, 2, 2])

See docs/models.md for the architectures, parameter counts and the paper ambiguities resolved here.
"""

# The family modules register their models (@register_model) when imported, after the registry.
from hqmed.models import lcnet, litespinenet, mobilenetv3  # noqa: E402, F401, I001
from hqmed.models.registry import (
    count_parameters,
    create_model,
    is_model,
    list_models,
    model_default_cfg,
    register_model,
)

__all__ = [
    "count_parameters",
    "create_model",
    "is_model",
    "list_models",
    "model_default_cfg",
    "register_model",
]
