"""Time and peak memory of `upscale_pair` on a 4K-output pair (960x540 LR at x4) on this machine.

    .venv/bin/python benchmarks/bench_upscale.py [--model msinet_x4] [--tile auto] [--threads N]

Uses the real 960x540 SceneFlow pair from ../shared/data/stereo when present (random pixels otherwise);
weights are random (speed and memory do not depend on them). Prints one table row per run.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np
import torch

import msinet
from msinet.infer import upscale_pair
from msinet.infer.tiling import auto_tile_rows, bytes_per_row, default_context

SCENE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "stereo" / "sceneflow_A-0032-0006"


def load_pair():
    if (SCENE / "left.png").is_file():
        from msinet.data.image_io import read_image

        return tuple(read_image(SCENE / f"{v}.png")[:, :, :3] for v in ("left", "right")), "sceneflow_A-0032-0006"
    rng = np.random.default_rng(0)
    return tuple(rng.integers(0, 256, (540, 960, 3), dtype=np.uint8) for _ in range(2)), "random 960x540"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="msinet_x4")
    ap.add_argument("--tile", default="auto")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    (left, right), source = load_pair()
    model = msinet.create_model(args.model).eval()
    device = torch.device(args.device)
    h, w = left.shape[:2]
    ctx = default_context(model)
    rows = auto_tile_rows(model, h, w, device, ctx) if args.tile == "auto" else int(args.tile)
    tiles = []
    t0 = time.perf_counter()
    sr_l, sr_r = upscale_pair(
        model,
        left,
        right,
        tile=rows,
        device=device,
        on_tile=lambda tile, r: tiles.append((tile, time.perf_counter() - t0)),
    )
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB (Linux)
    print(
        f"input: {source}, LR {w}x{h} -> {sr_l.shape[1]}x{sr_l.shape[0]}, model {args.model}, "
        f"threads {torch.get_num_threads()}, device {device}"
    )
    print(
        f"estimated tile memory: {bytes_per_row(model, w) * (rows + 2 * ctx) / 2**30:.2f} GiB "
        f"({rows} core rows + 2 x {ctx} context rows)"
    )
    print("| model | LR size | tile rows | context | tiles | wall (s) | peak RSS (GiB) |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {args.model} | {w}x{h} | {rows} | {ctx} | {len(tiles)} | {wall:.0f} | {peak:.2f} |")
    assert np.isfinite(sr_l.astype(np.float32)).all()


if __name__ == "__main__":
    main()
