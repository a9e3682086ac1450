"""Stereo video in and out with PyAV (its wheels carry FFmpeg): probe, decode frames, encode, remux.

Decoding is sequential and one frame at a time, encoding writes one segment file per chunk of frames, and the
final file is a remux (no re-encoding) of the segments with the source's audio packets copied: memory stays
flat over the length of the clip.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".m4v", ".avi", ".webm")


def _av():
    try:
        import av
    except ImportError:
        raise ValueError("video needs PyAV: pip install 'msinet[video]' (or: pip install av)") from None
    return av


def _reason(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text.split(": '", 1)[0]  # PyAV appends the file name; the caller names it already


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    width: int
    height: int
    rate: Fraction  # frames per second (the stream's average rate)
    frames: int
    codec: str
    audio: str | None  # codec of the first audio stream, if any

    @property
    def duration(self) -> float:
        return float(self.frames / self.rate)


def _open(path):
    av = _av()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"video not found: {path}")
    try:
        return av.open(str(path))
    except av.FFmpegError as exc:
        raise ValueError(f"cannot read video {path}: {_reason(exc)}") from None


def _video_stream(container, path):
    if not container.streams.video:
        raise ValueError(f"{path} has no video stream")
    stream = container.streams.video[0]
    if stream.codec_context is None or stream.codec_context.name is None:
        raise ValueError(f"cannot decode {path}: its video codec is unknown to FFmpeg")
    return stream


def probe_video(path) -> VideoInfo:
    """Size, frame rate, frame count (counted from the packets when the container does not say), codecs."""
    av = _av()
    path = Path(path)
    with _open(path) as container:
        stream = _video_stream(container, path)
        rate = stream.average_rate or stream.guessed_rate
        if not rate:
            raise ValueError(f"{path}: the video stream has no frame rate")
        frames = stream.frames
        if not frames:
            try:
                frames = sum(1 for packet in container.demux(stream) if packet.size)
            except av.FFmpegError as exc:
                raise ValueError(f"cannot read video {path}: {_reason(exc)}") from None
        if not frames:
            raise ValueError(f"{path} has no video frames")
        audio = container.streams.audio[0].codec_context.name if container.streams.audio else None
        return VideoInfo(
            path,
            stream.codec_context.width,
            stream.codec_context.height,
            Fraction(rate),
            frames,
            stream.codec_context.name,
            audio,
        )


def iter_frames(path, start: int = 0):
    """(index, uint8 HxWx3 RGB) for every frame from `start` on, decoded in order (earlier ones are skipped)."""
    av = _av()
    path = Path(path)
    with _open(path) as container:
        stream = _video_stream(container, path)
        stream.thread_type = "AUTO"
        try:
            for index, frame in enumerate(container.decode(stream)):
                if index >= start:
                    yield index, frame.to_ndarray(format="rgb24")
        except av.FFmpegError as exc:
            raise ValueError(f"cannot decode {path}: {_reason(exc)}") from None


def iter_stereo_frames(path, layout: str, start: int = 0):
    """(index, left, right) for every frame of a stereo video in `layout` (see msinet.io.layouts)."""
    from .layouts import split

    for index, frame in iter_frames(path, start):
        yield (index, *split(frame, layout, source=f"{path} frame {index}"))


@dataclass(frozen=True)
class Encoding:
    """H.264 settings: crf 18 yuv420p (plays everywhere) or lossless RGB (libx264rgb, crf 0)."""

    crf: int = 18
    lossless: bool = False
    preset: str = "medium"

    @property
    def codec(self) -> str:
        return "libx264rgb" if self.lossless else "libx264"

    @property
    def pix_fmt(self) -> str:
        return "rgb24" if self.lossless else "yuv420p"

    def check_size(self, width: int, height: int) -> None:
        if not self.lossless and (width % 2 or height % 2):
            raise ValueError(
                f"the output frame is {width}x{height}: H.264 (yuv420p) needs even sizes; "
                "use --lossless or another scale"
            )


def write_segment(path, frames, rate: Fraction, encoding: Encoding, fmt: str = "matroska") -> int:
    """Encode an iterable of uint8 HxWx3 RGB frames into `path` (one video stream); returns the frame count."""
    av = _av()
    count = 0
    with av.open(str(path), "w", format=fmt) as out:
        stream = None
        for frame in frames:
            if stream is None:
                h, w = frame.shape[:2]
                encoding.check_size(w, h)
                stream = out.add_stream(encoding.codec, rate=rate)
                stream.width, stream.height, stream.pix_fmt = w, h, encoding.pix_fmt
                stream.time_base = 1 / rate
                stream.options = {"crf": str(0 if encoding.lossless else encoding.crf), "preset": encoding.preset}
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            vf.pts = count
            out.mux(stream.encode(vf))
            count += 1
        if stream is not None:
            out.mux(stream.encode())
    return count


def _packets(container, stream, offset: Fraction, target, rank: int):
    """(time in seconds, rank, n, packet) for a stream's packets, shifted by `offset` seconds, retargeted."""
    for n, packet in enumerate(container.demux(stream)):
        if packet.dts is None or not packet.size:
            continue
        shift = round(offset / packet.time_base)
        packet.pts = None if packet.pts is None else packet.pts + shift
        packet.dts += shift
        packet.stream = target
        yield float(packet.dts * packet.time_base), rank, n, packet


def concat_segments(path, segments, starts, audio_source=None, fmt: str = "mp4") -> None:
    """Remux `segments` (files made by write_segment, frame `starts[i]`/rate seconds in) into `path`, with the
    first audio stream of `audio_source` copied; packets are interleaved by time, nothing is re-encoded."""
    av = _av()
    inputs = [av.open(str(s)) for s in segments]
    audio_in = av.open(str(audio_source)) if audio_source is not None else None
    try:
        with av.open(str(path), "w", format=fmt) as out:
            first = inputs[0].streams.video[0]
            video = out.add_stream_from_template(first)
            rate = first.average_rate or first.guessed_rate
            streams = [
                _packets(c, c.streams.video[0], Fraction(start) / Fraction(rate), video, 0)
                for c, start in zip(inputs, starts)
            ]
            merged = [_chain(streams)]
            if audio_in is not None and audio_in.streams.audio:
                a_in = audio_in.streams.audio[0]
                a_out = out.add_stream_from_template(a_in)
                merged.append(_packets(audio_in, a_in, Fraction(0), a_out, 1))
            try:
                for _, _, _, packet in heapq.merge(*merged, key=lambda item: item[:3]):
                    out.mux(packet)
            except av.FFmpegError as exc:
                raise ValueError(f"cannot write {path}: {_reason(exc)}") from None
    finally:
        for c in inputs + ([audio_in] if audio_in is not None else []):
            c.close()


def _chain(iterables):
    for it in iterables:
        yield from it


_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}  # the containers that take H.264


def container_format(suffix: str) -> str:
    """FFmpeg's muxer for an output suffix (temporary files hide the suffix from FFmpeg's own guess)."""
    fmt = _FORMATS.get(suffix.lower())
    if fmt is None:
        raise ValueError(f"cannot write video as {suffix or 'a file without suffix'}; use one of {', '.join(_FORMATS)}")
    return fmt
