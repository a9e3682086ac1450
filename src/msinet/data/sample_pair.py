"""The real stereo pair bundled with msinet: Middlebury 2014 Motorcycle (msinet/assets/README.md).

The demo upscales it, and exports trace and verify on crops of it: uniform noise is no input these networks
were made for.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

ASSETS = Path(__file__).resolve().parent.parent / "assets"


def motorcycle_pair() -> tuple[np.ndarray, np.ndarray]:
    """(left, right) uint8 HxWx3 views of Middlebury 2014 Motorcycle at 741x500 (pixels as scikit-image's)."""
    from .image_io import read_image

    return read_image(ASSETS / "motorcycle_left.webp"), read_image(ASSETS / "motorcycle_right.webp")
