"""NAFRSSR (Chen et al., arXiv 2405.08423): a lightweight stereo SR network that reuses its blocks recursively.

    left, right (B,3,h,w)
      -> 3x3 conv per view (shared weights)                           (2B, C, h, w): both views in one batch
      -> early:  2 x [GroupedNAFBlock -> TiedSCAM], the pair run twice   (same weights both passes)
      -> middle: 4 x [GroupedConvMixer (4 groups, 1x1 after) -> TiedSCAM], run three times
      -> late:   4 x [GroupedNAFBlock -> TiedSCAM], run once
      -> 3x3 conv to 3*s^2 channels -> PixelShuffle(s)                 (2B, 3, sh, sw)
      -> Laplacian edge boost, a gain per view and colour channel
      + bicubic upsampling of the input (global residual)
      -> sr_left, sr_right

Recursion buys depth without weights: 10 stored blocks run as 20 (the paper's "16 blocks" counts the
2x2 + 4x3 recursive applications). There is no channel attention and so no global pooling anywhere: the
authors' test-time local statistics conversion (train_size (1, 6, 30, 90)) finds nothing to convert, and
this network has no `tlsc_window`.

Named configurations: NAFRSSR-T (72 channels, 344,799 parameters) and NAFRSSR-M (64 channels, 280,383), x4 as
published. The authors' .pth checkpoints load as they are (`msinet.load_model("NAFRSSR_T.pth")`).

NAFRSSR-S and -B (the authors' other file, NAFRSSR_B_Net.py) are not recursive: one body of N stored blocks,
each run once, all of the early/late kind (GroupedNAFBlock -> TiedSCAM); no middle blocks. Intro, head, edge
boost and bicubic residual are the same, and there is no global pooling either (NAFRSSRPlainNet):

    left, right -> 3x3 conv -> N x [GroupedNAFBlock -> TiedSCAM] -> 3x3 conv, PixelShuffle -> edge boost + bicubic

NAFRSSR-S: 80 channels, 34 blocks, 1,347,903 parameters; NAFRSSR-B: 120 channels, 70 blocks, 5,784,063 (x4).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import GroupedConvMixer, GroupedNAFBlock, LaplacianBoost, TiedSCAM, ViewPairBlock
from ..registry import register_family
from .base import StereoSRModel
from .family import Adapter, Family, sizes_at_scales
from .foreign import block_indices, head_scale, intro_channels, rename


def grouped_block(channels: int) -> ViewPairBlock:
    """NAFRSSR's full block: GroupedNAFBlock on each view (same weights), then the tied SCAM between the views."""
    return ViewPairBlock(GroupedNAFBlock(channels), TiedSCAM(channels))


class NAFRSSRBase(StereoSRModel):
    """What every NAFRSSR network shares around its trunk (`trunk`: the subclass's blocks, (2B, C, h, w) in and
    out): the intro conv, the PixelShuffle head, the Laplacian edge boost and the bicubic residual. Subclasses
    build `intro`, their blocks, then `upsample` and `edge` (`_build_head`), in that order."""

    def _build_head(self, channels: int, scale: int) -> None:
        self.upsample = nn.Sequential(nn.Conv2d(channels, 3 * scale**2, 3, padding=1), nn.PixelShuffle(scale))
        self.edge = LaplacianBoost(6)  # channels: left RGB, right RGB

    def bytes_per_row(self, width: int) -> int:
        # alive at the peak: a few (2 views, 2C, W) maps of a block, the three (W, W) score/softmax matrices
        # of a fusion, and at the end the 6-channel HR output, its edge map, bicubic base and sum (without
        # gradients the blocks run one at a time: their number does not matter). Twelve (2, C, W) maps: the
        # contiguous CPU peak of NAFRSSR-T/S at W=310 is 4.2-4.5 MB per row (eight gave 3.2-3.3).
        convs = 12 * 2 * self._config["channels"] * width * 4
        fusion = 3 * width * width * 4
        head = 5 * 6 * self.scale**2 * width * 4
        return convs + fusion + head

    def trunk(self, feats: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, left: torch.Tensor, right: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.check_inputs(left, right)
        b = left.shape[0]
        x = torch.cat([left, right], dim=1)  # (B, 6, h, w): the reference's channel layout of the pair
        base = F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False)
        feats = self.trunk(self.intro(torch.cat([left, right], dim=0)))  # (2B, C, h, w)
        out = self.upsample(feats)  # (2B, 3, sh, sw)
        out = self.edge(torch.cat([out[:b], out[b:]], dim=1)) + base  # (B, 6, sh, sw)
        return out[:, :3], out[:, 3:]


class NAFRSSRNet(NAFRSSRBase):
    """Stages (blocks, passes): early (early_blocks, early_passes), middle (middle_blocks, middle_passes),
    late (late_blocks, 1). drop_path_rate: stochastic depth per block application (each pass draws anew);
    the published models were trained without it."""

    arch_name = "nafrssr"
    # channels_last on the CPU: 0.79x the contiguous time for nafrssr_t_x4, 0.87x for nafrssr_m_x4
    # (benchmarks/bench_cpu_settings.py)
    cpu_channels_last = True

    def __init__(
        self,
        scale: int = 4,
        channels: int = 72,
        early_blocks: int = 2,
        early_passes: int = 2,
        middle_blocks: int = 4,
        middle_passes: int = 3,
        late_blocks: int = 4,
        drop_path_rate: float = 0.0,
    ):
        super().__init__(scale)
        counts = dict(
            early_blocks=early_blocks,
            early_passes=early_passes,
            middle_blocks=middle_blocks,
            middle_passes=middle_passes,
            late_blocks=late_blocks,
        )
        self.set_common(drop_path_rate, channels, 4, **counts)
        self._config = dict(scale=scale, channels=channels, **counts, drop_path_rate=drop_path_rate)
        self.intro = nn.Conv2d(3, channels, 3, padding=1)
        c = channels
        self.early = nn.ModuleList(grouped_block(c) for _ in range(early_blocks))
        self.middle = nn.ModuleList(
            ViewPairBlock(GroupedConvMixer(c, groups=4, pointwise=True), TiedSCAM(c)) for _ in range(middle_blocks)
        )
        self.late = nn.ModuleList(grouped_block(c) for _ in range(late_blocks))
        self._build_head(channels, scale)

    # Each block application reaches 2 LR rows further (depthwise + grouped 3x3) and its fusion a third, ~60
    # rows in all, but far rows count only faintly. Measured on NAFRSSR-T, Middlebury motorcycle, 24-row
    # tiles: tiled vs untiled max |diff| 0.001 of an 8-bit level with 32 rows of context (0.12 with 16).
    context_rows = 32

    def block_applications(self) -> int:
        c = self._config
        return c["early_blocks"] * c["early_passes"] + c["middle_blocks"] * c["middle_passes"] + c["late_blocks"]

    def trunk(self, feats: torch.Tensor) -> torch.Tensor:
        c = self._config
        for stage, passes in ((self.early, c["early_passes"]), (self.middle, c["middle_passes"]), (self.late, 1)):
            for _ in range(passes):
                for block in stage:
                    feats = self.run_block(block, feats)
        return feats


class NAFRSSRPlainNet(NAFRSSRBase):
    """NAFRSSR-S / -B: num_blocks full blocks (GroupedNAFBlock -> TiedSCAM), each run once; no recursion.
    drop_path_rate: stochastic depth per block (the authors trained NAFRSSR-S with 0.1)."""

    arch_name = "nafrssr_plain"
    # channels_last on the CPU, one thread, LR 94x310 x4 (the authors' random-weight S checkpoint of
    # ../shared/peers/arch, 3 alternating rounds on a shared 2-core machine): best 38.4 s vs 65.7 s contiguous,
    # 0.59x (0.59-0.77x round by round), outputs equal to 2e-6; nafrssr_b_x4 (random weights, one round): 70.2 s
    # vs 85.4 s, 0.82x
    cpu_channels_last = True
    # 34 block applications (70 for B) reaching 3 rows each, against NAFRSSR-T's 20 and its measured 32 rows. Not
    # measured on trained weights (the released S/B files are not here): the random-weight S checkpoint, 24-row
    # tiles of the Middlebury motorcycle (125x96 LR), is within 1e-4 of an 8-bit level of untiled from 8 rows of
    # context on (0.07 with 4), a bound for random weights only. 48 scales T's 32 by the depth; re-measure with
    # benchmarks/bench_tiling.py --weights NAFRSSR_S.pth / NAFRSSR_B.pth
    context_rows = 48

    def __init__(self, scale: int = 4, channels: int = 80, num_blocks: int = 34, drop_path_rate: float = 0.0):
        super().__init__(scale)
        self.set_common(drop_path_rate, channels, 4, num_blocks=num_blocks)
        self._config = dict(scale=scale, channels=channels, num_blocks=num_blocks, drop_path_rate=drop_path_rate)
        self.intro = nn.Conv2d(3, channels, 3, padding=1)
        self.blocks = nn.ModuleList(grouped_block(channels) for _ in range(num_blocks))
        self._build_head(channels, scale)

    def trunk(self, feats: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            feats = self.run_block(block, feats)
        return feats


# ---------------------------------------------------------------------------------------------------------
# The authors' checkpoints (JNUChenYiHong/NAFRSSR, a BasicSR fork): {"params": state} with the layout of
# their NAFSSR class (our path -> theirs):
#   intro.{weight,bias}; up.0.{weight,bias}; blur.weight (the 3x3 kernel); weight (1, 6, 1, 1) (the gains)
#   body1.<i> / mid.<i> / body2.<i> .module.blk.<block>   .module.fusion.<SCAM>      (our early / middle / late)
# and, for NAFRSSR-S/B (their NAFRSSR_B_Net.py), one body of full blocks:
#   body.<i>.module.blk.<block>   .module.fusion.<SCAM>                               (our blocks.<i>)

STAGES = {"early": "body1", "middle": "mid", "late": "body2"}
_BODIES = {**STAGES, "blocks": "body"}
_TOP = {"intro": "intro", "upsample.0": "up.0", "edge.kernel": "blur.weight", "edge.weight": "weight"}
_OUTER_BLOCK = {
    "mixer.norm": "norm1",
    "mixer.expand": "conv1",
    "mixer.dwconv": "conv2",
    "mixer.mix": "conv3",
    "mixer.beta": "beta",
    "ffn.norm": "norm2",
    "ffn.expand": "conv4",
    "ffn.project": "conv5",
    "ffn.gamma": "gamma",
}
# the middle block applies its grouped 3x3 (conv4) before its 1x1 (conv3), and scales by gamma
_MIDDLE_BLOCK = {
    "norm": "norm1",
    "expand": "conv1",
    "dwconv": "conv2",
    "mix": "conv4",
    "project": "conv3",
    "beta": "gamma",
}
_FUSION = {"norm": "norm_l", "query": "l_proj1", "scale_l": "beta", "scale_r": "gamma"}
_STAGE_KEY = re.compile(r"(body1|mid|body2)\.(\d+)\.module\.(blk|fusion)\.(.+)")
_BODY_KEY = re.compile(r"body\.(\d+)\.module\.(blk|fusion)\.")
_EDGE_KEYS = ("blur.weight", "weight")  # the edge boost's kernel and gains: top-level keys only NAFRSSR has


def their_key(ours: str, config: dict) -> str:
    """The authors' name of one of our state-dict keys."""
    stage = ours.split(".", 1)[0]
    if stage not in _BODIES:
        return rename(ours, _TOP)
    _, index, part, rest = ours.split(".", 3)
    if part == "fusion":
        return f"{_BODIES[stage]}.{index}.module.fusion." + rename(rest, _FUSION)
    table = _MIDDLE_BLOCK if stage == "middle" else _OUTER_BLOCK
    return f"{_BODIES[stage]}.{index}.module.blk." + rename(rest, table)


def matches(state: dict) -> bool:
    """The authors' layouts: stage-named bodies (body1 / mid / body2), which no other family uses; or
    (NAFRSSR-S/B) a single `body.<i>.module.blk/fusion` as MSINet, NAFSSR and CVHSSR number theirs, told
    apart by the edge boost's top-level `blur.weight` / `weight` (either one: a file missing the other is
    still NAFRSSR's, and refused naming it). EHFSSR nests `body.<i>.body.<j>`."""
    if any(_STAGE_KEY.fullmatch(k) for k in state):
        return True
    return any(k in state for k in _EDGE_KEYS) and any(_BODY_KEY.match(k) for k in state)


@dataclass(frozen=True)
class NAFRSSRLayout:
    """What the keys and shapes of an authors' NAFRSSR checkpoint say about the network."""

    channels: int
    scale: int
    blocks: tuple[int, int, int]  # stored blocks of body1, mid, body2
    family: str = "nafrssr"

    def config(self) -> dict:
        # the recursion counts are the published ones (the checkpoint cannot tell them)
        early, middle, late = self.blocks
        return dict(
            scale=self.scale, channels=self.channels, early_blocks=early, middle_blocks=middle, late_blocks=late
        )

    def describe(self) -> str:
        e, m, lt = self.blocks
        return (
            f"NAFRSSR (authors' code): x{self.scale}, {self.channels} channels, blocks {e}/{m}/{lt} (early/middle/late)"
        )


@dataclass(frozen=True)
class NAFRSSRPlainLayout:
    """An authors' NAFRSSR-S/B checkpoint (NAFRSSR_B_Net.py): one body of full blocks, no recursion."""

    channels: int
    scale: int
    num_blocks: int
    family: str = "nafrssr"

    def config(self) -> dict:
        return dict(scale=self.scale, channels=self.channels, num_blocks=self.num_blocks)

    def describe(self) -> str:
        return f"NAFRSSR (authors' code): x{self.scale}, {self.channels} channels, {self.num_blocks} blocks (one body)"


def inspect_layout(state: dict[str, torch.Tensor], source) -> NAFRSSRLayout | NAFRSSRPlainLayout:
    channels = intro_channels(state, "intro.weight", source, "NAFRSSR", multiple=4)
    scale = head_scale(state, "up.0.weight", channels, source, "NAFRSSR")
    if not any(_STAGE_KEY.fullmatch(k) for k in state):
        blocks = block_indices(state, re.compile(r"body\.(\d+)\.module\.blk\."), source, "body.")
        return NAFRSSRPlainLayout(channels, scale, blocks)
    counts = tuple(
        block_indices(state, re.compile(rf"{theirs}\.(\d+)\.module\.blk\."), source, f"{theirs}.")
        for theirs in STAGES.values()
    )
    return NAFRSSRLayout(channels, scale, counts)


def network_of(layout) -> type:
    """The class an authors' layout builds: the recursive stages (T/M) or the single body (S/B)."""
    return NAFRSSRPlainNet if isinstance(layout, NAFRSSRPlainLayout) else NAFRSSRNet


register_family(
    Family(
        name="nafrssr",
        title="NAFRSSR (Chen et al., arXiv 2405.08423)",
        network=NAFRSSRNet,
        sizes=(
            *sizes_at_scales("nafrssr_t", "NAFRSSR-T (72 channels, recursive)", scales=(4,), channels=72),
            *sizes_at_scales("nafrssr_m", "NAFRSSR-M (64 channels, recursive)", scales=(4,), channels=64),
            # S and B: one body, no recursion; drop-path 0.1 as in the authors' NAFRSSR-S training config (and
            # in the example of their NAFRSSR_B_Net.py: they published no training config for B)
            *sizes_at_scales(
                "nafrssr_s",
                "NAFRSSR-S (80 channels, 34 blocks)",
                scales=(4,),
                network=NAFRSSRPlainNet,
                channels=80,
                num_blocks=34,
                drop_path_rate=0.1,
            ),
            *sizes_at_scales(
                "nafrssr_b",
                "NAFRSSR-B (120 channels, 70 blocks)",
                scales=(4,),
                network=NAFRSSRPlainNet,
                channels=120,
                num_blocks=70,
                drop_path_rate=0.1,
            ),
        ),
        adapter=Adapter(matches, inspect_layout, their_key, network_of),
    )
)
