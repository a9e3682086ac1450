"""Tiny stereo test clips cut from a real pair: side-by-side frames, a sine on an AAC track."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from msinet.data.image_io import read_image


def real_view_windows(shared_data: Path, count: int, size=(48, 64), step: int = 3):
    """`count` (left, right) windows of `size` (H, W) panning across a real pair downscaled x4."""
    folder = shared_data / "stereo" / "crestereo_test"
    views = [
        cv2.resize(read_image(folder / f"{v}.png")[:, :, :3], (320, 180), interpolation=cv2.INTER_AREA)
        for v in ("left", "right")
    ]
    h, w = size
    return [tuple(v[40 : 40 + h, 60 + step * i : 60 + step * i + w] for v in views) for i in range(count)]


def write_clip(path: Path, frames, fps: int = 6, audio_seconds: float | None = 2.0, codec: str = "libx264"):
    """Encode uint8 RGB frames (H.264 yuv420p, or `codec` with its own pixel format) and an AAC sine track."""
    import av

    with av.open(str(path), "w") as out:
        h, w = frames[0].shape[:2]
        video = out.add_stream(codec, rate=fps)
        video.width, video.height = w, h
        video.pix_fmt = "yuv420p" if codec == "libx264" else "rgb24"
        audio = None
        if audio_seconds:
            audio = out.add_stream("aac", rate=44100)
            audio.layout = "mono"
        for i, f in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")
            vf.pts = i
            out.mux(video.encode(vf))
        out.mux(video.encode())
        if audio is not None:
            n = int(44100 * audio_seconds)
            tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / 44100)).astype(np.float32)
            for k in range(0, n, 1024):
                af = av.AudioFrame.from_ndarray(tone[None, k : k + 1024], format="fltp", layout="mono")
                af.sample_rate, af.pts = 44100, k
                out.mux(audio.encode(af))
            out.mux(audio.encode())
    return path


def stream_facts(path: Path) -> dict:
    """frames (decoded), rate, video codec, audio codec and duration (s) of a video file."""
    import av

    with av.open(str(path)) as c:
        v = c.streams.video[0]
        facts = {
            "rate": v.average_rate,
            "codec": v.codec_context.name,
            "pix_fmt": v.codec_context.pix_fmt,
            "frames": [f.to_ndarray(format="rgb24") for f in c.decode(v)],
            "audio": None,
        }
    with av.open(str(path)) as c:
        if c.streams.audio:
            a = c.streams.audio[0]
            facts["audio"] = a.codec_context.name
            facts["audio_seconds"] = max(float((p.pts + p.duration) * p.time_base) for p in c.demux(a) if p.size)
    return facts
