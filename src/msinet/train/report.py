"""Held-out evaluation of a trained model against MATLAB-bicubic (used by validation and the model card).

Protocol (the one the model card states): HR cropped to a multiple of the scale, LR = degrade(HR, s) by the
stereo-SR kits' rule ("kit", msinet.data.degradation: bit-exact to their LR files), outputs clamped and
rounded to uint8; scores by msinet.metrics' "stereo" protocol (PSNR on RGB with no border crop, SSIM with a
7x7 uniform window as scikit-image, each per view, then the mean of the two views). Bicubic = MATLAB
imresize(LR, s).

    python -m msinet.train.report [--model NAME_OR_WEIGHTS] [--data ../shared/data/stereo] [--pairs a,b]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from ..data.degradation import DEFAULT_DEGRADATION, DEGRADATIONS, degrade
from ..data.imresize import imresize
from ..data.train_patches import find_pairs, load_rgb_pair
from ..metrics import stereo_scores

HELD_OUT = ("kitti2012_000000", "kitti2015_000046", "middlebury2014_motorcycle_quarter",
            "middlebury2014_motorcycle_half", "sceneflow_A-0032-0006")


def mod_crop(img: np.ndarray, scale: int) -> np.ndarray:
    h, w = img.shape[:2]
    return img[: h - h % scale, : w - w % scale]


def to_tensor(img: np.ndarray, device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float().div(255).to(device)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    return x[0].clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy()


@torch.no_grad()
def super_resolve(model, lr_l: np.ndarray, lr_r: np.ndarray, device) -> tuple[np.ndarray, np.ndarray]:
    sr_l, sr_r = model(to_tensor(lr_l, device), to_tensor(lr_r, device))
    return to_uint8(sr_l), to_uint8(sr_r)


def evaluate_pair(model, hr_l: np.ndarray, hr_r: np.ndarray, scale: int, device="cpu",
                  degradation: str = DEFAULT_DEGRADATION) -> dict:
    """PSNR/SSIM (mean of the two views) of `model` and of bicubic on one HR pair; model must be in eval mode."""
    hr = [mod_crop(hr_l, scale), mod_crop(hr_r, scale)]
    lr = [degrade(v, scale, degradation) for v in hr]
    sr = super_resolve(model, lr[0], lr[1], device)
    bic = [imresize(v, float(scale)) for v in lr]
    model_psnr, model_ssim = stereo_scores(sr[0], sr[1], hr[0], hr[1], protocol="stereo", scale=scale)
    bic_psnr, bic_ssim = stereo_scores(bic[0], bic[1], hr[0], hr[1], protocol="stereo", scale=scale)
    return {"psnr": model_psnr, "ssim": model_ssim, "bicubic_psnr": bic_psnr, "bicubic_ssim": bic_ssim,
            "sr_left": sr[0]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m msinet.train.report", description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="registry name or weights file (default: the shipped model)")
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[4] / "shared" / "data" / "stereo"),
                        help="folder holding the held-out pair folders")
    parser.add_argument("--pairs", default=",".join(HELD_OUT), help="comma-separated pair folder names")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--degradation", default=DEFAULT_DEGRADATION, choices=list(DEGRADATIONS),
                        help="how LR is made from HR (default kit: the stereo-SR test kits' rule)")
    args = parser.parse_args(argv)
    import msinet

    try:
        model = msinet.load_model(args.model).to(args.device).eval()
        rows = []
        for name in args.pairs.split(","):
            ((left, right),) = find_pairs(Path(args.data) / name)[:1]
            r = evaluate_pair(model, *load_rgb_pair(left, right), model.scale, args.device, args.degradation)
            rows.append((name, r))
    except (ValueError, OSError) as exc:
        print(f"msinet report: error: {exc}", file=sys.stderr)
        return 2
    print(f"model: {args.model or 'default (' + msinet.models.resolve.default_model_name() + ')'}; "
          f"x{model.scale}; RGB, mean of both views, LR = degradation {args.degradation!r}")
    print("| pair | bicubic PSNR / SSIM | model PSNR / SSIM | gain (dB) |")
    print("|---|---|---|---|")
    for name, r in rows:
        print(f"| {name} | {r['bicubic_psnr']:.2f} / {r['bicubic_ssim']:.4f} | {r['psnr']:.2f} / {r['ssim']:.4f} "
              f"| {r['psnr'] - r['bicubic_psnr']:+.2f} |")
    mean = {k: float(np.mean([r[k] for _, r in rows])) for k in ("psnr", "ssim", "bicubic_psnr", "bicubic_ssim")}
    print(f"| **mean** | {mean['bicubic_psnr']:.2f} / {mean['bicubic_ssim']:.4f} | {mean['psnr']:.2f} / "
          f"{mean['ssim']:.4f} | {mean['psnr'] - mean['bicubic_psnr']:+.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
