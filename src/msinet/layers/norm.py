"""Channel-wise LayerNorm for NCHW feature maps (NAFNet's LayerNorm2d)."""

import torch
from torch import nn

from . import inference_fold


class LayerNorm2d(nn.Module):
    """Normalise each pixel over its channels; affine per channel.

    Written as explicit mean/variance (biased) so that results match the reference codes bit for bit
    rather than to F.layer_norm's slightly different rounding.
    """

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if inference_fold.active(x):  # one fused kernel on channels_last features (rounding differs, ~1e-7)
            return inference_fold.layer_norm_channels(x, self.weight, self.bias, self.eps)
        mu = x.mean(1, keepdim=True)
        var = (x - mu).pow(2).mean(1, keepdim=True)
        y = (x - mu) / (var + self.eps).sqrt()
        return self.weight.view(1, -1, 1, 1) * y + self.bias.view(1, -1, 1, 1)
