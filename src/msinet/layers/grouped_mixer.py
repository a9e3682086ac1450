"""NAFNet's spatial mixer with its channel attention removed and its 1x1 projection made a grouped 3x3 conv
(NAFRSSR, Chen et al. 2024): the network then has no global pooling at all, so there is nothing for test-time
local statistics to convert, and a band of rows needs only its neighbours.

    x -> LN -> 1x1 (C->2C) -> 3x3 depthwise -> SimpleGate -> 3x3 conv in `groups` groups (C->C)
      [-> 1x1 (C->C) when `pointwise`] -> * beta (per channel, zero at init) -> + x

NAFRSSR uses it twice: with C/4 groups of 4 channels followed by NAFNet's feed-forward network
(GroupedNAFBlock), and, in its recursive middle stage, alone with 4 groups of C/4 channels and a 1x1 mix
after them (cheaper than a block with an FFN, and shared across the recursions).
"""

from __future__ import annotations

import torch
from torch import nn

from .gate import SimpleGate
from .mscab import SFFN
from .norm import LayerNorm2d


class GroupedConvMixer(nn.Module):
    def __init__(self, channels: int, groups: int, pointwise: bool = False):
        super().__init__()
        if groups < 1 or channels % groups:
            raise ValueError(f"channels ({channels}) is not divisible into {groups} conv groups")
        self.norm = LayerNorm2d(channels)
        self.expand = nn.Conv2d(channels, 2 * channels, 1)
        self.dwconv = nn.Conv2d(2 * channels, 2 * channels, 3, padding=1, groups=2 * channels)
        self.gate = SimpleGate()
        self.mix = nn.Conv2d(channels, channels, 3, padding=1, groups=groups)
        self.project = nn.Conv2d(channels, channels, 1) if pointwise else None
        self.beta = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.mix(self.gate(self.dwconv(self.expand(self.norm(x)))))  # (B, C, H, W)
        if self.project is not None:
            y = self.project(y)
        return x + y * self.beta


class GroupedNAFBlock(nn.Module):
    """GroupedConvMixer with groups of 4 channels, then NAFNet's feed-forward network (SFFN)."""

    def __init__(self, channels: int):
        super().__init__()
        if channels % 4:
            raise ValueError(f"channels must be a multiple of 4 (groups of 4 channels), got {channels}")
        self.mixer = GroupedConvMixer(channels, groups=channels // 4)
        self.ffn = SFFN(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ffn(self.mixer(x))
