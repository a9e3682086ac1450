"""Large kernel attention (LKA, Guo et al., "Visual Attention Network", 2022).

A large depthwise receptive field at small cost: a k x k depthwise conv (local), a depthwise dilated conv
(long range), a 1x1 conv (channel mixing); the result is an attention map multiplied onto the input.
The defaults (5x5, then 7x7 with dilation 3: a 23x23 field) are VAN's and CVHSSR's.

    x -> dw k x k -> dw k' x k' dilated d -> 1x1 -> attn;   out = x * attn
"""

from __future__ import annotations

import torch
from torch import nn


class LargeKernelAttention(nn.Module):
    def __init__(self, channels: int, kernel: int = 5, dilated_kernel: int = 7, dilation: int = 3):
        super().__init__()
        self.local = nn.Conv2d(channels, channels, kernel, padding=kernel // 2, groups=channels)
        self.dilated = nn.Conv2d(
            channels,
            channels,
            dilated_kernel,
            padding=(dilated_kernel // 2) * dilation,
            dilation=dilation,
            groups=channels,
        )
        self.proj = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.proj(self.dilated(self.local(x)))
