"""Symmetric parallax attention with valid masks (biPAM of iPASSR, Wang et al., CVPRW 2021).

Per image row, each left pixel attends over the right view's row and each right pixel over the left's, both
from ONE score matrix (hence symmetric):

    hier_l, hier_r (B, 4C, H, W): hierarchical features (a residual dense group's stacked block outputs)
    Q = query(h_l),  K = key(h_r),  h = refined(norm(hier))      (B, C, H, W), each minus its row mean
    S = Q K^T per row                                             (B, H, Wl, Wr)
    M_r2l = softmax(S)  over Wr,   M_l2r = softmax(S^T)  over Wl

Valid masks (occlusion handling): a left pixel is valid where a round trip left -> right -> left comes back
to within +-2 pixels of where it started,

    V_l[l] = sum_r (sum_{|d|<=2} M_r2l[l+d, r]) * M_l2r[r, l]        (V_r symmetrically),   v = tanh(5 V)

computed without gradient (the authors detach it). Each view is then blended with the other view warped onto
it, where valid:   out_l = x_l * (1 - v_l) + (M_r2l x_r) * v_l.

The batch norm runs on each view separately, as in the authors' code: in training each view has its own batch
statistics and the running statistics are updated twice per step; in eval mode it is a fixed affine map.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def cycle_validity(there: torch.Tensor, back: torch.Tensor, radius: int = 2) -> torch.Tensor:
    """How much of each query position returns to itself (within +-radius) after there -> back:
    there (..., U, V), back (..., V, U) -> (..., U), V[u] = sum_v (sum_{|d|<=radius} there[u+d, v]) * back[v, u]
    (zeros beyond the row's ends). No gradient."""
    there, back = there.detach(), back.detach()
    u = there.shape[-2]
    padded = F.pad(there, (0, 0, radius, radius))  # (..., U + 2r, V)
    relaxed = padded[..., radius : radius + u, :].clone()
    for shift in range(1, radius + 1):
        relaxed += padded[..., radius - shift : radius - shift + u, :]  # there[u - shift]
        relaxed += padded[..., radius + shift : radius + shift + u, :]  # there[u + shift]
    return relaxed.mul_(back.transpose(-1, -2)).sum(-1)


class SymmetricParallaxAttention(nn.Module):
    """channels: C of the features it blends; the hierarchical features have groups * C channels (the
    authors': 4 dense blocks of C), and the refinement and projections are grouped by `groups`."""

    def __init__(self, channels: int, groups: int = 4):
        super().__init__()
        hier = groups * channels
        self.norm = nn.BatchNorm2d(hier)
        self.refine = nn.Sequential(  # residual: h + refine(h)
            nn.Conv2d(hier, hier, 3, padding=1, groups=groups),
            nn.LeakyReLU(0.1),
            nn.Conv2d(hier, hier, 3, padding=1, groups=groups),
        )
        self.query = nn.Conv2d(hier, channels, 1, groups=groups)
        self.key = nn.Conv2d(hier, channels, 1, groups=groups)

    def attention(
        self, hier_l: torch.Tensor, hier_r: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(M_r2l (B, H, Wl, Wr), M_l2r (B, H, Wr, Wl), v_l (B, 1, H, W), v_r (B, 1, H, W)): what iPASSR's
        training losses use besides the outputs."""
        b = hier_l.shape[0]
        h = torch.cat([self.norm(hier_l), self.norm(hier_r)])  # (2B, 4C, H, W), the norm per view
        h = h + self.refine(h)
        q, k = self.query(h[:b]), self.key(h[b:])  # (B, C, H, W)
        q = q - q.mean(-1, keepdim=True)
        k = k - k.mean(-1, keepdim=True)
        score = torch.matmul(q.permute(0, 2, 3, 1), k.permute(0, 2, 1, 3))  # (B, H, Wl, Wr)
        r2l = torch.softmax(score, dim=-1)
        l2r = torch.softmax(score.transpose(-1, -2), dim=-1)  # (B, H, Wr, Wl)
        v_l = torch.tanh(5 * cycle_validity(r2l, l2r)).unsqueeze(1)  # (B, 1, H, Wl)
        v_r = torch.tanh(5 * cycle_validity(l2r, r2l)).unsqueeze(1)
        return r2l, l2r, v_l, v_r

    def forward(
        self, x_l: torch.Tensor, x_r: torch.Tensor, hier_l: torch.Tensor, hier_r: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """x_l, x_r (B, C, H, W); hier_l, hier_r (B, groups*C, H, W) -> blended x_l, x_r."""
        r2l, l2r, v_l, v_r = self.attention(hier_l, hier_r)
        warped_l = torch.matmul(r2l, x_r.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)  # right warped onto left
        warped_r = torch.matmul(l2r, x_l.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return x_l * (1 - v_l) + warped_l * v_l, x_r * (1 - v_r) + warped_r * v_r
