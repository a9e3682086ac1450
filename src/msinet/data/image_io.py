"""Reading stereo views as uint8 RGB arrays (the form LR generation and the metrics work on), and writing them.

Robust to what real datasets hold: 16-bit PNGs (scaled to 8 bits), RGBA (SceneFlow: alpha dropped), grayscale
and palette images (expanded to RGB). Every failure names the file and the problem.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".ppm", ".webp")


def read_image(path) -> np.ndarray:
    """One image file -> uint8 HxWx3 RGB."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image not found: {path}")
    arr = _decode_opencv(path)
    if arr is None:  # formats OpenCV lacks (GIF, some TIFFs): Pillow
        arr = _decode_pillow(path)
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"empty image {path}")
    return arr


def _decode_opencv(path: Path) -> np.ndarray | None:
    import cv2

    raw = np.fromfile(path, dtype=np.uint8)  # not cv2.imread: that fails on non-ASCII paths on Windows
    arr = cv2.imdecode(raw, cv2.IMREAD_UNCHANGED) if raw.size else None
    if arr is None:
        return None
    if arr.dtype == np.uint16:  # 0..65535 -> 0..255, rounded
        arr = np.round(arr.astype(np.float64) / 257.0).astype(np.uint8)
    elif arr.dtype != np.uint8:
        raise ValueError(f"cannot read image {path}: unsupported pixel type {arr.dtype}")
    if arr.ndim == 2:
        return np.repeat(arr[:, :, None], 3, axis=2)
    if arr.shape[2] == 1:
        return np.repeat(arr, 3, axis=2)
    return np.ascontiguousarray(arr[:, :, 2::-1])  # BGR(A) -> RGB, alpha dropped


def _decode_pillow(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            if img.mode.startswith("I;16") or img.mode == "I":
                arr = np.clip(np.round(np.asarray(img).astype(np.float64) / 257.0), 0, 255).astype(np.uint8)
                return np.repeat(arr[:, :, None], 3, axis=2)
            return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ValueError(f"cannot read image {path}: {exc}") from None


def load_pair(left_path, right_path) -> tuple[np.ndarray, np.ndarray]:
    """A stereo pair as two uint8 HxWx3 arrays; the views must have the same size."""
    left, right = read_image(left_path), read_image(right_path)
    if left.shape != right.shape:
        raise ValueError(f"left and right views differ in size: {Path(left_path).name} is "
                         f"{left.shape[1]}x{left.shape[0]}, {Path(right_path).name} is {right.shape[1]}x{right.shape[0]}")
    return left, right


def write_image(path, img: np.ndarray, overwrite: bool = False) -> Path:
    """Write a uint8 HxWx3 (or HxW) array; refuses to replace an existing file unless overwrite=True."""
    from PIL import Image

    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists (pass --overwrite to replace it)")
    if img.dtype != np.uint8:
        raise ValueError(f"write_image expects uint8 pixels, got {img.dtype}")
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path)
    return path


def mod_crop(img: np.ndarray, scale: int) -> np.ndarray:
    """Crop the bottom/right so height and width are multiples of scale (how every SR test set is made)."""
    h, w = img.shape[:2]
    return img[: h - h % scale, : w - w % scale]


def to_tensor(img: np.ndarray):
    """uint8 HxWx3 -> float32 (1,3,H,W) in [0,1]."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))).float().div_(255.0)[None]


def to_uint8(x) -> np.ndarray:
    """float (1,3,H,W) or (3,H,W) tensor in [0,1] -> uint8 HxWx3, clamped and rounded (the published practice)."""
    if x.dim() == 4:
        x = x[0]
    arr = x.detach().float().clamp(0, 1).mul(255.0).round().to("cpu").numpy()
    return arr.transpose(1, 2, 0).astype(np.uint8)
