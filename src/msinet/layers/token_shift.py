"""Token shift: move four channel groups by one pixel (left, right, up, down), the rest stay.

A free way to give a 1x1 projection a 3x3-cross receptive field. Vacated border pixels become zeros.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def shift_channel_groups(x: torch.Tensor, groups: int = 8) -> torch.Tensor:
    """(B, C, H, W) -> same shape: channel groups 0..3 of C // groups channels shifted left, right, up, down."""
    g = x.shape[1] // groups
    left = F.pad(x[:, 0 * g : 1 * g, :, 1:], (0, 1))  # pixel (i, j) takes (i, j + 1)
    right = F.pad(x[:, 1 * g : 2 * g, :, :-1], (1, 0))  # takes (i, j - 1)
    up = F.pad(x[:, 2 * g : 3 * g, 1:, :], (0, 0, 0, 1))  # takes (i + 1, j)
    down = F.pad(x[:, 3 * g : 4 * g, :-1, :], (0, 0, 1, 0))  # takes (i - 1, j)
    return torch.cat([left, right, up, down, x[:, 4 * g :]], dim=1)
