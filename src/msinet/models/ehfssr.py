"""EHFSSR and EHFSSR-S (jianwensong/EHFSSR): groups of convolutional FFNs and local / global / cross-view attention.

    left, right (B,3,h,w), each view on its own (weights shared) except in the cross-view attention
      -> 3x3 conv to C                                                     f0
      -> G groups, each:  N blocks, every block = ConvFFN then one mixer:
                              block 0        BandCrossAttention (left <-> right, disparity band 0..96)
                              blocks 1..N-2  WindowSelfAttention (EHFSSR-S; EHFSSR: TwoScaleWindowAttention),
                                             16x16 windows, shifted in even blocks
                                             (input reflect-padded to multiples of 16, output cropped)
                              block N-1      GlobalChannelSpatialAttention (image-wide)
                          -> 1x1 conv -> ECA gate -> + group input
      -> 1x1 conv -> ECA gate -> + f0
      -> 3x3 conv to 3*s^2 -> PixelShuffle(s)                              sr_left, sr_right

No global image residual: the network predicts the SR image itself. The released EHFSSR-S is C=48,
5 groups x 6 blocks (643,513 parameters at x4). Its test configs use plain global pooling (no test-time
local statistics), so this model has none either. The authors' .pth checkpoints load as they are
(the adapter below): the config is read off their key shapes and the keys renamed onto ours.

The full EHFSSR (their EHFSSR class; EHFSSRFullNet here, ehfssr_x4 / ehfssr_x2: C=64, 5 groups x 6 blocks,
1,208,121 parameters at x4) is the same network but for its window attention (TwoScaleWindowAttention):
separate q / k / v projections without bias, one head per channel half, the second half attending to
2x-downsampled keys and values (a stride-2 depthwise conv), the ECA gate on v after its projection (EHFSSR-S:
on the input before it), and the local branch (the depthwise conv) at C channels with no 1x1. Everything else
(FFN, cross-view and global attention, ECA gates, group structure, 16-pixel padding, windows and shifts) is
the same code in both of the authors' files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
from torch import nn

from ..layers import (
    BandCrossAttention,
    ConvFFN,
    GlobalChannelSpatialAttention,
    MultiDilationECA,
    TwoScaleWindowAttention,
    WindowSelfAttention,
    pad_to_multiple,
)
from ..registry import register_family
from .base import StereoSRModel
from .family import Adapter, Family, sizes_at_scales
from .foreign import block_indices, head_scale, intro_channels, rename
from .weights import WeightsError

WINDOW = 16


class EHFSSRBlock(nn.Module):
    """ConvFFN, then the block's mixer: 'cross' (both views), 'window' / 'shifted' (padded) or 'global';
    window_layer: the window attention's class (EHFSSR-S's or the full EHFSSR's)."""

    def __init__(self, channels: int, mixer: str, window_layer: type = WindowSelfAttention):
        super().__init__()
        self.mixer = mixer
        self.ffn = ConvFFN(channels)
        if mixer == "cross":
            self.attn = BandCrossAttention(channels)
        elif mixer == "global":
            self.attn = GlobalChannelSpatialAttention(channels)
        else:
            self.attn = window_layer(channels, WINDOW, shift=mixer == "shifted")

    def forward(self, left: torch.Tensor, right: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        left, right = self.ffn(left), self.ffn(right)
        if self.mixer == "cross":
            return self.attn(left, right)
        if self.mixer == "global":
            return self.attn(left), self.attn(right)
        h, w = left.shape[-2:]
        rows, cols = torch.arange(h, device=left.device), torch.arange(w, device=left.device)
        # the crop as a gather rather than a slice: an exported graph then holds whether or not the size
        # needed padding (a slice's layout depends on that)
        return tuple(
            self.attn(pad_to_multiple(x, WINDOW)).index_select(-2, rows).index_select(-1, cols) for x in (left, right)
        )


def block_mixers(depth: int) -> list[str]:
    """The reference code's rule: cross-view first, global last, windows between (shifted at even indices);
    a one-block group has only the cross-view attention."""
    mixers = []
    for i in range(depth):
        if i == 0:
            mixers.append("cross")
        elif i == depth - 1:
            mixers.append("global")
        else:
            mixers.append("shifted" if i % 2 == 0 else "window")
    return mixers


def conv_eca(channels: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(channels, channels, 1), MultiDilationECA())


class EHFSSRGroup(nn.Module):
    def __init__(self, channels: int, depth: int, window_layer: type = WindowSelfAttention):
        super().__init__()
        self.blocks = nn.ModuleList(EHFSSRBlock(channels, m, window_layer) for m in block_mixers(depth))
        self.fuse = conv_eca(channels)

    def forward(self, left, right, run_block=None):
        """run_block(block, left, right): how the model runs each block (stochastic depth while training)."""
        l0, r0 = left, right
        for block in self.blocks:
            left, right = block(left, right) if run_block is None else run_block(block, left, right)
        return self.fuse(left) + l0, self.fuse(right) + r0


class EHFSSRNet(StereoSRModel):
    """EHFSSR; see the registry (ehfssr_s_x4, ehfssr_s_x2) for the published setting.

    channels: C (a multiple of 4); num_groups x blocks_per_group blocks; drop_path_rate: stochastic
    depth per block in training (the released models were trained without).
    """

    arch_name = "ehfssr"
    window_layer: type = WindowSelfAttention  # the blocks' window attention
    # stays contiguous on the CPU: channels_last is 1.09x slower here (benchmarks/bench_cpu_settings.py)
    cpu_channels_last = False

    # Tiled and untiled outputs differ wherever a tile is not the whole image: the channel gates and the
    # global attention pool over the whole tile, and the 16x16 windows start at the tile's first row. Measured
    # (ehfssr_s_x2, 192x200 LR Middlebury crop, 48-row tiles, 8-bit output): context 32 -> mean |diff| 0.29,
    # 99.9th percentile 5, max 12 levels; context 64 -> 0.18 / 4 / 12. More context buys little; tiles are only
    # used when the whole image does not fit the memory budget (bytes_per_row).
    context_rows = 32

    def __init__(
        self,
        scale: int = 4,
        channels: int = 48,
        num_groups: int = 5,
        blocks_per_group: int = 6,
        drop_path_rate: float = 0.0,
    ):
        super().__init__(scale)
        self.set_common(drop_path_rate, channels, 4, num_groups=num_groups, blocks_per_group=blocks_per_group)
        self._config = dict(
            scale=scale,
            channels=channels,
            num_groups=num_groups,
            blocks_per_group=blocks_per_group,
            drop_path_rate=drop_path_rate,
        )
        self.intro = nn.Conv2d(3, channels, 3, padding=1)
        self.groups = nn.ModuleList(
            EHFSSRGroup(channels, blocks_per_group, self.window_layer) for _ in range(num_groups)
        )
        self.fuse = conv_eca(channels)
        self.head = nn.Sequential(nn.Conv2d(channels, 3 * scale**2, 3, padding=1), nn.PixelShuffle(scale))

    def repeated_blocks(self) -> list[nn.Module]:
        return [block for group in self.groups for block in group.blocks]

    def bytes_per_row(self, width: int) -> int:
        # calibrated on ehfssr_s_x4 on CPU (peak RSS of a forward, 32-96 rows, W = 400 and 800: 5.2 and 17.6 MB
        # per row measured, 5.4 and 18.4 estimated): about eight (2 views, C, W) maps, the output head, and six
        # (W, W) matrices of a row in the cross-view attention (two heads' scores, masked scores, softmaxes);
        # the 16x16-window attention is fused and stores no score matrices
        c = self._config["channels"]
        head = 2 * 2 * 3 * self.scale**2 * width * 4
        convs = 2 * 8 * c * width * 4
        cross = 6 * width * width * 4
        return head + convs + cross

    def forward(self, left: torch.Tensor, right: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.check_inputs(left, right)
        if torch.compiler.is_exporting():
            # an exported graph holds for images of more than one attention window per side (torch.export
            # specialises a window count of 1 away); recorded as the program's minimum size
            torch._check(left.shape[-2] > WINDOW)
            torch._check(left.shape[-1] > WINDOW)
        l0, r0 = self.intro(left), self.intro(right)
        x_l, x_r = l0, r0
        for group in self.groups:
            x_l, x_r = group(x_l, x_r, self.run_block)
        return self.head(self.fuse(x_l) + l0), self.head(self.fuse(x_r) + r0)


class EHFSSRFullNet(EHFSSRNet):
    """The full EHFSSR (the authors' EHFSSR class); see the registry (ehfssr_x4, ehfssr_x2). EHFSSR-S's network
    with the two-scale window attention (layers/two_scale_window_attention.py) in its window blocks."""

    arch_name = "ehfssr_full"
    window_layer = TwoScaleWindowAttention
    # contiguous on the CPU: channels_last 1.01x the contiguous time (ehfssr_x4, LR 94x310, one thread, best
    # of 3 rounds each: 38.6 vs 39.1 s on a shared CPU; ehfssr_s_x4 beside it 1.09x), not clearly faster
    cpu_channels_last = False
    # Tiled vs untiled as for EHFSSR-S (the same pooling, global attention and window alignment), measured
    # with the authors' random-weight checkpoint (no trained weights here) on the 125x186 LR Motorcycle pair,
    # 32-row tiles, x255: context 16 -> mean |diff| 0.34, 99.9th percentile 4.0, max 7.2; context 32 -> 0.27 /
    # 4.7 / 8.2; context 64 -> 0.15 / 4.2 / 7.1 (released ehfssr_s_x4, same setting, context 32: 0.29 / 5.7 / 22)
    context_rows = 32

    def __init__(
        self,
        scale: int = 4,
        channels: int = 64,
        num_groups: int = 5,
        blocks_per_group: int = 6,
        drop_path_rate: float = 0.0,
    ):
        super().__init__(scale, channels, num_groups, blocks_per_group, drop_path_rate)

    def bytes_per_row(self, width: int) -> int:
        # peak RSS of ehfssr_x4 on CPU (16 -> 48 rows): 5.4 and 19.6 MiB per row at W = 400 and 800; EHFSSR-S's
        # estimate at C=64 gives 5.5 and 18.4, so one more (W, W) matrix keeps it above: 6.1 and 20.8 (the
        # two-scale windows are fused like EHFSSR-S's and store no score matrices)
        return super().bytes_per_row(width) + width * width * 4


# ---------------------------------------------------------------------------------------------------------
# The authors' checkpoints (BasicSR .pth, {"params": state}) with the keys of their EHFSSR_S and EHFSSR classes:
#   init, body.<g>.body.<i>.{MLP, selfatn, interaction}.*, body.<g>.conv.{0,1}, fuse.{0,1}, up.0
# (the two differ only inside the window attention: selfatn.to_qk / local in EHFSSR_S, to_q / to_k / down in EHFSSR)
# (our path -> theirs; the ECA modules' insides are renamed by _ECA)

_TOP = {"intro": "init", "head.0": "up.0", "fuse.0": "fuse.0", "fuse.1": "fuse.1"}
_GROUP = {"fuse.0": "conv.0", "fuse.1": "conv.1"}
_ECA_MODULES = ("eca", "fuse.1")  # our MultiDilationECA modules, whose insides _ECA renames
_ECA = {"taps.0": "conv1", "taps.1": "conv2", "taps.2": "conv3", "merge": "conv"}
_FFN = {"norm": "layernorm1", "expand": "proj1", "dwconv": "conv", "project": "projout", "eca": "ca"}
_MIXER = {
    "window": {  # both window attentions: EHFSSR-S's (local, qk) and the full EHFSSR's (q, k, down)
        "norm": "Layernorm",
        "dwconv": "depthwise",
        "local": "local",
        "eca": "CA",
        "qk": "to_qk",
        "q": "to_q",
        "k": "to_k",
        "v": "to_v",
        "down": "down",
        "gate": "sa.0",
        "project": "project_out",
    },
    "global": {
        "temperature": "temperature",
        "norm": "Layernorm",
        "qkv": "to_qkv",
        "spatial": "to_sp",
        "dwconv": "conv",
        "project": "out",
    },
    "cross": {
        "norm_l": "LayernormL",
        "norm_r": "LayernormR",
        "value_l": "feaL",
        "value_r": "feaR",
        "query_l": "to_l",
        "query_r": "to_r",
        "transition": "transition",
        "project": "out",
    },
}
_MIXER["shifted"] = _MIXER["window"]
_THEIR_MIXER = {"window": "selfatn", "shifted": "selfatn", "global": "selfatn", "cross": "interaction"}
_THEIR_BLOCK = re.compile(r"body\.(\d+)\.body\.(\d+)\.(MLP|selfatn|interaction)\.")
_THEIR_GROUP = re.compile(r"body\.(\d+)\.body\.")


def _rename_eca(path: str, table: dict[str, str]) -> str:
    """rename(), with the insides of our ECA modules renamed too ('eca.taps.0.weight' -> 'ca.conv1.weight')."""
    for ours in _ECA_MODULES:
        if ours in table and path.startswith(ours + "."):
            return f"{table[ours]}." + rename(path[len(ours) + 1 :], _ECA)
    return rename(path, table)


def their_key(ours: str, config: dict) -> str:
    """The authors' key of one of our state-dict keys ('groups.0.blocks.1.attn.qk.weight' ->
    'body.0.body.1.selfatn.to_qk.weight')."""
    if not ours.startswith("groups."):
        return _rename_eca(ours, _TOP)
    g, rest = ours[len("groups.") :].split(".", 1)
    if rest.startswith("fuse."):  # the group's closing 1x1 + ECA
        return f"body.{g}." + _rename_eca(rest, _GROUP)
    i, part, leaf = rest[len("blocks.") :].split(".", 2)
    if part == "ffn":
        return f"body.{g}.body.{i}.MLP." + _rename_eca(leaf, _FFN)
    mixer = block_mixers(config["blocks_per_group"])[int(i)]
    return f"body.{g}.body.{i}.{_THEIR_MIXER[mixer]}." + _rename_eca(leaf, _MIXER[mixer])


@dataclass(frozen=True)
class EHFSSRLayout:
    """What an EHFSSR checkpoint's keys and shapes say about the network (for `msinet convert`)."""

    family = "ehfssr"
    channels: int
    num_groups: int
    blocks_per_group: int
    scale: int
    # the window attention the keys show: "light" (EHFSSR_S: selfatn.to_qk) or "full" (EHFSSR: selfatn.to_q)
    window_attention: str = "light"

    def config(self) -> dict:
        return dict(
            scale=self.scale,
            channels=self.channels,
            num_groups=self.num_groups,
            blocks_per_group=self.blocks_per_group,
        )

    def describe(self) -> str:
        name = "EHFSSR" if self.window_attention == "full" else "EHFSSR-S"
        return (
            f"{name} (authors' code): x{self.scale}, {self.channels} channels, "
            f"{self.num_groups} groups x {self.blocks_per_group} blocks"
        )


def network_of(layout: EHFSSRLayout) -> type:
    return EHFSSRFullNet if layout.window_attention == "full" else EHFSSRNet


def matches(state: dict) -> bool:
    return any(_THEIR_BLOCK.match(k) for k in state)


def inspect_layout(state: dict, source) -> EHFSSRLayout:
    # EHFSSR_arch.py: separate q / k / v and a strided key/value branch in the windows (a checkpoint mixing
    # both forms is then refused key by key, as any other damage)
    full = any(k.endswith(".selfatn.to_q.weight") for k in state)
    channels = intro_channels(state, "init.weight", source, "EHFSSR")
    scale = head_scale(state, "up.0.weight", channels, source, "EHFSSR")
    num_groups = block_indices(state, _THEIR_GROUP, source, "body.")
    depth = max(int(m.group(2)) for m in map(_THEIR_BLOCK.match, state) if m is not None) + 1
    for g in range(num_groups):
        for i in range(depth):
            if f"body.{g}.body.{i}.MLP.proj1.weight" not in state:
                raise WeightsError(
                    f"{source}: missing key 'body.{g}.body.{i}.MLP.proj1.weight' (block {i} of "
                    f"group {g} has no weights)"
                )
    return EHFSSRLayout(channels, num_groups, depth, scale, "full" if full else "light")


register_family(
    Family(
        name="ehfssr",
        title="EHFSSR (jianwensong/EHFSSR)",
        network=EHFSSRNet,
        sizes=(
            *sizes_at_scales("ehfssr_s", "EHFSSR-S", channels=48, num_groups=5, blocks_per_group=6),
            *sizes_at_scales("ehfssr", "EHFSSR", network=EHFSSRFullNet, channels=64, num_groups=5, blocks_per_group=6),
        ),
        adapter=Adapter(matches, inspect_layout, their_key, network_of),
    )
)
