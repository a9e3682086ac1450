"""bf16 autocast vs fp32: how far the gradients of a real training batch move, per model.

    python benchmarks/bench_grad_precision.py [--models msinet_small_x4] [--batches 3] [--threads 1]

Batches: the first real training batches of configs/msinet_small_x4_cpu.yaml's corpus (StereoPatches: kit
degradation, flips, RGB permutation), 8 patch pairs of 30x90 LR. Weights: the model's trained weights where it
has them (the shipped default), else (or with --random-init) a seeded random init. Per batch: the relative error of
the whole gradient
||g_bf16 - g_fp32|| / ||g_fp32||, its cosine similarity, the share of entries whose sign differs (what Lion
uses), the worst relative error of a single parameter tensor, and whether any gradient is not finite.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from benchlib import environment, markdown_table

import msinet
from msinet.data.train_patches import StereoPatches
from msinet.train.config import load_config
from msinet.train.loss import StereoSRLoss

REPO = Path(__file__).resolve().parents[1]


def gradients(model, batch, bf16: bool) -> dict[str, torch.Tensor]:
    lr_l, lr_r, hr_l, hr_r = batch
    model.zero_grad(set_to_none=True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        sr = model(lr_l, lr_r)
    StereoSRLoss(0.01)(tuple(v.float() for v in sr), (hr_l, hr_r)).backward()
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["msinet_small_x4"])
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--config", default=str(REPO / "configs" / "msinet_small_x4_cpu.yaml"))
    parser.add_argument("--random-init", action="store_true", help="seeded random weights even where trained exist")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    d = load_config(args.config)["data"]
    rows = []
    print(f"# bf16 autocast vs fp32 gradients on real batches; {environment(torch.device('cpu'))}\n")
    for name in args.models:
        try:
            if args.random_init:
                raise ValueError("random init asked for")
            model, weights = msinet.load_model(name), "trained"
        except ValueError:
            torch.manual_seed(0)
            model, weights = msinet.create_model(name), "random init"
        model.train()
        model.drop_path_rate = 0.0  # the same blocks in both runs
        data = StereoPatches.from_folders(
            d["train"],
            scale=model.scale,
            lr_patch=d["lr_patch"],
            seed=0,
            hflip=True,
            vflip=True,
            rgb_perm=True,
            hr_scales=d["hr_scales"],
            degradation=d["degradation"],
        )
        for b in range(args.batches):
            items = [data[b * 8 + i] for i in range(8)]
            batch = [torch.stack([it[k] for it in items]) for k in range(4)]
            ref, low = gradients(model, batch, False), gradients(model, batch, True)
            g32 = torch.cat([ref[n].flatten() for n in ref])
            g16 = torch.cat([low[n].flatten() for n in ref])
            finite = bool(torch.isfinite(g16).all())
            rel = float((g16 - g32).norm() / g32.norm()) if finite else float("nan")
            cos = float(torch.nn.functional.cosine_similarity(g16, g32, dim=0)) if finite else float("nan")
            signs = float((torch.sign(g16) != torch.sign(g32)).float().mean() * 100)
            worst = max(float((low[n] - ref[n]).norm() / ref[n].norm().clamp_min(1e-30)) for n in ref)
            rows.append(
                [
                    name,
                    weights,
                    b,
                    f"{rel:.3g}",
                    f"{cos:.5f}",
                    f"{signs:.2f}",
                    f"{worst:.3g}",
                    "yes" if finite else "NO",
                ]
            )
            print(f"  {name} batch {b}: relative error {rel:.3g}", file=sys.stderr)
    print(
        markdown_table(
            [
                "model",
                "weights",
                "batch",
                "||g_bf16 - g_fp32|| / ||g_fp32||",
                "cosine",
                "% signs differ",
                "worst tensor rel. error",
                "finite",
            ],
            rows,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
