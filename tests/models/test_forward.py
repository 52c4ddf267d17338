"""Generated from the registry: every model (and the documented option variants) runs forward and
backward on a tiny CPU batch, gives (B, num_classes) logits and finite gradients everywhere."""

from __future__ import annotations

import pytest
import torch
from models_testutils import BATCH, SMALL, tiny_input

from hqmed.models import create_model, list_models

NUM_CLASSES = 3

VARIANTS = [(name, {}) for name in list_models()] + [
    ("litespinenet", {"head": "gap"}),
    ("hq_litespinenet", {"bridge": "linear"}),
    ("hq_litespinenet", {"quantum_block": "classical"}),
    ("hq_litespinenet", {"quantum_block": "none"}),
    ("hq_lcnet_050", {"quantum_block": "classical"}),
    ("hq_lcnet_050", {"quantum_block": "closed_form"}),
    ("lcnet_050", {"stride_list": [1, 1, 2, 2, 2]}),
    ("lcnet_050", {"use_last_conv": False}),
    ("mobilenetv3_small_100", {"stride_list": [1, 1, 2, 2, 2]}),
    ("hq_mobilenetv3_large_100", {"stride_list": [1, 1, 2, 2, 2]}),
    ("hq_mobilenetv3_small_100", {"quantum_block": "closed_form"}),
    ("mobilenetv3_small_100_tanh4", {"in_chans": 7, "multi_backbone": True}),
    # quanvolution inputs: 3 image + 4 quantum channels, one backbone or two
    ("litespinenet", {"in_chans": 7}),
    ("litespinenet", {"in_chans": 7, "multi_backbone": True}),
    ("hq_litespinenet", {"in_chans": 7, "multi_backbone": True, "quantum_block": "none"}),
    ("lcnet_050_tanh4", {"in_chans": 7, "multi_backbone": True}),
    ("hq_lcnet_050", {"in_chans": 5, "multi_backbone": True, "quantum_in_chans": 4}),
]


def _id(v):
    name, kw = v
    return name + "".join(f"-{k}={val}" for k, val in kw.items())


@pytest.mark.parametrize("name, kwargs", VARIANTS, ids=[_id(v) for v in VARIANTS])
def test_forward_backward(name, kwargs):
    torch.manual_seed(0)
    kwargs = dict(kwargs)
    in_chans = kwargs.pop("in_chans", 3)
    model = create_model(name, num_classes=NUM_CLASSES, in_chans=in_chans, **kwargs).train()
    x = tiny_input(in_chans, SMALL)
    feats = model.forward_features(x)
    assert feats.ndim == 4 and feats.shape[:2] == (BATCH, model.num_features)
    logits = model.forward_head(feats)
    assert logits.shape == (BATCH, NUM_CLASSES) and logits.dtype == torch.float32
    assert torch.isfinite(logits).all()
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 2])).backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"{pname} got no gradient"
        assert torch.isfinite(p.grad).all(), f"{pname} has non-finite gradient"
    model.eval()
    with torch.no_grad():
        out = model(x)
        pre = model.forward_head(model.forward_features(x), pre_logits=True)
    assert out.shape == (BATCH, NUM_CLASSES) and pre.shape[0] == BATCH and pre.ndim == 2
    assert torch.isfinite(out).all()
