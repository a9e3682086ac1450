"""Structural similarity (Wang et al. 2004) with the two windows the literature uses.

- "gaussian": 11x11 Gaussian, sigma 1.5, population covariances: Wang's ssim_index.m, used by RCAN/EDSR tables.
- "uniform": 7x7 box with sample covariances (N/(N-1)): scikit-image's structural_similarity default, used by
  the iPASSR/NAFSSR/MSINet Python evaluations.
Both: K1 0.01, K2 0.03, L = 255, SSIM map over the 'valid' region only (no padding), averaged; colour images
score the mean of the per-channel SSIMs.
"""

from __future__ import annotations

import numpy as np

from .color import prepare_pair

WINDOWS = ("gaussian", "uniform")


def _window_1d(window: str) -> tuple[np.ndarray, float]:
    """(separable 1-D weights, covariance normalisation)."""
    if window == "gaussian":
        x = np.arange(-5, 6, dtype=np.float64)
        g = np.exp(-(x**2) / (2 * 1.5**2))
        return g / g.sum(), 1.0
    if window == "uniform":
        n = 7 * 7
        return np.full(7, 1.0 / 7), n / (n - 1.0)
    raise ValueError(f"ssim window must be one of {', '.join(WINDOWS)}, got {window!r}")


def _filter_valid(img: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Separable correlation keeping only positions where the whole window lies inside the image."""
    n = len(w)
    rows = sum(w[k] * img[k : img.shape[0] - n + 1 + k] for k in range(n))
    return sum(w[k] * rows[:, k : img.shape[1] - n + 1 + k] for k in range(n))


def ssim_map_mean(a: np.ndarray, b: np.ndarray, window: str = "gaussian") -> float:
    """Mean SSIM of two float64 2-D planes on the 0..255 scale."""
    w, cov_norm = _window_1d(window)
    if min(a.shape) < len(w):
        raise ValueError(f"image {a.shape[1]}x{a.shape[0]} is smaller than the {len(w)}x{len(w)} SSIM window")
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = _filter_valid(a, w), _filter_valid(b, w)
    var_a = cov_norm * (_filter_valid(a * a, w) - mu_a * mu_a)
    var_b = cov_norm * (_filter_valid(b * b, w) - mu_b * mu_b)
    cov = cov_norm * (_filter_valid(a * b, w) - mu_a * mu_b)
    num = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    den = (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    return float(np.mean(num / den))


def ssim(sr: np.ndarray, hr: np.ndarray, y_channel: bool = False, shave: int = 0, window: str = "gaussian") -> float:
    """SSIM of uint8 HxWx3 (or HxW) images; colour: mean over channels."""
    a, b = prepare_pair(sr, hr, y_channel, shave)
    return float(np.mean([ssim_map_mean(a[..., c], b[..., c], window) for c in range(a.shape[2])]))
