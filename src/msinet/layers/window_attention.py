"""Window self-attention with gated local and channel branches (EHFSSR's WSAttention).

    x0 -> LN -> x ---------------------------- 1x1 -> q, k (C/2 each) -----+
              |                                                            |  attention in non-overlapping
              +-> dw3x3 -> d --> ECA gate(d) * x -> 1x1 -> v (C/2) --------+  win x win windows, 2 heads
              |                                                            |  (optionally cyclically shifted
              |                                                            v   by win/2, Swin-style, no mask)
              +-> 1x1 (C -> C/2) -> l                                      y (C/2)
                                     l * sigmoid(1x1(y) -> 1 channel) + y -> 1x1 (C/2 -> C) -> + x0

The spatial gate lets the attended features decide, per pixel, how much of the local (depthwise) branch to
keep. Inputs must be multiples of the window: the block pads them (`pad_to_multiple`, reflect) and crops the
result, so the channel statistics of the ECA gate include the padding, as in the reference code.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .eca import MultiDilationECA
from .norm import LayerNorm2d


def mirror_index(n: int, size: int, device=None) -> torch.Tensor:
    """Indices 0..size-1 into a side of length n, reflected at both ends without repeating the edge pixel
    (F.pad's 'reflect'), as often as needed: 0 1 2 1 0 1 2 ... for n = 3; a side of one pixel is repeated."""
    i = torch.arange(size, device=device)
    if torch.compiler.is_exporting():
        # one reflection, enough while size - n < n: an exported EHFSSR graph requires sides above the window
        # (the model records that minimum), and ONNX has no remainder by a symbolic size
        return torch.where(i < n, i, 2 * n - 2 - i)
    period = max(2 * n - 2, 1)
    i = i % period
    return torch.where(i < n, i, period - i)


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Reflect-pad bottom and right up to multiples of `multiple`. Equal to F.pad(..., mode='reflect') where
    that applies (pad < side); shorter sides are reflected again. Index gathers, no size-dependent branch:
    one traced / exported graph serves every input size."""
    h, w = x.shape[-2:]
    rows = mirror_index(h, h + (-h % multiple), x.device)
    cols = mirror_index(w, w + (-w % multiple), x.device)
    return x.index_select(-2, rows).index_select(-1, cols)


def check_window_multiple(h: int, w: int, win: int) -> None:
    """Window attention tiles the image exactly: both sides multiples of the window (callers pad first).
    No check inside an exported graph (a size guard would specialise it)."""
    if not torch.compiler.is_exporting() and (h % win or w % win):
        raise ValueError(f"window attention needs sides that are multiples of {win}, got {h}x{w}")


def to_windows(x: torch.Tensor, heads: int, win: int) -> torch.Tensor:
    """(B, heads*c, H, W) -> (B * H/win * W/win, heads, win*win, c), windows in row-major order."""
    b, ch, h, w = x.shape
    x = x.reshape(b, heads, ch // heads, h // win, win, w // win, win)
    return x.permute(0, 3, 5, 1, 4, 6, 2).reshape(b * (h // win) * (w // win), heads, win * win, ch // heads)


def from_windows(x: torch.Tensor, b: int, h: int, w: int, win: int) -> torch.Tensor:
    """Inverse of to_windows: (B * H/win * W/win, heads, win*win, c) -> (B, heads*c, H, W)."""
    heads, c = x.shape[1], x.shape[-1]
    x = x.reshape(b, h // win, w // win, heads, win, win, c)
    return x.permute(0, 3, 6, 1, 4, 2, 5).reshape(b, heads * c, h, w)


class WindowSelfAttention(nn.Module):
    def __init__(self, channels: int, window: int = 16, heads: int = 2, shift: bool = False):
        super().__init__()
        if channels % (2 * heads):
            raise ValueError(f"window attention: {channels} channels do not split into {heads} heads of q, k, v")
        half = channels // 2
        self.window, self.heads, self.shift = window, heads, shift
        self.scale = half**-0.5  # of all the heads' channels together, as the reference code scales
        self.norm = LayerNorm2d(channels)
        self.dwconv = nn.Conv2d(channels, channels, 3, padding=1, groups=channels)
        self.local = nn.Conv2d(channels, half, 1)
        self.eca = MultiDilationECA()
        self.qk = nn.Conv2d(channels, channels, 1)
        self.v = nn.Conv2d(channels, half, 1)
        self.gate = nn.Conv2d(half, 1, 1)
        self.project = nn.Conv2d(half, channels, 1)

    def forward(self, x0: torch.Tensor) -> torch.Tensor:  # (B, C, H, W), H and W multiples of the window
        b, _, h, w = x0.shape
        win = self.window
        check_window_multiple(h, w, win)
        x = self.norm(x0)
        d = self.dwconv(x)
        v = self.v(self.eca.gate(d) * x)
        qk = self.qk(x)
        if self.shift:
            qk = torch.roll(qk, shifts=(-(win // 2), -(win // 2)), dims=(2, 3))
            v = torch.roll(v, shifts=(-(win // 2), -(win // 2)), dims=(2, 3))
        q, k = qk.chunk(2, dim=1)
        q, k, v = (to_windows(t, self.heads, win) for t in (q, k, v))  # (nWin, heads, win*win, c)
        # softmax(q k^T * scale) v, fused: the (win^2 x win^2) scores of all windows are never stored whole
        y = F.scaled_dot_product_attention(q, k, v, scale=self.scale)
        y = from_windows(y, b, h, w, win)  # (B, C/2, H, W)
        if self.shift:
            y = torch.roll(y, shifts=(win // 2, win // 2), dims=(2, 3))
        y = y + self.local(d) * torch.sigmoid(self.gate(y))
        return self.project(y) + x0
