"""MATLAB-exact imresize: against MATLAB-made LR files, Pillow's float resampler, and its own torch path."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from msinet.data.imresize import imresize, imresize_torch, output_length, resize_matrix

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
RCAN = DATA / "rcan-set5"


def _need_rcan():
    if not (RCAN / "HR" / "Set5").is_dir():
        pytest.skip(f"real data not available at {RCAN}")


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_matches_matlab_lr_files(scale):
    """Set5 LRBI files were made by MATLAB imresize(HR, 1/s, 'bicubic'); we must reproduce them."""
    _need_rcan()
    hr_files = sorted((RCAN / "HR" / "Set5" / f"x{scale}").glob("*.png"))
    assert len(hr_files) == 5
    same = total = 0
    worst = 0
    for hr_path in hr_files:
        lr_path = RCAN / "LR" / "LRBI" / "Set5" / f"x{scale}" / hr_path.name.replace("_HR_", "_LRBI_")
        hr = np.asarray(Image.open(hr_path).convert("RGB"))
        lr = np.asarray(Image.open(lr_path).convert("RGB"))
        ours = imresize(hr, 1 / scale)
        assert ours.dtype == np.uint8 and ours.shape == lr.shape
        diff = np.abs(ours.astype(int) - lr.astype(int))
        same += int((diff == 0).sum())
        total += diff.size
        worst = max(worst, int(diff.max()))
    assert same / total >= 0.999, f"only {same / total:.4%} of pixels identical at x{scale}"
    assert worst <= 1


def _pillow_float(img2d: np.ndarray, size_wh) -> np.ndarray:
    """Pillow's BICUBIC (also a = -0.5, antialiased) in float mode: an independent reference for the interior."""
    return np.asarray(
        Image.fromarray(img2d.astype(np.float32), mode="F").resize(size_wh, Image.BICUBIC), dtype=np.float64
    )


@pytest.mark.parametrize("scale", [1 / 4, 1 / 3, 1 / 2, 2, 3, 4])
def test_interior_matches_pillow_float(scale):
    """Away from the borders (where Pillow renormalises instead of clamping) the kernels must agree."""
    rng = np.random.default_rng(0)
    img = rng.uniform(0, 255, size=(120, 144))
    ours = imresize(img, scale)
    ref = _pillow_float(img, (ours.shape[1], ours.shape[0]))
    margin = int(np.ceil(2 / min(scale, 1) * max(scale, 1))) + 1  # output pixels touched by the border
    inner = (slice(margin, -margin), slice(margin, -margin))
    assert ours[inner].size >= 100
    np.testing.assert_allclose(ours[inner], ref[inner], atol=2e-3)


def test_output_size_rule_and_channels():
    img = np.random.default_rng(1).integers(0, 256, size=(101, 37, 3), dtype=np.uint8)
    assert imresize(img, 1 / 4).shape == (26, 10, 3)  # ceil(101/4), ceil(37/4)
    assert imresize(img, 2).shape == (202, 74, 3)
    assert imresize(img[..., 0], 1 / 3).shape == (34, 13)
    assert output_length(255, 1 / 3) == 85  # not 86 from 255 * 0.333...
    # channels are resized independently
    np.testing.assert_array_equal(imresize(img, 1 / 3)[..., 1], imresize(img[..., 1], 1 / 3))


def test_constant_image_stays_constant_and_weights_sum_to_one():
    img = np.full((30, 41, 3), 137, dtype=np.uint8)
    for s in (1 / 4, 1 / 3, 2, 4):
        assert (imresize(img, s) == 137).all()
    for s in (0.25, 1 / 3, 2.0, 4.0):
        np.testing.assert_allclose(resize_matrix(17, output_length(17, s), s).sum(axis=1), 1.0, atol=1e-12)


def test_torch_path_matches_numpy_float_path():
    rng = np.random.default_rng(2)
    imgs = rng.uniform(0, 1, size=(2, 3, 40, 52))
    x = torch.from_numpy(imgs)
    for s in (1 / 4, 1 / 3, 2, 4):
        out = imresize_torch(x, s)
        for b in range(2):
            ref = imresize(imgs[b].transpose(1, 2, 0), s).transpose(2, 0, 1)
            np.testing.assert_allclose(out[b].numpy(), ref, atol=1e-12)
    # float32 works too, and the uint8 path differs from it only by its two roundings
    img8 = rng.integers(0, 256, size=(40, 52, 3), dtype=np.uint8)
    t = torch.from_numpy(img8).permute(2, 0, 1)[None].float()
    out8 = imresize_torch(t, 1 / 4)[0].permute(1, 2, 0).round().clamp(0, 255).numpy()
    assert np.abs(out8 - imresize(img8, 1 / 4)).max() <= 1


def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match="HxW"):
        imresize(np.zeros((2, 3, 4, 5), np.uint8), 0.5)
    with pytest.raises(ValueError, match="positive"):
        imresize(np.zeros((8, 8), np.uint8), 0)
    with pytest.raises(ValueError, match="dtype"):
        imresize(np.zeros((8, 8), np.int32), 0.5)
    with pytest.raises(ValueError, match=r"\(B,C,H,W\)"):
        imresize_torch(torch.zeros(3, 8, 8), 0.5)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_bicubic_model_is_matlab_bicubic(scale):
    """The bicubic_x* baseline rows upsample with MATLAB's bicubic, per view, not torch's a = -0.75 kernel."""
    import msinet

    model = msinet.create_model(f"bicubic_x{scale}").eval()
    rng = np.random.default_rng(scale)
    left, right = (rng.uniform(0, 1, size=(24, 30, 3)) for _ in range(2))
    to_t = lambda a: torch.from_numpy(a.transpose(2, 0, 1))[None].float()  # noqa: E731
    with torch.no_grad():
        sr_l, sr_r = model(to_t(left), to_t(right))
    for sr, lr in ((sr_l, left), (sr_r, right)):
        ours = sr[0].permute(1, 2, 0).double().numpy()
        np.testing.assert_allclose(ours, imresize(lr, scale), atol=1e-5)
        m = 2 * scale + 1  # interior: also equal to Pillow's independent a = -0.5 resampler
        ref = _pillow_float(lr[..., 0], (30 * scale, 24 * scale))
        np.testing.assert_allclose(ours[m:-m, m:-m, 0], ref[m:-m, m:-m], atol=1e-4)
