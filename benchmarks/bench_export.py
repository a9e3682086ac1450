"""ONNX export: time to export, agreement with PyTorch, and inference time in onnxruntime vs PyTorch (CPU).

    .venv/bin/python benchmarks/bench_export.py [--models msinet_tiny_x4,msinet_small_x4] [--size 135x240]

The exported graph is run on one random LR pair of --size (height x width); times are the best of 3 runs.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import msinet
from msinet.export import export_onnx


def best_of(fn, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="msinet_tiny_x4,msinet_small_x4")
    parser.add_argument("--size", default="135x240", help="LR height x width of the timed pair")
    args = parser.parse_args()
    h, w = (int(v) for v in args.size.split("x"))
    import onnxruntime as ort

    gen = torch.Generator().manual_seed(0)
    left, right = torch.rand(1, 3, h, w, generator=gen), torch.rand(1, 3, h, w, generator=gen)
    print(f"threads: torch {torch.get_num_threads()}; LR pair {h}x{w}")
    print(f"{'model':22s} {'params':>10s} {'export s':>9s} {'max|diff|':>10s} {'torch s':>8s} {'onnxrt s':>9s}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in [m.strip() for m in args.models.split(",") if m.strip()]:
            model = msinet.load_model(name, random_init=True)  # timing only: weights do not matter
            path = Path(tmp) / f"{name}.onnx"
            start = time.perf_counter()
            export_onnx(model, path, verify=False)
            export_s = time.perf_counter() - start
            session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            feed = {"left": left.numpy(), "right": right.numpy()}
            with torch.no_grad():
                ref = model(left, right)
                torch_s = best_of(lambda: model(left, right))
            got = session.run(None, feed)
            ort_s = best_of(lambda: session.run(None, feed))
            diff = max(float(np.abs(g - r.numpy()).max()) for g, r in zip(got, ref))
            params = sum(p.numel() for p in model.parameters())
            print(f"{name:22s} {params:10,d} {export_s:9.1f} {diff:10.2e} {torch_s:8.2f} {ort_s:9.2f}")


if __name__ == "__main__":
    main()
