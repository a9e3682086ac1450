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
class) load as they are: `msinet.load_model("CVHSSR_Tx4.pth")` (register_foreign below).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import CHIMB, CVIM, ViewPairBlock
from ..registry import register_arch, register_model
from .base import StereoSRModel
from .foreign import load_renamed, register_foreign
from .weights import WeightsError

# 1.5x the (30, 90) LR training patch: the window of the authors' test configs
TLSC_WINDOW = (45, 135)


def cross_view_block(channels: int) -> ViewPairBlock:
    """CHIMB on each view (same weights), then CVIM between the views."""
    return ViewPairBlock(CHIMB(channels), CVIM(channels))


@register_arch("cvhssr")
class CVHSSR(StereoSRModel):
    """tlsc_window: test-time local statistics window (h, w) in LR pixels, used at inference only
    (model.eval()); None keeps global pooling."""

    # channels_last on the CPU: 0.80x the contiguous time for cvhssr_t_x4 (benchmarks/bench_cpu_settings.py)
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


for s in (2, 4):
    for name in [f"cvhssr_t_x{s}"] + (["cvhssr_t"] if s == 4 else []):
        register_model(
            name,
            "cvhssr",
            f"CVHSSR-T x{s}: 48 channels, 16 blocks",
            scale=s,
            channels=48,
            num_blocks=16,
            drop_path_rate=0.0,
            tlsc_window=TLSC_WINDOW,
        )


# ------------------------------------------------------------------------------------------------------------
# the authors' checkpoints: keys of their CVHSSR class -> ours
#
#   intro.*, up.0.*                                   -> intro.*, head.0.*
#   body.<i>.module.blk.<CHIMB>                       -> blocks.<i>.intra.<...>
#   body.<i>.module.fusion.<CVIM>                     -> blocks.<i>.fusion.<...>

_TOP = {"intro": "intro", "up.0": "head.0"}
_BLOCK = {
    "norm1": "mixer.norm",
    "conv1": "mixer.expand",
    "conv2": "mixer.dwconv",
    "sca2.1": "mixer.sca.proj",
    "sca1.conv0": "mixer.lka.local",
    "sca1.conv_spatial": "mixer.lka.dilated",
    "sca1.conv1": "mixer.lka.proj",
    "conv3": "mixer.project",
    "beta": "mixer.beta",
    "norm2": "ffn.norm",
    "conv4": "ffn.expand",
    "conv5": "ffn.dwconv",
    "conv6": "ffn.project",
    "gamma": "ffn.gamma",
}
_FUSION = {
    "norm_l": "norm_l",
    "norm_r": "norm_r",
    "l_proj1": "query_l",
    "r_proj1": "query_r",
    "l_proj2": "value_l",
    "r_proj2": "value_r",
    "l_proj3": "out_l",
    "r_proj3": "out_r",
    "beta": "scale_l",
    "gamma": "scale_r",
}
_BODY_KEY = re.compile(r"body\.(\d+)\.module\.(blk|fusion)\.(.+)")
# modules no other family has: CHIMB's LKA (sca1) and gated FFN output (conv6), CVIM's output projections
_SIGNATURE = re.compile(r"body\.\d+\.module\.(blk\.(sca1|sca2|conv6)|fusion\.(l|r)_proj3)\.")


@dataclass(frozen=True)
class CVHSSRLayout:
    channels: int
    num_blocks: int
    scale: int
    family: str = "cvhssr"

    def describe(self) -> str:
        return f"CVHSSR (authors' code): x{self.scale}, {self.channels} channels, {self.num_blocks} blocks, CVIM"


def _their_key(ours: str) -> str:
    """The authors' name of one of our state-dict keys."""
    for mine, theirs in ((v, k) for k, v in _TOP.items()):
        if ours.startswith(mine + "."):
            return theirs + ours[len(mine) :]
    _, index, part, rest = ours.split(".", 3)  # blocks.<i>.intra|fusion.<rest>
    table, where = (_BLOCK, "blk") if part == "intra" else (_FUSION, "fusion")
    for theirs, mine in table.items():
        if rest == mine or rest.startswith(mine + "."):
            return f"body.{index}.module.{where}.{theirs}{rest[len(mine) :]}"
    raise KeyError(ours)  # a module of ours with no counterpart: a bug in the tables above


def matches(state: dict) -> bool:
    return "intro.weight" in state and any(_SIGNATURE.match(k) for k in state)


def _shape(state, key, source) -> tuple[int, ...]:
    if key not in state:
        raise WeightsError(f"{source}: missing key {key!r}; not a checkpoint of the CVHSSR code")
    return tuple(state[key].shape)


def inspect_layout(state: dict, source) -> CVHSSRLayout:
    intro = _shape(state, "intro.weight", source)
    up = _shape(state, "up.0.weight", source)
    if len(intro) != 4 or intro[1:] != (3, 3, 3):
        raise WeightsError(f"{source}: 'intro.weight' has shape {intro}; expected (channels, 3, 3, 3)")
    channels = intro[0]
    scales = {3 * s * s: s for s in (2, 3, 4)}
    if len(up) != 4 or up[0] not in scales or up[1] != channels:
        raise WeightsError(
            f"{source}: 'up.0.weight' has shape {up}; expected (3*s^2, {channels}, 3, 3) with s in 2, 3, 4"
        )
    blocks = {int(m.group(1)) for m in map(_BODY_KEY.fullmatch, state) if m is not None}
    if not blocks:
        raise WeightsError(f"{source}: no 'body.<i>.module.blk' keys; not a checkpoint of the CVHSSR code")
    return CVHSSRLayout(channels, max(blocks) + 1, scales[up[0]])


def load(state: dict, source, **overrides) -> CVHSSR:
    """A CVHSSR holding an authors' checkpoint, with their test-time local statistics (45x135) unless overridden."""
    layout = inspect_layout(state, source)
    config = {
        **dict(
            scale=layout.scale,
            channels=layout.channels,
            num_blocks=layout.num_blocks,
            drop_path_rate=0.0,
            tlsc_window=TLSC_WINDOW,
        ),
        **overrides,
    }
    return load_renamed("cvhssr", config, state, _their_key, source, layout)


register_foreign("cvhssr", matches, load)
