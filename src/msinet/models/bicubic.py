"""Bicubic interpolation as a model: the baseline row of every table.

Upsampling is MATLAB's `imresize(lr, s, 'bicubic')` (a = -0.5 cubic, edge replication), which is what the
stereo-SR literature's bicubic rows were computed with; torch's F.interpolate uses a = -0.75 and scores lower.
"""

from __future__ import annotations

import torch

from ..data.imresize import imresize_torch
from ..registry import register_family
from .base import StereoSRModel
from .family import Family, Size


class Bicubic(StereoSRModel):
    arch_name = "bicubic"
    view_symmetric = True
    exact_tiling = True  # the cubic kernel reaches 2 LR rows: the default context covers it

    def __init__(self, scale: int = 4):
        super().__init__(scale)
        self._config = {"scale": scale}

    def forward(self, left, right):
        self.check_inputs(left, right)
        both = imresize_torch(torch.cat([left, right], dim=0), self.scale)  # (2B,3,sh,sw)
        return both.chunk(2, dim=0)


register_family(
    Family(
        name="bicubic",
        title="Bicubic interpolation (MATLAB imresize)",
        network=Bicubic,
        sizes=tuple(Size(f"bicubic_x{s}", s, description=f"MATLAB bicubic interpolation, x{s}") for s in (2, 3, 4)),
    )
)
