"""MATLAB-exact bicubic resize (`imresize(x, scale, 'bicubic')`), in numpy and in torch.

What MATLAB does, and what we reproduce:
- cubic kernel with a = -0.5 (Keys), support 4;
- on shrinking (scale < 1) the kernel is stretched by 1/scale (antialiasing), so more input pixels contribute;
- output size ceil(scale * size) per dimension;
- sample positions u = i/scale + 0.5 * (1 - 1/scale) (1-based), weights normalised to sum to one;
- out-of-range taps: MATLAB releases differ here, and so do published LR files. Older releases clamp the
  indices (min(max(1, idx), n): padding="replicate", the default), which reproduces the RCAN Set5 LRBI files
  bit-exactly; newer ones mirror them (aux = [1:n, n:-1:1], symmetric padding with the edge repeated:
  padding="symmetric"), which reproduces the stereo-SR test kits' (iPASSR / NAFSSR) LR files bit-exactly.
  Each rule misses the other's files on 0.3-0.8% of values, all within the outer 1-2 LR rows/columns, by up to 8
  levels. msinet.data.degradation names the two ("rcan", "kit");
- dimensions resized in order of increasing scale (height first on ties), for uint8 input the result of each
  pass is rounded and saturated to uint8 (imresizemex returns the input class), so the intermediate rounding
  of the two-pass resize is part of the exact result.

Each 1-D pass has a fixed number of taps per output pixel (4 enlarging, 4/scale + 2 shrinking), computed once
per size: numpy applies them as a sparse matrix, torch as one gather + multiply-add per tap (batched, on any
device, memory proportional to the output).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

KERNEL_WIDTH = 4.0  # support of the a = -0.5 cubic
PADDINGS = ("replicate", "symmetric")


def cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5."""
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    inner = (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
    outer = (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2))
    return inner + outer


def output_length(in_len: int, scale: float) -> int:
    """MATLAB's ceil(scale * in_len), tolerant of 1/3-style floating-point error (255 * (1/3) -> 85)."""
    exact = scale * in_len
    nearest = round(exact)
    if abs(exact - nearest) < 1e-9 * max(1.0, abs(exact)):
        return int(nearest)
    return int(math.ceil(exact))


def check_padding(padding: str) -> str:
    if padding not in PADDINGS:
        raise ValueError(f"imresize padding must be one of {', '.join(PADDINGS)}, got {padding!r}")
    return padding


def pad_indices(idx: np.ndarray, n: int, padding: str) -> np.ndarray:
    """0-based indices, possibly outside [0, n), mapped inside: clamped, or mirrored with the edge repeated."""
    if padding == "replicate":
        return np.clip(idx, 0, n - 1)
    folded = np.mod(idx, 2 * n)  # symmetric: ... 1 0 | 0 1 ... n-1 | n-1 n-2 ... (period 2n)
    return np.where(folded < n, folded, 2 * n - 1 - folded)


def kernel_taps(in_len: int, out_len: int, scale: float, antialias: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Unpadded taps of every output pixel: 0-based source indices (may lie outside [0, in_len)) and their
    normalised weights, both (out_len, taps)."""
    if in_len < 1 or out_len < 1:
        raise ValueError(f"cannot resize a length-{in_len} dimension to length {out_len}")
    shrink = scale < 1 and antialias
    width = KERNEL_WIDTH / scale if shrink else KERNEL_WIDTH
    i = np.arange(1, out_len + 1, dtype=np.float64)
    u = i / scale + 0.5 * (1.0 - 1.0 / scale)  # 1-based position in the input
    left = np.floor(u - width / 2.0)
    taps = int(math.ceil(width)) + 2
    idx = left[:, None] + np.arange(taps)[None, :]  # (out_len, taps), 1-based
    dist = u[:, None] - idx
    w = scale * cubic(scale * dist) if shrink else cubic(dist)
    return idx.astype(np.int64) - 1, w / w.sum(axis=1, keepdims=True)


@lru_cache(maxsize=64)
def contributions(
    in_len: int, out_len: int, scale: float, antialias: bool = True, padding: str = "replicate"
) -> tuple[np.ndarray, np.ndarray]:
    """MATLAB's contributions(): 0-based in-range source indices and weights, both (out_len, taps)."""
    check_padding(padding)
    idx, w = kernel_taps(in_len, out_len, scale, antialias)
    return pad_indices(idx, in_len, padding), w


def resize_matrix(
    in_len: int, out_len: int, scale: float, antialias: bool = True, padding: str = "replicate"
) -> np.ndarray:
    """(out_len, in_len) float64 matrix M with out = M @ in along one dimension."""
    src, w = contributions(in_len, out_len, scale, antialias, padding)
    mat = np.zeros((out_len, in_len), dtype=np.float64)
    np.add.at(mat, (np.repeat(np.arange(out_len), src.shape[1]), src.ravel()), w.ravel())
    return mat


@lru_cache(maxsize=64)
def _row_taps(in_len: int, out_len: int, scale: float, antialias: bool, padding: str):
    """resize_matrix by rows, as its non-zeros in column order: (cols, weights), both (out_len, max taps), padded
    with weight 0. Taps that padding folds onto the same source pixel are summed first, as in the matrix."""
    mat = resize_matrix(in_len, out_len, scale, antialias, padding)
    nonzero = mat != 0
    taps = max(int(nonzero.sum(axis=1).max()), 1)
    cols = np.zeros((out_len, taps), dtype=np.intp)
    weights = np.zeros((out_len, taps), dtype=np.float64)
    for row in range(out_len):
        (idx,) = np.nonzero(nonzero[row])
        cols[row, : idx.size], weights[row, : idx.size] = idx, mat[row, idx]
    return cols, weights


def _apply_rows(cols: np.ndarray, weights: np.ndarray, x: np.ndarray) -> np.ndarray:
    """(out_len, N) = resize_matrix @ x for x (in_len, N): each row summed tap by tap in column order, the
    order of a CSR sparse product (so results are bit-identical to it), while a resize costs milliseconds."""
    out = np.zeros((cols.shape[0], x.shape[1]), dtype=np.float64)
    for k in range(cols.shape[1]):
        out += weights[:, k, None] * x[cols[:, k]]
    return out


def _plan(shape_hw: tuple[int, int], scale) -> list[tuple[int, int, int, float]]:
    """[(axis 0=H / 1=W, in_len, out_len, scale)] in MATLAB's order (smaller scale first, H first on ties)."""
    sh, sw = (scale, scale) if np.isscalar(scale) else scale
    sh, sw = float(sh), float(sw)
    if sh <= 0 or sw <= 0:
        raise ValueError(f"imresize scale must be positive, got {scale}")
    h, w = shape_hw
    steps = [(0, h, output_length(h, sh), sh), (1, w, output_length(w, sw), sw)]
    return sorted(steps, key=lambda s: s[3])  # sorted() is stable: H stays first on ties


def imresize(img: np.ndarray, scale, antialias: bool = True, padding: str = "replicate") -> np.ndarray:
    """MATLAB `imresize(img, scale, 'bicubic')` on a numpy HxW or HxWxC image.

    scale: a float (1/4 shrinks by four, 2 enlarges) or a (scale_h, scale_w) pair. uint8 in -> uint8 out,
    rounded per pass exactly as MATLAB; float in -> float64 out, unclipped (MATLAB on double images).
    padding: "replicate" (older MATLAB, RCAN's LR files) or "symmetric" (newer MATLAB, the stereo-SR kits').
    """
    check_padding(padding)
    img = np.asarray(img)
    if img.ndim not in (2, 3):
        raise ValueError(f"imresize expects an HxW or HxWxC image, got shape {img.shape}")
    is_uint8 = img.dtype == np.uint8
    if not is_uint8 and not np.issubdtype(img.dtype, np.floating):
        raise ValueError(f"imresize expects uint8 or float images, got dtype {img.dtype}")
    out = img.astype(np.float64)
    for axis, in_len, out_len, s in _plan(img.shape[:2], scale):
        if in_len == out_len and s == 1:
            continue
        cols, weights = _row_taps(in_len, out_len, s, antialias, padding)
        moved = np.moveaxis(out, axis, 0)  # resized axis first: (in_len, ...)
        resized = _apply_rows(cols, weights, moved.reshape(in_len, -1))
        out = np.moveaxis(resized.reshape((out_len,) + moved.shape[1:]), 0, axis)
        if is_uint8:  # MATLAB rounds half away from zero; values here are >= 0 after clipping
            out = np.floor(np.clip(out, 0, 255) + 0.5)
    return out.astype(np.uint8) if is_uint8 else out


def imresize_torch(x, scale, antialias: bool = True, padding: str = "replicate"):
    """MATLAB bicubic resize of a float (B,C,H,W) tensor, on its device, without any rounding.

    Equals `imresize` on float input; on [0,1] images scaled by 255 it matches the uint8 path to within the
    uint8 rounding (the numpy path rounds between the two passes, this one does not).
    """
    import torch

    check_padding(padding)
    if not torch.is_tensor(x) or x.dim() != 4:
        raise ValueError(f"imresize_torch expects a (B,C,H,W) tensor, got {getattr(x, 'shape', type(x))}")
    if not x.is_floating_point():
        raise ValueError(f"imresize_torch expects a float tensor, got {x.dtype}")
    out = x
    for axis, in_len, out_len, s in _plan(tuple(x.shape[-2:]), scale):
        if in_len == out_len and s == 1:
            continue
        src, w = contributions(in_len, out_len, s, antialias, padding)
        if axis == 0:
            out = _resize_rows(out, src, w)
        else:  # gathers along the last dim are slow: resize the rows of the transposed tensor
            out = _resize_rows(out.transpose(-2, -1).contiguous(), src, w).transpose(-2, -1).contiguous()
    return out


def _resize_rows(x, src: np.ndarray, w: np.ndarray):
    """Resize dim -2 of x (..., in_len, W) -> (..., out_len, W): one gather + multiply-add per tap, so memory
    stays at the output size."""
    import torch

    src_t = torch.from_numpy(src).to(x.device)
    w_t = torch.from_numpy(w).to(device=x.device, dtype=x.dtype)
    acc = None
    for k in range(src.shape[1]):
        term = x.index_select(-2, src_t[:, k]) * w_t[:, k, None]
        acc = term if acc is None else acc + term
    return acc
