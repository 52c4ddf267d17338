"""Grad-CAM / Grad-CAM++ / saliency: a known-answer model, captum as the oracle, every registered
model, and the gradient through the quantum block."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from hqmed.errors import ConfigError
from hqmed.explain import attribute, default_layer
from hqmed.models import create_model, list_models
from hqmed.quantum.options import EngineOptions


class RegionNet(nn.Module):
    """The logits depend on the pixels of ``region`` only: the input is masked, and bias-free
    convolutions with ReLU keep every activation outside the region's receptive field at zero."""

    def __init__(self, region=(slice(8, 20), slice(16, 28))):
        super().__init__()
        torch.manual_seed(0)
        self.region = region
        self.backbone = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.ReLU(),
                                      nn.Conv2d(8, 8, 3, padding=1, bias=False), nn.ReLU())
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        mask = torch.zeros_like(x)
        mask[..., self.region[0], self.region[1]] = 1
        return self.head(self.backbone(x * mask).mean(dim=(2, 3)))


def _grow(region, by):
    return tuple(slice(max(s.start - by, 0), s.stop + by) for s in region)


@pytest.mark.parametrize("region", [(slice(8, 20), slice(16, 28)), (slice(0, 10), slice(0, 12)),
                                    (slice(20, 32), slice(4, 14))])
@pytest.mark.parametrize("method", ["gradcam", "gradcam++", "saliency"])
def test_known_answer_map_is_concentrated_in_the_region_the_logit_reads(method, region):
    model = RegionNet(region).eval()
    x = torch.rand(4, 1, 32, 32, generator=torch.Generator().manual_seed(1))
    maps, probs, targets = attribute(model, x, method=method)
    assert maps.shape == (4, 32, 32) and (maps >= 0).all()
    total = maps.sum(axis=(1, 2))
    inside = maps[:, region[0], region[1]].sum(axis=(1, 2))
    # two 3x3 convolutions: activations reach at most 2 pixels beyond the region
    near = maps[:, _grow(region, 2)[0], _grow(region, 2)[1]].sum(axis=(1, 2))
    assert (total > 0).all()
    np.testing.assert_allclose(near, total, rtol=1e-6)  # nothing at all further out
    assert (inside / total > 0.6).all(), inside / total  # the rest is the 2-pixel rim
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    np.testing.assert_array_equal(targets, probs.argmax(axis=1))


def test_gradcam_and_saliency_match_captum():
    captum_attr = pytest.importorskip("captum.attr")
    model = create_model("litespinenet", num_classes=4).eval()
    x = torch.rand(3, 3, 48, 48, generator=torch.Generator().manual_seed(0))
    target = 2
    ours, _, _ = attribute(model, x, target=target, method="gradcam")
    layer = model.backbone[10]
    ref = captum_attr.LayerGradCam(model, layer).attribute(x, target=target, relu_attributions=True)
    ref = captum_attr.LayerAttribution.interpolate(ref, (48, 48), interpolate_mode="bilinear")
    np.testing.assert_allclose(ours, ref[:, 0].detach().numpy(), rtol=1e-4, atol=1e-6)
    sal, _, _ = attribute(model, x, target=target, method="saliency")
    ref = captum_attr.Saliency(model).attribute(x, target=target, abs=True).amax(dim=1)
    np.testing.assert_allclose(sal, ref.numpy(), rtol=1e-5, atol=1e-8)


def test_gradcampp_matches_its_formula_written_out():
    """Chattopadhay et al.'s alphas (exponential-score closed form) for a score whose gradient
    w.r.t. the last map is known in closed form: d logit / d A_c = w_c / (h w) everywhere."""
    model = RegionNet().eval()
    x = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(3))
    act = {}
    model.backbone.register_forward_hook(lambda m, i, o: act.setdefault("a", o))
    maps, _, t = attribute(model, x, method="gradcam++", layer="backbone")
    a = act["a"].detach()
    g = (model.head.weight[int(t[0])].detach() / (32 * 32))[None, :, None, None].expand_as(a)
    alpha = torch.where(g != 0, g**2 / (2 * g**2 + a.sum((2, 3), keepdim=True) * g**3 + 1e-7), 0)
    cam = torch.relu(((alpha * g.clamp(min=0)).sum((2, 3))[:, :, None, None] * a).sum(1))
    np.testing.assert_allclose(maps, cam.numpy(), rtol=1e-4, atol=1e-9)  # same size: no upsampling


def test_hybrid_gradient_flows_through_the_quantum_block():
    """The fused simulator's backward gives the same map as plain autograd through the gates."""
    torch.manual_seed(4)  # a fixed model whose class-1 map is not all zero (ReLU) at 32 px
    model = create_model("hq_litespinenet", num_classes=4).eval()
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    fused, _, _ = attribute(model, x, target=1, method="gradcam")
    assert fused.max() > 0
    model.bottleneck.block.impl.engine = EngineOptions(simulator="gates")
    gates, _, _ = attribute(model, x, target=1, method="gradcam")
    np.testing.assert_allclose(fused, gates, rtol=1e-4, atol=1e-6 * fused.max())


@pytest.mark.parametrize("name", list_models())
def test_every_registered_model_has_a_default_layer_and_a_map(name):
    size = 64 if "lcnet" in name else 32
    model = create_model(name, num_classes=3).eval()
    x = torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    layer = default_layer(model)
    maps, probs, _ = attribute(model, x, method="gradcam", layer=layer)
    assert layer.startswith("backbone.")
    assert maps.shape == (2, size, size) and np.isfinite(maps).all() and (maps >= 0).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)


def test_bad_layer_method_and_target_are_one_line_errors():
    model = create_model("litespinenet", num_classes=3).eval()
    x = torch.rand(1, 3, 32, 32)
    with pytest.raises(ConfigError, match="--layer: expected a module name.*got 'nope'"):
        attribute(model, x, layer="nope")
    with pytest.raises(ConfigError, match="--layer: expected a layer with a .N, C, h, w. map"):
        attribute(model, x, layer="head.fc")
    with pytest.raises(ConfigError, match="--method: expected one of"):
        attribute(model, x, method="lime")
    with pytest.raises(ConfigError, match=r"--target: expected a class index in \[0, 2\]"):
        attribute(model, x, target=5)


def test_overlay_scales_to_the_map_range_and_leaves_a_flat_map_untinted():
    from hqmed.explain import overlay_rgb

    image = np.full((1, 8, 8), 0.5, dtype=np.float32)
    heat = np.zeros((8, 8), dtype=np.float32)
    heat[2, 3] = 1.0
    out = overlay_rgb(image, heat, min_size=8).astype(int)
    assert out.shape == (8, 8, 3)
    assert (out[0, 0] == 128).all() and not (out[2, 3] == 128).all()  # only the peak is coloured
    flat = overlay_rgb(image, np.full((8, 8), 3.0) + np.random.default_rng(0).random((8, 8)) * 1e-6,
                       min_size=8)
    assert np.abs(flat.astype(int) - 128).max() <= 1  # float noise on a flat map is not a pattern
    assert overlay_rgb(image, heat, min_size=20).shape == (24, 24, 3)  # integer upscale


def test_fixed_report_images_are_the_first_per_class_in_file_order():
    from hqmed.explain.report import fixed_images

    labels = np.array([2, 0, 2, 1, 0, 2, 0, -1, 1])
    np.testing.assert_array_equal(fixed_images(labels, per_class=2), [1, 4, 3, 8, 0, 2])
    np.testing.assert_array_equal(fixed_images(labels, per_class=1, max_classes=2), [1, 3])
