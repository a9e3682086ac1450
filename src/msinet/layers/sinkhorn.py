"""Entropic optimal transport between the two views' pixels along each epipolar line (paper Algorithm 1).

Given a cost/score matrix M (..., W, W) whose rows are left-view pixels and columns right-view pixels,
log-domain Sinkhorn finds potentials u (rows) and v (columns) such that T = exp(M + u + v + log 2W) has
unit row and column sums (marginals 1/(2W), rescaled by 2W). The column potential is updated first and
the row potential last, so after a finite number of iterations rows sum to exactly 1 and columns to ~1.
"""
from __future__ import annotations

import math

import torch


def sinkhorn_log(scores: torch.Tensor, iters: int = 10) -> torch.Tensor:
    """Transport plan of Algorithm 1 for scores (..., W, W); returns a tensor of the same shape."""
    w = scores.shape[-1]
    if scores.shape[-2] != w:
        raise ValueError(f"Sinkhorn expects square (..., W, W) scores, got {tuple(scores.shape)}")
    log_marginal = -math.log(2 * w)
    u = scores.new_zeros(scores.shape[:-1])                      # (..., W) row potentials
    v = scores.new_zeros(scores.shape[:-2] + scores.shape[-1:])  # (..., W) column potentials
    for _ in range(iters):
        v = log_marginal - torch.logsumexp(scores + u.unsqueeze(-1), dim=-2)
        u = log_marginal - torch.logsumexp(scores + v.unsqueeze(-2), dim=-1)
    return (scores + u.unsqueeze(-1) + v.unsqueeze(-2) + math.log(2 * w)).exp()
