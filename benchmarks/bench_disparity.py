"""End-point error of the disparity read off DEAM's transport plan (`--save-disparity`) vs ground truth.

    .venv/bin/python benchmarks/bench_disparity.py [--model msinet_x4] [--weights FILE]

Protocol: the real HR pair (cropped to a multiple of 4) is downscaled x4 with MATLAB bicubic, upscaled
with --save-disparity's code path (upscale_pair(..., return_disparity=True)), and the HR disparity is
compared with the ground truth on its valid pixels (KITTI: value > 0; Middlebury: finite). Baselines: zero
disparity, the constant median of the ground truth (an oracle constant), and a uniform transport plan
(what an attention with no information gives: x - (W-1)/2, "chance").
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

import msinet
from msinet.data.image_io import read_image
from msinet.data.imresize import imresize
from msinet.infer import upscale_pair
from msinet.infer.disparity import decode_kitti_png16, end_point_error

STEREO = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "stereo"


def read_pfm(path: Path) -> np.ndarray:
    with open(path, "rb") as f:
        kind = f.readline().strip()
        if kind not in (b"Pf", b"PF"):
            raise ValueError(f"{path}: not a PFM file")
        w, h = map(int, f.readline().split())
        scale = float(f.readline())
        data = np.frombuffer(f.read(), dtype="<f4" if scale < 0 else ">f4")
    channels = 3 if kind == b"PF" else 1
    return np.flipud(data.reshape(h, w, channels)[:, :, 0]).astype(np.float32)  # PFM rows go bottom to top


def ground_truth(scene: str):
    if scene.startswith("kitti"):
        return decode_kitti_png16(read_image(STEREO / scene / "disp_left.png"))
    gt = read_pfm(STEREO / scene / "disp_left.pfm")
    return gt, np.isfinite(gt)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="msinet_x4")
    ap.add_argument("--weights", default=None)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = msinet.load_model(args.weights) if args.weights else msinet.load_model(args.model, random_init=True)
    label = Path(args.weights).name if args.weights else f"{args.model} (untrained, random init)"
    print(f"model: {label}")
    print(
        "| scene | HR size | valid px | model EPE / >3px | uniform plan (chance) | zero | GT median (oracle) | time (s) |"  # noqa: E501
    )
    print("|---|---|---|---|---|---|---|---|")
    for scene in ("kitti2015_000046", "middlebury2014_motorcycle_quarter"):
        if not (STEREO / scene).is_dir():
            print(f"| {scene} | missing |")
            continue
        gt, valid = ground_truth(scene)
        hr = [read_image(STEREO / scene / f"{v}.png")[:, :, :3] for v in ("left", "right")]
        h, w = (gt.shape[0] // 4) * 4, (gt.shape[1] // 4) * 4
        gt, valid = gt[:h, :w], valid[:h, :w]
        lr = [imresize(v[:h, :w], 0.25) for v in hr]
        t0 = time.perf_counter()
        _, _, disp = upscale_pair(model, *lr, return_disparity=True)
        took = time.perf_counter() - t0
        xs = np.arange(w // 4, dtype=np.float32)
        chance_lr = np.broadcast_to(xs - (w // 4 - 1) / 2, (h // 4, w // 4))
        chance = (
            4
            * torch.nn.functional.interpolate(
                torch.from_numpy(np.ascontiguousarray(chance_lr))[None, None],
                scale_factor=4,
                mode="bilinear",
                align_corners=False,
            )[0, 0].numpy()
        )
        rows = {
            "model": end_point_error(disp, gt, valid),
            "chance": end_point_error(chance, gt, valid),
            "zero": end_point_error(np.zeros_like(gt), gt, valid),
            "median": end_point_error(np.full_like(gt, np.median(gt[valid])), gt, valid),
        }
        cell = {k: f"{v['epe']:.1f} / {100 * v['bad3']:.0f}%" for k, v in rows.items()}
        print(
            f"| {scene} | {w}x{h} | {rows['model']['pixels']} | {cell['model']} | {cell['chance']} | "
            f"{cell['zero']} | {cell['median']} | {took:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
