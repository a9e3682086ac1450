"""What a pair will cost before it is computed: a short probe, extrapolated over the tiler's tiles.

The stereo models' time per LR row is about a*W + b*W^2: convolutions are linear in the width W, but the
epipolar attention (SCAM softmax, DEAM Sinkhorn) scores every pixel of a row against every pixel of the other
view's row, a (W, W) matrix per row and attention module. Measured on one CPU thread (AMD EPYC, 32 MiB L3, a
core shared with other jobs, so +-30%), msinet_small_x4 (16 DEAMs), one LR row, after the Sinkhorn change below:

    W                 500     1000    2000    3000    4000
    s per LR row      0.5     1.6     5.4     13.5    16.9
    attention share   48 %    74 %    87 %    94 %    95 %
    peak RSS (GB)     0.36    0.38    0.43    0.46    0.52

From W ~ 1000 on, attention is the cost; beyond W ~ 2000 a (W, W) float32 slice (16 MB) no longer fits the
cache and time grows a little faster than W^2. The tiler bounds memory (tiles of rows), not time: a row cannot
be split without changing the result. A 40 x 4000 LR pair is about 40 rows x 17-30 s = 11-20 min on one CPU
thread.

The probe times PROBE_ROWS rows at two widths (W/2 and W, both capped at PROBE_WIDTH) and fits a and b; it
costs about 2 s on one CPU thread and is skipped for pairs small enough not to matter (SMALL_PIXELS). Fitted
that way (384 and 768) it predicted 1.2 / 4.9 / 11.0 / 19.6 s per row at W 1000 / 2000 / 3000 / 4000 against
the 1.6 / 5.4 / 13.5 / 16.9 s measured above: right to about 30 %, which is what a one-line estimate needs.
"""

from __future__ import annotations

import math
import time

import numpy as np

PROBE_ROWS = 2
PROBE_WIDTH = 768
SMALL_PIXELS = 256 * 256  # below this a pair is done in seconds on any device: no probe


def rows_fed(height: int, tile: int, context: int) -> int:
    """LR rows the model sees for one pair: each tile's core plus its context (clipped at the borders)."""
    tile = max(1, min(tile, height))
    tiles = math.ceil(height / tile)
    return min(tiles * height, height + 2 * context * (tiles - 1))


def probe_row_cost(model, width: int, device, precision: str = "fp32") -> tuple[float, float]:
    """(a, b) of seconds per LR row = a*W + b*W^2, measured on `device`."""
    from .upscale import upscale_pair

    rng = np.random.default_rng(0)

    def timed(w: int) -> float:
        view = rng.integers(0, 256, (PROBE_ROWS, w, 3), dtype=np.uint8)
        t0 = time.perf_counter()
        upscale_pair(
            model, view, view.copy(), tile=None, context=0, precision=precision, device=device, cuda_graphs="off"
        )
        return (time.perf_counter() - t0) / PROBE_ROWS

    w1 = min(width, PROBE_WIDTH)
    w0 = max(8, w1 // 2)
    timed(w0)  # warm-up: first-call allocations and kernel selection
    t0, t1 = timed(w0), timed(w1)
    if w1 == w0:
        return t1 / w1, 0.0
    # solve t = a*w + b*w^2 through both points, neither coefficient negative
    b = max(0.0, (t1 / w1 - t0 / w0) / (w1 - w0))
    a = max(0.0, t1 / w1 - b * w1)
    return a, b


def estimate_pair_seconds(
    model, height: int, width: int, tile: int, context: int, device, precision: str = "fp32"
) -> float | None:
    """Seconds to upscale one LR pair of height x width with these tiles; None for pairs too small to matter."""
    if height * width <= SMALL_PIXELS:
        return None
    a, b = probe_row_cost(model, width, device, precision)
    return rows_fed(height, tile, context) * (a * width + b * width * width)


def format_seconds(s: float) -> str:
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"
