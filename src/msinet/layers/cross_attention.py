"""Cross-view fusion along epipolar lines: SCAM (NAFSSR, softmax) and DEAM (MSINet, optimal transport).

Both share one structure: Q from LayerNorm + 1x1 conv, V from a 1x1 conv of the raw features,
scores M = Q_L Q_R^T / sqrt(C) for every image row, (B, H, W, W). They differ only in how M becomes
attention weights:
  SCAM: two row-wise softmaxes, softmax(M) for right->left and softmax(M^T) for left->right;
  DEAM: one doubly-normalised transport plan T = Sinkhorn(M), used as T and T^T.
Outputs are X + scale * F with per-channel scales initialised to zero (the module starts as identity).
"""

from __future__ import annotations

import torch
from torch import nn

from .norm import LayerNorm2d
from .sinkhorn import sinkhorn


class EpipolarCrossAttention(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.scale = channels**-0.5
        self.norm_l = LayerNorm2d(channels)
        self.norm_r = LayerNorm2d(channels)
        self.query_l = nn.Conv2d(channels, channels, 1)
        self.query_r = nn.Conv2d(channels, channels, 1)
        self.value_l = nn.Conv2d(channels, channels, 1)
        self.value_r = nn.Conv2d(channels, channels, 1)
        self.scale_l = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.scale_r = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def scores(self, x_l: torch.Tensor, x_r: torch.Tensor) -> torch.Tensor:
        q_l = self.query_l(self.norm_l(x_l)).transpose(1, 2)  # (B, H, C, W)
        q_r = self.query_r(self.norm_r(x_r)).transpose(1, 2)  # (B, H, C, W)
        return torch.matmul(q_l.transpose(-1, -2), q_r) * self.scale  # (B, H, W_left, W_right)

    def weights(self, scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(right->left weights, left->right weights), each (B, H, W, W) with rows summing to one."""
        raise NotImplementedError

    def forward(self, x_l: torch.Tensor, x_r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # products on (C, W) slabs of each image row: W stays the innermost axis throughout, so the only
        # layout changes are cheap (C, H) swaps of whole rows, not (W, C) element transposes
        v_l = self.value_l(x_l).transpose(1, 2)  # (B, H, C, W)
        v_r = self.value_r(x_r).transpose(1, 2)
        r2l, l2r = self.weights(self.scores(x_l, x_r))
        f_r2l = torch.matmul(v_r, r2l.transpose(-1, -2)).transpose(1, 2)  # (B, H, C, W) -> (B, C, H, W)
        f_l2r = torch.matmul(v_l, l2r.transpose(-1, -2)).transpose(1, 2)
        return x_l + f_r2l * self.scale_l, x_r + f_l2r * self.scale_r


class SCAM(EpipolarCrossAttention):
    """Stereo cross attention module of NAFSSR."""

    def weights(self, scores):
        return torch.softmax(scores, dim=-1), torch.softmax(scores.transpose(-1, -2), dim=-1)


class DEAM(EpipolarCrossAttention):
    """Dual-view epipolar attention module of MSINet: softmax replaced by entropic optimal transport.

    Set `keep_plan = True` to keep the last transport plan (B, H, W_left, W_right) in `last_plan`
    (detached), e.g. to read disparities from it; it is not stored by default.
    """

    def __init__(self, channels: int, sinkhorn_iters: int = 10, sinkhorn_method: str = "auto"):
        super().__init__(channels)
        self.sinkhorn_iters = sinkhorn_iters
        self.sinkhorn_method = sinkhorn_method  # "log": the reference's own rounding (authors' checkpoints)
        self.keep_plan = False
        self.last_plan: torch.Tensor | None = None

    def weights(self, scores):
        plan = sinkhorn(scores, self.sinkhorn_iters, method=self.sinkhorn_method)  # auto: fast, same plan to rounding
        if self.keep_plan:
            self.last_plan = plan.detach()
        return plan, plan.transpose(-1, -2)


FUSIONS = {"none": None, "scam": SCAM, "deam": DEAM}
