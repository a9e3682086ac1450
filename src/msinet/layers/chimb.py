"""CVHSSR's intra-view block (CHIMB, Zou et al. 2023): a channel + large-kernel spatial mixer and a gated FFN.

    mixer:  x -> LN -> 1x1 (C->2C) -> 3x3 dw -> SimpleGate -> y       (B, C, H, W)
            y -> SCA(y) + LKA(y) -> 1x1 ;  x + beta * that
    ffn:    x -> LN -> 1x1 (C->2C) -> 3x3 dw -> GELU(first half) * second half -> 1x1 ;  x + gamma * that

The mixer is NAFNet's with a large kernel attention branch added to the simplified channel attention
(global statistics and a 23x23 spatial field side by side); the FFN is the GELU-gated depthwise FFN of
Restormer (GDFN) rather than NAFNet's plain SimpleGate FFN. beta and gamma start at zero (identity block).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .lka import LargeKernelAttention
from .mscab import GatedMixer
from .norm import LayerNorm2d


class ChannelSpatialMixer(GatedMixer):
    def __init__(self, channels: int):
        super().__init__(channels)
        self.lka = LargeKernelAttention(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.gated(x)
        return x + self.project(self.sca(y) + self.lka(y)) * self.beta


class GatedDConvFFN(nn.Module):
    def __init__(self, channels: int, expand: int = 2):
        super().__init__()
        hidden = expand * channels
        self.norm = LayerNorm2d(channels)
        self.expand = nn.Conv2d(channels, hidden, 1)
        self.dwconv = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden)
        self.project = nn.Conv2d(hidden // 2, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.dwconv(self.expand(self.norm(x))).chunk(2, dim=1)
        return x + self.project(F.gelu(a) * b) * self.gamma


class CHIMB(nn.Module):
    """Mixer then FFN, each a gated residual."""

    def __init__(self, channels: int):
        super().__init__()
        self.mixer = ChannelSpatialMixer(channels)
        self.ffn = GatedDConvFFN(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ffn(self.mixer(x))
