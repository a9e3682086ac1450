"""Learned edge boost of a reconstruction (NAFRSSR): x + w_c * (k * x_c) for every channel c.

k is one 3x3 kernel shared by all channels, initialised to the 4-neighbour Laplacian
[[0, -1, 0], [-1, 4, -1], [0, -1, 0]] (a high-pass: the boost sharpens), zero-padded at the borders;
w is a per-channel gain, zero at init (the module starts as the identity). Both are learned.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

LAPLACIAN = ((0.0, -1.0, 0.0), (-1.0, 4.0, -1.0), (0.0, -1.0, 0.0))


class LaplacianBoost(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.kernel = nn.Parameter(torch.tensor(LAPLACIAN).view(1, 1, 3, 3))
        self.weight = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W)
        b, c, h, w = x.shape
        edges = F.conv2d(x.reshape(b * c, 1, h, w), self.kernel, padding=1).view(b, c, h, w)
        return x + edges * self.weight
