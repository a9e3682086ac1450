"""One intra-view module on both views, then a cross-view fusion between them: the unit most stereo SR trunks
repeat (CVHSSR's CHIMB + CVIM, NAFRSSR's grouped blocks + tied SCAM).

    feats (2B, C, H, W), left views first -> intra (same weights for both views) -> fusion(left, right) -> (2B, C, H, W)
"""

from __future__ import annotations

import torch
from torch import nn


class ViewPairBlock(nn.Module):
    def __init__(self, intra: nn.Module, fusion: nn.Module):
        super().__init__()
        self.intra = intra
        self.fusion = fusion

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        b = feats.shape[0] // 2  # slicing rather than chunk(): keeps the batch dynamic under torch.export
        feats = self.intra(feats)
        left, right = self.fusion(feats[:b], feats[b:])
        return torch.cat([left, right], dim=0)
