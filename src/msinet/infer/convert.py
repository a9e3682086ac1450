"""Images in the kinds users hold (numpy uint8/uint16/float, PIL, torch) <-> float planes the models take.

to_planes() turns one image into an RGB plane (B,3,H,W) float32 in [0,1] plus an optional alpha plane
(B,1,H,W), and records what it came from (`ImageKind`); from_planes() turns upscaled planes back into
that same kind: uint16 stays uint16, grayscale stays grayscale, PIL stays PIL with its mode, a tensor
comes back with its dimensions, dtype and device.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..data.image_io import pil_to_array


@dataclass(frozen=True)
class ImageKind:
    container: str  # "numpy" | "pil" | "tensor"
    channels: int  # 1 (grayscale), 3 or 4 (with alpha)
    dtype: object  # numpy dtype, or torch dtype for tensors
    layout: str = "HWC"  # numpy: "HW" or "HWC"; tensor: "CHW" or "BCHW"
    pil_mode: str | None = None
    device: object = None
    height: int = 0
    width: int = 0


def _numpy_to_planes(arr: np.ndarray, name: str) -> tuple[torch.Tensor, torch.Tensor | None, int, object, str]:
    if arr.ndim == 2:
        arr, layout = arr[:, :, None], "HW"
    elif arr.ndim == 3 and arr.shape[2] in (1, 3, 4):
        layout = "HWC"
    else:
        raise ValueError(f"{name}: expected an HxW, HxWx1, HxWx3 or HxWx4 image array, got shape {arr.shape}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{name}: empty image of shape {arr.shape}")
    if arr.dtype == np.uint8:
        x = arr.astype(np.float32) / 255.0
    elif arr.dtype == np.uint16:
        x = arr.astype(np.float32) / 65535.0
    elif arr.dtype in (np.float32, np.float64, np.float16):
        x = arr.astype(np.float32)
        if not np.isfinite(x).all():
            raise ValueError(f"{name}: the float image contains NaN or Inf")
    else:
        raise ValueError(f"{name}: unsupported pixel type {arr.dtype}; use uint8, uint16 or float in [0, 1]")
    planes = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None]  # (1, C, H, W)
    rgb, alpha = _split_channels(planes)
    return rgb, alpha, arr.shape[2], arr.dtype, layout


def _split_channels(planes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(B,C,H,W) with C in 1/3/4 -> RGB (B,3,H,W) and alpha (B,1,H,W) or None."""
    c = planes.shape[1]
    if c == 1:
        return planes.expand(-1, 3, -1, -1).contiguous(), None
    if c == 3:
        return planes, None
    return planes[:, :3].contiguous(), planes[:, 3:4].contiguous()


def to_planes(image, name: str = "image") -> tuple[torch.Tensor, torch.Tensor | None, ImageKind]:
    """(rgb (B,3,H,W) float32 CPU in [0,1], alpha (B,1,H,W) or None, kind) of a numpy/PIL/tensor image."""
    if isinstance(image, torch.Tensor):
        if image.dim() == 3:
            layout, x = "CHW", image[None]
        elif image.dim() == 4:
            layout, x = "BCHW", image
        else:
            raise ValueError(f"{name}: expected a (C,H,W) or (B,C,H,W) tensor, got shape {tuple(image.shape)}")
        if x.shape[1] not in (1, 3, 4):
            raise ValueError(f"{name}: expected 1, 3 or 4 channels, got {x.shape[1]} (shape {tuple(image.shape)})")
        if x.shape[0] < 1 or x.shape[-1] < 1 or x.shape[-2] < 1:
            raise ValueError(f"{name}: empty tensor of shape {tuple(image.shape)}")
        if not x.is_floating_point():
            raise ValueError(f"{name}: tensors must be floating point in [0, 1], got {x.dtype}")
        planes = x.detach().to("cpu", torch.float32)
        if not torch.isfinite(planes).all():
            raise ValueError(f"{name}: the tensor contains NaN or Inf")
        rgb, alpha = _split_channels(planes)
        kind = ImageKind(
            "tensor", x.shape[1], image.dtype, layout, device=image.device, height=x.shape[-2], width=x.shape[-1]
        )
        return rgb, alpha, kind
    if isinstance(image, np.ndarray):
        rgb, alpha, channels, dtype, layout = _numpy_to_planes(image, name)
        return rgb, alpha, ImageKind("numpy", channels, dtype, layout, height=rgb.shape[-2], width=rgb.shape[-1])
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - pillow is a dependency
        Image = None
    if Image is not None and isinstance(image, Image.Image):
        arr, mode = pil_to_array(image)
        rgb, alpha, channels, dtype, layout = _numpy_to_planes(arr, name)
        return (
            rgb,
            alpha,
            ImageKind("pil", channels, dtype, layout, pil_mode=mode, height=rgb.shape[-2], width=rgb.shape[-1]),
        )
    raise ValueError(f"{name}: expected a numpy array, a PIL image or a torch tensor, got {type(image).__name__}")


def _merge_channels(rgb: torch.Tensor, alpha: torch.Tensor | None, channels: int) -> torch.Tensor:
    if channels == 1:
        return rgb.mean(1, keepdim=True)  # the model saw three equal channels; average what it returns
    if channels == 4 and alpha is not None:
        return torch.cat([rgb, alpha], dim=1)
    return rgb


def from_planes(rgb: torch.Tensor, alpha: torch.Tensor | None, kind: ImageKind):
    """Upscaled planes (B,3,H,W) [+ alpha] back to the kind described by `kind`, clamped to [0,1]."""
    x = _merge_channels(rgb.clamp(0, 1), None if alpha is None else alpha.clamp(0, 1), kind.channels)
    if kind.container == "tensor":
        x = x.to(device=kind.device, dtype=kind.dtype)
        return x[0] if kind.layout == "CHW" else x
    arr = x[0].permute(1, 2, 0).numpy()  # (H, W, C)
    if kind.dtype == np.uint8:
        arr = np.round(arr * 255.0).astype(np.uint8)
    elif kind.dtype == np.uint16:
        arr = np.round(arr * 65535.0).astype(np.uint16)
    else:
        arr = arr.astype(kind.dtype)
    if kind.layout == "HW" or (kind.container == "pil" and arr.shape[2] == 1):
        arr = arr[:, :, 0]
    if kind.container == "numpy":
        return arr
    from PIL import Image

    img = Image.fromarray(arr)  # uint16 HxW -> "I;16"
    return img.convert("I") if kind.pil_mode == "I" else img
