"""What every stereo SR model in msinet offers on top of nn.Module."""
from __future__ import annotations

import torch
from torch import nn


class StereoSRModel(nn.Module):
    """forward(left, right) -> (sr_left, sr_right); `.scale`; `.config` rebuilds the model from its arch."""

    arch_name = "?"
    model_name: str | None = None

    def __init__(self, scale: int):
        super().__init__()
        if scale not in (2, 3, 4):
            raise ValueError(f"scale must be 2, 3 or 4, got {scale!r}")
        self.scale = scale
        self._config: dict = {}

    @property
    def config(self) -> dict:
        """Architecture name and constructor arguments: enough to rebuild the model (saved with weights)."""
        return {"arch": self.arch_name, **self._config}

    @staticmethod
    def check_inputs(left: torch.Tensor, right: torch.Tensor) -> None:
        for name, x in (("left", left), ("right", right)):
            if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1] != 3:
                shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
                raise ValueError(f"{name} view must be a (B, 3, H, W) tensor, got {shape}")
        if left.shape != right.shape:
            raise ValueError(f"left and right views differ in shape: {tuple(left.shape)} vs {tuple(right.shape)}")

    def upscale(self, left, right, **options):
        """Super-resolve one stereo pair given as numpy arrays, PIL images or tensors; returns the same kind."""
        from ..infer.upscale import upscale_pair  # lazy: keeps `import msinet` light; infer never imports models

        return upscale_pair(self, left, right, **options)
