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
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import GroupedConvMixer, GroupedNAFBlock, LaplacianBoost, TiedSCAM, ViewPairBlock
from ..registry import register_arch, register_model
from .base import StereoSRModel
from .foreign import load_renamed, register_foreign
from .weights import WeightsError


@register_arch("nafrssr")
class NAFRSSRNet(StereoSRModel):
    """Stages (blocks, passes): early (early_blocks, early_passes), middle (middle_blocks, middle_passes),
    late (late_blocks, 1). drop_path_rate: stochastic depth per block application (each pass draws anew);
    the published models were trained without it."""

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
        self.early = nn.ModuleList(ViewPairBlock(GroupedNAFBlock(c), TiedSCAM(c)) for _ in range(early_blocks))
        self.middle = nn.ModuleList(
            ViewPairBlock(GroupedConvMixer(c, groups=4, pointwise=True), TiedSCAM(c)) for _ in range(middle_blocks)
        )
        self.late = nn.ModuleList(ViewPairBlock(GroupedNAFBlock(c), TiedSCAM(c)) for _ in range(late_blocks))
        self.upsample = nn.Sequential(nn.Conv2d(channels, 3 * scale**2, 3, padding=1), nn.PixelShuffle(scale))
        self.edge = LaplacianBoost(6)  # channels: left RGB, right RGB

    # Each block application reaches 2 LR rows further (depthwise + grouped 3x3) and its fusion a third, ~60
    # rows in all, but far rows count only faintly. Measured on NAFRSSR-T, Middlebury motorcycle, 24-row
    # tiles: tiled vs untiled max |diff| 0.001 of an 8-bit level with 32 rows of context (0.12 with 16).
    context_rows = 32

    def bytes_per_row(self, width: int) -> int:
        # alive at the peak: a few (2 views, 2C, W) maps of a block, the three (W, W) score/softmax matrices
        # of a fusion, and at the end the 6-channel HR output, its edge map, bicubic base and sum
        convs = 8 * 2 * self._config["channels"] * width * 4
        fusion = 3 * width * width * 4
        head = 5 * 6 * self.scale**2 * width * 4
        return convs + fusion + head

    def forward(self, left: torch.Tensor, right: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.check_inputs(left, right)
        b = left.shape[0]
        x = torch.cat([left, right], dim=1)  # (B, 6, h, w): the reference's channel layout of the pair
        base = F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False)
        feats = self.intro(torch.cat([left, right], dim=0))  # (2B, C, h, w)
        c = self._config
        for stage, passes in ((self.early, c["early_passes"]), (self.middle, c["middle_passes"]), (self.late, 1)):
            for _ in range(passes):
                for block in stage:
                    feats = self.run_block(block, feats)
        out = self.upsample(feats)  # (2B, 3, sh, sw)
        out = self.edge(torch.cat([out[:b], out[b:]], dim=1)) + base  # (B, 6, sh, sw)
        return out[:, :3], out[:, 3:]


VARIANTS = {"t": 72, "m": 64}  # NAFRSSR-T / -M widths; everything else is shared
for variant, channels in VARIANTS.items():
    for name in (f"nafrssr_{variant}_x4", f"nafrssr_{variant}"):
        register_model(
            name,
            "nafrssr",
            f"NAFRSSR-{variant.upper()} x4 ({channels} channels, recursive)",
            scale=4,
            channels=channels,
        )


# ---------------------------------------------------------------------------------------------------------
# The authors' checkpoints (JNUChenYiHong/NAFRSSR, a BasicSR fork): {"params": state} with the layout of
# their NAFSSR class:
#   intro.{weight,bias}; up.0.{weight,bias}; blur.weight (the 3x3 kernel); weight (1, 6, 1, 1) (the gains)
#   body1.<i> / mid.<i> / body2.<i> .module.blk.<block>   .module.fusion.<SCAM>      (our early / middle / late)

STAGES = {"body1": "early", "mid": "middle", "body2": "late"}
_TOP = {"intro": "intro", "up.0": "upsample.0"}
_LEAVES = {"blur.weight": "edge.kernel", "weight": "edge.weight"}
_OUTER_BLOCK = {
    "norm1": "mixer.norm",
    "conv1": "mixer.expand",
    "conv2": "mixer.dwconv",
    "conv3": "mixer.mix",
    "beta": "mixer.beta",
    "norm2": "ffn.norm",
    "conv4": "ffn.expand",
    "conv5": "ffn.project",
    "gamma": "ffn.gamma",
}
# the middle block applies its grouped 3x3 (conv4) before its 1x1 (conv3), and scales by gamma
_MIDDLE_BLOCK = {
    "norm1": "norm",
    "conv1": "expand",
    "conv2": "dwconv",
    "conv4": "mix",
    "conv3": "project",
    "gamma": "beta",
}
_FUSION = {"norm_l": "norm", "l_proj1": "query", "beta": "scale_l", "gamma": "scale_r"}
_STAGE_KEY = re.compile(r"(body1|mid|body2)\.(\d+)\.module\.(blk|fusion)\.(.+)")


def _split_param(path: str) -> tuple[str, str]:
    """'conv1.weight' -> ('conv1', '.weight'); a bare parameter such as 'beta' -> ('beta', '')."""
    module, _, leaf = path.rpartition(".")
    return (module, "." + leaf) if leaf in ("weight", "bias") and module else (path, "")


def authors_key(ours: str) -> str:
    """The authors' name of one of our state-dict keys."""
    for theirs, mine in _LEAVES.items():
        if ours == mine:
            return theirs
    module, leaf = _split_param(ours)
    for theirs, mine in _TOP.items():
        if module == mine:
            return theirs + leaf
    stage, index, part, rest = ours.split(".", 3)
    module, leaf = _split_param(rest)
    theirs_stage = {v: k for k, v in STAGES.items()}[stage]
    if part == "fusion":
        table = _FUSION
    else:
        table = _MIDDLE_BLOCK if stage == "middle" else _OUTER_BLOCK
    inverse = {v: k for k, v in table.items()}
    return f"{theirs_stage}.{index}.module.{'fusion' if part == 'fusion' else 'blk'}.{inverse[module]}{leaf}"


def matches(state: dict) -> bool:
    """The authors' layout: stage-named bodies (body1 / mid / body2), which no other family uses
    (MSINet, NAFSSR and CVHSSR number a single `body`, EHFSSR nests `body.<i>.body.<j>`)."""
    return any(_STAGE_KEY.fullmatch(k) for k in state)


@dataclass(frozen=True)
class NAFRSSRLayout:
    """What the keys and shapes of an authors' NAFRSSR checkpoint say about the network."""

    channels: int
    scale: int
    blocks: tuple[int, int, int]  # stored blocks of body1, mid, body2
    family: str = "nafrssr"

    def describe(self) -> str:
        e, m, lt = self.blocks
        return (
            f"NAFRSSR (authors' code): x{self.scale}, {self.channels} channels, blocks {e}/{m}/{lt} (early/middle/late)"
        )


def _shape(state, key, source) -> tuple[int, ...]:
    if key not in state:
        raise WeightsError(f"{source}: missing key {key!r}; not a complete NAFRSSR checkpoint")
    return tuple(state[key].shape)


def inspect_layout(state: dict[str, torch.Tensor], source) -> NAFRSSRLayout:
    intro = _shape(state, "intro.weight", source)
    if len(intro) != 4 or intro[1:] != (3, 3, 3) or intro[0] % 4:
        raise WeightsError(
            f"{source}: key 'intro.weight' has shape {intro}; expected (channels, 3, 3, 3), channels a multiple of 4"
        )
    channels = intro[0]
    up = _shape(state, "up.0.weight", source)
    scales = {3 * s * s: s for s in (2, 3, 4)}
    if len(up) != 4 or up[0] not in scales or up[1:] != (channels, 3, 3):
        raise WeightsError(
            f"{source}: key 'up.0.weight' has shape {up}; expected (3*s^2, {channels}, 3, 3) with s in 2, 3, 4"
        )
    indices: dict[str, set[int]] = {stage: set() for stage in STAGES}
    for key in state:
        m = _STAGE_KEY.fullmatch(key)
        if m is not None:
            indices[m.group(1)].add(int(m.group(2)))
    counts = []
    for stage, found in indices.items():
        if not found:
            raise WeightsError(f"{source}: no '{stage}.<i>.module.blk' keys; not a complete NAFRSSR checkpoint")
        gaps = sorted(set(range(max(found) + 1)) - found)
        if gaps:
            raise WeightsError(f"{source}: block {stage}.{gaps[0]} has no weights")
        counts.append(max(found) + 1)
    return NAFRSSRLayout(channels, scales[up[0]], tuple(counts))


def load(state: dict[str, torch.Tensor], source, **overrides) -> NAFRSSRNet:
    """An authors' NAFRSSR checkpoint as our model; the recursion counts are the published ones unless
    overridden (the checkpoint cannot tell them)."""
    window = overrides.pop("tlsc_window", None)
    if window is not None:
        raise WeightsError(f"{source}: NAFRSSR has no global pooling; tlsc_window does not apply")
    layout = inspect_layout(state, source)
    early, middle, late = layout.blocks
    config = dict(
        scale=layout.scale,
        channels=layout.channels,
        early_blocks=early,
        middle_blocks=middle,
        late_blocks=late,
        **overrides,
    )
    return load_renamed("nafrssr", config, state, authors_key, source, layout)


register_foreign("nafrssr", matches, load)
