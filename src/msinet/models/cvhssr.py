"""CVHSSR (Zou et al., "Cross-View Hierarchy Network for Stereo Image Super-Resolution", CVPRW 2023).

    left, right (B,3,h,w)
      -> 3x3 conv per view (shared weights)                 (2B, C, h, w): both views ride in one batch
      -> N x [ CHIMB per view (channel + large-kernel attention, gated FFN) -> CVIM cross-view attention ]
      -> 3x3 conv to 3*s^2 channels -> PixelShuffle(s)       (2B, 3, sh, sw)
      + bilinear upsampling of the input (global residual)
      -> sr_left, sr_right

The trunk is NAFSSR's; the blocks are the paper's (layers/chimb.py, layers/cvim.py). CVHSSR-T has 48 channels,
16 blocks; the authors' test configs convert global pooling to test-time local statistics with
train_size (1, 6, 30, 90), i.e. a 45x135 window, so the registered models use that window.

The authors' released checkpoints (github AlexZou14/CVHSSR, BasicSR `{"params": state}` of their `CVHSSR`
class) load as they are: `msinet.load_model("CVHSSR_Tx4.pth")` (the adapter below).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import CHIMB, CVIM, ViewPairBlock
from ..registry import register_family
from .base import StereoSRModel
from .family import Adapter, Family, sizes_at_scales
from .foreign import block_indices, head_scale, intro_channels, rename
from .stereo_sr import SCAM_KEYS

# 1.5x the (30, 90) LR training patch: the window of the authors' test configs
TLSC_WINDOW = (45, 135)


def cross_view_block(channels: int) -> ViewPairBlock:
    """CHIMB on each view (same weights), then CVIM between the views."""
    return ViewPairBlock(CHIMB(channels), CVIM(channels))


class CVHSSR(StereoSRModel):
    """tlsc_window: test-time local statistics window (h, w) in LR pixels, used at inference only
    (model.eval()); None keeps global pooling."""

    # channels_last on the CPU: 0.80x the contiguous time for cvhssr_t_x4 (benchmarks/bench_cpu_settings.py)
    arch_name = "cvhssr"
    cpu_channels_last = True
    supports_tlsc = True
    supports_checkpoint_blocks = True
    # each block's large kernel attention reaches 11 rows (5x5, then 7x7 dilated 3), so a cut is felt further
    # than in StereoSRNet: released x4 weights, a 93x160 KITTI crop in 16-row tiles with TLSC on, tiled vs
    # untiled: context 32 -> 74 dB (1.9 8-bit levels), 48 -> 98 dB (0.11), 64 -> 118 dB (0.01)
    context_rows = 48

    def __init__(
        self,
        scale: int = 4,
        channels: int = 48,
        num_blocks: int = 16,
        drop_path_rate: float = 0.0,
        tlsc_window=TLSC_WINDOW,
    ):
        super().__init__(scale)
        self.set_common(drop_path_rate, channels, num_blocks=num_blocks)
        self._config = dict(
            scale=scale, channels=channels, num_blocks=num_blocks, drop_path_rate=drop_path_rate, tlsc_window=None
        )
        self.intro = nn.Conv2d(3, channels, 3, padding=1)
        self.blocks = nn.ModuleList(cross_view_block(channels) for _ in range(num_blocks))
        self.head = nn.Sequential(nn.Conv2d(channels, 3 * scale**2, 3, padding=1), nn.PixelShuffle(scale))
        self.set_tlsc(tlsc_window)

    def bytes_per_row(self, width: int) -> int:
        # peak RSS of cvhssr_t_x4 on CPU, 48 LR rows: 5.8 MB per row at W=480, 19.7 at W=960 (estimated 6.4
        # and 22.1): the head output and its bilinear base, about eight (2 views, C, W) maps, and five
        # (W, W) matrices of CVIM (scores, their transpose, two softmaxes, a product's workspace)
        head = 2 * 2 * 3 * self.scale**2 * width * 4
        convs = 8 * 2 * self._config["channels"] * width * 4
        fusion = 5 * width * width * 4
        return head + convs + fusion

    def forward(self, left: torch.Tensor, right: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.check_inputs(left, right)
        x = torch.cat([left, right], dim=0)  # (2B, 3, h, w)
        base = F.interpolate(x, scale_factor=self.scale, mode="bilinear", align_corners=False)
        feats = self.intro(x)
        for block in self.blocks:
            feats = self.run_block(block, feats)
        out = self.head(feats) + base
        b = left.shape[0]
        return out[:b], out[b:]


# ------------------------------------------------------------------------------------------------------------
# the authors' checkpoints (AlexZou14/CVHSSR, BasicSR {"params": state} of their CVHSSR class): our key -> theirs
#
#   intro.*, head.0.*                                 <- intro.*, up.0.*
#   blocks.<i>.intra.<CHIMB>                          <- body.<i>.module.blk.<...>
#   blocks.<i>.fusion.<CVIM>                          <- body.<i>.module.fusion.<...>

_TOP = {"intro": "intro", "head.0": "up.0"}
_BLOCK = {
    "mixer.norm": "norm1",
    "mixer.expand": "conv1",
    "mixer.dwconv": "conv2",
    "mixer.sca.proj": "sca2.1",
    "mixer.lka.local": "sca1.conv0",
    "mixer.lka.dilated": "sca1.conv_spatial",
    "mixer.lka.proj": "sca1.conv1",
    "mixer.project": "conv3",
    "mixer.beta": "beta",
    "ffn.norm": "norm2",
    "ffn.expand": "conv4",
    "ffn.dwconv": "conv5",
    "ffn.project": "conv6",
    "ffn.gamma": "gamma",
}
_FUSION = {**SCAM_KEYS, "out_l": "l_proj3", "out_r": "r_proj3"}  # CVIM: SCAM + output projections
_BODY_KEY = re.compile(r"body\.(\d+)\.module\.(blk|fusion)\.")
# modules no other family has: CHIMB's LKA (sca1) and gated FFN output (conv6), CVIM's output projections
_SIGNATURE = re.compile(r"body\.\d+\.module\.(blk\.(sca1|sca2|conv6)|fusion\.(l|r)_proj3)\.")


@dataclass(frozen=True)
class CVHSSRLayout:
    channels: int
    num_blocks: int
    scale: int
    family: str = "cvhssr"

    def config(self) -> dict:
        # the authors' test configs: test-time local statistics with train_size (1, 6, 30, 90)
        return dict(scale=self.scale, channels=self.channels, num_blocks=self.num_blocks, tlsc_window=TLSC_WINDOW)

    def describe(self) -> str:
        return f"CVHSSR (authors' code): x{self.scale}, {self.channels} channels, {self.num_blocks} blocks, CVIM"


def their_key(ours: str, config: dict) -> str:
    if not ours.startswith("blocks."):
        return rename(ours, _TOP)
    _, index, part, rest = ours.split(".", 3)  # blocks.<i>.intra|fusion.<rest>
    if part == "intra":
        return f"body.{index}.module.blk." + rename(rest, _BLOCK)
    return f"body.{index}.module.fusion." + rename(rest, _FUSION)


def matches(state: dict) -> bool:
    return "intro.weight" in state and any(_SIGNATURE.match(k) for k in state)


def inspect_layout(state: dict, source) -> CVHSSRLayout:
    channels = intro_channels(state, "intro.weight", source, "CVHSSR")
    scale = head_scale(state, "up.0.weight", channels, source, "CVHSSR")
    return CVHSSRLayout(channels, block_indices(state, _BODY_KEY, source, "body."), scale)


register_family(
    Family(
        name="cvhssr",
        title="CVHSSR (Zou et al., CVPRW 2023)",
        network=CVHSSR,
        sizes=(
            *sizes_at_scales("cvhssr_t", "CVHSSR-T: 48 channels, 16 blocks", channels=48, num_blocks=16),
            # CVHSSR-S: the authors' config trains with drop-path 0.1
            *sizes_at_scales(
                "cvhssr_s", "CVHSSR-S: 64 channels, 32 blocks", channels=64, num_blocks=32, drop_path_rate=0.1
            ),
        ),
        adapter=Adapter(matches, inspect_layout, their_key),
    )
)
