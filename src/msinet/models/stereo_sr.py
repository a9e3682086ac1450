"""The stereo SR trunk shared by MSINet and NAFSSR.

    left, right (B,3,h,w)
      -> 3x3 conv per view (shared weights)                      (2B, C, h, w): both views ride in one batch
      -> N x [ intra-view block (MSCAB / NAFBlock) -> cross-view fusion (DEAM / SCAM / none) ]
      -> 3x3 conv to 3*s^2 channels -> PixelShuffle(s)            (2B, 3, sh, sw)
      + bilinear upsampling of the input (global residual)
      -> sr_left, sr_right

MSINet = multi-scale MSCAM + DEAM; NAFSSR = NAFNet's block + SCAM; the paper's ablations mix the two.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import DEAM, FUSIONS, MSCAB
from ..layers.sinkhorn import METHODS as SINKHORN_METHODS
from ..registry import register_arch
from .base import StereoSRModel


class StereoBlock(nn.Module):
    """One intra-view block applied to both views, then (optionally) cross-view fusion."""

    def __init__(
        self,
        channels: int,
        fusion: str,
        multiscale: bool,
        lska_kernels,
        lska_branch_of_group,
        sinkhorn_iters: int,
        sinkhorn_method: str = "auto",
        stack_views: bool = True,
    ):
        super().__init__()
        self.stack_views = stack_views
        self.intra = MSCAB(channels, multiscale, lska_kernels, lska_branch_of_group)
        cls = FUSIONS[fusion]
        if cls is None:
            self.fusion = None
        elif cls is DEAM:
            self.fusion = DEAM(channels, sinkhorn_iters, sinkhorn_method)
        else:
            self.fusion = cls(channels)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:  # (2B, C, H, W), left views first
        b = feats.shape[0] // 2  # slicing rather than chunk(): keeps the batch dynamic under torch.export
        if self.stack_views:
            feats = self.intra(feats)
            left, right = feats[:b], feats[b:]
        else:  # one view at a time, as the reference codes run: their exact float rounding (oneDNN kernels
            left, right = self.intra(feats[:b]), self.intra(feats[b:])  # are chosen by batch shape)
        if self.fusion is not None:
            left, right = self.fusion(left, right)
        return torch.cat([left, right], dim=0)


@register_arch("stereo_sr")
class StereoSRNet(StereoSRModel):
    """Configurable stereo SR network; see the registry (msinet_*, nafssr_*) for the published settings.

    tlsc_window: test-time local statistics window (h, w) in LR pixels, used at inference only
    (model.eval()); None keeps global pooling. The default (45, 135) is 1.5x the 30x90 training patch.
    """

    # channels_last on the CPU: 0.82x the contiguous time for msinet_small_x4 on a KITTI-size pair (AMD EPYC,
    # one thread, benchmarks/bench_cpu_settings.py), 0.83x for nafssr_s, 0.89x for msinet_x4; same outputs
    cpu_channels_last = True

    def __init__(
        self,
        scale: int = 4,
        channels: int = 64,
        num_blocks: int = 32,
        fusion: str = "deam",
        multiscale: bool = True,
        lska_kernels=(7, 11, 23, 35),
        lska_branch_of_group=None,
        sinkhorn_iters: int = 10,
        drop_path_rate: float = 0.1,
        tlsc_window=(45, 135),
        sinkhorn_method: str = "auto",
        stack_views: bool = True,
    ):
        super().__init__(scale)
        if fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {', '.join(FUSIONS)}, got {fusion!r}")
        self.set_common(drop_path_rate, channels, num_blocks=num_blocks)
        if sinkhorn_iters < 1:
            raise ValueError(f"sinkhorn_iters must be at least 1, got {sinkhorn_iters}")
        if sinkhorn_method not in SINKHORN_METHODS:  # "log" reproduces the authors' code's rounding
            raise ValueError(f"sinkhorn_method must be one of {', '.join(SINKHORN_METHODS)}, got {sinkhorn_method!r}")
        lska_kernels = tuple(lska_kernels)
        lska_branch_of_group = None if lska_branch_of_group is None else tuple(lska_branch_of_group)
        self._config = dict(
            scale=scale,
            channels=channels,
            num_blocks=num_blocks,
            fusion=fusion,
            multiscale=multiscale,
            lska_kernels=list(lska_kernels),
            lska_branch_of_group=None if lska_branch_of_group is None else list(lska_branch_of_group),
            sinkhorn_iters=sinkhorn_iters,
            drop_path_rate=drop_path_rate,
            tlsc_window=None if tlsc_window is None else list(tlsc_window),
            sinkhorn_method=sinkhorn_method,
            stack_views=stack_views,
        )
        self.intro = nn.Conv2d(3, channels, 3, padding=1)
        self.blocks = nn.ModuleList(
            StereoBlock(
                channels,
                fusion,
                multiscale,
                lska_kernels,
                lska_branch_of_group,
                sinkhorn_iters,
                sinkhorn_method,
                stack_views,
            )
            for _ in range(num_blocks)
        )
        self.head = nn.Sequential(nn.Conv2d(channels, 3 * scale**2, 3, padding=1), nn.PixelShuffle(scale))
        self.set_tlsc(tlsc_window)

    supports_tlsc = True
    supports_checkpoint_blocks = True
    context_rows = 32  # measured: tiled and untiled outputs agree to < 0.3 of an 8-bit level (docs/usage.md)

    @property
    def has_transport_plans(self) -> bool:
        return any(isinstance(f, DEAM) for f in self.fusions)

    def bytes_per_row(self, width: int) -> int:
        # calibrated on msinet_x4 at W=960 on CPU (13 MB per row measured, 16 MB estimated): about eight
        # (2 views, C, W) feature maps and three (W, W) score/plan matrices are alive at the peak
        head = 2 * 2 * 3 * self.scale**2 * width * 4
        convs = 8 * 2 * self._config["channels"] * width * 4
        fusion = 3 * width * width * 4 if self.fusions else 0
        return head + convs + fusion

    @property
    def fusions(self) -> list[nn.Module]:
        return [b.fusion for b in self.blocks if b.fusion is not None]

    @contextmanager
    def keep_transport_plans(self):
        """Within the block, every DEAM keeps its last plan in `.last_plan` (B, H, W_left, W_right)."""
        deams = [f for f in self.fusions if isinstance(f, DEAM)]
        for d in deams:
            d.keep_plan = True
        try:
            yield deams
        finally:
            for d in deams:
                d.keep_plan = False

    def forward(self, left: torch.Tensor, right: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.check_inputs(left, right)
        x = torch.cat([left, right], dim=0)  # (2B, 3, h, w)
        base = F.interpolate(x, scale_factor=self.scale, mode="bilinear", align_corners=False)
        # per view, as the reference codes: oneDNN picks the 3-channel conv's algorithm by batch shape (~1e-6 apart)
        feats = torch.cat([self.intro(left), self.intro(right)], dim=0)
        for block in self.blocks:
            feats = self.run_block(block, feats)
        out = self.head(feats) + base
        b = left.shape[0]
        sr_left, sr_right = out[:b], out[b:]
        return sr_left, sr_right
