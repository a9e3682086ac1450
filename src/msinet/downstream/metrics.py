"""Disparity error measures: end-point error and bad-tau rates, over all or non-occluded pixels.

A matcher's holes (NaN) are filled before scoring, as the KITTI devkit does: along each row a hole takes
the smaller (farther, background) of the two valid disparities around it, or the one valid neighbour at an
image border. So every method is scored on the same pixels and a matcher cannot win by refusing to guess;
the fraction it did guess is reported as `density`.
"""

from __future__ import annotations

import numpy as np

BAD_THRESHOLDS = (1.0, 3.0)


def fill_holes(disp: np.ndarray) -> np.ndarray:
    """Fill NaN pixels row by row with the background (minimum) of the nearest valid pixels left and right."""
    disp = np.asarray(disp, dtype=np.float32)
    valid = np.isfinite(disp)
    if valid.all():
        return disp.copy()
    if not valid.any():
        return np.zeros_like(disp)
    h, w = disp.shape
    cols = np.broadcast_to(np.arange(w), (h, w))
    # index of the nearest valid pixel at or left of / right of each pixel (-1 / w where there is none)
    left_idx = np.maximum.accumulate(np.where(valid, cols, -1), axis=1)
    right_idx = np.minimum.accumulate(np.where(valid, cols, w)[:, ::-1], axis=1)[:, ::-1]
    rows = np.arange(h)[:, None]
    left_val = np.where(left_idx >= 0, disp[rows, np.clip(left_idx, 0, w - 1)], np.inf)
    right_val = np.where(right_idx < w, disp[rows, np.clip(right_idx, 0, w - 1)], np.inf)
    filled = np.minimum(left_val, right_val)
    # rows with no valid pixel at all: the image-wide background
    filled[~np.isfinite(filled)] = np.nanmin(disp)
    return np.where(valid, disp, filled).astype(np.float32)


def disparity_errors(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None = None) -> dict:
    """EPE (px) and bad-1 / bad-3 (% of pixels off by more than 1 / 3 px) where gt is known (and mask is True).

    pred: (H, W) float, NaN = no match (filled first, see fill_holes); gt: (H, W) float, NaN = unknown.
    """
    if pred.shape != gt.shape:
        raise ValueError(f"predicted disparity {pred.shape} and ground truth {gt.shape} differ in size")
    density = float(np.isfinite(pred).mean() * 100.0)
    known = np.isfinite(gt)
    if mask is not None:
        if mask.shape != gt.shape:
            raise ValueError(f"mask {mask.shape} and ground truth {gt.shape} differ in size")
        known &= mask
    if not known.any():
        raise ValueError("no pixel with known ground-truth disparity to score")
    err = np.abs(fill_holes(pred)[known].astype(np.float64) - gt[known].astype(np.float64))
    scores = {"epe": float(err.mean())}
    for tau in BAD_THRESHOLDS:
        scores[f"bad{tau:g}"] = float((err > tau).mean() * 100.0)
    scores["density"] = density
    scores["pixels"] = int(known.sum())
    return scores
