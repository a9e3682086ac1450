"""Reduced-precision inference that never hands back a black or NaN image.

A band is computed under autocast in bf16/fp16; if any output is NaN or Inf (fp16 overflows at 65504,
which large activations or Sinkhorn scores can reach) the band is recomputed in fp32 with a warning.
"""
from __future__ import annotations

import warnings
from contextlib import nullcontext
from typing import Callable, Sequence

import torch

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return precision


def _autocast(device: torch.device, precision: str):
    dtype = PRECISIONS[precision]
    # no weight-cast cache: it would hold tensors across CUDA graph captures (each band is one region anyway)
    return nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype, cache_enabled=False)


def compute_with_fallback(compute: Callable[[], Sequence[torch.Tensor]], device: torch.device,
                          precision: str) -> list[torch.Tensor]:
    """compute() under `precision`; recomputed in fp32 (with a warning) if any output is not finite."""
    with torch.inference_mode(), _autocast(device, precision):
        outputs = [t.float() for t in compute()]
    if precision != "fp32" and not all(torch.isfinite(t).all() for t in outputs):
        warnings.warn(f"{precision} inference produced NaN/Inf values in a tile; recomputed it in fp32",
                      RuntimeWarning, stacklevel=2)
        with torch.inference_mode():
            outputs = [t.float() for t in compute()]
    return outputs
