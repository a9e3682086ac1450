"""`upscale_video`: super-resolve every stereo frame of a video, resumably, on one process or a torchrun world.

The work is cut into segments of `chunk` frames. Each finished segment is an H.264 file moved atomically into
`<output>.partial/`, next to a state.json naming the source and the settings, so an interrupted run picks up at
the first missing segment (frames already done are not redone). When every segment is there, rank 0 remuxes
them with the source's audio into a temporary file that then replaces nothing unless --overwrite: the output's
name only ever holds a complete, playable file. Under torchrun, rank r encodes segments r, r + N, r + 2N, ...
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from pathlib import Path

from ..data.image_io import refuse_existing, temporary_path
from ..io.layouts import FULL_OF, check_layout, join, split, to_full
from ..io.video import Encoding, concat_segments, container_format, iter_frames, probe_video, write_segment
from ..runtime.distributed import World, barrier
from .upscale import upscale_pair


def _state(src: Path, info, chunk: int, settings: dict) -> dict:
    st = src.stat()
    return {
        "source": str(src.resolve()),
        "bytes": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "frames": info.frames,
        "rate": str(info.rate),
        "chunk": chunk,
        "settings": settings,
    }


def _differences(old: dict, new: dict) -> list[str]:
    """What differs between two states, in words: 'source file changed (modified)', 'crf: 18 -> 30', ..."""
    out = []
    if old.get("source") != new["source"]:
        out.append(f"source: {old.get('source')} -> {new['source']}")
    elif (old.get("bytes"), old.get("mtime_ns")) != (new["bytes"], new["mtime_ns"]):
        what = [f"size {old.get('bytes')} -> {new['bytes']} bytes"] if old.get("bytes") != new["bytes"] else []
        what += ["modified"] if old.get("mtime_ns") != new["mtime_ns"] else []
        out.append(f"the source file changed since that run ({', '.join(what)})")
    for key in ("frames", "rate", "chunk"):
        if old.get(key) != new[key]:
            out.append(f"{'--chunk' if key == 'chunk' else key}: {old.get(key)} -> {new[key]}")
    before, now = old.get("settings") or {}, new["settings"]
    for key in sorted(set(before) | set(now)):
        if before.get(key) != now.get(key):
            out.append(f"{key}: {before.get(key)} -> {now.get(key)}")
    return out or ["the work folder's state.json differs"]


def _prepare_partial(partial: Path, state: dict, world: World, overwrite: bool = False) -> None:
    """Create the work folder, or check that the one there was made from the same source and settings;
    overwrite: a work folder of other settings is discarded and the job starts over."""
    if world.is_main:
        state_file = partial / "state.json"
        if state_file.is_file():
            try:
                old = json.loads(state_file.read_text())
            except ValueError:
                old = {}
            if old != state and overwrite:
                shutil.rmtree(partial)
            elif old != state:
                changed = "; ".join(_differences(old, state))
                raise ValueError(
                    f"{partial} holds an interrupted run that differs: {changed}. Pass --overwrite "
                    "to discard it and start over, or rerun with the same input and settings to resume"
                )
        if not state_file.is_file():
            if partial.exists():
                raise ValueError(f"{partial} exists but is not an msinet work folder; move it away")
            partial.mkdir(parents=True)
            tmp = temporary_path(state_file)
            tmp.write_text(json.dumps(state, indent=1))
            os.replace(tmp, state_file)
    barrier(world)


def upscale_video(
    model,
    src,
    dst,
    *,
    layout: str,
    full: bool = False,
    encoding: Encoding = Encoding(),
    chunk: int = 24,
    overwrite: bool = False,
    options: dict | None = None,
    settings: dict | None = None,
    world: World = World(),
    progress: bool = True,
) -> dict:
    """Upscale the stereo video `src` (both views in each frame, in `layout`) into `dst`.

    full: a half layout (sbs-half, tb-half) comes out in its full layout (each view stretched back to its
      display aspect) instead of the same layout at the model's scale.
    options: upscale_pair options (tile, context, precision, device, ...); settings: what else makes the
      output (model name, ...), recorded so that a resume with other settings is refused.
    Returns {"frames", "done_before", "computed", "seconds", "fps"}: computed and fps count this rank's frames.
    """
    src, dst = Path(src), Path(dst)
    check_layout(layout)
    if chunk < 1:
        raise ValueError(f"chunk must be at least 1 frame, got {chunk}")
    if dst.exists() and dst.resolve() == src.resolve():
        raise FileExistsError(f"{dst} is the input; choose another output")
    fmt = container_format(dst.suffix)
    refuse_existing([dst], overwrite)  # before any work: never compute what we may not write
    info = probe_video(src)
    out_layout = FULL_OF[layout] if full else layout
    split(_blank(info), layout, source=str(src))  # an odd width (sbs) or height (tb) fails here
    encoding.check_size(*_out_size(info, layout, out_layout, int(model.scale)))

    partial = dst.with_name(dst.name + ".partial")
    _prepare_partial(
        partial,
        _state(
            src,
            info,
            chunk,
            {**(settings or {}), "layout": layout, "out_layout": out_layout, "encoding": repr(encoding)},
        ),
        world,
        overwrite,
    )
    segments = [(i, i * chunk, min((i + 1) * chunk, info.frames)) for i in range(math.ceil(info.frames / chunk))]
    seg_path = [partial / f"seg_{i:05d}{dst.suffix}" for i, _, _ in segments]
    done = [p.is_file() for p in seg_path]
    done_before = sum(hi - lo for (_, lo, hi), d in zip(segments, done) if d)
    mine = [s for s, d in zip(segments, done) if not d and s[0] % world.size == world.rank]

    bar = _progress_bar(info.frames, done_before, progress and world.is_main, src.name)
    computed, t0 = 0, time.perf_counter()
    frames = iter_frames(src, start=mine[0][1]) if mine else None
    try:
        for i, lo, hi in mine:

            def sr_frames(lo=lo, hi=hi):
                nonlocal computed
                for index, frame in frames:
                    if index < lo:
                        continue
                    left, right = split(frame, layout, source=f"{src} frame {index}")
                    sr_l, sr_r = upscale_pair(model, left, right, **(options or {}))
                    out = join(sr_l, sr_r, layout)
                    yield to_full(out, layout) if full else out
                    computed += 1
                    if bar is not None and world.distributed:  # count the other ranks' finished segments too
                        bar.n = _frames_done(segments, seg_path) + index + 1 - lo
                        bar.refresh()
                    elif bar is not None:
                        bar.update(1)
                    if index + 1 >= hi:
                        return

            tmp = partial / f".seg_{i:05d}.{os.getpid()}.tmp"
            try:
                got = write_segment(tmp, sr_frames(), info.rate, encoding, fmt)
                if got != hi - lo:
                    raise ValueError(
                        f"{src} ended after frame {lo + got - 1}; its header promised {info.frames} frames"
                    )
                os.replace(tmp, seg_path[i])
            finally:
                tmp.unlink(missing_ok=True)
    finally:
        if frames is not None:
            frames.close()
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - t0
    barrier(world)
    if world.is_main:
        missing = [str(p) for p in seg_path if not p.is_file()]
        if missing:
            raise ValueError(f"segments missing after the run: {missing[0]} ...")
        tmp = temporary_path(dst)
        try:
            concat_segments(tmp, seg_path, [lo for _, lo, _ in segments], src if info.audio else None, fmt)
            refuse_existing([dst], overwrite)
            os.replace(tmp, dst)
        finally:
            tmp.unlink(missing_ok=True)
        shutil.rmtree(partial)
    barrier(world)
    return {
        "frames": info.frames,
        "done_before": done_before,
        "computed": computed,
        "seconds": seconds,
        "fps": computed / seconds if computed and seconds > 0 else float("nan"),
    }


def _blank(info):
    import numpy as np

    return np.empty((info.height, info.width), np.uint8)


def _out_size(info, layout: str, out_layout: str, scale: int) -> tuple[int, int]:
    w, h = info.width * scale, info.height * scale
    if out_layout != layout:  # a half layout made full: twice as wide (sbs) or tall (tb)
        return (2 * w, h) if out_layout == "sbs" else (w, 2 * h)
    return w, h


def _frames_done(segments, seg_path) -> int:
    return sum(hi - lo for (_, lo, hi), p in zip(segments, seg_path) if p.is_file())


def _progress_bar(total: int, initial: int, enabled: bool, name: str):
    if not enabled:
        return None
    from ..runtime.progress import progress_bar

    return progress_bar(total=total, initial=initial, unit="frame", desc=name, dynamic_ncols=True)
