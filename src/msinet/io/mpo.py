"""MPO (CIPA DC-007 multi-picture object): the two JPEG views that 3D cameras and phones write in one file
(Fujifilm FinePix Real 3D W1/W3, Nintendo 3DS, ...). The first picture is the left view, the second the right.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

MPO_SUFFIXES = (".mpo",)


def is_mpo(path) -> bool:
    """Whether `path` is a multi-picture JPEG (whatever its suffix: some cameras name them .JPG)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            return img.format == "MPO" and getattr(img, "n_frames", 1) >= 2
    except (UnidentifiedImageError, OSError):
        return False


def picture_count(path) -> int:
    """How many pictures a multi-picture file holds (1 for a plain JPEG, 0 where it cannot be read)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            return int(getattr(img, "n_frames", 1))
    except (UnidentifiedImageError, OSError):
        return 0


def read_mpo(path) -> tuple[np.ndarray, np.ndarray, bytes | None]:
    """(left, right, exif): the first two pictures as uint8 arrays (EXIF orientation applied) and the first
    picture's EXIF block (orientation reset, since the pixels are already upright), or None without EXIF.
    Pictures after the second are not read (picture_count tells the caller, to say so)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    from ..data.image_io import pil_to_array

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MPO file not found: {path}")
    try:
        with Image.open(path) as img:
            frames = getattr(img, "n_frames", 1)
            if img.format != "MPO" or frames < 2:
                raise ValueError(f"{path} holds {frames} picture(s), not a stereo pair: an MPO needs two views")
            views, exif = [], None
            for i in range(2):
                img.seek(i)
                img.load()
                upright = ImageOps.exif_transpose(img)
                if i == 0 and "exif" in img.info:
                    exif = upright.getexif().tobytes()
                views.append(pil_to_array(upright)[0])
    except UnidentifiedImageError:
        raise ValueError(f"cannot read {path}: not a recognised image file") from None
    except (OSError, SyntaxError) as exc:
        raise ValueError(
            f"cannot read {path}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from None
    if views[0].shape != views[1].shape:
        raise ValueError(
            f"{path}: the two views differ in size ({views[0].shape[1]}x{views[0].shape[0]} vs "
            f"{views[1].shape[1]}x{views[1].shape[0]})"
        )
    return views[0], views[1], exif


def write_mpo(
    path, left: np.ndarray, right: np.ndarray, exif: bytes | None = None, quality: int = 95, overwrite: bool = False
) -> Path:
    """Write two uint8 views (HxW or HxWx3) as an MPO, through a temporary file; `exif` goes with the first."""
    from ..data.image_io import refuse_existing, write_bytes_atomic

    path = Path(path)
    refuse_existing([path], overwrite)
    return write_bytes_atomic(path, encode_mpo(left, right, exif, quality, path))


def encode_mpo(left: np.ndarray, right: np.ndarray, exif: bytes | None = None, quality: int = 95, path="MPO") -> bytes:
    """The MPO file of two uint8 views (`path` names it in errors)."""
    from PIL import Image

    for name, view in (("left", left), ("right", right)):
        if view.dtype != np.uint8 or not (view.ndim == 2 or (view.ndim == 3 and view.shape[2] == 3)):
            raise ValueError(
                f"{path}: the {name} view must be uint8 gray or RGB for JPEG, got {view.dtype} {view.shape}"
            )
    buf = io.BytesIO()
    first, second = Image.fromarray(left), Image.fromarray(right)
    extra = {"exif": exif} if exif else {}
    first.save(buf, format="MPO", save_all=True, append_images=[second], quality=quality, **extra)
    return buf.getvalue()
