"""Bicubic interpolation as a model: the baseline row of every table."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..registry import register_arch, register_model
from .base import StereoSRModel


def bicubic_upsample(x: torch.Tensor, scale: int) -> torch.Tensor:
    """Bicubic upsampling of a (B,C,h,w) float tensor by an integer factor."""
    return F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False)


@register_arch("bicubic")
class Bicubic(StereoSRModel):
    def __init__(self, scale: int = 4):
        super().__init__(scale)
        self._config = {"scale": scale}

    def forward(self, left, right):
        self.check_inputs(left, right)
        return bicubic_upsample(left, self.scale), bicubic_upsample(right, self.scale)


for _s in (2, 3, 4):
    register_model(f"bicubic_x{_s}", "bicubic", f"bicubic interpolation, x{_s}", scale=_s)
