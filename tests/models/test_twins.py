"""Hybrid and classical members of each pair differ only in the quantum block."""

from __future__ import annotations

import pytest
import torch
from models_testutils import shapes, tiny_input

from hqmed.models import create_model

BLOCK = "bottleneck.block."


@pytest.mark.parametrize("width", ["050", "075", "100", "150", "200"])
@pytest.mark.parametrize("block", ["quantum", "classical", "closed_form"])
def test_lcnet_pair_differs_only_in_block(width, block):
    hybrid = create_model(f"hq_lcnet_{width}", num_classes=7, quantum_block=block)
    twin = create_model(f"lcnet_{width}_tanh4", num_classes=7)
    assert shapes(hybrid, exclude=BLOCK) == shapes(twin)
    extra = {k: v for k, v in shapes(hybrid).items() if k.startswith(BLOCK)}
    assert sum(torch.Size(s).numel() for s in extra.values()) == 4  # one RY weight per qubit
    assert not any(k.startswith(BLOCK) for k in shapes(twin))


@pytest.mark.parametrize("variant", ["small", "large"])
@pytest.mark.parametrize("block", ["quantum", "closed_form"])
def test_mobilenetv3_pair_differs_only_in_block(variant, block):
    hybrid = create_model(f"hq_mobilenetv3_{variant}_100", num_classes=7, quantum_block=block)
    twin = create_model(f"mobilenetv3_{variant}_100_tanh4", num_classes=7)
    plain = create_model(f"mobilenetv3_{variant}_100", num_classes=7)
    assert shapes(hybrid, exclude=BLOCK) == shapes(twin)
    extra = {k: v for k, v in shapes(hybrid).items() if k.startswith(BLOCK)}
    assert sum(torch.Size(s).numel() for s in extra.values()) == 4  # one RY weight per qubit
    # the twin is the plain network with Linear(hidden, 4) + tanh inserted before a Linear(4, K)
    assert shapes(twin, exclude="bottleneck.")["fc.weight"] == (7, 4)
    hidden = {"small": 1024, "large": 1280}[variant]
    assert shapes(twin)["bottleneck.projection.fc.weight"] == (4, hidden)
    assert {k: v for k, v in shapes(plain).items() if not k.startswith("fc.")} == \
        {k: v for k, v in shapes(twin).items() if not k.startswith(("fc.", "bottleneck."))}


@pytest.mark.parametrize("bridge", ["pool", "linear"])
@pytest.mark.parametrize("block", ["quantum", "classical"])
def test_hq_litespinenet_twin_differs_only_in_block(bridge, block):
    hybrid = create_model("hq_litespinenet", num_classes=8, bridge=bridge, quantum_block=block)
    twin = create_model("hq_litespinenet", num_classes=8, bridge=bridge, quantum_block="none")
    assert shapes(hybrid, exclude=BLOCK) == shapes(twin)
    assert any(k.startswith(BLOCK) for k in shapes(hybrid))


def test_twin_weights_transfer_and_block_is_the_only_difference():
    """Load the twin's weights into the hybrid (all but the block): with a zero-angle closed-form
    block replaced by the identity, both compute the same function."""
    torch.manual_seed(0)
    twin = create_model("lcnet_050_tanh4", num_classes=3).eval()
    hybrid = create_model("hq_lcnet_050", num_classes=3, quantum_block="closed_form").eval()
    missing, unexpected = hybrid.load_state_dict(twin.state_dict(), strict=False)
    assert missing == ["bottleneck.block.impl.weights"] and unexpected == []
    x = tiny_input()
    seen = {}
    hook = hybrid.bottleneck.block.register_forward_hook(lambda m, i, o: seen.update(x=i[0]))
    with torch.no_grad():
        t = twin.forward_head(twin.forward_features(x), pre_logits=True)
        h = hybrid.forward_head(hybrid.forward_features(x), pre_logits=True)
    hook.remove()
    # the hybrid's quantum block receives exactly the twin's tanh pre-logits ...
    assert torch.allclose(seen["x"], t)
    # ... and returns <Z> of H then RY(pi t + w) on each qubit, -sin(pi t + w) (closed form)
    w = hybrid.bottleneck.block.impl.weights.detach()
    assert torch.allclose(h, -torch.sin(torch.pi * t + w), atol=1e-6)
