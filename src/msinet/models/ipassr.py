"""iPASSR (Wang et al., "Symmetric Parallax Attention for Stereo Image Super-Resolution", CVPRW 2021).

    left, right (B,3,h,w), both views in one batch (2B) except in the parallax attention
      -> 3x3 conv to C                                                  (2B, C, h, w)
      -> residual dense group (4 blocks)  -> f, and its blocks' outputs hier (2B, 4C, h, w)
      -> symmetric parallax attention: f of each view blended with the other view warped onto it by
         row-wise attention built from hier, where a left-right-left cycle says it is valid   (2B, C, h, w)
      -> fusion: residual dense block on cat(f, blended) (2C) -> channel attention -> 1x1 to C
      -> residual dense group (4 blocks)
      -> 1x1 conv to C*s^2 -> PixelShuffle(s) -> 3x3 conv to 3        (2B, 3, sh, sw)
      + bicubic upsampling of the input (global residual)
      -> sr_left, sr_right

The authors' code is github YingqianWang/iPASSR, model.py (class Net, 64 channels); its checkpoints
(`{"state_dict": state}`, as its train.py saves them) load as they are: `msinet.load_model("iPASSR_4xSR.pth.tar")`
(the adapter below). This network is their `forward(left, right, is_training=0)` in eval mode: the batch norm
of the attention uses its running statistics. (Their test.py never calls net.eval(): `is_training` only selects
what forward returns, so the outputs behind their published numbers normalised the attention's features with
each test image's own statistics, per view.)
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import ResidualDenseBlock, ResidualDenseGroup, SymmetricParallaxAttention
from ..registry import register_family
from .base import StereoSRModel
from .family import Adapter, Family, sizes_at_scales
from .foreign import head_scale, intro_channels, rename


class ChannelGate(nn.Module):
    """RCAN's channel attention: x * sigmoid(expand(LeakyReLU_0.1(reduce(mean over the image of x))))."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        self.reduce = nn.Conv2d(channels, channels // reduction, 1)
        self.expand = nn.Conv2d(channels // reduction, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        stats = x.mean((-2, -1), keepdim=True)  # (B, C, 1, 1): the whole image (or tile)
        return x * torch.sigmoid(self.expand(F.leaky_relu(self.reduce(stats), 0.1)))


class IPASSRNet(StereoSRModel):
    """channels: C (a multiple of 8; the authors' is 64). Dense growth 24 in the two groups, 32 in the fusion."""

    arch_name = "ipassr"
    # channels_last on the CPU: 0.76-0.91x the contiguous time for ipassr_x4 (94x310 LR, one thread, 3 runs of
    # 3-6 alternating rounds on a shared core; the same outputs to 7e-7)
    cpu_channels_last = True
    # Receptive field: 3x3 intro (1 row), 2 x 4 dense blocks of four 3x3 convs (16 + 16), the attention's two
    # 3x3 convs (2), the fusion block (4), the last 3x3 conv (1 HR row, so 1 LR row) = 40 LR rows each way
    # (checked: the input rows an output row's gradient reaches); the attention is along rows and adds none.
    # Beyond that only the fusion's channel gate, which pools the whole tile, feels a cut. Random-weight
    # checkpoint, 32-row tiles, real x4 LR pairs, 8-bit output, tiled vs untiled: KITTI 311x94 context 16 ->
    # max 0.21 levels (mean 0.025), 40 -> 0.07 (0.006); Middlebury 186x125 context 16 -> 0.05, 40 -> 0.05.
    # Trained weights may well be more sensitive: 40 is chosen to cover the receptive field, not from these.
    context_rows = 40

    def __init__(self, scale: int = 4, channels: int = 64):
        super().__init__(scale)
        self.set_common(0.0, channels, 8)
        self._config = dict(scale=scale, channels=channels)
        c = channels
        self.intro = nn.Conv2d(3, c, 3, padding=1)
        self.deep = ResidualDenseGroup(c, num_blocks=4, num_convs=4, growth=24)
        self.parallax = SymmetricParallaxAttention(c, groups=4)
        self.fusion = nn.Sequential(
            OrderedDict(
                dense=ResidualDenseBlock(2 * c, num_convs=4, growth=32),
                gate=ChannelGate(2 * c),
                project=nn.Conv2d(2 * c, c, 1),
            )
        )
        self.reconstruct = ResidualDenseGroup(c, num_blocks=4, num_convs=4, growth=24)
        self.head = nn.Sequential(nn.Conv2d(c, c * scale**2, 1), nn.PixelShuffle(scale), nn.Conv2d(c, 3, 3, padding=1))

    def bytes_per_row(self, width: int) -> int:
        # peak RSS of ipassr_x4 on CPU, 64 LR rows: 12.4-13.2 MB per row at W=480, 24.3 at W=960 (estimated 11.8 and
        # 26.3). The peak is either the head (the (2 views, C*s^2, W) 1x1 output and its shuffled copy) or the
        # attention (five (W, W) matrices per row while the valid masks are computed: scores, two softmaxes, the
        # padded and relaxed copies), whichever is larger, over about four (2 views, 4C, W) feature maps
        c = self._config["channels"]
        features = 4 * 2 * 4 * c * width * 4
        head = 2 * 2 * c * self.scale**2 * width * 4
        attention = 5 * width * width * 4
        return features + max(head, attention)

    def repeated_blocks(self) -> list[nn.Module]:
        return [*self.deep.blocks, self.parallax, self.fusion, *self.reconstruct.blocks]

    def forward(self, left: torch.Tensor, right: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.check_inputs(left, right)
        b = left.shape[0]
        x = torch.cat([left, right], dim=0)  # (2B, 3, h, w)
        base = F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False)
        feats, hier = self.deep(self.intro(x))  # (2B, C, h, w), (2B, 4C, h, w)
        blended = torch.cat(self.parallax(feats[:b], feats[b:], hier[:b], hier[b:]))  # (2B, C, h, w)
        fused = self.fusion(torch.cat([feats, blended], dim=1))
        out = self.head(self.reconstruct(fused)[0]) + base
        return out[:b], out[b:]


# ------------------------------------------------------------------------------------------------------------
# the authors' checkpoints (YingqianWang/iPASSR, {"state_dict": state} of their Net): our key -> theirs
#
#   intro.*, head.{0,2}.*                              <- init_feature.*, upscale.{0,2}.*
#   deep|reconstruct.blocks.<i>.convs.<j>.*            <- deep_feature|reconstruct.RDB.<i>.conv.<j>.conv.*
#   deep|reconstruct.blocks.<i>.fuse.*, ...fuse.*      <- ...RDB.<i>.LFF.*, ...conv.*
#   parallax.{norm, refine.{0,2}, query, key}.*        <- pam.{bn, rb.body.{0,2}, bq, bs}.*
#   fusion.dense.<block>, fusion.gate.{reduce, expand}, fusion.project  <- fusion.0.<block>, fusion.1.conv_du.{0,2},
#                                                         fusion.2

_GROUPS = {"deep": "deep_feature", "reconstruct": "reconstruct"}
_TOP = {
    "intro": "init_feature",
    "parallax.norm": "pam.bn",
    "parallax.refine": "pam.rb.body",
    "parallax.query": "pam.bq",
    "parallax.key": "pam.bs",
    "fusion.gate.reduce": "fusion.1.conv_du.0",
    "fusion.gate.expand": "fusion.1.conv_du.2",
    "fusion.project": "fusion.2",
    "head": "upscale",
}
# modules no other family has: the dense blocks of the two groups, the parallax attention's projections
_SIGNATURE = re.compile(r"(deep_feature|reconstruct)\.RDB\.\d+\.|pam\.(bq|bs|rb|bn)\.")


@dataclass(frozen=True)
class IPASSRLayout:
    channels: int
    scale: int
    family: str = "ipassr"

    def config(self) -> dict:
        return dict(scale=self.scale, channels=self.channels)

    def describe(self) -> str:
        return f"iPASSR (authors' code): x{self.scale}, {self.channels} channels, symmetric parallax attention"


def _their_dense_block(path: str) -> str:
    """'convs.<j>.weight' -> 'conv.<j>.conv.weight', 'fuse.bias' -> 'LFF.bias'."""
    if path.startswith("convs."):
        _, j, leaf = path.split(".", 2)
        return f"conv.{j}.conv.{leaf}"
    return rename(path, {"fuse": "LFF"})


def their_key(ours: str, layout: IPASSRLayout) -> str:
    top, _, rest = ours.partition(".")
    if top in _GROUPS:
        if rest.startswith("blocks."):  # blocks.<i>.<block>
            _, i, block = rest.split(".", 2)
            return f"{_GROUPS[top]}.RDB.{i}." + _their_dense_block(block)
        return f"{_GROUPS[top]}." + rename(rest, {"fuse": "conv"})
    if ours.startswith("fusion.dense."):
        return "fusion.0." + _their_dense_block(ours[len("fusion.dense.") :])
    return rename(ours, _TOP)


def matches(state: dict) -> bool:
    return any(_SIGNATURE.match(k) for k in state)


def inspect_layout(state: dict, source) -> IPASSRLayout:
    channels = intro_channels(state, "init_feature.weight", source, "iPASSR", multiple=8)
    scale = head_scale(state, "upscale.0.weight", channels, source, "iPASSR", per_scale=channels)
    return IPASSRLayout(channels, scale)


register_family(
    Family(
        name="ipassr",
        title="iPASSR (Wang et al., CVPRW 2021)",
        network=IPASSRNet,
        sizes=sizes_at_scales("ipassr", "iPASSR: 64 channels, symmetric parallax attention", channels=64),
        adapter=Adapter(matches, inspect_layout, their_key),
    )
)
