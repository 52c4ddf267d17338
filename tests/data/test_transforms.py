"""Augmentation and normalisation: each op checked against its definition (numpy oracles)."""

import numpy as np
import pytest
import torch

from hqmed.data.transforms import Augmentation, AugmentationConfig, Normalizer
from hqmed.errors import ConfigError, ShapeError

OFF = dict(crop="none", hflip=0.0, vflip=0.0, brightness=0.0, contrast=0.0, opacity=0.0)


def _x(b=6, c=3, h=12, w=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, c, h, w, generator=g) * 0.5 + 0.1


def _aug(**kw):
    return Augmentation(AugmentationConfig(**{**OFF, **kw}))


def test_deterministic_given_generator():
    x = _x()
    aug = Augmentation()  # defaults: pad crop, flips, jitter
    a = aug(x, torch.Generator().manual_seed(1))
    b = aug(x, torch.Generator().manual_seed(1))
    c = aug(x, torch.Generator().manual_seed(2))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.equal(a, c)
    assert a.shape == x.shape and a.dtype == x.dtype and 0 <= a.min() and a.max() <= 1


def test_identity_when_everything_off():
    x = _x()
    torch.testing.assert_close(_aug()(x, torch.Generator().manual_seed(0)), x)


def test_flips():
    x = _x(b=64)
    torch.testing.assert_close(_aug(hflip=1.0)(x), x.flip(-1))
    torch.testing.assert_close(_aug(vflip=1.0)(x), x.flip(-2))
    out = _aug(hflip=0.5)(x, torch.Generator().manual_seed(3))
    flipped = [torch.equal(o, xi.flip(-1)) for o, xi in zip(out, x)]
    kept = [torch.equal(o, xi) for o, xi in zip(out, x)]
    assert all(f or k for f, k in zip(flipped, kept))
    assert 15 < sum(flipped) < 49  # ~half of 64


def test_pad_crop_is_a_window_of_the_reflect_padded_image():
    x = _x(b=8)
    out = _aug(crop="pad", crop_padding=3)(x, torch.Generator().manual_seed(0))
    xn = np.pad(x.numpy(), ((0, 0), (0, 0), (3, 3), (3, 3)), mode="reflect")
    offsets = set()
    for i in range(len(x)):
        hits = [(dy, dx) for dy in range(7) for dx in range(7)
                if np.array_equal(xn[i, :, dy:dy + 12, dx:dx + 10], out[i].numpy())]
        assert hits, f"sample {i} is not a window of the padded image"
        offsets.add(hits[0])
    assert len(offsets) > 1  # different samples get different crops


def test_resized_crop_full_area_is_identity_and_shapes_kept():
    x = _x()
    out = _aug(crop="resized", crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0))
    torch.testing.assert_close(out(x, torch.Generator().manual_seed(0)), x, atol=1e-5, rtol=0)
    y = _aug(crop="resized", crop_scale=(0.3, 0.5))(x, torch.Generator().manual_seed(0))
    assert y.shape == x.shape and not torch.allclose(y, x)
    # a zoomed-in crop has less spread in pixel position -> values lie within the input's range
    assert y.min() >= x.min() - 1e-6 and y.max() <= x.max() + 1e-6


def test_brightness_contrast_opacity_definitions():
    x = _x(b=32)
    g = torch.Generator().manual_seed(0)
    out = _aug(brightness=0.3)(x, g)
    f = (out / x).flatten(1)
    assert torch.allclose(f, f[:, :1].expand_as(f), atol=1e-5)  # one factor per image
    assert f.min() >= 0.7 - 1e-6 and f.max() <= 1.3 + 1e-6
    out = _aug(contrast=0.3)(x, g)
    torch.testing.assert_close(out.mean(dim=(1, 2, 3)), x.mean(dim=(1, 2, 3)), atol=1e-5, rtol=0)
    ratio = out.std(dim=(1, 2, 3)) / x.std(dim=(1, 2, 3))
    assert ratio.min() >= 0.7 - 1e-4 and ratio.max() <= 1.3 + 1e-4 and ratio.std() > 0.01
    out = _aug(opacity=0.4)(x, g)
    a = (out / x).flatten(1)[:, 0]
    assert a.min() >= 0.6 - 1e-6 and a.max() <= 1.0 + 1e-6
    torch.testing.assert_close(out, x * a.view(-1, 1, 1, 1))


def test_augmentation_errors():
    with pytest.raises(ConfigError, match="crop"):
        AugmentationConfig(crop="random")
    with pytest.raises(ConfigError, match="hflip"):
        AugmentationConfig(hflip=2.0)
    with pytest.raises(ShapeError, match=r"\(B, C, H, W\)"):
        Augmentation()(torch.rand(3, 8, 8))
    assert Augmentation({"hflip": 0.1}).cfg.hflip == 0.1


def test_normalizer_fit_matches_numpy_and_roundtrips():
    rng = np.random.default_rng(0)
    train = (rng.random((50, 3, 8, 8)) * [[[0.5]], [[1.0]], [[0.2]]]).astype(np.float32)
    norm = Normalizer.fit(train, chunk=7)
    np.testing.assert_allclose(norm.mean, train.mean(axis=(0, 2, 3)), rtol=1e-6)
    np.testing.assert_allclose(norm.std, train.astype(np.float64).std(axis=(0, 2, 3)), rtol=1e-6)
    z = norm.apply(train)
    assert z.dtype == np.float32
    np.testing.assert_allclose(z.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(axis=(0, 2, 3)), 1, atol=1e-4)
    t = norm(torch.from_numpy(train))
    np.testing.assert_allclose(t.numpy(), z, atol=1e-6)
    back = Normalizer.from_dict(norm.to_dict())
    np.testing.assert_array_equal(back.mean, norm.mean)
    # constant channel -> std floored, no division by zero
    const = np.ones((4, 1, 5, 5), np.float32)
    assert np.isfinite(Normalizer.fit(const).apply(const)).all()
    with pytest.raises(ShapeError, match="expected"):
        norm.apply(np.zeros((2, 1, 4, 4), np.float32))
    with pytest.raises(ConfigError, match="mean"):
        Normalizer.from_dict({"mean": [0.0]})
