"""Simplified channel attention (NAFNet): x * conv1x1(mean(x)), with optional test-time local statistics."""

from __future__ import annotations

import torch
from torch import nn

from .local_pool import local_mean


class SimplifiedChannelAttention(nn.Module):
    """Returns x * W(pool(x)). `local_window` (set by the model) switches the pool to TLSC at inference."""

    def __init__(self, channels: int):
        super().__init__()
        self.proj = nn.Conv2d(channels, channels, 1)
        self.local_window: tuple[int, int] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.local_window is not None and not self.training:
            stats = local_mean(x, self.local_window)
        else:
            stats = x.mean((-2, -1), keepdim=True)
        return x * self.proj(stats)
