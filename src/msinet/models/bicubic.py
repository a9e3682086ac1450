"""Bicubic interpolation as a model: the baseline row of every table.

Upsampling is MATLAB's `imresize(lr, s, 'bicubic')` (a = -0.5 cubic, edge replication), which is what the
stereo-SR literature's bicubic rows were computed with; torch's F.interpolate uses a = -0.75 and scores lower.
"""

from __future__ import annotations

import torch

from ..data.imresize import imresize_torch
from ..registry import register_arch, register_model
from .base import StereoSRModel


@register_arch("bicubic")
class Bicubic(StereoSRModel):
    def __init__(self, scale: int = 4):
        super().__init__(scale)
        self._config = {"scale": scale}

    def forward(self, left, right):
        self.check_inputs(left, right)
        both = imresize_torch(torch.cat([left, right], dim=0), self.scale)  # (2B,3,sh,sw)
        return both.chunk(2, dim=0)


for _s in (2, 3, 4):
    register_model(f"bicubic_x{_s}", "bicubic", f"MATLAB bicubic interpolation, x{_s}", scale=_s)
