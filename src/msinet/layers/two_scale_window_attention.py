"""Window self-attention at two key scales with a gated local branch (the full EHFSSR's WSAttention).

    x0 -> LN -> x --+-> 1x1 -> q ---------------------------------+  q, k, v: C channels each, no bias;
                    +-> 1x1 -> k ---------------------------------+  split in halves, one head per half:
                    +-> 1x1 -> v' -> v' * ECA gate(d) -> v -------+
                    |                                             |  half 0: q, k, v in win x win windows
                    +-> dw3x3 -> d                                |  half 1: q in win x win windows; k, v
                                                                  |    through a 2x2 stride-2 depthwise conv
                                                                  |    (one conv for both) -> (win/2)^2 keys
                                                                  |    covering the same window area
                                                                  v  (shifted blocks: all rolled by win/2,
                                                      y = cat(half 0, half 1)   Swin-style, no mask)
                    y + d * sigmoid(1x1(y) -> 1 channel) -> 1x1 (C -> C) -> + x0

EHFSSR-S's window attention (window_attention.py) is the light form of this: shared q/k projection, 2 heads
at full resolution only, and a C/2-channel local branch. Inputs must be multiples of the window (the EHFSSR
block pads them, reflect, and crops); the ECA gate's statistics include the padding, as in the reference code.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .eca import MultiDilationECA
from .norm import LayerNorm2d
from .window_attention import check_window_multiple, from_windows, to_windows


class TwoScaleWindowAttention(nn.Module):
    def __init__(self, channels: int, window: int = 16, shift: bool = False):
        super().__init__()
        if channels % 2 or window % 4:
            raise ValueError(
                f"two-scale window attention: {channels} channels must split in halves and the window "
                f"({window}) must halve into an even side"
            )
        half = channels // 2
        self.window, self.shift = window, shift
        self.scale = half**-0.5  # one head of C/2 channels per half
        self.norm = LayerNorm2d(channels)
        self.dwconv = nn.Conv2d(channels, channels, 3, padding=1, groups=channels)
        self.eca = MultiDilationECA()
        self.q = nn.Conv2d(channels, channels, 1, bias=False)
        self.k = nn.Conv2d(channels, channels, 1, bias=False)
        self.v = nn.Conv2d(channels, channels, 1, bias=False)
        self.down = nn.Conv2d(half, half, 2, stride=2, groups=half)  # the coarse half's keys and values
        self.gate = nn.Conv2d(channels, 1, 1)
        self.project = nn.Conv2d(channels, channels, 1)

    def forward(self, x0: torch.Tensor) -> torch.Tensor:  # (B, C, H, W), H and W multiples of the window
        b, _, h, w = x0.shape
        win = self.window
        check_window_multiple(h, w, win)
        x = self.norm(x0)
        d = self.dwconv(x)
        q, k, v = self.q(x), self.k(x), self.v(x) * self.eca.gate(d)
        if self.shift:
            # the reference rolls the coarse keys / values by win/4 after the stride-2 conv: the same as rolling
            # by win/2 before it (an even shift keeps the 2x2 cells whole), so everything is rolled once here
            q, k, v = (torch.roll(t, shifts=(-(win // 2), -(win // 2)), dims=(2, 3)) for t in (q, k, v))
        (q0, q1), (k0, k1), (v0, v1) = q.chunk(2, dim=1), k.chunk(2, dim=1), v.chunk(2, dim=1)
        k1, v1 = self.down(k1), self.down(v1)
        # softmax(q k^T * scale) v per window, fused; the coarse half has (win/2)^2 keys per window
        y0 = F.scaled_dot_product_attention(*(to_windows(t, 1, win) for t in (q0, k0, v0)), scale=self.scale)
        y1 = F.scaled_dot_product_attention(
            to_windows(q1, 1, win), to_windows(k1, 1, win // 2), to_windows(v1, 1, win // 2), scale=self.scale
        )
        y = torch.cat([from_windows(y0, b, h, w, win), from_windows(y1, b, h, w, win)], dim=1)
        if self.shift:
            y = torch.roll(y, shifts=(win // 2, win // 2), dims=(2, 3))
        return self.project(y + d * torch.sigmoid(self.gate(y))) + x0
