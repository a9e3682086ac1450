"""Whole models: MSINet, the shipped MSINet-S, NAFSSR-S and the lightweight peers (CVHSSR-T, EHFSSR-S,
NAFRSSR-T/M) vs bicubic_x4 — inference and a training step, with size and cost; ratios against nafssr_s.

    python benchmarks/bench_models.py [--device cuda] [--threads N] [--sizes kitti ...] [--rounds 3]
                                      [--models msinet_x4 nafssr_s cvhssr_t_x4 ...] [--no-train]
                                      [--options] [--compile] [--profile]

Inference: model.eval() (test-time local statistics on, as users run it), one LR pair per test size, under
torch.inference_mode. Training step: model.train(), LR 30x90 patches, batch 8, forward + MSE loss + backward.
Reports best-of-rounds ms, pairs/s, peak memory (see benchlib), parameters and GFLOPs per pair counted by
torch.utils.flop_counter.FlopCounterMode (convolutions and matrix products only: elementwise work,
including the log-domain Sinkhorn's logsumexp, is not counted; the fast Sinkhorn's matrix-vector products are).
--cpu-table: every x4 model with trained weights (shipped or downloadable; or --models) and the paper's
msinet_x4, on one KITTI-size pair: seconds as plain eager PyTorch runs the modules (contiguous, no inference
folds) and with the settings msinet chooses on the CPU (the family's declared memory format, the inference
folds of msinet.layers.inference_fold; threads: --threads, else OMP_NUM_THREADS, else physical cores),
GFLOP/s achieved as a percentage of the same run's sgemm rate, and the ratio to nafssr_s_x4.
--options measures inference variants (no_grad vs inference_mode, channels_last, bf16 autocast, threads,
CUDA graph replay on CUDA, torch.compile with --compile) on the first size; --profile prints where msinet_x4's
inference time goes.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from contextlib import nullcontext

import torch
from benchlib import (
    SIZES,
    TRAIN_BATCH,
    TRAIN_PATCH,
    add_common_arguments,
    environment,
    markdown_table,
    peak_memory_mib,
    setup,
    sgemm,
    sync,
    time_interleaved,
)
from torch.utils.flop_counter import FlopCounterMode

import msinet

DEFAULT_MODELS = [
    "msinet_x4",
    "msinet_small_x4",
    "nafssr_s",
    "cvhssr_t_x4",
    "ehfssr_s_x4",
    "nafrssr_t_x4",
    "nafrssr_m_x4",
    "bicubic_x4",
]


def make_models(names, device) -> dict[str, torch.nn.Module]:
    models = {}
    for name in names:
        torch.manual_seed(0)
        models[name] = msinet.create_model(name).to(device)
    return models


def lr_pair(batch, hw, device):
    g = torch.Generator().manual_seed(2)
    return tuple(torch.rand(batch, 3, *hw, generator=g).to(device) for _ in range(2))


def inference(model, left, right, grad_mode=torch.inference_mode, autocast=None):
    def run():
        with grad_mode(), autocast() if autocast else nullcontext():
            return model(left, right)

    return run


def training_step(model, left, right):
    scale = model.scale
    hr = torch.rand(
        left.shape[0], 3, left.shape[2] * scale, left.shape[3] * scale, generator=torch.Generator().manual_seed(3)
    ).to(left.device)

    def run():
        model.zero_grad(set_to_none=True)
        sr_l, sr_r = model(left, right)
        (torch.nn.functional.mse_loss(sr_l, hr) + torch.nn.functional.mse_loss(sr_r, hr)).backward()
        return None

    return run


def gflops(fn) -> float:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops() / 1e9


def parameter_count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def bench_inference(models, args, device) -> list[list]:
    rows = []
    for size in args.sizes:
        hw = SIZES[size]
        left, right = lr_pair(1, hw, device)
        for m in models.values():
            m.eval()
        fns = {name: inference(m, left, right) for name, m in models.items()}
        ms = time_interleaved(fns, device, args.rounds)
        base = ms.get("nafssr_s")
        for name, fn in fns.items():
            rows.append(
                [
                    f"{size} {hw[0]}x{hw[1]}",
                    "inference",
                    name,
                    ms[name],
                    1e3 / ms[name],
                    ms[name] / base if base else float("nan"),
                    peak_memory_mib(fn, device),
                    parameter_count(models[name]) / 1e6,
                    gflops(fn),
                ]
            )
        print(f"  {size}: " + ", ".join(f"{n} {ms[n]:.0f} ms" for n in fns), file=sys.stderr)
    return rows


def bench_training(models, args, device) -> list[list]:
    trainable = {n: m for n, m in models.items() if parameter_count(m) > 0}
    if not trainable:
        return []
    left, right = lr_pair(TRAIN_BATCH, TRAIN_PATCH, device)
    for m in trainable.values():
        m.train()
    fns = {name: training_step(m, left, right) for name, m in trainable.items()}
    ms = time_interleaved(fns, device, args.rounds)
    base = ms.get("nafssr_s")
    label = f"patch {TRAIN_PATCH[0]}x{TRAIN_PATCH[1]} x{TRAIN_BATCH}"
    rows = []
    for name, fn in fns.items():
        rows.append(
            [
                label,
                "train step",
                name,
                ms[name],
                TRAIN_BATCH * 1e3 / ms[name],
                ms[name] / base if base else float("nan"),
                peak_memory_mib(fn, device),
                parameter_count(trainable[name]) / 1e6,
                gflops(fn) / TRAIN_BATCH,
            ]
        )
    print("  training: " + ", ".join(f"{n} {ms[n]:.0f} ms" for n in fns), file=sys.stderr)
    return rows


def cpu_table_models() -> list[str]:
    """Every x4 model with trained weights (shipped or downloadable), and the paper's msinet_x4."""
    from msinet.models.pretrained import trained_names

    return ["msinet_x4", *trained_names(4)]


def unfolded(fn):
    """fn with msinet's inference folds off (msinet.layers.inference_fold): the modules as written."""
    from msinet.layers import inference_fold

    def run():
        with inference_fold.switched(False):
            return fn()

    return run


def bench_cpu_table(args, device) -> list[list]:
    """Default (eager, contiguous) vs chosen CPU settings per model, with % of the sgemm rate."""
    from msinet.runtime.cpu import set_threads

    threads = set_threads(args.threads if args.threads else None)
    left, right = lr_pair(1, SIZES["kitti"], device)
    gemm, gemm_gflop = sgemm(device, 1024)
    rows, chosen_s = [], {}
    for name in args.models or cpu_table_models():
        torch.manual_seed(0)
        model = msinet.create_model(name).eval()
        layout = torch.channels_last if model.cpu_channels_last else torch.contiguous_format
        chosen = msinet.create_model(name).eval().to(memory_format=layout)
        chosen.load_state_dict(model.state_dict())
        lc, rc = (x.contiguous(memory_format=layout) for x in (left, right))
        fns = {"default": unfolded(inference(model, left, right)), "chosen": inference(chosen, lc, rc), "sgemm": gemm}
        ms = time_interleaved(fns, device, args.rounds)
        work = gflops(fns["default"])
        rate = gemm_gflop / ms["sgemm"] * 1e3
        chosen_s[name] = ms["chosen"] / 1e3
        rows.append(
            [name, "channels_last" if model.cpu_channels_last else "contiguous", ms["default"] / 1e3]
            + [ms["chosen"] / 1e3, ms["chosen"] / ms["default"], work, 100 * work / (ms["chosen"] / 1e3) / rate]
        )
        print(
            f"  {name}: default {ms['default']:.0f} ms, chosen {ms['chosen']:.0f} ms, sgemm {rate:.0f} GFLOP/s",
            file=sys.stderr,
        )
    for row in rows:
        row.append(chosen_s[row[0]] / chosen_s["nafssr_s_x4"] if "nafssr_s_x4" in chosen_s else float("nan"))
    print(f"threads {threads}", file=sys.stderr)
    return rows


def bench_options(models, args, device) -> list[list]:
    """Inference variants on the first size, each model measured against its own baseline in one run."""
    size = args.sizes[0]
    hw = SIZES[size]
    rows = []
    threads = torch.get_num_threads()
    for name, model in models.items():
        if parameter_count(model) == 0:
            continue
        model.eval()
        left, right = lr_pair(1, hw, device)
        cl_model = _channels_last_copy(model)
        autocast = lambda: torch.autocast(device.type, dtype=torch.bfloat16)
        variants = {
            "no_grad": inference(model, left, right, torch.no_grad),
            "inference_mode (default)": inference(model, left, right),
            "channels_last": inference(
                cl_model, left.to(memory_format=torch.channels_last), right.to(memory_format=torch.channels_last)
            ),
            "bf16 autocast": inference(model, left, right, autocast=autocast),
        }
        if device.type == "cpu" and threads > 1:
            variants["1 thread"] = _with_threads(1, inference(model, left, right), threads)
        if device.type == "cuda":  # the replay `msinet upscale/eval --cuda-graphs` use (eager if not capturable)
            from msinet.infer.graphs import GraphedForward

            graphed = GraphedForward(model, capture_after=1)
            variants["CUDA graph"] = inference(graphed, left, right)
            variants["CUDA graph + bf16"] = inference(graphed, left, right, autocast=autocast)
        if args.compile:
            start = time.perf_counter()
            compiled = torch.compile(model)
            inference(compiled, left, right)()
            print(f"  torch.compile of {name}: first call {time.perf_counter() - start:.0f} s", file=sys.stderr)
            variants["torch.compile"] = inference(compiled, left, right)
        ms = time_interleaved(variants, device, args.rounds)
        with torch.inference_mode():
            want = model(left, right)
        for variant, fn in variants.items():
            got = fn()
            err = max((g.float() - w).abs().max().item() for g, w in zip(got, want))
            rows.append(
                [
                    f"{size} {hw[0]}x{hw[1]}",
                    name,
                    variant,
                    ms[variant],
                    ms[variant] / ms["inference_mode (default)"],
                    err,
                ]
            )
        print(f"  options {name}: " + ", ".join(f"{v} {t:.0f} ms" for v, t in ms.items()), file=sys.stderr)
    return rows


def _channels_last_copy(model):
    import copy

    return copy.deepcopy(model).to(memory_format=torch.channels_last)


def _with_threads(n, fn, restore):
    def run():
        torch.set_num_threads(n)
        try:
            return fn()
        finally:
            torch.set_num_threads(restore)

    return run


def profile_inference(model, args, device) -> list[list]:
    """Wall time per kind of sub-module during one msinet_x4 inference (nested kinds are inside their parent)."""
    from msinet.layers import DEAM, MSCAM, SCAM, SFFN, MultiScaleLSKA, SimplifiedChannelAttention

    kinds = {
        MSCAM: "MSCAM (intra-view mixer)",
        MultiScaleLSKA: "  of which multi-scale LSKA",
        SimplifiedChannelAttention: "  of which channel attention (TLSC)",
        SFFN: "SFFN (feed-forward)",
        DEAM: "DEAM (fusion)",
        SCAM: "SCAM (fusion)",
    }
    spent = defaultdict(float)
    starts = {}
    handles = []
    for module in model.modules():
        kind = next((label for cls, label in kinds.items() if type(module) is cls), None)
        if kind is None:
            continue

        def pre(mod, _inp, key=id(module)):
            sync(device)
            starts[key] = time.perf_counter()

        def post(mod, _inp, _out, key=id(module), kind=kind):
            sync(device)
            spent[kind] += time.perf_counter() - starts[key]

        handles += [module.register_forward_pre_hook(pre), module.register_forward_hook(post)]
    # the Sinkhorn itself, inside DEAM
    sinkhorn_time = [0.0]
    deams = [m for m in model.modules() if isinstance(m, DEAM)]
    original = DEAM.weights

    def timed_weights(self, scores):
        sync(device)
        start = time.perf_counter()
        out = original(self, scores)
        sync(device)
        sinkhorn_time[0] += time.perf_counter() - start
        return out

    size = args.sizes[0]
    left, right = lr_pair(1, SIZES[size], device)
    model.eval()
    try:
        if deams:
            DEAM.weights = timed_weights
        inference(model, left, right)()  # warm-up
        spent.clear()
        sinkhorn_time[0] = 0.0
        sync(device)
        start = time.perf_counter()
        inference(model, left, right)()
        sync(device)
        total = time.perf_counter() - start
    finally:
        DEAM.weights = original
        for h in handles:
            h.remove()
    if deams:
        spent["  of which Sinkhorn"] = sinkhorn_time[0]
    order = [*kinds.values(), "  of which Sinkhorn"]
    rows = [[size, label, spent[label] * 1e3, 100 * spent[label] / total] for label in order if label in spent]
    rows.append([size, "whole forward", total * 1e3, 100.0])
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(parser)
    parser.set_defaults(rounds=3)
    parser.add_argument("--models", nargs="+", default=None, help="registry names")
    parser.add_argument("--no-train", action="store_true", help="skip the training-step measurement")
    parser.add_argument("--options", action="store_true", help="measure inference variants on the first size")
    parser.add_argument("--compile", action="store_true", help="include torch.compile in --options (slow)")
    parser.add_argument("--profile", action="store_true", help="time msinet_x4's sub-modules on the first size")
    parser.add_argument("--cpu-table", action="store_true", help="only the CPU settings table (see above)")
    args = parser.parse_args(argv)
    device = setup(args)
    if args.cpu_table:  # --models, or every x4 model with trained weights
        print(f"# CPU settings per model, KITTI-size LR pair; {environment(device)}\n")
        headers = ["model", "chosen format", "default s", "chosen s", "chosen / default", "GFLOPs"]
        print(markdown_table(headers + ["% of sgemm", "x nafssr_s"], bench_cpu_table(args, device)))
        return 0
    try:
        models = make_models(args.models or DEFAULT_MODELS, device)
    except ValueError as err:
        raise SystemExit(f"error: {err}")
    print(f"# Whole models; {environment(device)}\n")

    rows = bench_inference(models, args, device)
    if not args.no_train:
        rows += bench_training(models, args, device)
    print(
        markdown_table(
            ["size (H x W)", "mode", "model", "ms", "pairs/s", "x nafssr_s", "peak MiB", "params (M)", "GFLOPs/pair"],
            rows,
        )
    )
    if args.options:
        print("\n## Inference options (each vs inference_mode in the same run; max abs difference of the output)\n")
        print(
            markdown_table(
                ["size", "model", "variant", "ms", "x default", "max abs diff"], bench_options(models, args, device)
            )
        )
    if args.profile:
        model = models.get("msinet_x4") or make_models(["msinet_x4"], device)["msinet_x4"]
        print("\n## Where msinet_x4's inference time goes (forward hooks, one run)\n")
        print(markdown_table(["size", "part", "ms", "% of forward"], profile_inference(model, args, device)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
