"""CPU settings per model: contiguous vs channels_last inference, same weights, same inputs; with --bf16, bf16
autocast (time and the outputs' max |difference| from fp32 in 8-bit levels: msinet uses bf16 by default only
where it stays within 0.5 of a level and is faster); with --compile, torch.compile (compile time, steady-state
time: msinet compiles for inference only where a folder of pairs would repay the compile time); with --folds,
channels_last with msinet's inference folds off and on (msinet.layers.inference_fold), interleaved.

    OMP_NUM_THREADS=1 python benchmarks/bench_cpu_settings.py [--threads 1] [--rounds 3] [--peers ../shared/peers]
                                                             [--bf16] [--compile] [--folds]

Models: the shipped ones and the peers' published checkpoints found in --peers (`<name>.pth`). Input: a KITTI-size
LR pair (94x310) of the bundled Motorcycle scene. Rounds alternate the two formats; the table keeps each one's
fastest round. `declared` is the family's `cpu_channels_last`, what `upscale` uses by default on the CPU.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import torch

import msinet
from msinet.data.imresize import imresize
from msinet.data.sample_pair import motorcycle_pair


def kitti_size_pair() -> tuple[torch.Tensor, torch.Tensor]:
    views = [imresize(v, 0.25)[:94, :310] for v in motorcycle_pair()]  # 125x185 LR; tiled to 94x310 below
    out = []
    for v in views:
        t = torch.from_numpy(v).permute(2, 0, 1).float()[None] / 255
        out.append(torch.cat([t, t.flip(-1)], dim=-1)[..., :310])
    return out[0], out[1]


def time_format(model, left, right, layout) -> tuple[float, tuple]:
    model.to(memory_format=layout)
    lc, rc = (x.contiguous(memory_format=layout) for x in (left, right))
    start = time.perf_counter()
    out = model(lc, rc)
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--peers", default="../shared/peers")
    parser.add_argument("--bf16", action="store_true", help="also bf16 autocast: time and max diff in 8-bit levels")
    parser.add_argument("--compile", action="store_true", help="also torch.compile: compile and steady-state time")
    parser.add_argument("--folds", action="store_true", help="also channels_last with the inference folds off / on")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    names = ["msinet_small_x4"] + sorted(p.stem for p in Path(args.peers).glob("*_x4.pth"))
    left, right = kitti_size_pair()
    print(
        f"# CPU memory format, LR 94x310 x4; torch {torch.__version__}, {platform.processor() or platform.machine()}, "
        f"{args.threads} thread(s)"
    )
    print("| model | declared | contiguous (s) | channels_last (s) | ratio | max diff |")
    print("|---|---|---|---|---|---|")
    extra = []
    for name in names:
        source = name if name.startswith("msinet") else str(Path(args.peers) / f"{name}.pth")
        model = msinet.load_model(source).eval()
        best = {"contiguous": float("inf"), "channels_last": float("inf")}
        with torch.inference_mode():
            time_format(model, left, right, torch.contiguous_format)  # warm-up
            for _ in range(args.rounds):
                t_c, ref = time_format(model, left, right, torch.contiguous_format)
                t_l, got = time_format(model, left, right, torch.channels_last)
                best["contiguous"], best["channels_last"] = (
                    min(best["contiguous"], t_c),
                    min(best["channels_last"], t_l),
                )
        diff = max(float((a - b).abs().max()) for a, b in zip(got, ref))
        ratio = best["channels_last"] / best["contiguous"]
        print(
            f"| {name} | {getattr(model, 'cpu_channels_last', False)} | {best['contiguous']:.2f} | "
            f"{best['channels_last']:.2f} | {ratio:.2f} | {diff:.1e} |"
        )
        layout = torch.channels_last if model.cpu_channels_last else torch.contiguous_format
        fastest = min(best.values())
        if args.bf16:
            extra.append(f"| {name} | bf16 autocast | " + bf16_row(model, left, right, layout, fastest) + " |")
        if args.folds:
            extra.append(f"| {name} | inference folds | " + folds_row(model, left, right, args.rounds) + " |")
        if args.compile:
            extra.append(f"| {name} | torch.compile | " + compile_row(model, left, right, layout, fastest) + " |")
    if extra:
        print("\n| model | variant | s | x fp32 eager (declared format) | detail |\n|---|---|---|---|---|")
        print("\n".join(extra))


def folds_row(model, left, right, rounds: int) -> str:
    """channels_last with the inference folds on, against off (interleaved rounds): s, ratio, max diff."""
    from msinet.layers import inference_fold

    best = {False: float("inf"), True: float("inf")}
    outs = {}
    with torch.inference_mode():
        for _ in range(rounds):
            for on in (False, True):
                with inference_fold.switched(on):
                    t, outs[on] = time_format(model, left, right, torch.channels_last)
                best[on] = min(best[on], t)
    diff = max(float((a - b).abs().max()) for a, b in zip(outs[True], outs[False]))
    return f"{best[True]:.2f} | {best[True] / best[False]:.2f} (off: {best[False]:.2f} s) | max diff {diff:.1e}"


def bf16_row(model, left, right, layout, fp32_s) -> str:
    with torch.inference_mode():
        _, ref = time_format(model, left, right, layout)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            time_format(model, left, right, layout)  # warm-up
            seconds, out = time_format(model, left, right, layout)
    levels = max(float((a.float().clamp(0, 1) - b.clamp(0, 1)).abs().max()) * 255 for a, b in zip(out, ref))
    return f"{seconds:.2f} | {seconds / fp32_s:.2f} | max diff {levels:.2f} / 255"


def compile_row(model, left, right, layout, fp32_s) -> str:
    compiled = torch.compile(model)
    with torch.inference_mode():
        first, _ = time_format(compiled, left, right, layout)
        seconds, _ = time_format(compiled, left, right, layout)
    return f"{seconds:.2f} | {seconds / fp32_s:.2f} | first call (compiling) {first:.0f} s"


if __name__ == "__main__":
    main()
