"""Reusable layers: normalisation, gating, attention and cross-view fusion."""
from .channel_attention import SimplifiedChannelAttention
from .cross_attention import DEAM, FUSIONS, SCAM, EpipolarCrossAttention
from .gate import SimpleGate
from .local_pool import local_mean
from .lska import LSKA_DECOMPOSITION, LSKAMap, MultiScaleLSKA
from .norm import LayerNorm2d
from .sinkhorn import sinkhorn_log

__all__ = [
    "DEAM", "FUSIONS", "SCAM", "EpipolarCrossAttention", "LayerNorm2d", "LSKA_DECOMPOSITION", "LSKAMap",
    "MultiScaleLSKA", "SimpleGate", "SimplifiedChannelAttention", "local_mean", "sinkhorn_log",
]
from .mscab import MSCAB, MSCAM, SFFN  # noqa: E402

__all__ += ["MSCAB", "MSCAM", "SFFN"]
from .grouped_mixer import GroupedConvMixer, GroupedNAFBlock  # noqa: E402
from .laplacian import LaplacianBoost  # noqa: E402
from .tied_cross_attention import TiedSCAM  # noqa: E402

__all__ += ["GroupedConvMixer", "GroupedNAFBlock", "LaplacianBoost", "TiedSCAM"]
from .chimb import CHIMB, ChannelSpatialMixer, GatedDConvFFN  # noqa: E402
from .cvim import CVIM  # noqa: E402
from .lka import LargeKernelAttention  # noqa: E402

__all__ += ["CHIMB", "CVIM", "ChannelSpatialMixer", "GatedDConvFFN", "LargeKernelAttention"]
from .band_cross_attention import BandCrossAttention  # noqa: E402
from .conv_ffn import ConvFFN  # noqa: E402
from .eca import MultiDilationECA  # noqa: E402
from .global_attention import GlobalChannelSpatialAttention  # noqa: E402
from .token_shift import shift_channel_groups  # noqa: E402
from .window_attention import WindowSelfAttention, pad_to_multiple  # noqa: E402

__all__ += ["BandCrossAttention", "ConvFFN", "GlobalChannelSpatialAttention", "MultiDilationECA",
            "WindowSelfAttention", "pad_to_multiple", "shift_channel_groups"]
