"""Convolutional feed-forward block (EHFSSR's MLP): pre-norm, expand, 5x5 depthwise with a skip, LeakyReLU,
project back, multi-dilation channel attention, residual.

    x -> LN -> 1x1 (C -> rC) -> y + dw5x5(y) -> LeakyReLU(0.1) -> 1x1 (rC -> C) -> ECA gate -> + x
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .eca import MultiDilationECA
from .norm import LayerNorm2d


class ConvFFN(nn.Module):
    def __init__(self, channels: int, ratio: int = 2):
        super().__init__()
        hidden = channels * ratio
        self.norm = LayerNorm2d(channels)
        self.expand = nn.Conv2d(channels, hidden, 1)
        self.dwconv = nn.Conv2d(hidden, hidden, 5, padding=2, groups=hidden)
        self.project = nn.Conv2d(hidden, channels, 1)
        self.eca = MultiDilationECA()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.expand(self.norm(x))
        y = self.dwconv(y) + y
        return self.eca(self.project(F.leaky_relu(y, 0.1))) + x
