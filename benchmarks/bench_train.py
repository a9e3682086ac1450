"""Training steps: time, arithmetic rate and its fraction of the machine's matrix-multiply rate, memory.

    python benchmarks/bench_train.py [--device cuda] [--threads N] [--rounds 3] [--batch 8] [--patch 30 90]
                                     [--models msinet_small_x4 nafssr_t] [--variants eager channels_last ...]

One step = forward of a batch of LR patch pairs, the training loss (MSE + 0.01 FFT, as the recipes), backward
and an optimizer step (Lion, as the recipes), like msinet.train.Trainer. Per model and variant: best-of-rounds
ms, patch pairs/s, GFLOP per step counted by torch.utils.flop_counter (convolutions and matrix products,
forward and backward; elementwise work is not counted), the achieved GFLOP/s and its percentage of the sgemm
rate measured in the same run (a square float32 matrix product: what the BLAS of this machine reaches), and
peak memory (see benchlib). Variants:
  eager              the default
  channels_last      model and inputs in channels_last memory format
  checkpoint         train.checkpoint_blocks: blocks recomputed in backward
  bf16               bf16 autocast (train.precision=bf16)
  channels_last_bf16 both of the above (train.channels_last=true, train.precision=bf16)
  compile            torch.compile(mode="reduce-overhead") with the graph-friendly drop-path (train.compile;
                     CUDA only: CUDA graphs)
All variants of a model are timed round-robin in one run, so their ratios hold on a loaded machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import nullcontext

import torch
from benchlib import (
    add_common_arguments,
    environment,
    markdown_table,
    peak_memory_mib,
    setup,
    sgemm,
    time_interleaved,
)
from lion_pytorch import Lion
from torch.utils.flop_counter import FlopCounterMode

import msinet
from msinet.train.loss import StereoSRLoss

VARIANTS = ("eager", "channels_last", "checkpoint", "bf16", "channels_last_bf16", "compile")


def batch_of(batch, patch, scale, device, channels_last=False):
    g = torch.Generator().manual_seed(2)
    h, w = patch
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    lr = [torch.rand(batch, 3, h, w, generator=g).to(device, memory_format=fmt) for _ in range(2)]
    hr = [torch.rand(batch, 3, h * scale, w * scale, generator=g).to(device, memory_format=fmt) for _ in range(2)]
    return lr, hr


def make_step(name: str, variant: str, args, device):
    torch.manual_seed(0)
    model = msinet.create_model(name).to(device).train()
    channels_last = variant in ("channels_last", "channels_last_bf16")
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    if variant == "checkpoint":
        model.checkpoint_blocks = True
    forward = model
    if variant == "compile":
        model.static_drop_path = True
        forward = torch.compile(model, mode="reduce-overhead")
    lr, hr = batch_of(args.batch, args.patch, model.scale, device, channels_last)
    loss_fn = StereoSRLoss(0.01)
    optimizer = Lion(model.parameters(), lr=1e-7)  # tiny steps: the weights stay near their initial values
    autocast = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if variant.endswith("bf16") else nullcontext

    def step():
        with autocast():
            sr = forward(*lr)
        loss = loss_fn(tuple(v.float() for v in sr), hr)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step, model


def counted_gflop(name, args, device) -> float:
    """Forward + backward FLOPs of one step (eager; every variant does the same arithmetic, checkpoint more)."""
    torch.manual_seed(0)
    model = msinet.create_model(name, drop_path_rate=0.0).to(device).train()  # every block counted
    lr, hr = batch_of(args.batch, args.patch, model.scale, device)
    with FlopCounterMode(display=False) as counter:
        StereoSRLoss(0.01)(model(*lr), hr).backward()
    return counter.get_total_flops() / 1e9


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(parser)
    parser.set_defaults(rounds=3)
    parser.add_argument("--models", nargs="+", default=["msinet_small_x4", "nafssr_t"], help="registry names")
    parser.add_argument(
        "--variants",
        nargs="+",
        default=None,
        choices=VARIANTS,
        help="default: eager channels_last checkpoint (CPU); all (CUDA)",
    )
    parser.add_argument("--batch", type=int, default=8, help="patch pairs per step (default 8)")
    parser.add_argument("--patch", type=int, nargs=2, default=[30, 90], metavar=("H", "W"), help="LR patch")
    parser.add_argument(
        "--sgemm-size",
        type=int,
        default=None,
        help="matrix size of the sgemm reference (default 1024 on CPU, 8192 on CUDA)",
    )
    args = parser.parse_args(argv)
    device = setup(args)
    variants = args.variants or (["eager", "channels_last", "checkpoint"] if device.type == "cpu" else list(VARIANTS))
    if "compile" in variants and device.type != "cuda":
        raise SystemExit("error: the compile variant is for CUDA (train.compile is eager elsewhere)")
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True  # as train.tf32 (default)
    print(
        f"# Training steps, batch {args.batch} of {args.patch[0]}x{args.patch[1]} LR patches; {environment(device)}\n"
    )
    gemm, gemm_gflop = sgemm(device, args.sgemm_size or (8192 if device.type == "cuda" else 1024))
    rows = []
    for name in args.models:
        steps = {}
        for variant in variants:
            start = time.perf_counter()
            steps[variant], _ = make_step(name, variant, args, device)
            steps[variant]()  # first call: allocations, autotuning, compilation
            if variant == "compile":
                print(f"  {name} compile: first steps {time.perf_counter() - start:.0f} s", file=sys.stderr)
        ms = time_interleaved({**steps, "sgemm": gemm}, device, args.rounds)
        rate = gemm_gflop / ms["sgemm"] * 1e3
        gflop = counted_gflop(name, args, device)
        for variant in variants:
            achieved = gflop / ms[variant] * 1e3
            rows.append(
                [
                    name,
                    variant,
                    ms[variant],
                    args.batch * 1e3 / ms[variant],
                    ms[variant] / ms[variants[0]],
                    gflop,
                    achieved,
                    100 * achieved / rate,
                    peak_memory_mib(steps[variant], device),
                ]
            )
        print(
            f"  {name}: " + ", ".join(f"{v} {ms[v]:.0f} ms" for v in variants) + f"; sgemm {rate:.0f} GFLOP/s",
            file=sys.stderr,
        )
        rows.append(
            [name, "(sgemm reference)", ms["sgemm"], float("nan"), float("nan"), gemm_gflop, rate, 100.0, float("nan")]
        )
    print(
        markdown_table(
            [
                "model",
                "variant",
                "ms/step",
                "pairs/s",
                f"x {variants[0]}",
                "GFLOP/step",
                "GFLOP/s",
                "% of sgemm",
                "peak MiB",
            ],
            rows,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
