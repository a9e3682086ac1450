"""PSNR/SSIM and stereo protocols: published RCAN Set5 numbers, scikit-image as an independent reference."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage.color import rgb2ycbcr
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

import msinet
from msinet.metrics import PROTOCOLS, get_protocol, parse_protocols, psnr, rgb_to_y, ssim, stereo_scores

RCAN = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "rcan-set5"
PUBLISHED_RCAN_SET5 = {2: (38.27, 0.9614), 3: (34.74, 0.9299), 4: (32.63, 0.9002)}  # RCAN, ECCV 2018


def _rgb(path):
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_rcan_set5_published_numbers(scale):
    """Y of rgb2ycbcr, shave = scale, Gaussian SSIM, mean over Set5 reproduces RCAN's published table."""
    if not (RCAN / "SR" / "BI" / "RCAN").is_dir():
        pytest.skip(f"real data not available at {RCAN}")
    psnrs, ssims = [], []
    for hr_path in sorted((RCAN / "HR" / "Set5" / f"x{scale}").glob("*.png")):
        sr_path = RCAN / "SR" / "BI" / "RCAN" / "Set5" / f"x{scale}" / hr_path.name.replace("_HR_", "_RCAN_")
        sr, hr = _rgb(sr_path), _rgb(hr_path)
        psnrs.append(msinet.metrics.psnr(sr, hr, y_channel=True, shave=scale))
        ssims.append(msinet.metrics.ssim(sr, hr, y_channel=True, shave=scale, window="gaussian"))
    assert len(psnrs) == 5
    want_psnr, want_ssim = PUBLISHED_RCAN_SET5[scale]
    assert f"{np.mean(psnrs):.2f}" == f"{want_psnr:.2f}"
    assert f"{np.mean(ssims):.4f}" == f"{want_ssim:.4f}"


def _noisy_pair(seed=0, shape=(40, 52, 3)):
    rng = np.random.default_rng(seed)
    hr = rng.integers(0, 256, size=shape).astype(np.uint8)
    sr = np.clip(hr.astype(int) + rng.integers(-20, 21, size=shape), 0, 255).astype(np.uint8)
    return sr, hr


def test_psnr_matches_skimage_and_y_matches_rgb2ycbcr():
    sr, hr = _noisy_pair()
    assert psnr(sr, hr) == pytest.approx(peak_signal_noise_ratio(hr, sr, data_range=255), abs=1e-10)
    y_ref = rgb2ycbcr(hr.astype(np.float64) / 255.0)[..., 0]  # BT.601 studio range, on 0..255
    np.testing.assert_allclose(rgb_to_y(hr), y_ref, atol=1e-9)
    a, b = rgb_to_y(sr), rgb_to_y(hr)
    expect = 10 * np.log10(255**2 / np.mean((a[3:-3, 3:-3] - b[3:-3, 3:-3]) ** 2))
    assert psnr(sr, hr, y_channel=True, shave=3) == pytest.approx(expect, abs=1e-10)
    assert psnr(hr, hr) == float("inf")


def test_ssim_windows_match_skimage():
    sr, hr = _noisy_pair(1)
    uniform = structural_similarity(hr, sr, channel_axis=2, data_range=255)  # skimage defaults: 7x7 box
    gauss = structural_similarity(
        hr, sr, channel_axis=2, data_range=255, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    assert ssim(sr, hr, window="uniform") == pytest.approx(uniform, abs=1e-10)
    assert ssim(sr, hr, window="gaussian") == pytest.approx(gauss, abs=1e-10)
    assert uniform != pytest.approx(gauss, abs=1e-4)  # the choice matters
    assert ssim(hr, hr) == pytest.approx(1.0)


def test_stereo_view_modes():
    (sr_l, hr_l), (sr_r, hr_r) = _noisy_pair(2, (30, 100, 3)), _noisy_pair(3, (30, 100, 3))
    sr_r = np.clip(sr_r.astype(int) + 9, 0, 255).astype(np.uint8)  # make the views score differently
    p_l, s_l = psnr(sr_l, hr_l), ssim(sr_l, hr_l, window="uniform")
    p_r, s_r = psnr(sr_r, hr_r), ssim(sr_r, hr_r, window="uniform")
    assert stereo_scores(sr_l, sr_r, hr_l, hr_r, "stereo") == pytest.approx(((p_l + p_r) / 2, (s_l + s_r) / 2))
    assert stereo_scores(sr_l, sr_r, hr_l, hr_r, "left") == pytest.approx((p_l, s_l))
    six_sr, six_hr = np.concatenate([sr_l, sr_r], 2), np.concatenate([hr_l, hr_r], 2)  # BasicSR's (H,W,6)
    pooled = peak_signal_noise_ratio(six_hr, six_sr, data_range=255)
    assert stereo_scores(sr_l, sr_r, hr_l, hr_r, "stereo-pooled")[0] == pytest.approx(pooled)
    assert pooled != pytest.approx((p_l + p_r) / 2, abs=1e-3)
    crop = stereo_scores(sr_l, sr_r, hr_l, hr_r, "left-crop64")
    assert crop == pytest.approx((psnr(sr_l[:, 64:], hr_l[:, 64:]), ssim(sr_l[:, 64:], hr_l[:, 64:], window="uniform")))
    y = stereo_scores(sr_l, sr_r, hr_l, hr_r, "y-shave", scale=4)
    assert y[0] == pytest.approx((psnr(sr_l, hr_l, True, 4) + psnr(sr_r, hr_r, True, 4)) / 2)


def test_protocol_registry_and_custom_specs():
    assert [p.name for p in parse_protocols(None)] == ["stereo"]
    assert len(parse_protocols("all")) == len(PROTOCOLS) >= 6
    custom = get_protocol("color=y,shave=s,views=left,window=gaussian")
    assert (custom.color, custom.shave, custom.views, custom.window) == ("y", "s", "left", "gaussian")
    assert [p.name for p in parse_protocols("stereo;left")] == ["stereo", "left"]
    with pytest.raises(ValueError, match="unknown protocol"):
        get_protocol("psnr-magic")
    with pytest.raises(ValueError, match="views"):
        get_protocol("views=right")


def test_bad_inputs_give_clear_errors():
    sr, hr = _noisy_pair()
    with pytest.raises(ValueError, match="differ in shape"):
        psnr(sr[:-1], hr)
    with pytest.raises(ValueError, match="uint8"):
        psnr(sr.astype(np.float32), hr)
    with pytest.raises(ValueError, match="HxWx3"):
        ssim(sr[..., :2], hr[..., :2])
    with pytest.raises(ValueError, match="shave"):
        psnr(sr, hr, shave=30)
    with pytest.raises(ValueError, match="window"):
        ssim(sr, hr, window="box")
