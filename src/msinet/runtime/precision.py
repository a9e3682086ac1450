"""Reduced-precision inference that never hands back a black or NaN image.

A tile is computed under autocast in bf16/fp16; if any output is NaN or Inf (fp16 overflows at 65504,
which large activations or Sinkhorn scores can reach) the tile is recomputed in fp32 with a warning.
"""

from __future__ import annotations

import warnings
from contextlib import nullcontext
from typing import Callable, Sequence

import torch

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def native_bf16(device: torch.device) -> bool:
    """Whether `device` computes bf16 natively: a CPU whose oneDNN has bf16 kernels (AVX512-BF16, AMX), or a
    CUDA device that supports bf16."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


def auto_training_precision(device: torch.device, from_random_init: bool) -> str:
    """`train.precision: auto`: bf16 autocast only for a run from random weights on a CPU with native bf16, fp32
    otherwise. Measured (benchmarks/bench_grad_precision.py, msinet_small_x4, real batches): from a random init
    the bf16 gradient is within 0.4 % of fp32's (cosine 1.000), but at trained weights it is 75 % off (cosine
    0.73, 13 % of signs flipped, which is what Lion uses): fine-tuning needs fp32. On an H100, bf16 measured
    slower than fp32 + TF32 for these small-channel networks (docs/performance.md)."""
    return "bf16" if from_random_init and device.type == "cpu" and native_bf16(device) else "fp32"


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return precision


def autocast(device: torch.device, precision: str, cache: bool = True):
    """The autocast context of `precision` on `device` (a no-op for fp32). Inference passes cache=False: a
    weight-cast cache would hold tensors across CUDA graph captures (each tile is one region anyway)."""
    dtype = PRECISIONS[check_precision(precision)]
    return nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype, cache_enabled=cache)


def compute_with_fallback(
    compute: Callable[[], Sequence[torch.Tensor]], device: torch.device, precision: str
) -> list[torch.Tensor]:
    """compute() under `precision`; recomputed in fp32 (with a warning) if any output is not finite."""
    with torch.inference_mode(), autocast(device, precision, cache=False):
        outputs = [t.float() for t in compute()]
    if precision != "fp32" and not all(torch.isfinite(t).all() for t in outputs):
        warnings.warn(
            f"{precision} inference produced NaN/Inf values in a tile; recomputed it in fp32",
            RuntimeWarning,
            stacklevel=2,
        )
        with torch.inference_mode():
            outputs = [t.float() for t in compute()]
    return outputs
