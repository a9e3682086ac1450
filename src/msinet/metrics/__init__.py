"""Image quality metrics and the evaluation protocols of the stereo-SR literature."""

from .color import rgb_to_y
from .protocols import DEFAULT_PROTOCOL, PROTOCOLS, Protocol, get_protocol, parse_protocols
from .psnr import mse, psnr
from .ssim import ssim


def stereo_psnr(sr_left, sr_right, hr_left, hr_right, protocol: str = DEFAULT_PROTOCOL, scale: int = 4) -> float:
    """PSNR of a stereo pair (uint8 HxWx3 views) under a named protocol (default: RGB, no shave, (L+R)/2)."""
    return get_protocol(protocol).score(sr_left, sr_right, hr_left, hr_right, scale)[0]


def stereo_ssim(sr_left, sr_right, hr_left, hr_right, protocol: str = DEFAULT_PROTOCOL, scale: int = 4) -> float:
    """SSIM of a stereo pair under a named protocol."""
    return get_protocol(protocol).score(sr_left, sr_right, hr_left, hr_right, scale)[1]


def stereo_scores(sr_left, sr_right, hr_left, hr_right, protocol: str = DEFAULT_PROTOCOL, scale: int = 4):
    """(PSNR, SSIM) of a stereo pair under a named protocol."""
    return get_protocol(protocol).score(sr_left, sr_right, hr_left, hr_right, scale)


__all__ = [
    "psnr",
    "ssim",
    "mse",
    "rgb_to_y",
    "stereo_psnr",
    "stereo_ssim",
    "stereo_scores",
    "Protocol",
    "PROTOCOLS",
    "DEFAULT_PROTOCOL",
    "get_protocol",
    "parse_protocols",
]
