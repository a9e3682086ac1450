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

import re
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import DEAM, FUSIONS, MSCAB
from ..layers.lska import LSKA_DECOMPOSITION
from ..layers.sinkhorn import METHODS as SINKHORN_METHODS
from .base import StereoSRModel
from .foreign import head_scale, intro_channels, key_shape, rename
from .weights import WeightsError


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


class StereoSRNet(StereoSRModel):
    """Configurable stereo SR network; see the registry (msinet_*, nafssr_*) for the published settings.

    tlsc_window: test-time local statistics window (h, w) in LR pixels, used at inference only
    (model.eval()); None keeps global pooling. The default (45, 135) is 1.5x the 30x90 training patch.
    """

    arch_name = "stereo_sr"
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
        return bool(self.transport_layers())

    def transport_layers(self) -> list[nn.Module]:
        return [f for f in self.fusions if isinstance(f, DEAM)]

    def bytes_per_row(self, width: int) -> int:
        # calibrated on msinet_x4 at W=960 on CPU (13 MB per row measured, 16 MB estimated): about eight
        # (2 views, C, W) feature maps and three (W, W) score/plan matrices are alive at the peak
        head = 2 * 2 * 3 * self.scale**2 * width * 4
        convs = 8 * 2 * self._config["channels"] * width * 4
        fusion = 3 * width * width * 4 if self.fusions else 0
        return head + convs + fusion

    def unused_parameters(self) -> set[str]:
        # a routing of channel groups to LSKA branches (the released code's) may leave a branch unused
        routing = self._config["lska_branch_of_group"]
        if not self._config["multiscale"] or routing is None:
            return set()
        idle = [f".intra.mixer.msa.branches.{b}." for b in range(len(self._config["lska_kernels"])) if b not in routing]
        return {name for name, _ in self.named_parameters() if any(i in name for i in idle)}

    def parameter_rows(self) -> list[tuple[str, int]]:
        """The paper's components (docs/architecture.md), summed over the blocks."""

        def count(module) -> int:
            return 0 if module is None else sum(p.numel() for p in module.parameters())

        rows: dict[str, int] = {"shallow 3x3 conv (intro)": count(self.intro)}
        for block in self.blocks:
            mixer = block.intra.mixer
            fusion = type(block.fusion).__name__ if block.fusion is not None else "none"
            parts = {
                "MSCAM: LayerNorm + 1x1 expand + 3x3 depthwise": count(mixer.norm)
                + count(mixer.expand)
                + count(mixer.dwconv),
                "MSCAM: simplified channel attention": count(mixer.sca),
                "MSCAM: multi-scale LSKA (all groups) + 1x1": count(mixer.msa),
                "MSCAM: 1x1 merge (2C->C)": count(mixer.merge),
                "MSCAM: 1x1 project + beta": count(mixer.project) + mixer.beta.numel(),
                "SFFN": count(block.intra.ffn),
                f"fusion ({fusion})": count(block.fusion),
            }
            for key, n in parts.items():
                rows[key] = rows.get(key, 0) + n
        rows["reconstruction 3x3 conv + PixelShuffle"] = count(self.head)
        return list(rows.items())

    @property
    def fusions(self) -> list[nn.Module]:
        return [b.fusion for b in self.blocks if b.fusion is not None]

    @contextmanager
    def keep_transport_plans(self):
        """Within the block, every DEAM keeps its last plan in `.last_plan` (B, H, W_left, W_right)."""
        deams = self.transport_layers()
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


# ------------------------------------------------------------------------------------------------------------
# The authors' checkpoints of MSINet (github xu3385/msinet) and NAFSSR (megvii-research/NAFNet): BasicSR forks
# saving {"params": state} / {"params_ema": state} with the layout of their MSINetSSR / NAFSSR classes:
#
#     intro.{weight,bias}                                  3x3 conv, (channels, 3, 3, 3)
#     body.<i>.module.blk.<intra-view block>               MSCA (MSINet) or NAFBlock (NAFSSR)
#     body.<i>.module.fusion.<cross-view module>           DEAM (MSINet) or SCAM (NAFSSR), when block i fuses
#     up.0.{weight,bias}                                   3x3 conv to 3*s^2 channels (then PixelShuffle)
#
# The network is read off the keys and shapes (channels, depth, scale, LSKA kernels, which blocks fuse). DEAM and
# SCAM have identical parameters, so the block decides the fusion: multi-scale (MSCA) blocks get DEAM, NAFBlocks
# SCAM; `fusion="deam"` loads e.g. a NAFBlock + DEAM ablation.

# the authors' released MSINet routes its 4th channel group through the k=23 LSKA (their `x4 = self.lska3(x4)`)
RELEASED_BRANCH_OF_GROUP = (0, 1, 2, 2)
# both reference codes convert global pooling at test time with train_size (1, 6, 30, 90): window 1.5x
REFERENCE_TLSC_WINDOW = (45, 135)

_TOP = {"intro": "intro", "head.0": "up.0"}
# intra-view block, our path -> the authors' (relative to blocks.<i>.intra / body.<i>.module.blk)
_BLOCK = {
    "mixer.norm": "norm1",
    "mixer.expand": "conv1",
    "mixer.dwconv": "conv2",
    "mixer.sca.proj": "sca.1",
    "mixer.msa.proj": "msattn.conv",
    "mixer.merge": "convconcat",
    "mixer.project": "conv3",
    "mixer.beta": "beta",
    "ffn.norm": "norm2",
    "ffn.expand": "conv4",
    "ffn.project": "conv5",
    "ffn.gamma": "gamma",
}
_LSKA = {
    "local_h": "conv0h",
    "local_v": "conv0v",
    "dilated_h": "conv_spatial_h",
    "dilated_v": "conv_spatial_v",
    "proj": "conv1",
}
# SCAM (relative to blocks.<i>.fusion / body.<i>.module.fusion); beta scales the right->left term added to the
# left view. CVHSSR's CVIM extends it (models/cvhssr.py).
SCAM_KEYS = {
    "norm_l": "norm_l",
    "norm_r": "norm_r",
    "query_l": "l_proj1",
    "query_r": "r_proj1",
    "value_l": "l_proj2",
    "value_r": "r_proj2",
    "scale_l": "beta",
    "scale_r": "gamma",
}

_BODY_KEY = re.compile(r"body\.(\d+)\.module\.(blk|fusion)\.(.+)")
_LSKA_KEY = re.compile(r"msattn\.lska(\d+)\.(\w+)")
_BRANCH = re.compile(r"mixer\.msa\.branches\.(\d+)\.(\w+)(.*)")
_KERNEL_OF_SHAPES = {(k0, k1): k for k, (k0, k1, _) in LSKA_DECOMPOSITION.items()}


def their_key(ours: str, config: dict | None = None) -> str:
    """The authors' name of one of our state-dict keys."""
    if not ours.startswith("blocks."):
        return rename(ours, _TOP)
    _, index, part, rest = ours.split(".", 3)
    if part == "fusion":
        return f"body.{index}.module.fusion." + rename(rest, SCAM_KEYS)
    branch = _BRANCH.fullmatch(rest)
    if branch is not None:
        conv = _LSKA[branch.group(2)]
        return f"body.{index}.module.blk.msattn.lska{int(branch.group(1)) + 1}.{conv}{branch.group(3)}"
    return f"body.{index}.module.blk." + rename(rest, _BLOCK)


_MULTISCALE_KEY = re.compile(r"body\.\d+\.module\.blk\.msattn\.")
_NAFBLOCK_KEY = re.compile(r"body\.\d+\.module\.blk\.sca\.1\.")  # the simplified channel attention


def matches_msinet(state: dict) -> bool:
    """MSCA blocks: the multi-scale attention (msattn) no other family has."""
    return any(_MULTISCALE_KEY.match(k) for k in state)


def matches_nafssr(state: dict) -> bool:
    """NAFBlocks: their simplified channel attention `sca.1` (CVHSSR's is `sca2.1`, NAFRSSR's blocks have
    none), without MSINet's multi-scale attention."""
    return any(_NAFBLOCK_KEY.match(k) for k in state) and not matches_msinet(state)


@dataclass(frozen=True)
class TrunkLayout:
    """What the keys and shapes of an MSINet or NAFSSR authors' checkpoint say about the network."""

    family: str  # "msinet" (MSCA blocks, multi-scale LSKA) or "nafssr" (NAFBlocks)
    channels: int
    num_blocks: int
    scale: int
    fused_blocks: tuple[int, ...]
    lska_kernels: tuple[int, ...]

    def config(self) -> dict:
        """StereoSRNet arguments reproducing the reference code's forward pass (released behaviour)."""
        msinet = self.family == "msinet"
        if not self.fused_blocks:
            fusion = "none"
        else:
            fusion = "deam" if msinet else "scam"
        # stack_views=False: run each view on its own like the reference codes, hence their float rounding
        config = dict(
            scale=self.scale,
            channels=self.channels,
            num_blocks=self.num_blocks,
            fusion=fusion,
            multiscale=msinet,
            tlsc_window=REFERENCE_TLSC_WINDOW,
            stack_views=False,
        )
        if msinet:
            # the reference's log-domain Sinkhorn op for op, hence its float32 rounding too (the fast default
            # differs by ~1e-7 relative in the plan, which deep networks amplify to a few 1e-6 at the output)
            config["sinkhorn_method"] = "log"
            config["lska_kernels"] = self.lska_kernels
            if len(self.lska_kernels) == len(RELEASED_BRANCH_OF_GROUP):
                config["lska_branch_of_group"] = RELEASED_BRANCH_OF_GROUP
        return config

    def describe(self) -> str:
        name = "MSINet (authors' code)" if self.family == "msinet" else "NAFSSR (official code)"
        fusion = "no fusion" if not self.fused_blocks else ("DEAM" if self.family == "msinet" else "SCAM")
        return f"{name}: x{self.scale}, {self.channels} channels, {self.num_blocks} blocks, {fusion}"


def inspect_layout(state: dict[str, torch.Tensor], source) -> TrunkLayout:
    """Infer the reference network from a state dict of the authors' layout."""
    channels = intro_channels(state, "intro.weight", source, "MSINet or NAFSSR")
    scale = head_scale(state, "up.0.weight", channels, source, "MSINet or NAFSSR")
    blocks, fused, multiscale = set(), set(), set()
    for key in state:
        m = _BODY_KEY.fullmatch(key)
        if m is None:
            continue
        index = int(m.group(1))
        blocks.add(index)
        if m.group(2) == "fusion":
            fused.add(index)
        elif m.group(3).startswith("msattn."):
            multiscale.add(index)
    if not blocks:
        raise WeightsError(f"{source}: no 'body.<i>.module.blk' keys; not a checkpoint of the MSINet or NAFSSR codes")
    num_blocks = max(blocks) + 1
    missing = sorted(set(range(num_blocks)) - blocks)
    if missing:
        raise WeightsError(f"{source}: block {missing[0]} of {num_blocks} has no weights")
    if fused and len(fused) != num_blocks:
        first = min(set(range(num_blocks)) - fused)
        raise WeightsError(
            f"{source}: cross-view fusion in {len(fused)} of {num_blocks} blocks (none in block "
            f"{first}); msinet supports fusion after every block or none"
        )
    if multiscale and len(multiscale) != num_blocks:
        first = min(set(range(num_blocks)) - multiscale)
        raise WeightsError(f"{source}: block {first} lacks the multi-scale attention that other blocks have")
    kernels = _lska_kernels(state, source) if multiscale else ()
    return TrunkLayout("msinet" if multiscale else "nafssr", channels, num_blocks, scale, tuple(sorted(fused)), kernels)


def _lska_kernels(state, source) -> tuple[int, ...]:
    """LSKA kernel size of each branch of block 0, from its (1, k0) and dilated (1, k1) conv shapes."""
    kernels = []
    n = 1
    while f"body.0.module.blk.msattn.lska{n}.conv0h.weight" in state:
        prefix = f"body.0.module.blk.msattn.lska{n}."
        k0 = key_shape(state, prefix + "conv0h.weight", source, "MSINet")[-1]
        k1 = key_shape(state, prefix + "conv_spatial_h.weight", source, "MSINet")[-1]
        if (k0, k1) not in _KERNEL_OF_SHAPES:
            raise WeightsError(
                f"{source}: {prefix}conv0h/conv_spatial_h widths ({k0}, {k1}) match no LSKA "
                f"kernel size of {sorted(LSKA_DECOMPOSITION)}"
            )
        kernels.append(_KERNEL_OF_SHAPES[(k0, k1)])
        n += 1
    if not kernels:
        raise WeightsError(f"{source}: missing key 'body.0.module.blk.msattn.lska1.conv0h.weight'")
    return tuple(kernels)
