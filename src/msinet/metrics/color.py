"""Pixel preparation shared by the metrics: validation, MATLAB rgb2ycbcr luma, border shaving."""

from __future__ import annotations

import numpy as np


def rgb_to_y(img: np.ndarray) -> np.ndarray:
    """Y of MATLAB rgb2ycbcr (BT.601, studio range 16..235) on 0..255 RGB, as float64 without rounding.

    Single-image SR scripts (RCAN, EDSR) take Y of rgb2ycbcr(im2double(x)) and scale by 255, unrounded.
    """
    rgb = img.astype(np.float64)
    return 16.0 + (65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255.0


def prepare_pair(sr: np.ndarray, hr: np.ndarray, y_channel: bool, shave: int) -> tuple[np.ndarray, np.ndarray]:
    """Checked uint8 images -> float64 (H,W,C) planes in 0..255, Y only if asked, `shave` pixels cut per side."""
    for name, img in (("sr", sr), ("hr", hr)):
        if not isinstance(img, np.ndarray) or img.dtype != np.uint8:
            raise ValueError(f"{name} must be a uint8 numpy image, got {getattr(img, 'dtype', type(img).__name__)}")
        if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] not in (1, 3)):
            raise ValueError(f"{name} must be HxW or HxWx3, got shape {img.shape}")
    if sr.shape != hr.shape:
        raise ValueError(f"sr and hr differ in shape: {sr.shape} vs {hr.shape}")
    shave = int(shave)
    if shave < 0 or 2 * shave >= min(sr.shape[:2]):
        raise ValueError(f"shave={shave} leaves nothing of a {sr.shape[1]}x{sr.shape[0]} image")
    if y_channel:
        if sr.ndim != 3 or sr.shape[2] != 3:
            raise ValueError("y_channel=True needs RGB images (HxWx3)")
        a, b = rgb_to_y(sr)[..., None], rgb_to_y(hr)[..., None]
    else:
        a, b = sr.astype(np.float64), hr.astype(np.float64)
        if a.ndim == 2:
            a, b = a[..., None], b[..., None]
    if shave:
        a, b = a[shave:-shave, shave:-shave], b[shave:-shave, shave:-shave]
    return a, b
