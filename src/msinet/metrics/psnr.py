"""Peak signal-to-noise ratio on 8-bit images."""

from __future__ import annotations

import numpy as np

from .color import prepare_pair


def mse(sr: np.ndarray, hr: np.ndarray, y_channel: bool = False, shave: int = 0) -> float:
    """Mean squared error on the 0..255 scale (over all pixels and channels)."""
    a, b = prepare_pair(sr, hr, y_channel, shave)
    return float(np.mean((a - b) ** 2))


def psnr_from_mse(value: float) -> float:
    return float("inf") if value == 0 else float(10.0 * np.log10(255.0**2 / value))


def psnr(sr: np.ndarray, hr: np.ndarray, y_channel: bool = False, shave: int = 0) -> float:
    """PSNR in dB of uint8 HxWx3 (or HxW) images; Y of MATLAB rgb2ycbcr if y_channel; `shave` border pixels cut."""
    return psnr_from_mse(mse(sr, hr, y_channel, shave))
