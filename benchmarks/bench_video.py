"""Throughput of `msinet upscale clip.mp4 --layout sbs` (decode, split, upscale, join, encode, remux).

    .venv/bin/python benchmarks/bench_video.py [--view 640x360] [--frames 3] [--model NAME] [--device cpu]
    .venv/bin/python benchmarks/bench_video.py --figure docs/sbs_before_after.png   # the docs/usage.md figure

The clip is made from the real CREStereo pair in ../shared/data/stereo (each view downscaled to --view, a
slow pan, AAC audio) and upscaled by the command's own code path; frames/s counts every frame end to end.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import cv2
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from media_utils import write_clip  # noqa: E402

from msinet.cli.main import main as cli  # noqa: E402
from msinet.data.image_io import read_image  # noqa: E402
from msinet.io import iter_frames, join  # noqa: E402
from msinet.models.resolve import default_model_name  # noqa: E402

PAIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "stereo" / "crestereo_test"


def sbs_frames(view_w: int, view_h: int, count: int):
    views = [read_image(PAIR / f"{v}.png")[:, :, :3] for v in ("left", "right")]
    pan = 4  # source pixels per frame
    size = (views[0].shape[1] - pan * count, views[0].shape[0])
    return [
        join(
            *(
                cv2.resize(v[:, pan * i : pan * i + size[0]], (view_w, view_h), interpolation=cv2.INTER_AREA)
                for v in views
            ),
            "sbs",
        )
        for i in range(count)
    ]


def figure(path: Path, model_name: str | None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with tempfile.TemporaryDirectory() as tmp:
        clip = write_clip(Path(tmp) / "clip.mp4", sbs_frames(200, 112, 1), fps=24, audio_seconds=None)
        argv = ["upscale", str(clip), "--layout", "sbs", "--lossless", "-o", str(Path(tmp) / "sr.mp4"), "-q"]
        assert cli(argv + (["--model", model_name] if model_name else [])) == 0
        before = next(iter_frames(clip))[1]
        after = next(iter_frames(Path(tmp) / "sr.mp4"))[1]
    name = model_name or default_model_name()
    crop = (slice(40 * 4, 80 * 4), slice(60 * 4, 120 * 4))  # the same LR window of the left view, x4
    fig = plt.figure(figsize=(10, 6.2))
    grid = fig.add_gridspec(2, 2, height_ratios=[1, 1.25])
    panels = [
        (grid[0, :], before, f"input frame: side by side, 2 x {before.shape[1] // 2}x{before.shape[0]}", "nearest"),
        (
            grid[1, 0],
            cv2.resize(before, None, fx=4, fy=4, interpolation=cv2.INTER_NEAREST)[crop],
            "input, left view (crop, pixels x4)",
            "nearest",
        ),
        (grid[1, 1], after[crop], f"{name} x4, left view (same crop)", "nearest"),
    ]
    for spec, img, title, interp in panels:
        ax = fig.add_subplot(spec)
        ax.imshow(img, interpolation=interp)
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    fig.suptitle(f"msinet upscale clip.mp4 --layout sbs: output frame {after.shape[1]}x{after.shape[0]}", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=72)
    plt.close(fig)
    print(f"wrote {path}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--view", default="640x360", help="size of each view, WxH (default 640x360)")
    ap.add_argument("--frames", type=int, default=3)
    ap.add_argument("--model", default=None, help="default: the packaged default model")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--figure", type=Path, default=None, help="write the docs figure instead of timing")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if not PAIR.is_dir():
        raise SystemExit(f"needs the real pair {PAIR}")
    if args.figure is not None:
        return figure(args.figure, args.model)
    w, h = (int(v) for v in args.view.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        clip = write_clip(Path(tmp) / "clip.mp4", sbs_frames(w, h, args.frames), fps=24, audio_seconds=1.0)
        argv = [
            "upscale",
            str(clip),
            "--layout",
            "sbs",
            "-o",
            str(Path(tmp) / "sr.mp4"),
            "--device",
            args.device,
            "--precision",
            args.precision,
        ] + (["--model", args.model] if args.model else [])
        t0, cpu0 = time.perf_counter(), time.process_time()
        assert cli(argv) == 0
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    load = os.getloadavg()[0]
    model = args.model or default_model_name()
    print(
        "| model | view (LR) | frames | device | threads | precision | wall (s) | frames/s | CPU s/frame | "
        "peak RSS (GiB) | load avg |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {model} | {w}x{h} | {args.frames} | {args.device} | {torch.get_num_threads()} | {args.precision} | "
        f"{wall:.1f} | {args.frames / wall:.4f} | {cpu / args.frames:.0f} | {peak:.2f} | {load:.1f} |"
    )


if __name__ == "__main__":
    main()
