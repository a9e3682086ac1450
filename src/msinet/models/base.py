"""What every stereo SR model in msinet offers on top of nn.Module."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..layers.channel_attention import SimplifiedChannelAttention


class StereoSRModel(nn.Module):
    """forward(left, right) -> (sr_left, sr_right); `.scale`; `.config` rebuilds the model from its arch.
    `model.upscale(left, right)` (numpy, PIL or tensors in, the same kind out) is msinet.upscale, attached by
    the package root: models never import the inference layer."""

    arch_name = "?"
    model_name: str | None = None

    # What the model can do, declared for the tiler, the exporter and the trainer: they ask these and the methods
    # below (repeated_blocks, block_applications, transport_layers, bytes_per_row, tile_context, parameter_rows),
    # never the model's class.
    has_transport_plans = False  # keep_transport_plans() yields its DEAM layers, each keeping `.last_plan`
    supports_tlsc = False  # test-time local statistics: set_tlsc(window), config["tlsc_window"]
    supports_checkpoint_blocks = False  # train.checkpoint_blocks: `checkpoint_blocks` recomputes blocks in backward
    context_rows = 2  # LR rows of context a tile needs on each side (TLSC adds half a window)
    cpu_channels_last = False  # inference on the CPU is faster with channels_last weights and inputs (measured)
    view_symmetric = False  # swapping the input views swaps the outputs (both views share every weight)
    exact_tiling = False  # row tiles with tile_context() rows of context reproduce the whole image exactly
    drop_path_rate = 0.0  # stochastic depth while training (whole blocks skipped); DDP must then allow
    # parameters without gradients
    # Training-time execution switches (not part of the architecture, not saved with the weights):
    # checkpoint_blocks: keep only each block's input and recompute its inside during backward (memory
    #   ~ one block instead of all of them, ~1.3x the compute);
    # static_drop_path: draw the stochastic-depth coin as a tensor and always run the block (no Python branch
    #   on a device value: graph capture / torch.compile friendly). Same random draw, same result.
    checkpoint_blocks = False
    static_drop_path = False

    def repeated_blocks(self) -> list[nn.Module]:
        """The blocks the forward runs one after another, in order: the progress bar within a tile moves as each
        finishes, and the trainer's memory estimate counts saved activations block by block. Default: the
        members of every top-level ModuleList."""
        return [m for child in self.children() if isinstance(child, nn.ModuleList) for m in child]

    def block_applications(self) -> int:
        """Block runs in one forward (a recursive network runs some blocks several times)."""
        return len(self.repeated_blocks())

    def transport_layers(self) -> list[nn.Module]:
        """The optimal-transport (Sinkhorn) fusion layers: their iteration count and method are what an export
        fixes; has_transport_plans networks let them keep their plans."""
        return []

    def unused_parameters(self) -> set[str]:
        """Names of parameters the forward never uses, by design (e.g. a branch a released routing skips): they
        get no gradient and no checkpoint needs them to be meaningful."""
        return set()

    def parameter_rows(self) -> list[tuple[str, int]] | None:
        """(component, parameters) rows of `msinet models --breakdown`, or None: one row per top-level module."""
        return None

    def run_block(self, block: nn.Module, *inputs: torch.Tensor):
        """block(*inputs) -> tensors of the inputs' shapes, with stochastic depth while training (the whole block,
        both views and the whole batch, skipped with probability drop_path_rate) and block checkpointing."""

        def compute():
            if self.checkpoint_blocks and self.training and torch.is_grad_enabled():
                return checkpoint(block, *inputs, use_reentrant=False)  # RNG state replayed on recompute
            return block(*inputs)

        p = self.drop_path_rate
        if not self.training or p == 0.0:
            return compute()
        coin = torch.rand(())
        if self.static_drop_path:
            keep = (coin >= p).to(inputs[0].device, inputs[0].dtype) / (1.0 - p)
        elif coin < p:
            return inputs[0] if len(inputs) == 1 else inputs
        else:
            keep = 1.0 / (1.0 - p)
        out = compute()
        if len(inputs) == 1:
            return inputs[0] + (out - inputs[0]) * keep
        return tuple(x + (y - x) * keep for x, y in zip(inputs, out))

    def set_tlsc(self, window) -> None:
        """Test-time local statistics window (h, w) in LR pixels for every channel attention's pooling, or None
        for global pooling (used at inference only, model.eval())."""
        if not self.supports_tlsc:
            if window is None:
                return
            raise ValueError(f"{type(self).__name__} has no global pooling to convert; tlsc_window must be None")
        if window is not None:
            window = tuple(int(v) for v in window)
            if len(window) != 2 or min(window) < 1:
                raise ValueError(f"tlsc_window must be two positive integers (h, w), got {window}")
        self._config["tlsc_window"] = None if window is None else list(window)
        for m in self.modules():
            if isinstance(m, SimplifiedChannelAttention):
                m.local_window = window

    def tile_context(self) -> int:
        """Rows of context each tile of the row tiler carries on both sides (LR rows). A row's output depends
        on rows far away only faintly (docs/usage.md measures the tiled-vs-untiled agreement); with test-time
        local statistics its pooled statistics reach half a window up and down, so a tile needs that much."""
        window = self.config.get("tlsc_window") if self.supports_tlsc else None
        return self.context_rows if window is None else max(self.context_rows, int(window[0]))

    def bytes_per_row(self, width: int) -> int:
        """Rough peak memory per LR row of a tile (both views, batch 1, float32, no grad): by default the
        reconstruction output and its bilinear base, with headroom for a few such maps."""
        return 4 * 2 * 2 * 3 * self.scale**2 * width * 4

    def __init__(self, scale: int):
        super().__init__()
        if scale not in (2, 3, 4):
            raise ValueError(f"scale must be 2, 3 or 4, got {scale!r}")
        self.scale = scale
        self._config: dict = {}

    def set_common(self, drop_path_rate: float, channels: int, channels_multiple: int = 1, **counts: int) -> None:
        """Checks shared by the architectures' constructors (one line naming the argument), and drop_path_rate."""
        if not isinstance(channels, int) or channels <= 0 or channels % channels_multiple:
            what = "a positive integer" if channels_multiple == 1 else f"a positive multiple of {channels_multiple}"
            raise ValueError(f"channels must be {what}, got {channels!r}")
        for key, n in counts.items():
            if not isinstance(n, int) or n < 1:
                raise ValueError(f"{key} must be a positive integer, got {n!r}")
        if not 0.0 <= drop_path_rate < 1.0:
            raise ValueError(f"drop_path_rate must be in [0, 1), got {drop_path_rate}")
        self.drop_path_rate = drop_path_rate

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
