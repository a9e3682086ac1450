"""`msinet report`: a trained model against MATLAB bicubic on held-out real pairs (the model cards' table)."""

from __future__ import annotations

HELP = "score a model against bicubic on held-out stereo pairs (PSNR/SSIM per pair and mean; the model cards' table)"


def add_arguments(p) -> None:
    from ..data.degradation import DEFAULT_DEGRADATION, DEGRADATIONS

    p.add_argument("--data", required=True, help="folder holding one folder per pair, e.g. ../shared/data/stereo")
    p.add_argument("--model", default=None, help="registry name or weights file (default: the shipped x4 model)")
    p.add_argument("--scale", type=int, default=None, help="the default model of this scale (with no --model)")
    p.add_argument(
        "--pairs",
        default=None,
        help="comma-separated pair folder names (default: the five held-out pairs of msinet's model cards)",
    )
    p.add_argument("--device", default="cpu", help="auto, cpu, cuda[:N] or mps")
    p.add_argument(
        "--degradation",
        default=DEFAULT_DEGRADATION,
        choices=list(DEGRADATIONS),
        help="how LR is made from HR (default kit: the stereo-SR test kits' rule)",
    )


def run(args) -> int:
    from pathlib import Path

    import numpy as np

    from ..data.train_patches import find_pairs, load_rgb_pair
    from ..models.loading import load_model
    from ..runtime.devices import resolve_device
    from ..train.heldout import HELD_OUT, evaluate_pair

    device = resolve_device(args.device)
    model = load_model(args.model, scale=args.scale).to(device).eval()
    rows = []
    names = HELD_OUT if args.pairs is None else [n.strip() for n in args.pairs.split(",") if n.strip()]
    for name in names:
        ((left, right),) = find_pairs(Path(args.data) / name)[:1]
        rows.append((name, evaluate_pair(model, *load_rgb_pair(left, right), model.scale, device, args.degradation)))
    if not rows:
        raise ValueError("--pairs is empty")
    print(f"model: {model.model_name}; x{model.scale}; RGB, mean of both views, LR = degradation {args.degradation!r}")
    print("| pair | bicubic PSNR / SSIM | model PSNR / SSIM | gain (dB) |")
    print("|---|---|---|---|")
    for name, r in rows:
        print(
            f"| {name} | {r['bicubic_psnr']:.2f} / {r['bicubic_ssim']:.4f} | {r['psnr']:.2f} / {r['ssim']:.4f} "
            f"| {r['psnr'] - r['bicubic_psnr']:+.2f} |"
        )
    mean = {k: float(np.mean([r[k] for _, r in rows])) for k in ("psnr", "ssim", "bicubic_psnr", "bicubic_ssim")}
    print(
        f"| **mean** | {mean['bicubic_psnr']:.2f} / {mean['bicubic_ssim']:.4f} | {mean['psnr']:.2f} / "
        f"{mean['ssim']:.4f} | {mean['psnr'] - mean['bicubic_psnr']:+.2f} |"
    )
    return 0
