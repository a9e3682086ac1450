"""The training objective of MSINet (paper eq. 4): pixel MSE + lambda * mean |FFT(SR) - FFT(HR)|.

Both views are stacked along channels (B, 6, H, W). The spectrum is torch.fft.rfft2 (norm="backward",
i.e. unnormalised) over the last two dimensions; the complex difference is reduced as the mean absolute
real part plus the mean absolute imaginary part (the L1 norm of the difference seen as a pair of real
tensors, as in the authors' released code), not the complex modulus.
"""

from __future__ import annotations

import torch
from torch import nn


def frequency_l1(sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
    diff = torch.fft.rfft2(sr.float(), norm="backward") - torch.fft.rfft2(hr.float(), norm="backward")
    return diff.real.abs().mean() + diff.imag.abs().mean()


class StereoSRLoss(nn.Module):
    """loss((sr_l, sr_r), (hr_l, hr_r)) = MSE + freq_weight * frequency L1; freq_weight=0 gives plain MSE."""

    def __init__(self, freq_weight: float = 0.01):
        super().__init__()
        if freq_weight < 0:
            raise ValueError(f"freq_weight must be >= 0, got {freq_weight}")
        self.freq_weight = freq_weight

    def forward(self, sr: tuple[torch.Tensor, torch.Tensor], hr: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        sr6, hr6 = torch.cat(sr, dim=1), torch.cat(hr, dim=1)
        loss = torch.mean((sr6 - hr6) ** 2)
        if self.freq_weight:
            loss = loss + self.freq_weight * frequency_l1(sr6, hr6)
        return loss
