"""Geometric self-ensemble for stereo pairs.

Single-image SR averages 8 outputs (flips x transposes). For a rectified stereo pair only transforms that keep
epipolar lines horizontal and the left view on the left are valid:
  - vertical flip of both views: rows stay rows, correspondences stay on the same row;
  - horizontal flip: mirroring turns the left camera into a right one, so the views are swapped as well
    (flipped right becomes the new left), keeping disparities positive and in the expected direction.
A transpose turns epipolar rows into columns, so the cross-view attention (which searches along rows) would
look for matches in the wrong direction: "x4" (the default) uses the 4 valid transforms, "x8" adds the
transposed ones only to reproduce single-image-style ensembles; it is not recommended for stereo models.
"""

from __future__ import annotations

import itertools

import torch

ENSEMBLES = {"off": 1, "x4": 4, "x8": 8}


def _apply(flags, left, right):
    hswap, vflip, transpose = flags
    if transpose:
        left, right = left.transpose(-2, -1), right.transpose(-2, -1)
    if vflip:
        left, right = left.flip(-2), right.flip(-2)
    if hswap:
        left, right = right.flip(-1), left.flip(-1)
    return left, right


def _undo(flags, left, right):
    hswap, vflip, transpose = flags  # each step is its own inverse: undo in reverse order
    if hswap:
        left, right = right.flip(-1), left.flip(-1)
    if vflip:
        left, right = left.flip(-2), right.flip(-2)
    if transpose:
        left, right = left.transpose(-2, -1), right.transpose(-2, -1)
    return left, right


def transforms(mode: str) -> list[tuple[bool, bool, bool]]:
    if mode not in ENSEMBLES:
        raise ValueError(f"self-ensemble must be one of {', '.join(ENSEMBLES)}, got {mode!r}")
    flags = [f for f in itertools.product((False, True), repeat=3) if mode == "x8" or not f[2]]
    return flags[:1] if mode == "off" else flags


@torch.no_grad()
def ensemble_forward(model, left: torch.Tensor, right: torch.Tensor, mode: str = "x4"):
    """Mean of the model's outputs over the transforms of `mode`, each mapped back: (sr_left, sr_right)."""
    acc_l = acc_r = None
    flags_list = transforms(mode)
    for flags in flags_list:
        sl, sr = model(*_apply(flags, left, right))
        acc_dtype = torch.promote_types(sl.dtype, torch.float32)  # half outputs are summed in float32
        sl, sr = _undo(flags, sl.to(acc_dtype), sr.to(acc_dtype))
        acc_l = sl if acc_l is None else acc_l + sl
        acc_r = sr if acc_r is None else acc_r + sr
    return acc_l / len(flags_list), acc_r / len(flags_list)
