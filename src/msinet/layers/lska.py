"""Large separable kernel attention (LSKA, Lau et al. 2024) and MSINet's multi-scale version.

A k x k depthwise large-kernel attention is decomposed into
    1 x k0 and k0 x 1 depthwise convs          (local)
    1 x k1 and k1 x 1 depthwise dilated convs  (long range, dilation d)
    1 x 1 conv
which together reach a k x k receptive field at a cost linear in k.
"""
from __future__ import annotations

import torch
from torch import nn

# kernel size k -> (k0, k1, dilation), the decomposition table of the LSKA paper
LSKA_DECOMPOSITION = {
    7: (3, 3, 2),
    11: (3, 5, 2),
    23: (5, 7, 3),
    35: (5, 11, 3),
    41: (5, 13, 3),
    53: (5, 17, 3),
}


def _depthwise(dim: int, kernel: tuple[int, int], dilation: int = 1) -> nn.Conv2d:
    pad = tuple(dilation * (k - 1) // 2 for k in kernel)
    return nn.Conv2d(dim, dim, kernel, padding=pad, dilation=dilation, groups=dim)


class LSKAMap(nn.Module):
    """The LSKA attention map for one kernel size (the caller multiplies it onto the features)."""

    def __init__(self, dim: int, kernel_size: int):
        super().__init__()
        if kernel_size not in LSKA_DECOMPOSITION:
            raise ValueError(f"LSKA kernel size must be one of {sorted(LSKA_DECOMPOSITION)}, got {kernel_size}")
        k0, k1, d = LSKA_DECOMPOSITION[kernel_size]
        self.kernel_size = kernel_size
        self.local_h = _depthwise(dim, (1, k0))
        self.local_v = _depthwise(dim, (k0, 1))
        self.dilated_h = _depthwise(dim, (1, k1), d)
        self.dilated_v = _depthwise(dim, (k1, 1), d)
        self.proj = nn.Conv2d(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.dilated_v(self.dilated_h(self.local_v(self.local_h(x)))))


class MultiScaleLSKA(nn.Module):
    """Split channels into equal groups, one LSKA kernel size per group, mix with 1x1, multiply onto x.

    `branch_of_group[i]` names which LSKA branch processes channel group i. The default (0, 1, 2, ...) uses
    every scale; the authors' released code routes its last group through the third branch (0, 1, 2, 2),
    leaving the largest kernel built but unused; `msinet_*_released` reproduces that.
    """

    def __init__(self, dim: int, kernel_sizes=(7, 11, 23, 35), branch_of_group=None):
        super().__init__()
        groups = len(kernel_sizes)
        if dim % groups:
            raise ValueError(f"width {dim} is not divisible by the {groups} LSKA channel groups")
        self.branches = nn.ModuleList(LSKAMap(dim // groups, k) for k in kernel_sizes)
        self.branch_of_group = tuple(branch_of_group) if branch_of_group is not None else tuple(range(groups))
        if len(self.branch_of_group) != groups or not all(0 <= b < groups for b in self.branch_of_group):
            raise ValueError(f"branch_of_group must list one branch index in [0, {groups}) per group")
        self.proj = nn.Conv2d(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        chunks = x.chunk(len(self.branches), dim=1)
        attn = torch.cat([self.branches[b](c) for b, c in zip(self.branch_of_group, chunks)], dim=1)
        return self.proj(attn) * x
