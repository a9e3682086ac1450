"""Multi-dilation efficient channel attention (EHFSSR's ECA): a channel gate computed by 1-D convolutions
that run *across channels* on the globally pooled descriptor, so that it costs a dozen weights whatever the
number of channels.

    x (B,C,H,W) -> mean over H,W -> (B,1,C) "a signal along the channel axis"
                -> three 3-tap 1-D convs, dilation 1 / 2 / 4 (channel neighbourhoods of 3, 5, 9)
                -> stacked (B,3,C) -> one 3-tap conv merging them -> sigmoid -> gate (B,C,1,1)

`gate(x)` returns the gate alone (EHFSSR's window attention gates one tensor by another's statistics);
`forward(x)` returns x * gate(x).
"""

from __future__ import annotations

import torch
from torch import nn

DILATIONS = (1, 2, 4)


class MultiDilationECA(nn.Module):
    def __init__(self, kernel_size: int = 3):
        super().__init__()
        self.taps = nn.ModuleList(
            nn.Conv1d(1, 1, kernel_size, padding=d * (kernel_size // 2), dilation=d, bias=False) for d in DILATIONS
        )
        self.merge = nn.Conv1d(len(DILATIONS), 1, kernel_size, padding=kernel_size // 2, bias=False)

    def gate(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, C, 1, 1)
        y = x.mean((-2, -1)).unsqueeze(1)  # (B, 1, C)
        y = self.merge(torch.cat([tap(y) for tap in self.taps], dim=1))  # (B, 3, C) -> (B, 1, C)
        return torch.sigmoid(y).transpose(1, 2).unsqueeze(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)
