"""SimpleGate: the activation-free nonlinearity of NAFNet (split channels in two halves, multiply)."""

import torch
from torch import nn


class SimpleGate(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 2C, H, W) -> (B, C, H, W)
        a, b = x.chunk(2, dim=1)
        return a * b
