"""Inference on real stereo pairs: any image kind and size, row tiling, precision fallback, disparity."""
from .devices import resolve_device
from .upscale import upscale_pair

__all__ = ["resolve_device", "upscale_pair"]
