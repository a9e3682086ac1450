"""Inference-time folds: linear maps with no nonlinearity between them, multiplied out once.

At inference a block's tail `x + beta * P(M(cat(a, b)) )` (1x1 merge, 1x1 projection, per-channel residual
scale) is one linear map of (a, b) plus the residual, and a LayerNorm's affine can run inside one fused
normalisation kernel. Folding removes whole passes over the feature map and a C x C matrix product per
block; the math is unchanged and the outputs move only by float rounding (~1e-6, like channels_last;
tests/test_inference_fold.py checks float64 equality to 1e-12 and float32 to 1e-5).

Active only where measured to pay (ENABLED: the CPU; docs/performance.md "Inference folds") and only on
channels_last features, which is the layout `upscale` picks on the CPU for the families that declare it; a
model called on contiguous tensors runs as written and keeps the authors' float rounding. Never with autograd
or autocast (training runs the modules as written, so gradients reach every parameter as declared), nor while
tracing, exporting or compiling (exported graphs keep the modules' own parameters).
Folded weights are cached per module and rebuilt when any parameter changes (in place or replaced).
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn.functional as F

from .. import fastpath

ENABLED = {"cpu": True}


def active(x: torch.Tensor) -> bool:
    """Whether the blocks fold for this input: no autograd or autocast, a device in ENABLED, channels_last
    features (the CPU layout `upscale` chooses; contiguous inputs keep the authors' float rounding exactly),
    and no tracing, export or compile."""
    if torch.is_grad_enabled() or not ENABLED.get(x.device.type, False) or _rows(x) is None:
        return False
    if torch.is_autocast_enabled(x.device.type):  # reduced precision: the modules as written
        return False
    return not (fastpath.plain_ops_required() or torch.compiler.is_exporting())


@contextmanager
def switched(on: bool, device_type: str = "cpu"):
    """Folds on or off for `device_type` inside the block (A/B measurements, tests); restored after."""
    saved = dict(ENABLED)
    ENABLED[device_type] = on
    try:
        yield
    finally:
        ENABLED.clear()
        ENABLED.update(saved)


class ParameterCache:
    """A value built from some parameters, rebuilt when any of them changed (storage, version, device, dtype)."""

    def __init__(self):
        self._entry: tuple | None = None

    def get(self, params, build):
        key = tuple((p.data_ptr(), p._version, p.device, p.dtype) for p in params)
        if self._entry is None or self._entry[0] != key:
            self._entry = (key, build())
        return self._entry[1]


def _rows(t: torch.Tensor) -> torch.Tensor | None:
    """(B*H*W, C) view of a channels_last-contiguous (B, C, H, W) tensor, else None."""
    if t.dim() != 4 or not t.is_contiguous(memory_format=torch.channels_last):
        return None
    return t.permute(0, 2, 3, 1).reshape(-1, t.shape[1])


def layer_norm_channels(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float) -> torch.Tensor:
    """LayerNorm over the channels of channels_last x (the last, contiguous axis of its NHWC view) as one
    fused kernel."""
    return F.layer_norm(x.permute(0, 2, 3, 1), (x.shape[1],), weight, bias, eps).permute(0, 3, 1, 2)


def residual_pointwise(x: torch.Tensor, inputs, weights, bias: torch.Tensor) -> torch.Tensor:
    """x + sum_i W_i inputs_i + bias, each W_i a 1x1 conv's (C_out, C_i) matrix: matrix products accumulating
    onto the residual where every tensor is channels_last, else 1x1 convolutions."""
    rows = [_rows(t) for t in (x, *inputs)]
    if all(r is not None for r in rows):
        out = torch.addmm(rows[0], rows[1], weights[0].t())
        for r, w in zip(rows[2:], weights[1:]):
            out.addmm_(r, w.t())
        out.add_(bias)
        b, _, h, w_ = x.shape
        return out.view(b, h, w_, -1).permute(0, 3, 1, 2)
    update = F.conv2d(inputs[0], weights[0][..., None, None], bias)
    for t, w in zip(inputs[1:], weights[1:]):
        update = update + F.conv2d(t, w[..., None, None])
    return x + update


def matrix(conv: torch.nn.Conv2d) -> torch.Tensor:
    """A 1x1 convolution's weight as a (C_out, C_in) matrix, in float64 for folding."""
    return conv.weight.detach().reshape(conv.out_channels, -1).double()


def bias64(conv: torch.nn.Conv2d) -> torch.Tensor:
    b = conv.bias
    return b.detach().double() if b is not None else conv.weight.new_zeros(conv.out_channels, dtype=torch.float64)
