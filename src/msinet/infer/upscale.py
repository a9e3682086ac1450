"""`upscale_pair`: super-resolve one stereo pair of any size, in any image kind, within a memory budget."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import torch
import torch.nn.functional as F

from ..runtime.devices import resolve_device
from ..runtime.precision import check_precision, compute_with_fallback
from .convert import ImageKind, from_planes, to_planes
from .disparity import disparity_from_plan, disparity_to_hr
from .graphs import check_mode, graphed_model
from .tiling import auto_tile_rows, default_context, run_tiled


def _parse_rows(value, what: str, allow_auto: bool = True):
    if value is None or (allow_auto and value == "auto"):
        return value
    try:
        rows = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be 'auto' or a positive number of rows, got {value!r}") from None
    least = 1 if what == "tile" else 0
    if isinstance(value, float) or rows < least:
        raise ValueError(f"{what} must be 'auto' or a number of rows >= {least}, got {value!r}")
    return rows


def _common_frame(left: torch.Tensor, right: torch.Tensor, pad_common: bool):
    """Pad both views (bottom/right, edge pixels) to a common size, or refuse with a clear message."""
    (hl, wl), (hr, wr) = left.shape[-2:], right.shape[-2:]
    if left.shape[0] != right.shape[0]:
        raise ValueError(f"left and right hold different numbers of images: {left.shape[0]} vs {right.shape[0]}")
    if (hl, wl) == (hr, wr):
        return left, right
    if not pad_common:
        raise ValueError(
            f"left and right views differ in size: left {wl}x{hl}, right {wr}x{hr} (WxH); "
            "pass --pad-common (pad_common=True) to pad both to a common frame"
        )
    h, w = max(hl, hr), max(wl, wr)

    def pad(x):  # replicate needs at least 2 pixels per padded dimension for 'reflect'; edge works from 1
        return F.pad(x, (0, w - x.shape[-1], 0, h - x.shape[-2]), mode="replicate")

    return pad(left), pad(right)


def _drop_alpha(kind: ImageKind) -> ImageKind:
    return dataclasses.replace(kind, channels=3, pil_mode="RGB" if kind.container == "pil" else kind.pil_mode)


def _upscale_alpha(alpha: torch.Tensor | None, scale: int) -> torch.Tensor | None:
    # alpha is a mask, not a photo: the SR network never saw one, so it gets plain bicubic upsampling
    if alpha is None:
        return None
    from ..data.imresize import imresize_torch  # MATLAB bicubic; infer never imports models (no import circle)

    return imresize_torch(alpha, scale).clamp(0, 1)


def upscale_pair(
    model,
    left,
    right,
    *,
    tile="auto",
    context="auto",
    precision: str = "fp32",
    device=None,
    pad_common: bool = False,
    alpha: str = "upscale",
    return_disparity: bool = False,
    on_tile=None,
    cuda_graphs: str = "auto",
    memory_format: str = "auto",
    on_band=None,
):
    """Super-resolve a stereo pair with `model`; returns (sr_left, sr_right) of the inputs' kind.

    left, right: numpy uint8/uint16/float (HxW, HxWx3, HxWx4), PIL images, or float tensors (3,H,W) /
      (B,3,H,W) in [0,1]. Grayscale stays grayscale, 16-bit stays 16-bit, tensors keep dtype and device.
    tile: "auto" (tiles sized to the device memory), an int (core rows per tile) or None (whole image).
    context: rows of context per tile side ("auto": see tiling.default_context).
    precision: "fp32", "bf16" or "fp16" (a tile with NaN/Inf output is recomputed in fp32, with a warning).
    device: "auto"/None, "cpu", "cuda", "mps" or a torch.device; the model is moved there, the full
      images stay on the host.
    pad_common: pad views of different sizes to a common frame and crop each result back.
    alpha: "upscale" (bicubic, separately from the colour) or "drop".
    return_disparity: also return the left-view disparity in HR pixels from the last DEAM's transport
      plan: a float32 numpy array (sH, sW) for one image, a tensor (B, sH, sW) for tensor inputs.
    cuda_graphs: "auto" (on CUDA: tiles of one shape, a shape replayed from a CUDA graph from its second
      tile on), "on" (from the first tile) or "off"; eager on other devices, with disparity, and where the
      forward cannot be captured (one-line notice). Outputs equal eager ones with the same tiles.
    memory_format: "auto" (channels_last on the CPU for the families that declare it faster there,
      `cpu_channels_last`; same outputs to float rounding), "channels_last" or "contiguous".
    on_tile: called as on_tile(tile, tile_rows) after each tile (infer.tiling.Tile: its core rows and the rows
      fed), e.g. for progress. `on_band` is its old name (FutureWarning; it stops working in 0.3).
    """
    if on_band is not None:
        if on_tile is not None:
            raise ValueError("give on_tile only (on_band is its old name), not both")
        warnings.warn(
            "upscale_pair(on_band=...) is now on_tile=...; the old name will stop working in 0.3",
            FutureWarning,
            stacklevel=2,
        )
        on_tile = on_band
    check_precision(precision)
    check_mode(cuda_graphs)
    if memory_format not in ("auto", "channels_last", "contiguous"):
        raise ValueError(f"memory_format must be 'auto', 'channels_last' or 'contiguous', got {memory_format!r}")
    if alpha not in ("upscale", "drop"):
        raise ValueError(f"alpha must be 'upscale' or 'drop', got {alpha!r}")
    tile = _parse_rows(tile, "tile")
    context = _parse_rows(context, "context")
    device = resolve_device(device)
    scale = int(model.scale)

    l_rgb, l_alpha, l_kind = to_planes(left, "left")
    r_rgb, r_alpha, r_kind = to_planes(right, "right")
    if alpha == "drop":
        l_alpha, r_alpha, l_kind, r_kind = None, None, _drop_alpha(l_kind), _drop_alpha(r_kind)
    sizes = [tuple(l_rgb.shape[-2:]), tuple(r_rgb.shape[-2:])]
    l_in, r_in = _common_frame(l_rgb, r_rgb, pad_common)
    height, width = l_in.shape[-2:]

    if return_disparity and not model.has_transport_plans:
        raise ValueError(
            f"model {model.model_name or type(model).__name__} has no DEAM transport plan to read "
            "disparity from; use an MSINet model"
        )
    context = default_context(model) if context in (None, "auto") else context
    if tile is None:
        tile = height
    elif tile == "auto":
        tile = auto_tile_rows(model, height, width, device, context)

    def run_tile(lb, rb):
        def compute():
            if not return_disparity:
                return forward(lb, rb)
            with model.keep_transport_plans() as deams:
                sr_l, sr_r = model(lb, rb)
                disp = disparity_from_plan(deams[-1].last_plan)[:, None]  # (1, 1, rows, W)
            return sr_l, sr_r, disp

        return compute_with_fallback(compute, device, precision)

    was_training = model.training
    model.eval()
    model.to(device)
    channels_last = memory_format == "channels_last" or (
        memory_format == "auto"
        and device.type == "cpu"
        and getattr(model, "cpu_channels_last", False)
        and not return_disparity
    )
    layout = torch.channels_last if channels_last else torch.contiguous_format
    model.to(memory_format=layout)
    if channels_last:
        l_in, r_in = (x.contiguous(memory_format=layout) for x in (l_in, r_in))
    graphed = None if return_disparity else graphed_model(model, device, cuda_graphs)  # after .to(): weights moved
    forward = model if graphed is None else graphed
    try:
        results = [
            run_tiled(
                run_tile,
                l_in[b : b + 1],
                r_in[b : b + 1],
                tile,
                context,
                device,
                on_tile,
                same_shape=graphed is not None,
            )
            for b in range(l_in.shape[0])
        ]
    finally:
        model.train(was_training)
    sr_l, sr_r = (torch.cat([res[i] for res in results]).contiguous() for i in (0, 1))
    (hl, wl), (hr, wr) = sizes
    sr_l, sr_r = sr_l[..., : scale * hl, : scale * wl], sr_r[..., : scale * hr, : scale * wr]
    out_l = from_planes(sr_l, _upscale_alpha(l_alpha, scale), l_kind)
    out_r = from_planes(sr_r, _upscale_alpha(r_alpha, scale), r_kind)
    if not return_disparity:
        return out_l, out_r
    disp = disparity_to_hr(torch.cat([res[2] for res in results])[..., :hl, :wl], scale)[:, 0]  # (B, sH, sW)
    if l_kind.container == "tensor":
        disp = disp if l_kind.layout == "BCHW" else disp[0]
        return out_l, out_r, disp.to(l_kind.device)
    return out_l, out_r, disp[0].numpy().astype(np.float32)
