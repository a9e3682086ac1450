"""What every stereo SR model in msinet offers on top of nn.Module."""
from __future__ import annotations

import torch
from torch import nn


class StereoSRModel(nn.Module):
    """forward(left, right) -> (sr_left, sr_right); `.scale`; `.config` rebuilds the model from its arch.
    `model.upscale(left, right)` (numpy, PIL or tensors in, the same kind out) is msinet.upscale, attached by
    the package root: models never import the inference layer."""

    arch_name = "?"
    model_name: str | None = None

    # What the model can do, declared for the tiler, the exporter and the trainer (they never probe attributes).
    has_transport_plans = False   # keep_transport_plans() yields its DEAM layers, each keeping `.last_plan`
    supports_tlsc = False         # test-time local statistics: set_tlsc(window), config["tlsc_window"]
    supports_checkpoint_blocks = False  # train.checkpoint_blocks: `checkpoint_blocks` recomputes blocks in backward
    context_rows = 2              # LR rows of context a tiling band needs on each side (TLSC adds half a window)
    drop_path_rate = 0.0          # stochastic depth while training (whole blocks skipped); DDP must then allow
                                  # parameters without gradients
    static_drop_path = False      # train.compile: draw the stochastic-depth coin as a tensor (no Python branch)

    def tile_context(self) -> int:
        """Rows of context each band of the row tiler carries on both sides (LR rows). A row's output depends
        on rows far away only faintly (docs/usage.md measures the tiled-vs-untiled agreement); with test-time
        local statistics its pooled statistics reach half a window up and down, so a band needs that much."""
        window = self.config.get("tlsc_window") if self.supports_tlsc else None
        return self.context_rows if window is None else max(self.context_rows, int(window[0]))

    def bytes_per_row(self, width: int) -> int:
        """Rough peak memory per LR row of a band (both views, batch 1, float32, no grad): by default the
        reconstruction output and its bilinear base, with headroom for a few such maps."""
        return 4 * 2 * 2 * 3 * self.scale ** 2 * width * 4

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
