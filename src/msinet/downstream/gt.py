"""Ground-truth disparity and occlusion masks in the formats stereo benchmarks ship.

Every reader returns the left-view disparity as float32 (H, W) in pixels with NaN where it is unknown,
and masks as bool (H, W) with True on pixels visible in both views ("non-occluded"):
- PFM (Middlebury, SceneFlow): little/big-endian float32, rows stored bottom-up; inf (or NaN) = unknown.
- KITTI 16-bit PNG: disparity = value / 256, 0 = unknown.
- Middlebury non-occlusion mask PNG: 255 = non-occluded, 128 = occluded, 0 = unknown.
- SceneFlow occlusion PNG: white/True = occluded in the right view.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

KITTI_SCALE = 256.0


def read_pfm(path) -> np.ndarray:
    """A PFM file as float32 (H, W) ('Pf', one channel) or (H, W, 3) ('PF'), top row first."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"PFM file not found: {path}")
    with open(path, "rb") as fh:
        try:
            kind = fh.readline().strip()
            dims = fh.readline().split()
            scale = float(fh.readline().strip())
            width, height = int(dims[0]), int(dims[1])
        except (ValueError, IndexError):
            raise ValueError(f"{path}: not a PFM file (bad header)") from None
        if kind not in (b"Pf", b"PF") or len(dims) != 2 or width < 1 or height < 1 or scale == 0:
            raise ValueError(f"{path}: not a PFM file (header {kind!r} {dims} {scale})")
        channels = 3 if kind == b"PF" else 1
        dtype = "<f4" if scale < 0 else ">f4"  # the sign of the scale gives the byte order
        data = np.frombuffer(fh.read(), dtype=dtype)
    expected = width * height * channels
    if data.size < expected:
        raise ValueError(f"{path}: truncated PFM, {data.size} of {expected} values")
    arr = data[:expected].reshape(height, width, channels)[::-1]  # rows are stored bottom-up
    arr = arr.astype(np.float32)
    return arr[:, :, 0] if channels == 1 else arr


def read_kitti_disparity(path) -> np.ndarray:
    """A KITTI disparity PNG (uint16, value/256, 0 = unknown) as float32 (H, W) with NaN for unknown."""
    import cv2

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"disparity PNG not found: {path}")
    raw = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise ValueError(f"{path}: cannot decode the disparity PNG")
    if raw.dtype != np.uint16 or raw.ndim != 2:
        raise ValueError(
            f"{path}: a KITTI disparity map is a single-channel 16-bit PNG, got {raw.dtype} with shape {raw.shape}"
        )
    disp = raw.astype(np.float32) / KITTI_SCALE
    disp[raw == 0] = np.nan
    return disp


def read_disparity(path) -> np.ndarray:
    """Left-view ground-truth disparity (H, W) float32, NaN = unknown, from a .pfm or KITTI .png file."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".pfm":
        disp = read_pfm(path)
        if disp.ndim != 2:
            raise ValueError(f"{path}: a disparity PFM has one channel ('Pf'), this one has three")
        disp[~np.isfinite(disp)] = np.nan
        return disp
    if suffix == ".png":
        return read_kitti_disparity(path)
    raise ValueError(f"{path}: unknown disparity format {suffix!r}; use .pfm or a KITTI 16-bit .png")


def _read_gray(path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"mask not found: {path}")
    try:
        with Image.open(path) as img:
            arr = np.asarray(img.convert("L"))
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"cannot read mask {path}: {exc}") from None
    return arr


def read_nonocc_mask(path) -> np.ndarray:
    """Middlebury mask_nonocc PNG (255 non-occluded, 128 occluded, 0 unknown) -> bool, True = non-occluded."""
    return _read_gray(path) == 255


def read_occlusion_mask(path) -> np.ndarray:
    """SceneFlow occlusion PNG (white = occluded) -> bool, True = non-occluded."""
    return _read_gray(path) < 128
