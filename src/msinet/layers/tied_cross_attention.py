"""SCAM with one query branch for both views (NAFRSSR): a cheaper stereo cross attention.

    q_l = dw3x3(LN(x_l)),  q_r = dw3x3(LN(x_r))          the same LayerNorm and depthwise conv for both views
    M   = q_l q_r^T / sqrt(C)                            per image row: (B, H, W_left, W_right)
    x_l + scale_l * softmax(M)   x_r                     right -> left, the raw features as values
    x_r + scale_r * softmax(M^T) x_l                     left -> right

Compared with NAFSSR's SCAM the 1x1 query and value projections are gone (a shared 3x3 depthwise conv gives
the queries some spatial context instead), which leaves 5C parameters per module. The products are taken
in the reference order, (W, C) x (C, W) then (W, W) x (W, C), so float32 results follow the authors' code.
"""

from __future__ import annotations

import torch
from torch import nn

from .norm import LayerNorm2d


class TiedSCAM(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.scale = channels**-0.5
        self.norm = LayerNorm2d(channels)
        self.query = nn.Conv2d(channels, channels, 3, padding=1, groups=channels)
        self.scale_l = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.scale_r = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x_l: torch.Tensor, x_r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        q_l = self.query(self.norm(x_l)).permute(0, 2, 3, 1)  # (B, H, W, C)
        q_r = self.query(self.norm(x_r)).permute(0, 2, 1, 3)  # (B, H, C, W)
        scores = torch.matmul(q_l, q_r) * self.scale  # (B, H, W_left, W_right)
        f_r2l = torch.matmul(torch.softmax(scores, dim=-1), x_r.permute(0, 2, 3, 1))  # (B, H, W, C)
        f_l2r = torch.matmul(torch.softmax(scores.transpose(-1, -2), dim=-1), x_l.permute(0, 2, 3, 1))
        return (x_l + f_r2l.permute(0, 3, 1, 2) * self.scale_l, x_r + f_l2r.permute(0, 3, 1, 2) * self.scale_r)
