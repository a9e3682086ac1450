"""Named HR -> LR degradations: the bicubic downscaling that published SR test kits were made with.

Both are MATLAB `imresize(HR, 1/s, 'bicubic')` on uint8 images; they differ only in how the kernel reads past
the image border, because MATLAB releases differ there:

    kit   mirror padding (edge repeated). Reproduces the stereo-SR test kits (iPASSR / NAFSSR / EHFSSR
          Flickr1024, KITTI, Middlebury LR files) bit-exactly. Default for training and for `eval` when it
          makes LR itself.
    rcan  edge clamping. Reproduces the RCAN Set5 LRBI files (the classic single-image SR kits) bit-exactly.

They agree on every pixel whose kernel stays inside the image (all but the outer 1 LR row/column at x2 and
x3, 2 at x4) and differ by up to ~8 levels on those.
"""

from __future__ import annotations

import numpy as np

from .imresize import imresize

DEGRADATIONS = {"kit": "symmetric", "rcan": "replicate"}  # name -> imresize padding
DEFAULT_DEGRADATION = "kit"


def check_degradation(kind: str) -> str:
    if kind not in DEGRADATIONS:
        raise ValueError(f"unknown degradation {kind!r} (choose one of {', '.join(DEGRADATIONS)})")
    return kind


def degrade(hr: np.ndarray, scale: int, kind: str = DEFAULT_DEGRADATION) -> np.ndarray:
    """LR of a uint8 HxWx3 (or HxW) HR image at integer `scale`: bicubic 1/scale by the named rule.

    The HR should already be cropped to a multiple of `scale` (then the LR is exactly HR/scale).
    """
    return imresize(hr, 1.0 / scale, padding=DEGRADATIONS[check_degradation(kind)])
