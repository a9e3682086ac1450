"""Reading user images faithfully and writing PNGs without ever clobbering a file by accident.

Reading: grayscale stays HxW, RGBA stays HxWx4, 16-bit PNGs stay uint16 (Pillow would cut 48/64-bit PNGs
to 8 bits, so those are decoded by OpenCV), JPEG EXIF orientation is applied; anything unreadable raises
ValueError with a one-line message naming the file.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_bit_depth(head: bytes) -> int | None:
    # IHDR is the first chunk: signature (8) + length (4) + b"IHDR" (4) + width (4) + height (4) + bit depth (1)
    if head[:8] != _PNG_SIGNATURE or head[12:16] != b"IHDR" or len(head) < 25:
        return None
    return head[24]


def _read_png16(path: Path, data: bytes) -> np.ndarray:
    import cv2

    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise ValueError(f"cannot read image {path}: the 16-bit PNG data is damaged")
    if arr.ndim == 3 and arr.shape[2] == 3:
        arr = cv2.cvtColor(arr, cv2.COLOR_BGR2RGB)
    elif arr.ndim == 3 and arr.shape[2] == 4:
        arr = cv2.cvtColor(arr, cv2.COLOR_BGRA2RGBA)
    return arr


def read_image(path) -> np.ndarray:
    """An image file as a numpy array: HxW (grayscale), HxWx3 or HxWx4 (alpha), uint8 or uint16."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    from .convert import pil_to_array

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"image not found: {path}")
    if not path.is_file():
        raise ValueError(f"cannot read image {path}: not a file")
    data = path.read_bytes()
    if not data:
        raise ValueError(f"cannot read image {path}: the file is empty")
    if _png_bit_depth(data[:32]) == 16:
        return _read_png16(path, data)
    try:
        import io

        with Image.open(io.BytesIO(data)) as img:
            img.load()
            img = ImageOps.exif_transpose(img)
            arr, _ = pil_to_array(img)
    except UnidentifiedImageError:
        raise ValueError(f"cannot read image {path}: not a recognised image file") from None
    except (OSError, SyntaxError, ValueError) as exc:  # truncated or damaged data
        raise ValueError(f"cannot read image {path}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") \
            from None
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    return arr


def refuse_existing(paths, overwrite: bool) -> None:
    """Raise FileExistsError naming the first path that exists, unless overwrite is set."""
    if overwrite:
        return
    for p in paths:
        if Path(p).exists():
            raise FileExistsError(f"{p} exists; pass --overwrite to replace it")


def write_png(path, image: np.ndarray, overwrite: bool = False) -> Path:
    """Write a uint8/uint16 HxW, HxWx3 (RGB) or HxWx4 (RGBA) array as PNG, via a temporary file."""
    import cv2

    path = Path(path)
    refuse_existing([path], overwrite)
    if image.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"{path}: PNG pixels must be uint8 or uint16, got {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_RGBA2BGRA)
    elif image.ndim != 2:
        raise ValueError(f"{path}: cannot write an image of shape {image.shape} as PNG")
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(image))
    if not ok:
        raise ValueError(f"{path}: PNG encoding failed")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(buf.tobytes())
    os.replace(tmp, path)
    return path
