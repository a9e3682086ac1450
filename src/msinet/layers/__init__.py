"""Reusable layers: normalisation, gating, attention, cross-view fusion and the peers' blocks."""

from .band_cross_attention import BandCrossAttention
from .channel_attention import SimplifiedChannelAttention
from .chimb import CHIMB, ChannelSpatialMixer, GatedDConvFFN
from .conv_ffn import ConvFFN
from .cross_attention import DEAM, FUSIONS, SCAM, EpipolarCrossAttention
from .cvim import CVIM
from .eca import MultiDilationECA
from .gate import SimpleGate
from .global_attention import GlobalChannelSpatialAttention
from .grouped_mixer import GroupedConvMixer, GroupedNAFBlock
from .laplacian import LaplacianBoost
from .lka import LargeKernelAttention
from .local_pool import local_mean
from .lska import LSKA_DECOMPOSITION, LSKAMap, MultiScaleLSKA
from .mscab import MSCAB, MSCAM, SFFN
from .norm import LayerNorm2d
from .parallax_attention import SymmetricParallaxAttention, cycle_validity
from .residual_dense import ResidualDenseBlock, ResidualDenseGroup
from .sinkhorn import sinkhorn_log
from .tied_cross_attention import TiedSCAM
from .token_shift import shift_channel_groups
from .two_scale_window_attention import TwoScaleWindowAttention
from .view_pair import ViewPairBlock
from .window_attention import WindowSelfAttention, pad_to_multiple

__all__ = [
    "BandCrossAttention",
    "CHIMB",
    "CVIM",
    "ChannelSpatialMixer",
    "ConvFFN",
    "DEAM",
    "EpipolarCrossAttention",
    "FUSIONS",
    "GatedDConvFFN",
    "GlobalChannelSpatialAttention",
    "GroupedConvMixer",
    "GroupedNAFBlock",
    "LSKAMap",
    "LSKA_DECOMPOSITION",
    "LaplacianBoost",
    "LargeKernelAttention",
    "LayerNorm2d",
    "MSCAB",
    "MSCAM",
    "MultiDilationECA",
    "MultiScaleLSKA",
    "ResidualDenseBlock",
    "ResidualDenseGroup",
    "SCAM",
    "SFFN",
    "SimpleGate",
    "SimplifiedChannelAttention",
    "SymmetricParallaxAttention",
    "TiedSCAM",
    "TwoScaleWindowAttention",
    "ViewPairBlock",
    "WindowSelfAttention",
    "cycle_validity",
    "local_mean",
    "pad_to_multiple",
    "shift_channel_groups",
    "sinkhorn_log",
]
