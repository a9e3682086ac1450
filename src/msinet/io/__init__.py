"""Stereo content as people have it: MPO files, both views in one image (side-by-side, top-bottom), stereo video."""

from .layouts import LAYOUTS, guess_layout, join, split, to_full
from .mpo import is_mpo, read_mpo, write_mpo
from .video import VIDEO_SUFFIXES, Encoding, VideoInfo, iter_frames, iter_stereo_frames, probe_video

__all__ = [
    "LAYOUTS",
    "VIDEO_SUFFIXES",
    "Encoding",
    "VideoInfo",
    "guess_layout",
    "is_mpo",
    "iter_frames",
    "iter_stereo_frames",
    "join",
    "probe_video",
    "read_mpo",
    "split",
    "to_full",
    "write_mpo",
]
