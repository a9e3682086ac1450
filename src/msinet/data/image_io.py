"""Image files in and out, one module for the whole package.

read_image keeps what the file holds: grayscale stays HxW, RGBA stays HxWx4, 16-bit PNGs stay uint16 (Pillow
would cut 48/64-bit PNGs to 8 bits, so those are decoded by OpenCV: the `png16` extra; they are written here), JPEG
EXIF orientation is applied; anything
unreadable raises ValueError with a one-line message naming the file. Datasets and metrics work on uint8 RGB:
to_rgb8 / load_pair convert (16-bit scaled to 8 bits and rounded, alpha dropped, grayscale expanded).
write_png never replaces a file unless asked, and writes through a temporary file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def find_file(folder: Path, stem: str, suffixes=IMAGE_SUFFIXES) -> Path | None:
    """folder/stem with the first of `suffixes` (lower or upper case) that exists, else None."""
    for suffix in suffixes:
        for candidate in (folder / f"{stem}{suffix}", folder / f"{stem}{suffix.upper()}"):
            if candidate.is_file():
                return candidate
    return None


_PIL_MODES_TO_ARRAY = {
    "1": "L",
    "P": None,
    "LA": "RGBA",
    "PA": "RGBA",
    "CMYK": "RGB",
    "YCbCr": "RGB",
    "LAB": "RGB",
    "HSV": "RGB",
    "RGBX": "RGB",
    "RGBa": "RGBA",
    "La": "RGBA",
}


def pil_to_array(img) -> tuple[np.ndarray, str]:
    """A PIL image as HxW / HxWx3 / HxWx4 uint8 or uint16 array, and the mode it ended up in."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return np.asarray(img).astype(np.uint16), mode
    if mode == "I":
        return np.clip(np.asarray(img), 0, 65535).astype(np.uint16), mode
    if mode == "F":
        raise ValueError("32-bit float PIL images (mode 'F') are not supported; convert to 'L', 'RGB' or 'I;16'")
    if mode in _PIL_MODES_TO_ARRAY:
        target = _PIL_MODES_TO_ARRAY[mode]
        if target is None:  # palette: keep transparency if it has any
            target = "RGBA" if "transparency" in img.info else "RGB"
        img = img.convert(target)
    return np.asarray(img), img.mode


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_bit_depth(head: bytes) -> int | None:
    # IHDR is the first chunk: signature (8) + length (4) + b"IHDR" (4) + width (4) + height (4) + bit depth (1)
    if head[:8] != _PNG_SIGNATURE or head[12:16] != b"IHDR" or len(head) < 25:
        return None
    return head[24]


def _read_png16(path: Path, data: bytes) -> np.ndarray:
    from ..runtime.extras import require

    cv2 = require("cv2", f"reading the 16-bit PNG {path}")

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
        raise ValueError(
            f"cannot read image {path}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from None
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    return arr


def refuse_existing(paths, overwrite: bool, hint: str = "") -> None:
    """Raise FileExistsError naming the first path that exists, unless overwrite is set."""
    if overwrite:
        return
    for p in paths:
        if Path(p).exists():
            raise FileExistsError(f"{p} exists; pass --overwrite to replace it{hint}")


def write_png(path, image: np.ndarray, overwrite: bool = False) -> Path:
    """Write a uint8/uint16 HxW, HxWx3 (RGB) or HxWx4 (RGBA) array as PNG, via a temporary file."""
    path = Path(path)
    refuse_existing([path], overwrite)
    return write_bytes_atomic(path, encode_png(image, path))


def encode_png(image: np.ndarray, path="image") -> bytes:
    """The PNG file of a uint8/uint16 HxW, HxWx3 (RGB) or HxWx4 (RGBA) array (`path` names it in errors)."""
    if image.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"{path}: PNG pixels must be uint8 or uint16, got {image.dtype}")
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (3, 4))):
        raise ValueError(f"{path}: cannot write an image of shape {image.shape} as PNG")
    if image.dtype == np.uint16:  # Pillow writes 16 bits only for grayscale
        return _encode_png16(image)
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buffer, "PNG", compress_level=1)  # fast, as OpenCV's default
    return buffer.getvalue()


def _encode_png16(image: np.ndarray) -> bytes:
    """A 16-bit PNG (grey, RGB or RGBA), each row stored with the "Up" filter (difference to the row above)."""
    import struct
    import zlib

    h, w = image.shape[:2]
    channels = 1 if image.ndim == 2 else image.shape[2]
    rows = np.ascontiguousarray(image.astype(">u2")).view(np.uint8).reshape(h, w * channels * 2)
    up = rows.copy()
    up[1:] -= rows[:-1]  # uint8 arithmetic wraps modulo 256, as the filter is defined
    scanlines = np.concatenate([np.full((h, 1), 2, np.uint8), up], axis=1)  # filter type 2 = Up

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    colour_type = {1: 0, 3: 2, 4: 6}[channels]
    header = struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0)
    return (
        _PNG_SIGNATURE
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(scanlines.tobytes(), 1))
        + chunk(b"IEND", b"")
    )


def temporary_path(path: Path) -> Path:
    """A hidden sibling of `path` to write into before os.replace puts it in place (msinet.files)."""
    from ..files import temp_sibling

    return temp_sibling(path)


def write_bytes_atomic(path, data: bytes) -> Path:
    """Write `data` to a temporary sibling, then move it into place: a crash never leaves a half file, and the
    file gets the umask's mode (msinet.files.write_atomic)."""
    from ..files import write_atomic

    return write_atomic(path, data)


def to_rgb8(arr: np.ndarray, source="image") -> np.ndarray:
    """Any array read_image returns -> uint8 HxWx3 RGB (16-bit: /257 rounded; alpha dropped; gray expanded)."""
    if arr.dtype == np.uint16:
        arr = np.round(arr.astype(np.float64) / 257.0).astype(np.uint8)
    elif arr.dtype != np.uint8:
        raise ValueError(f"{source}: unsupported pixel type {arr.dtype}")
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.shape[2] == 1:
        return np.repeat(arr, 3, axis=2)
    return np.ascontiguousarray(arr[:, :, :3])


def read_rgb8(path) -> np.ndarray:
    """One image file -> uint8 HxWx3 RGB (what datasets, LR generation and the metrics work on)."""
    return to_rgb8(read_image(path), path)


def load_pair(left_path, right_path) -> tuple[np.ndarray, np.ndarray]:
    """A stereo pair as two uint8 HxWx3 arrays; the views must have the same size."""
    left, right = read_rgb8(left_path), read_rgb8(right_path)
    if left.shape != right.shape:
        raise ValueError(
            f"left and right views differ in size: {Path(left_path).name} is "
            f"{left.shape[1]}x{left.shape[0]}, {Path(right_path).name} is {right.shape[1]}x{right.shape[0]}"
        )
    return left, right


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
