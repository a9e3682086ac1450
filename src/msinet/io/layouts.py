"""Both views in one image: side-by-side (full or half width, parallel or cross-eyed) and top-bottom.

    sbs       left | right, each view full resolution (image width = 2 x view width)
    sbs-half  left | right, each view squeezed to half width (anamorphic; the image has a 2D aspect ratio)
    tb        left over right, full resolution (image height = 2 x view height)
    tb-half   left over right, each view squeezed to half height
    cross     right | left (cross-eyed viewing), full resolution

split() returns the views as stored (a half layout gives squeezed views); join() is its exact inverse.
to_full() turns a half layout's joined result into its full-resolution layout (each view stretched back to its
display aspect, bicubic along the squeezed axis only).
"""

from __future__ import annotations

import numpy as np

LAYOUTS = ("sbs", "sbs-half", "tb", "tb-half", "cross")
FULL_OF = {"sbs": "sbs", "sbs-half": "sbs", "tb": "tb", "tb-half": "tb", "cross": "cross"}
# side-by-side frames whose width/height is twice a common view aspect (16:9, 4:3, 3:2): --layout auto
_AUTO_SBS_ASPECTS = (32 / 9, 8 / 3, 3.0)


def check_layout(layout: str) -> str:
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)} (or auto)")
    return layout


def _horizontal(layout: str) -> bool:
    return layout in ("sbs", "sbs-half", "cross")


def split(image: np.ndarray, layout: str, source="image") -> tuple[np.ndarray, np.ndarray]:
    """(left, right) views of an HxW[xC] image holding both; refuses an odd width/height to split."""
    check_layout(layout)
    h, w = image.shape[:2]
    if _horizontal(layout):
        if w % 2:
            raise ValueError(f"{source} is {w}x{h}: a {layout} image must have an even width")
        a, b = image[:, : w // 2], image[:, w // 2 :]
    else:
        if h % 2:
            raise ValueError(f"{source} is {w}x{h}: a {layout} image must have an even height")
        a, b = image[: h // 2], image[h // 2 :]
    left, right = (b, a) if layout == "cross" else (a, b)
    return np.ascontiguousarray(left), np.ascontiguousarray(right)


def join(left: np.ndarray, right: np.ndarray, layout: str) -> np.ndarray:
    """The one image holding both views in `layout` (the inverse of split)."""
    check_layout(layout)
    if left.shape != right.shape or left.dtype != right.dtype:
        raise ValueError(f"views differ: left {left.shape} {left.dtype}, right {right.shape} {right.dtype}")
    if layout == "cross":
        left, right = right, left
    return np.concatenate([left, right], axis=1 if _horizontal(layout) else 0)


def to_full(image: np.ndarray, layout: str) -> np.ndarray:
    """A half layout's image with each view stretched x2 along its squeezed axis (bicubic): sbs / tb."""
    check_layout(layout)
    if not layout.endswith("-half"):
        return image
    left, right = split(image, layout)
    h, w = left.shape[:2]
    size = (2 * w, h) if _horizontal(layout) else (w, 2 * h)
    stretch = [_bicubic_resize(v, size) for v in (left, right)]
    return join(*stretch, FULL_OF[layout])


def _bicubic_resize(view: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """view (HxW or HxWxC, uint8/uint16) resized to size = (width, height): bicubic with a = -0.75 and half-pixel
    centres (OpenCV's INTER_CUBIC), rounded and clipped to the input's range."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.ascontiguousarray(view).astype(np.float32))
    x = x[None, None] if x.dim() == 2 else x.permute(2, 0, 1)[None]
    y = F.interpolate(x, size=(size[1], size[0]), mode="bicubic", align_corners=False)[0]
    y = y[0] if view.ndim == 2 else y.permute(1, 2, 0)
    return y.round().clamp(0, np.iinfo(view.dtype).max).numpy().astype(view.dtype)


def guess_layout(width: int, height: int, source="image") -> str:
    """'sbs' when width/height is twice a common view aspect (within 1%); otherwise a one-line error."""
    ratio = width / height
    if any(abs(ratio / a - 1) < 0.01 for a in _AUTO_SBS_ASPECTS):
        return "sbs"
    raise ValueError(
        f"cannot tell the stereo layout of {source} ({width}x{height}) from its aspect ratio; "
        f"pass --layout {'|'.join(LAYOUTS)}"
    )
