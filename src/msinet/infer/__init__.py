"""Inference on real stereo pairs: any image kind and size, row tiling, precision fallback, disparity."""

from ..data.image_io import read_image, write_png
from ..runtime.devices import resolve_device
from .pairs import StereoPair, find_pairs
from .upscale import upscale_pair

__all__ = ["StereoPair", "find_pairs", "read_image", "resolve_device", "upscale_pair", "write_png"]
