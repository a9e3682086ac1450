"""CVIM, CVHSSR's cross-view interaction module: SCAM with richer projections.

Same epipolar softmax attention as SCAM (layers/cross_attention.py), per image row (B, H, W, W), with:
  queries  LN -> 1x1 -> 3x3 depthwise   (SCAM: LN -> 1x1)
  values   1x1 -> 3x3 depthwise         (SCAM: 1x1)
  outputs  a 1x1 conv on each attended view before its zero-initialised per-channel scale
The 3x3 depthwise convs give each query and value a little horizontal and vertical context, so matching
does not rest on single pixels.

    x_l, x_r -> Q_l, Q_r, V_l, V_r -> M = Q_l Q_r^T / sqrt(C)
    left  + scale_l * out_l(softmax(M) V_r),   right + scale_r * out_r(softmax(M^T) V_l)
"""

from __future__ import annotations

import torch
from torch import nn

from .cross_attention import SCAM


def _pointwise_then_depthwise(channels: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(channels, channels, 1), nn.Conv2d(channels, channels, 3, padding=1, groups=channels))


class CVIM(SCAM):
    def __init__(self, channels: int):
        super().__init__(channels)
        c = channels
        self.query_l, self.query_r = _pointwise_then_depthwise(c), _pointwise_then_depthwise(c)
        self.value_l, self.value_r = _pointwise_then_depthwise(c), _pointwise_then_depthwise(c)
        self.out_l = nn.Conv2d(c, c, 1)
        self.out_r = nn.Conv2d(c, c, 1)

    def forward(self, x_l: torch.Tensor, x_r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        v_l = self.value_l(x_l).transpose(1, 2)  # (B, H, C, W)
        v_r = self.value_r(x_r).transpose(1, 2)
        r2l, l2r = self.weights(self.scores(x_l, x_r))  # (B, H, W, W) each
        f_r2l = torch.matmul(v_r, r2l.transpose(-1, -2)).transpose(1, 2)  # (B, C, H, W)
        f_l2r = torch.matmul(v_l, l2r.transpose(-1, -2)).transpose(1, 2)
        return x_l + self.out_l(f_r2l) * self.scale_l, x_r + self.out_r(f_l2r) * self.scale_r
