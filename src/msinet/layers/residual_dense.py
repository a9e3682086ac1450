"""Residual dense blocks (RDN, Zhang et al. 2018), in the form iPASSR uses them.

    ResidualDenseBlock(C, n, G)    x -> [x, f1] -> [x, f1, f2] -> ... -> [x, f1..fn]   (C + n*G channels)
                                     fi = LeakyReLU_0.1(conv3x3(everything before))    (G channels each)
                                   -> 1x1 conv back to C (local feature fusion) -> + x
    ResidualDenseGroup(C, N, ...)  x -> block 1 -> ... -> block N, every block's output kept:
                                   (1x1 conv of cat(b1..bN) to C,  cat(b1..bN))        (C, N*C channels)

The group also returns the concatenated block outputs: iPASSR's parallax attention builds its queries and
keys from them (hierarchical features), not from the group's output alone.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ResidualDenseBlock(nn.Module):
    def __init__(self, channels: int, num_convs: int = 4, growth: int = 24, slope: float = 0.1):
        super().__init__()
        self.slope = slope
        self.convs = nn.ModuleList(nn.Conv2d(channels + i * growth, growth, 3, padding=1) for i in range(num_convs))
        self.fuse = nn.Conv2d(channels + num_convs * growth, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dense = x
        for conv in self.convs:
            dense = torch.cat([dense, F.leaky_relu(conv(dense), self.slope)], dim=1)  # +G channels
        return self.fuse(dense) + x


class ResidualDenseGroup(nn.Module):
    def __init__(self, channels: int, num_blocks: int = 4, num_convs: int = 4, growth: int = 24):
        super().__init__()
        self.blocks = nn.ModuleList(ResidualDenseBlock(channels, num_convs, growth) for _ in range(num_blocks))
        self.fuse = nn.Conv2d(num_blocks * channels, channels, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, C, H, W) -> (the group's output (B, C, H, W), every block's output (B, N*C, H, W))."""
        outputs = []
        for block in self.blocks:
            x = block(x)
            outputs.append(x)
        stacked = torch.cat(outputs, dim=1)
        return self.fuse(stacked), stacked
