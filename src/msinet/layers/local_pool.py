"""Test-time local statistics (TLSC, Chu et al.): the global average pool of channel attention is replaced,
at inference, by a local box average over a window the size the network saw during training (1.5x the
training LR patch), so that statistics on large test images match those seen in training.

The box mean is computed with an integral image (two cumulative sums), O(HW) whatever the window; the
result is replicate-padded back to the input size. Where the window covers the whole image in both
dimensions it falls back to the global mean, exactly as the reference implementations do.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def local_mean(x: torch.Tensor, window: tuple[int, int]) -> torch.Tensor:
    """Box mean of x (B,C,H,W) over `window` = (wh, ww), same spatial size as x, or (B,C,1,1) global mean."""
    h, w = x.shape[-2:]
    wh, ww = window
    if wh >= h and ww >= w and not torch.compiler.is_exporting():
        # under export the general path below serves this case too (one window = the global mean, broadcast),
        # which keeps the exported graph free of a size guard
        return x.mean((-2, -1), keepdim=True)
    kh, kw = min(h, wh), min(w, ww)
    s = x.cumsum(dim=-1).cumsum(dim=-2)
    s = F.pad(s, (1, 0, 1, 0))  # a zero row/column in front: s[i, j] = sum of x[:i, :j]
    # window sums for every valid top-left corner: (H-kh+1, W-kw+1); the order of the four terms is kept
    # as in the reference codes so that float32 results agree to the last bit
    out = s[..., kh:, kw:] + s[..., :-kh, :-kw] - s[..., :-kh, kw:] - s[..., kh:, :-kw]
    out = out / (kh * kw)
    oh, ow = out.shape[-2:]
    pad = ((w - ow) // 2, (w - ow + 1) // 2, (h - oh) // 2, (h - oh + 1) // 2)
    return F.pad(out, pad, mode="replicate")
