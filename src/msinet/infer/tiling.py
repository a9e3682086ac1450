"""Stereo-aware tiling: the image is cut into tiles of whole rows, never columns.

Epipolar attention (DEAM / SCAM) matches every pixel against its whole row in the other view, so a
column split would change the result everywhere; a row split only changes what the convolutions and
the pooled statistics see near the cut. Each tile is run with `context` extra rows above and below
(clipped at the image border) and only its core rows are kept, so the cores tile the output exactly
once, with no blending. The full image stays on the host; one tile at a time visits the device.

    rows  0 ........................................ H
    tile  [ctx | core 0 | ctx]
                  [ctx | core 1 | ctx]
                               [ctx | core 2 | ctx]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from ..runtime.devices import free_memory_bytes

MIN_TILE_ROWS = 8
CPU_BUDGET_CAP = 6 << 30  # bigger tiles buy little on a CPU and can starve the rest of the machine


class OutOfMemory(RuntimeError):
    """Even the smallest tile does not fit on the device."""


@dataclass(frozen=True)
class Tile:
    core0: int  # first output row this tile owns (LR rows)
    core1: int  # one past its last
    in0: int  # first row fed to the model, core0 - context clipped at 0
    in1: int  # one past the last row fed, core1 + context clipped at H


def plan_tile(height: int, start: int, tile_rows: int, context: int, same_shape: bool = False) -> Tile:
    """The tile whose core starts at `start`. same_shape: every tile is fed tile_rows + 2 * context rows
    (or the whole height), tiles at the borders reaching further inwards (more context, never less)."""
    core1 = min(height, start + tile_rows)
    if same_shape:
        rows = min(height, tile_rows + 2 * context)
        in0 = min(max(0, start - context), height - rows)
        return Tile(start, core1, in0, in0 + rows)
    return Tile(start, core1, max(0, start - context), min(height, core1 + context))


def default_context(model) -> int:
    """Rows of context each tile carries on both sides (LR rows): what the model declares
    (StereoSRModel.tile_context)."""
    return model.tile_context()


def bytes_per_row(model, width: int) -> int:
    """Rough peak device memory per LR row of a tile, as the model declares (StereoSRModel.bytes_per_row)."""
    return model.bytes_per_row(width)


def _available_memory(device: torch.device) -> int:
    free = free_memory_bytes(device)
    if device.type == "cuda":
        return int(free * 0.7)
    if device.type == "mps":
        return int(free * 0.5)
    return min(int(free * 0.5), CPU_BUDGET_CAP)


def auto_tile_rows(
    model, height: int, width: int, device: torch.device, context: int, budget_bytes: int | None = None
) -> int:
    """Core rows per tile so that a tile (core + 2 * context rows) fits the memory budget."""
    budget = _available_memory(device) if budget_bytes is None else budget_bytes
    rows = budget // max(1, bytes_per_row(model, width)) - 2 * context
    return int(max(MIN_TILE_ROWS, min(height, rows)))


def _is_oom(exc: BaseException) -> bool:
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    msg = str(exc)
    return isinstance(exc, RuntimeError) and ("out of memory" in msg or "can't allocate memory" in msg)


def _free_cache(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
    elif device.type == "mps" and hasattr(torch, "mps"):
        torch.mps.empty_cache()


def run_tiled(
    tile_fn: Callable[[torch.Tensor, torch.Tensor], Sequence[torch.Tensor]],
    left: torch.Tensor,
    right: torch.Tensor,
    tile_rows: int,
    context: int,
    device: torch.device,
    on_tile: Callable[[Tile, int], None] | None = None,
    same_shape: bool = False,
) -> list[torch.Tensor]:
    """Run `tile_fn(left_tile, right_tile)` tile by tile and stitch its outputs on the host.

    left, right: (1, 3, H, W) host tensors. tile_fn returns tensors shaped (1, C, k*rows, W') for a
    tile of `rows` input rows (k = the output's row factor, e.g. the SR scale; k = 1 for per-row maps).
    On out-of-memory the tile height is halved and the tile retried; rows already done are kept.
    same_shape: every tile has the same number of rows (see plan_tile), e.g. for CUDA graph replay.
    """
    height = left.shape[-2]
    tile_rows = max(1, min(int(tile_rows), height))
    outputs: list[torch.Tensor] | None = None
    start = 0
    while start < height:
        tile = plan_tile(height, start, tile_rows, context, same_shape)
        try:
            results = tile_fn(
                left[..., tile.in0 : tile.in1, :].to(device), right[..., tile.in0 : tile.in1, :].to(device)
            )
        except (RuntimeError, torch.OutOfMemoryError) as exc:
            if not _is_oom(exc):
                raise
            _free_cache(device)
            if tile_rows <= MIN_TILE_ROWS:
                raise OutOfMemory(
                    f"out of memory on {device} even with {tile_rows}-row tiles "
                    f"({context} rows of context); try --device cpu"
                ) from None
            tile_rows = max(MIN_TILE_ROWS, tile_rows // 2)
            continue
        in_rows = tile.in1 - tile.in0
        if outputs is None:
            outputs = []
            for r in results:
                factor = r.shape[-2] // in_rows
                outputs.append(torch.empty(r.shape[:-2] + (height * factor, r.shape[-1]), dtype=torch.float32))
        for out, r in zip(outputs, results):
            factor = r.shape[-2] // in_rows
            a, b = (tile.core0 - tile.in0) * factor, (tile.core1 - tile.in0) * factor
            out[..., tile.core0 * factor : tile.core1 * factor, :] = r[..., a:b, :].float().cpu()
        if on_tile is not None:
            on_tile(tile, tile_rows)
        start = tile.core1
    return outputs
