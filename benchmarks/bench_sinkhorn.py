"""The Sinkhorn alone on CUDA: fused Triton kernel vs the anchored scaling form vs Algorithm 1 in plain torch.

    python benchmarks/bench_sinkhorn.py [--rounds 20] [--iters 10] [--sizes kitti ...]
    python benchmarks/bench_sinkhorn.py --cpu-chunks 2 4 8 16 [--threads N] [--sizes kitti ...]

CUDA only (prints "needs CUDA" elsewhere). Scores (B, H, W, W) as DEAM makes them: a scaled dot product of
layer-normalised 64-channel features. For each LR test size (one pair, inference: forward under
inference_mode) and for training (30x90 patches, batch 8 and 32: forward + backward): best time of each
method, its peak memory, and the largest deviation of the plan from a float64 run of Algorithm 1.
--cpu-chunks: the CPU scaling form at each chunk size (MiB of slices per chunk), at --threads torch threads,
for each test size (inference) and 30x90 training patches x8 (forward + backward); ratios to the first size.
"""

from __future__ import annotations

import argparse
import math
import sys

import torch
from benchlib import SIZES, TRAIN_PATCH, environment, markdown_table, peak_memory_mib, time_interleaved

from msinet.layers.sinkhorn import sinkhorn, sinkhorn_log

METHODS = ("triton", "scaling", "log")


def scores(batch: int, hw: tuple[int, int], device: torch.device) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    h, w = hw
    q_l, q_r = (torch.nn.functional.layer_norm(torch.randn(batch, h, w, 64, generator=g), (64,)) for _ in range(2))
    return (q_l @ q_r.transpose(-1, -2) / math.sqrt(64)).to(device)


def step(method: str, m: torch.Tensor, iters: int, train: bool, chunk_bytes: int | None = None):
    if not train:

        def run():
            with torch.inference_mode():
                return sinkhorn(m, iters, method=method, chunk_bytes=chunk_bytes)

        return run
    x = m.clone().requires_grad_(True)
    weight = torch.randn_like(m)

    def run():
        x.grad = None
        (sinkhorn(x, iters, method=method, chunk_bytes=chunk_bytes) * weight).sum().backward()

    return run


def cpu_chunks(args) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cpu")
    print(f"# CPU Sinkhorn chunk sizes, {args.iters} iterations; {environment(device)}\n")
    cases = [(f"{name} {hw[0]}x{hw[1]}", 1, hw, False) for name, hw in SIZES.items() if name in args.sizes]
    cases += [(f"patch {TRAIN_PATCH[0]}x{TRAIN_PATCH[1]} x8", 8, TRAIN_PATCH, True)]
    rows = []
    for label, batch, hw, train in cases:
        m = scores(batch, hw, device)
        fns = {f"{mib:g} MiB": step("scaling", m, args.iters, train, int(mib * (1 << 20))) for mib in args.cpu_chunks}
        ms = time_interleaved(fns, device, args.rounds, warmup=1)
        first = next(iter(ms.values()))
        rows += [[label, "train" if train else "inference", k, v, v / first] for k, v in ms.items()]
        print(f"  {label}: " + ", ".join(f"{k} {v:.1f} ms" for k, v in ms.items()), file=sys.stderr)
    print(markdown_table(["size (H x W)", "mode", "chunk", "ms", "x first"], rows))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES), help="test sizes")
    parser.add_argument("--rounds", type=int, default=20, help="timed rounds per method (best reported)")
    parser.add_argument("--iters", type=int, default=10, help="Sinkhorn iterations (DEAM: 10)")
    parser.add_argument("--cpu-chunks", nargs="+", type=float, help="CPU: compare these chunk sizes (MiB)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads for --cpu-chunks")
    args = parser.parse_args(argv)
    if args.cpu_chunks:
        return cpu_chunks(args)
    if not torch.cuda.is_available():
        print(
            "needs CUDA: the Triton kernel runs on CUDA devices only (its CPU check is the interpreter test, "
            "tests/test_sinkhorn_triton.py)"
        )
        return 0
    device = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = False  # the scaling form's products in full float32
    print(f"# Sinkhorn, {args.iters} iterations; {environment(device)}\n")
    cases = [(f"{name} {hw[0]}x{hw[1]}", 1, hw, False) for name, hw in SIZES.items() if name in args.sizes]
    cases += [(f"patch {TRAIN_PATCH[0]}x{TRAIN_PATCH[1]} x{b}", b, TRAIN_PATCH, True) for b in (8, 32)]
    cases += [(f"{name} {hw[0]}x{hw[1]}", 1, hw, True) for name, hw in SIZES.items() if name in args.sizes][:1]
    rows = []
    for label, batch, hw, train in cases:
        m = scores(batch, hw, device)
        fns = {method: step(method, m, args.iters, train) for method in METHODS}
        ms = time_interleaved(fns, device, args.rounds, warmup=2)
        mem = {method: peak_memory_mib(fn, device) for method, fn in fns.items()}
        ref = sinkhorn_log(m.double(), args.iters)
        with torch.inference_mode():
            err = {
                method: (sinkhorn(m, args.iters, method=method).double() - ref).abs().max().item() for method in METHODS
            }
        for method in METHODS:
            rows.append(
                [
                    label,
                    "train" if train else "inference",
                    method,
                    ms[method],
                    ms[method] / ms["log"],
                    mem[method],
                    err[method],
                ]
            )
        print(f"  {label}: " + ", ".join(f"{k} {v:.2f} ms" for k, v in ms.items()), file=sys.stderr)
    print(markdown_table(["size (H x W)", "mode", "method", "ms", "x log", "peak MiB", "max err vs f64"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
