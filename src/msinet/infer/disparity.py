"""Disparity read off DEAM's transport plan, its file formats and its error against ground truth.

The plan T (B, H, W_left, W_right) of a DEAM says, for each left pixel x of a row, how much of it is
matched to each right pixel j; its rows sum to one. The expected match is E[j] = sum_j T[x, j] * j and
the left-view disparity is d(x) = x - E[j] (positive for a scene in front of the cameras), in LR pixels.
At HR every distance is `scale` times larger, so the map is upsampled bilinearly and multiplied by scale.

Files: a 16-bit PNG in the KITTI convention (value = round(256 * d), 0 = unknown, so d is stored in
[1/256, 255.996] px; negative or zero disparities are written as 0) and a colourised 8-bit PNG.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

KITTI_FACTOR = 256.0


def disparity_from_plan(plan: torch.Tensor) -> torch.Tensor:
    """(B, H, W_left, W_right) transport plan -> (B, H, W_left) left-view disparity x - E[x_right]."""
    plan = plan.float()
    w_left, w_right = plan.shape[-2:]
    cols = torch.arange(w_right, dtype=plan.dtype, device=plan.device)
    mass = plan.sum(-1).clamp_min(1e-12)
    expected = (plan * cols).sum(-1) / mass
    x = torch.arange(w_left, dtype=plan.dtype, device=plan.device)
    return x - expected


def disparity_to_hr(disp: torch.Tensor, scale: int) -> torch.Tensor:
    """(B, 1, h, w) LR disparity -> (B, 1, s*h, s*w) disparity in HR pixels."""
    return scale * F.interpolate(disp, scale_factor=scale, mode="bilinear", align_corners=False)


def encode_kitti_png16(disp: np.ndarray) -> np.ndarray:
    """Disparity (H, W) float in pixels -> uint16 KITTI encoding (value / 256 = disparity, 0 = unknown)."""
    return np.round(np.clip(disp, 0.0, 65535.0 / KITTI_FACTOR) * KITTI_FACTOR).astype(np.uint16)


def decode_kitti_png16(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """uint16 KITTI disparity -> (disparity float32 in pixels, valid mask)."""
    return arr.astype(np.float32) / KITTI_FACTOR, arr > 0


def colourise(disp: np.ndarray, vmax: float | None = None) -> np.ndarray:
    """Disparity (H, W) -> uint8 (H, W, 3) colour map (near = bright); vmax defaults to the 99th percentile."""
    from matplotlib import colormaps

    d = np.nan_to_num(np.asarray(disp, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    if vmax is None:
        positive = d[d > 0]
        vmax = float(np.percentile(positive, 99)) if positive.size else 1.0
    rgba = colormaps["magma"](np.clip(d / max(vmax, 1e-6), 0.0, 1.0))
    return np.round(rgba[..., :3] * 255.0).astype(np.uint8)


def end_point_error(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray | None = None) -> dict:
    """Mean absolute disparity error over valid pixels, and the share of pixels off by more than 3 px."""
    if pred.shape != gt.shape:
        raise ValueError(f"predicted disparity {pred.shape} and ground truth {gt.shape} differ in size")
    mask = np.isfinite(gt) if valid is None else (valid & np.isfinite(gt))
    if not mask.any():
        raise ValueError("the ground truth has no valid pixel")
    err = np.abs(pred[mask].astype(np.float64) - gt[mask].astype(np.float64))
    return {"epe": float(err.mean()), "bad3": float((err > 3.0).mean()), "pixels": int(mask.sum())}
