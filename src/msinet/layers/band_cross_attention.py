"""Cross-view attention along epipolar rows within a disparity band (EHFSSR's Crossattention).

    x_l, x_r (B,C,H,W)
      values:  v_l = 1x1(shift(x_l)),  v_r = 1x1'(shift(x_r))           (raw features, token-shifted)
      queries: t = x + transition(x)  (shared 3x3 depthwise + 1x1) -> LN (per view) -> shift -> 1x1 (per view)
      per head (channels split in 2) and image row: scores S = q_l q_r^T (W x W), no 1/sqrt(c) scaling,
      multiplied by the band mask B[i, j] = 1 for 0 <= i - j <= 96 (a right pixel j may match left pixel i
      only at a non-negative disparity up to 96 LR pixels), else 0:
          left  += out(softmax(S * B) v_r)         right += out(softmax((S * B)^T) v_l)

The mask multiplies rather than excludes: a pair outside the band gets score 0, i.e. weight exp(0), not
zero weight, exactly as the reference code computes it (the released weights were trained that way).
"""

from __future__ import annotations

import torch
from torch import nn

from .norm import LayerNorm2d
from .token_shift import shift_channel_groups

MAX_DISPARITY = 96  # LR pixels: 192 // 2 in the reference code


def disparity_band(width: int, max_disparity: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """(W, W) with ones where 0 <= i - j <= max_disparity (i: left column, j: right column), zeros elsewhere."""
    ones = torch.ones(width, width, device=device, dtype=dtype)
    return torch.tril(ones) * torch.triu(ones, diagonal=-max_disparity)


class BandCrossAttention(nn.Module):
    def __init__(self, channels: int, heads: int = 2, max_disparity: int = MAX_DISPARITY):
        super().__init__()
        if channels % heads:
            raise ValueError(f"cross attention: {channels} channels do not split into {heads} heads")
        self.heads, self.max_disparity = heads, max_disparity
        self.norm_l = LayerNorm2d(channels)
        self.norm_r = LayerNorm2d(channels)
        self.value_l = nn.Conv2d(channels, channels, 1, bias=False)
        self.value_r = nn.Conv2d(channels, channels, 1, bias=False)
        self.query_l = nn.Conv2d(channels, channels, 1, bias=False)
        self.query_r = nn.Conv2d(channels, channels, 1, bias=False)
        self.transition = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, groups=channels), nn.Conv2d(channels, channels, 1)
        )
        self.project = nn.Conv2d(channels, channels, 1, bias=False)

    def _rows(self, x: torch.Tensor) -> torch.Tensor:
        """(B, heads*c, H, W) -> (B, heads, H, W, c): one (W, c) matrix per head and image row."""
        b, ch, h, w = x.shape
        return x.view(b, self.heads, ch // self.heads, h, w).permute(0, 1, 3, 4, 2)

    def _image(self, x: torch.Tensor) -> torch.Tensor:
        """Inverse of _rows."""
        b, heads, h, w, c = x.shape
        return x.permute(0, 1, 4, 2, 3).reshape(b, heads * c, h, w)

    def forward(self, x_l: torch.Tensor, x_r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        v_l = self._rows(self.value_l(shift_channel_groups(x_l)))
        v_r = self._rows(self.value_r(shift_channel_groups(x_r)))
        q_l = self.query_l(shift_channel_groups(self.norm_l(self.transition(x_l) + x_l)))
        q_r = self.query_r(shift_channel_groups(self.norm_r(self.transition(x_r) + x_r)))
        q_l, q_r = self._rows(q_l), self._rows(q_r)
        band = disparity_band(x_l.shape[-1], self.max_disparity, x_l.device, x_l.dtype)
        scores = torch.matmul(q_l, q_r.transpose(-1, -2)) * band  # (B, heads, H, W_left, W_right)
        from_right = torch.matmul(torch.softmax(scores, dim=-1), v_r)  # (B, heads, H, W, c)
        from_left = torch.matmul(torch.softmax(scores.transpose(-1, -2), dim=-1), v_l)
        return self.project(self._image(from_right)) + x_l, self.project(self._image(from_left)) + x_r
