"""How far row-tiled output is from untiled output, on real pairs, with TLSC on and off.

    .venv/bin/python benchmarks/bench_tiling.py [--model msinet_small_x4] [--weights FILE] [--tile 32]

Each real pair of ../shared/data/stereo is downscaled x4 (MATLAB bicubic) and super-resolved once whole
and once in tiles of --tile LR rows with the default context; the table gives the PSNR between the two
(float outputs in [0, 1], peak 1). Without --weights the model is randomly initialised with its residual
branches switched on (N(0, --perturb^2) layer scales; the zero init would make every block an identity).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

import msinet
from msinet.data.image_io import read_image
from msinet.data.imresize import imresize
from msinet.infer import upscale_pair
from msinet.infer.tiling import default_context

STEREO = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "stereo"
PAIRS = ("kitti2015_000046", "middlebury2014_motorcycle_quarter", "flickr1024_0026")


def psnr(a, b):
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


def build(args):
    if args.weights:
        return msinet.load_model(args.weights), Path(args.weights).name
    torch.manual_seed(0)
    model = msinet.create_model(args.model).eval()
    g = torch.Generator().manual_seed(1)
    for name, p in model.named_parameters():
        if name.endswith(("beta", "gamma", "scale_l", "scale_r")):
            p.data = args.perturb * torch.randn(p.shape, generator=g)
    return model, f"{args.model} (random, scales N(0,{args.perturb}^2))"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="msinet_small_x4")
    ap.add_argument("--weights", default=None)
    ap.add_argument("--perturb", type=float, default=0.1)
    ap.add_argument("--tile", type=int, default=32)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--pairs", default=",".join(PAIRS), help="comma-separated scene folders")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model, label = build(args)
    print(f"model: {label}; tile {args.tile} LR rows")
    print("| pair | LR size | TLSC | context | tiles | PSNR tiled vs untiled (dB) | max abs diff (8-bit levels) |")
    print("|---|---|---|---|---|---|---|")
    tlsc_window = model.config.get("tlsc_window") or [45, 135]
    for name in args.pairs.split(","):
        if not (STEREO / name).is_dir():
            print(f"| {name} | missing | | | | | |")
            continue
        l, r = (
            imresize(read_image(STEREO / name / f"{v}.png")[:, :, :3], 0.25).astype(np.float32) / 255
            for v in ("left", "right")
        )
        for tlsc in (tlsc_window, None):
            model.set_tlsc(tlsc)
            full, _ = upscale_pair(model, l, r, tile=None)
            tiles = []
            tiled, _ = upscale_pair(model, l, r, tile=args.tile, on_tile=lambda b, n: tiles.append(b))
            diff = np.abs(full - tiled).max() * 255
            print(
                f"| {name} | {l.shape[1]}x{l.shape[0]} | {'on' if tlsc else 'off'} | {default_context(model)} | "
                f"{len(tiles)} | {psnr(full, tiled):.1f} | {diff:.3f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
