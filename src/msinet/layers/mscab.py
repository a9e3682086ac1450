"""The intra-view block: a spatial-channel mixer (MSCAM) and a simple feed-forward network (SFFN).

With `multiscale=False` the mixer is NAFNet's: LN -> 1x1 (C->2C) -> 3x3 depthwise -> SimpleGate ->
simplified channel attention -> 1x1. With `multiscale=True` (MSINet's MSCAM) a multi-scale LSKA branch
runs beside the channel attention; the two (2C) are concatenated and reduced back to C by a 1x1 conv.
No activation function anywhere: the nonlinearity is SimpleGate's product.
"""

from __future__ import annotations

import torch
from torch import nn

from . import inference_fold
from .channel_attention import SimplifiedChannelAttention
from .gate import SimpleGate
from .lska import MultiScaleLSKA
from .norm import LayerNorm2d


class GatedMixer(nn.Module):
    """What NAFNet-style token mixers share: LN -> 1x1 (C->2C) -> 3x3 depthwise -> SimpleGate (`gated`, back to
    C channels), a simplified channel attention, an output 1x1 and a zero-initialised residual scale `beta`.
    Subclasses (MSCAM, CVHSSR's ChannelSpatialMixer) decide how the gated features become the update."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = LayerNorm2d(channels)
        self.expand = nn.Conv2d(channels, 2 * channels, 1)
        self.dwconv = nn.Conv2d(2 * channels, 2 * channels, 3, padding=1, groups=2 * channels)
        self.gate = SimpleGate()
        self.sca = SimplifiedChannelAttention(channels)
        self.project = nn.Conv2d(channels, channels, 1)
        self.beta = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def gated(self, x: torch.Tensor) -> torch.Tensor:
        return self.gate(self.dwconv(self.expand(self.norm(x))))  # (B, C, H, W)


class MSCAM(GatedMixer):
    def __init__(self, channels: int, multiscale: bool = True, lska_kernels=(7, 11, 23, 35), lska_branch_of_group=None):
        super().__init__(channels)
        if multiscale:
            self.msa = MultiScaleLSKA(channels, lska_kernels, lska_branch_of_group)
            self.merge = nn.Conv2d(2 * channels, channels, 1)
        else:
            self.msa = self.merge = None
        self._fold = inference_fold.ParameterCache()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.gated(x)
        if inference_fold.active(x):  # merge, project and beta as one map of (sca, msa)
            parts = [self.sca(y)] if self.msa is None else [self.sca(y), self.msa(y)]
            folded_from = [self.project.weight, self.project.bias, self.beta]
            if self.merge is not None:
                folded_from += [self.merge.weight, self.merge.bias]
            weights, bias = self._fold.get(folded_from, self._folded)
            return inference_fold.residual_pointwise(x, parts, weights, bias)
        if self.msa is None:
            y = self.sca(y)
        else:
            y = self.merge(torch.cat([self.sca(y), self.msa(y)], dim=1))
        return x + self.project(y) * self.beta

    def _folded(self):
        beta = self.beta.detach().reshape(-1, 1).double()
        w, b = inference_fold.matrix(self.project), inference_fold.bias64(self.project)
        if self.merge is not None:  # P (M y + m) + p
            w, b = w @ inference_fold.matrix(self.merge), w @ inference_fold.bias64(self.merge) + b
        w, b = (beta * w).to(self.project.weight.dtype), (beta[:, 0] * b).to(self.project.weight.dtype)
        return list(w.split(w.shape[1] // (1 if self.merge is None else 2), dim=1)), b


class SFFN(nn.Module):
    def __init__(self, channels: int, expand: int = 2):
        super().__init__()
        self.norm = LayerNorm2d(channels)
        self.expand = nn.Conv2d(channels, expand * channels, 1)
        self.gate = SimpleGate()
        self.project = nn.Conv2d(expand * channels // 2, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self._fold = inference_fold.ParameterCache()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.gate(self.expand(self.norm(x)))
        if inference_fold.active(x):  # project and gamma as one map
            weights, bias = self._fold.get((self.project.weight, self.project.bias, self.gamma), self._folded)
            return inference_fold.residual_pointwise(x, [y], weights, bias)
        return x + self.project(y) * self.gamma

    def _folded(self):
        gamma = self.gamma.detach().reshape(-1, 1).double()
        w = gamma * inference_fold.matrix(self.project)
        b = gamma[:, 0] * inference_fold.bias64(self.project)
        return [w.to(self.project.weight.dtype)], b.to(self.project.weight.dtype)


class MSCAB(nn.Module):
    """Multi-scale spatial-channel attention block = MSCAM then SFFN (NAFBlock when multiscale=False)."""

    def __init__(self, channels: int, multiscale: bool = True, lska_kernels=(7, 11, 23, 35), lska_branch_of_group=None):
        super().__init__()
        self.mixer = MSCAM(channels, multiscale, lska_kernels, lska_branch_of_group)
        self.ffn = SFFN(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ffn(self.mixer(x))
