"""Shared helpers of the benchmark scripts: test sizes, interleaved timing, peak memory, markdown tables.

Timing: every variant is run once per round, round-robin, and the best time per variant is reported, so that
load from other processes (this machine is shared) hits all variants alike and ratios stay meaningful.
Peak memory: on CUDA, torch's allocator high-water mark; on CPU, the process's peak resident set size
(Linux VmHWM, reset before each measurement) above the resident size before the call; while measuring,
glibc is told to map every block over 64 KiB separately, so that freed memory is not silently reused
(only while measuring: it costs page faults, which would distort timings).
"""

from __future__ import annotations

import ctypes
import os
import platform
import time
from typing import Callable

import torch

# LR sizes (H, W) at x4 of the three test sets, from the real pairs in ../shared/data/stereo:
# KITTI 2012/2015 1242x375 -> 310x93; Middlebury 2014 half resolution 1482x994 -> 370x248;
# Flickr1024 (pair 0026) 1100x700 -> 275x175.
SIZES = {"kitti": (93, 310), "middlebury": (248, 370), "flickr1024": (175, 275)}
TRAIN_PATCH = (30, 90)  # LR training patch of MSINet / NAFSSR
TRAIN_BATCH = 8


def add_common_arguments(parser) -> None:
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES), help="test sizes")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per variant (best reported)")


def setup(args) -> torch.device:
    if args.threads is not None:
        if args.threads < 1:
            raise SystemExit(f"error: --threads must be positive, got {args.threads}")
        torch.set_num_threads(args.threads)
    if args.rounds < 1:
        raise SystemExit(f"error: --rounds must be positive, got {args.rounds}")
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("error: --device cuda requested but CUDA is not available")
    return device


def environment(device: torch.device) -> str:
    if device.type == "cuda":
        where = torch.cuda.get_device_name(device)
    else:
        where = f"{_cpu_model()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads"
    load = " / load average {:.1f}".format(os.getloadavg()[0]) if hasattr(os, "getloadavg") else ""
    return f"torch {torch.__version__} on {where}{load} (python {platform.python_version()})"


def _cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "CPU"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_interleaved(
    variants: dict[str, Callable[[], object]], device: torch.device, rounds: int, warmup: int = 1
) -> dict[str, float]:
    """Best (minimum) wall time in ms of each variant over `rounds`, measured round-robin."""
    for fn in variants.values():
        for _ in range(warmup):
            fn()
        sync(device)
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, fn in variants.items():
            sync(device)
            start = time.perf_counter()
            fn()
            sync(device)
            times[name].append((time.perf_counter() - start) * 1e3)
    return {name: min(ts) for name, ts in times.items()}


def sgemm(device, n: int):
    """(run, GFLOP): an n x n float32 matrix product, the machine's reference rate for dense work."""
    a, b = (torch.randn(n, n, device=device) for _ in range(2))

    def run():
        return a @ b

    return run, 2 * n**3 / 1e9


def peak_memory_mib(fn: Callable[[], object], device: torch.device) -> float:
    """Memory in MiB that `fn` needs above what is allocated when it starts (its result included)."""
    if device.type == "cuda":
        sync(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        result = fn()
        sync(device)
        peak = torch.cuda.max_memory_allocated(device) - before
        del result
        return peak / 2**20
    if not os.path.exists("/proc/self/clear_refs"):
        return float("nan")
    _malloc_tuning(mmap_threshold=1 << 16, trim_threshold=0)
    try:
        before = _status_kib("VmRSS")
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the peak resident set size (VmHWM) to the current one
        result = fn()
        peak = _status_kib("VmHWM") - before
        del result
    finally:
        # glibc's own steady state after large frees: 32 MiB mmap threshold, trim at twice that
        _malloc_tuning(mmap_threshold=32 << 20, trim_threshold=64 << 20)
    return peak / 1024


def _status_kib(key: str) -> int:
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{key} not in /proc/self/status")


def _malloc_tuning(mmap_threshold: int, trim_threshold: int) -> None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-1, trim_threshold)  # M_TRIM_THRESHOLD
        libc.mallopt(-3, mmap_threshold)  # M_MMAP_THRESHOLD
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        pass


def markdown_table(headers: list[str], rows: list[list[object]]) -> str:
    cells = [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    lines = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in cells]
    return "\n".join(lines)


def _fmt(value) -> str:
    if isinstance(value, float):
        if value != value:
            return "-"
        if value == 0 or 1e-2 <= abs(value) < 1e5:
            return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
        return f"{value:.1e}"
    return str(value)
