"""What the fast paths' one-time self-checks (msinet.fastpath) cost, per path, on one device.

    .venv/bin/python benchmarks/bench_fastpath.py [--device cpu|cuda] [--threads 1]
    TRITON_INTERPRET=1 .venv/bin/python benchmarks/bench_fastpath.py        # the Triton check on CPU, interpreted

Fused LSKA: the check's time inside the first msinet_small_x4 forward (LR 64x128), and the per-call cost of
the cached verdict. Graph replay: the check's time in the first captured call (on CPU through the runner's
stand-in capture, where a replay is a whole eager forward). Triton Sinkhorn (CUDA, or the interpreter): the
check at W = 93 and 310, and the float64 reference alone. Every verdict's deviation is printed beside it.
"""

from __future__ import annotations

import argparse
import os
import time
import timeit

import torch

import msinet
from msinet import fastpath
from msinet.infer.graphs import GRAPH_REPLAY, GraphedForward, eager_capture
from msinet.layers.lska import FUSED_LSKA, MultiScaleLSKA
from msinet.layers.sinkhorn import TRITON_SINKHORN, sinkhorn, sinkhorn_log


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn, device):
    _sync(device)
    t = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    key = fastpath._key(device, "")
    print(f"device {key}, torch {torch.__version__}, threads {args.threads}, load average {os.getloadavg()[0]:.1f}")

    MultiScaleLSKA.fused = True
    model = msinet.create_model("msinet_small_x4").to(device).eval()
    pair = [torch.rand(1, 3, 64, 128, device=device) for _ in range(2)]
    with torch.inference_mode():
        model(*pair)  # library warm-up (oneDNN / cuDNN), verdict reached
        fastpath.reset()
        first = _timed(lambda: model(*pair), device)
        later = _timed(lambda: model(*pair), device)
        v = FUSED_LSKA.verdicts[key]
        print(
            f"fused-lska: check {v.seconds * 1e3:.1f} ms ({v.describe()}); msinet_small_x4 forward "
            f"with the check {first:.3f} s, after {later:.3f} s"
        )
    layer = MultiScaleLSKA(48).to(device)  # built outside inference mode (its weights cache reads versions)
    x = torch.rand(1, 48, 16, 32, device=device)
    with torch.inference_mode():
        layer(x)
        lookup = timeit.timeit(lambda: layer._fused_checked(x), number=2000) / 2000
        print(f"fused-lska: per-call cost after the verdict {lookup * 1e6:.2f} us")
    MultiScaleLSKA.fused = None

    fastpath.reset()
    capture = None if device.type == "cuda" else eager_capture
    graphed = GraphedForward(model, capture_after=1, capture=capture)
    with torch.inference_mode():
        first = _timed(lambda: graphed(*pair), device)
    v = GRAPH_REPLAY.verdicts.get(key)
    if v is not None:
        print(
            f"cuda-graph-replay ({'CUDA' if capture is None else 'CPU stand-in'}): check {v.seconds:.3f} s "
            f"({v.describe()}) of a first call of {first:.3f} s"
        )

    if TRITON_SINKHORN.available(device) is None:
        for w in (93, 310):
            scores = 3 * torch.randn(4, w, w, device=device)
            fastpath.reset()
            first = _timed(lambda: sinkhorn(scores, 10, method="triton"), device)
            later = _timed(lambda: sinkhorn(scores, 10, method="triton"), device)
            v = TRITON_SINKHORN.verdicts[f"{key} (forward)"]
            print(
                f"triton-sinkhorn W={w}: check {v.seconds:.3f} s ({v.describe()}); 4 lines with the check "
                f"{first:.3f} s, after {later:.3f} s"
            )
    for w in (93, 310, 960):
        line = 3 * torch.randn(1, w, w, device=device, dtype=torch.float64)
        print(
            f"triton-sinkhorn reference alone (one line W={w}, float64, 10 iterations): "
            f"{_timed(lambda: sinkhorn_log(line, 10), device) * 1e3:.1f} ms"
        )


if __name__ == "__main__":
    main()
