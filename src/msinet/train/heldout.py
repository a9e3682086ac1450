"""Held-out evaluation of a trained model against MATLAB-bicubic (used by validation and the model card).

Protocol (the one the model card states): HR cropped to a multiple of the scale, LR = degrade(HR, s) by the
stereo-SR kits' rule ("kit", msinet.data.degradation: bit-exact to their LR files), outputs clamped and
rounded to uint8; scores by msinet.metrics' "stereo" protocol (PSNR on RGB with no border crop, SSIM with a
7x7 uniform window as scikit-image, each per view, then the mean of the two views). Bicubic = MATLAB
imresize(LR, s).

    msinet report --data ../shared/data/stereo [--model NAME_OR_WEIGHTS] [--pairs a,b]   (cli/report.py)
"""

from __future__ import annotations

import numpy as np
import torch

from ..data.degradation import DEFAULT_DEGRADATION, degrade
from ..data.imresize import imresize
from ..metrics import stereo_scores

HELD_OUT = (
    "kitti2012_000000",
    "kitti2015_000046",
    "middlebury2014_motorcycle_quarter",
    "middlebury2014_motorcycle_half",
    "sceneflow_A-0032-0006",
)


def mod_crop(img: np.ndarray, scale: int) -> np.ndarray:
    h, w = img.shape[:2]
    return img[: h - h % scale, : w - w % scale]


def to_tensor(img: np.ndarray, device) -> torch.Tensor:
    img = np.ascontiguousarray(img)
    if not img.flags.writeable:  # torch warns on read-only arrays (cached images are); .float() copies anyway
        img = img.copy()
    return torch.from_numpy(img).permute(2, 0, 1)[None].float().div(255).to(device)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    return x[0].clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy()


@torch.no_grad()
def super_resolve(model, lr_l: np.ndarray, lr_r: np.ndarray, device) -> tuple[np.ndarray, np.ndarray]:
    sr_l, sr_r = model(to_tensor(lr_l, device), to_tensor(lr_r, device))
    return to_uint8(sr_l), to_uint8(sr_r)


def evaluate_pair(
    model, hr_l: np.ndarray, hr_r: np.ndarray, scale: int, device="cpu", degradation: str = DEFAULT_DEGRADATION
) -> dict:
    """PSNR/SSIM (mean of the two views) of `model` and of bicubic on one HR pair; model must be in eval mode."""
    hr = [mod_crop(hr_l, scale), mod_crop(hr_r, scale)]
    lr = [degrade(v, scale, degradation) for v in hr]
    sr = super_resolve(model, lr[0], lr[1], device)
    bic = [imresize(v, float(scale)) for v in lr]
    model_psnr, model_ssim = stereo_scores(sr[0], sr[1], hr[0], hr[1], protocol="stereo", scale=scale)
    bic_psnr, bic_ssim = stereo_scores(bic[0], bic[1], hr[0], hr[1], protocol="stereo", scale=scale)
    return {
        "psnr": model_psnr,
        "ssim": model_ssim,
        "bicubic_psnr": bic_psnr,
        "bicubic_ssim": bic_ssim,
        "sr_left": sr[0],
    }
