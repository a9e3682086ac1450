"""Global attention of EHFSSR (GSAttention): image-wide channel attention beside a large-kernel local branch.

    x0 -> LN -> x -> 1x1 -> q, k, v (C/2 each), flattened over the whole image (B, C/2, HW)
               |     q, k L2-normalised along HW; A = softmax(temperature * q k^T)  (C/2 x C/2)
               |     g = A v                                     <- global: every pixel, linear in HW
               +-> 1x1 (C -> C/2) -> dw9x9 -> LeakyReLU(0.1) -> l <- local
       cat(g, l) -> 1x1 (C -> C) -> + x0

The attention is between channels (Restormer's transposed attention), so its cost grows with the image
area only linearly; it closes each group of EHFSSR with context from the whole view.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .norm import LayerNorm2d


class GlobalChannelSpatialAttention(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        half = channels // 2
        self.temperature = nn.Parameter(torch.ones(1, 1, 1))
        self.norm = LayerNorm2d(channels)
        self.qkv = nn.Conv2d(channels, 3 * half, 1, bias=False)
        self.spatial = nn.Conv2d(channels, half, 1, bias=False)
        self.dwconv = nn.Conv2d(half, half, 9, padding=4, groups=half)
        self.project = nn.Conv2d(2 * half, channels, 1, bias=False)

    def forward(self, x0: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x0.shape
        x = self.norm(x0)
        q, k, v = self.qkv(x).flatten(2).chunk(3, dim=1)  # (B, C/2, HW) each
        q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
        attn = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) * self.temperature, dim=-1)
        g = torch.matmul(attn, v).view(b, -1, h, w)
        local = F.leaky_relu(self.dwconv(self.spatial(x)), 0.1)
        return self.project(torch.cat([g, local], dim=1)) + x0
