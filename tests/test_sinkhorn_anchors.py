"""The anchored scaling Sinkhorn where it re-anchors its kernel mid-way (wide lines, or a forced period):
forward against the float64 reference (Algorithm 1), and the exact unrolled gradient across anchors."""

import math

import pytest
import torch

import msinet.layers.sinkhorn as sk
from msinet.layers.sinkhorn import anchor_period, anchor_schedule, sinkhorn, sinkhorn_log


def gen(seed):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("w", [2, 7, 90, 310, 960, 4096])
def test_anchor_period_is_the_largest_that_the_bound_allows(w):
    floor = -math.log(torch.finfo(torch.float32).tiny)  # 87.3
    p = anchor_period(w)
    assert 16 + 2 * (p + 1) * math.log(w) <= floor < 16 + 2 * (p + 2) * math.log(w) or p == 1
    assert anchor_period(1) >= 10**6 and anchor_period(w, torch.float64) >= 20


def test_schedule_at_deam_widths():
    assert anchor_schedule(310, 10) == [6] and anchor_schedule(960, 10) == [5, 9]
    assert anchor_schedule(30, 10) == [] and anchor_schedule(310, 10, torch.float64) == []


@pytest.mark.parametrize("w,scale", [(93, 3.0), (93, 1000.0), (275, 30.0)])
def test_float32_with_reanchoring_matches_float64_reference(w, scale):
    assert anchor_schedule(w, 10)  # the kernel is re-anchored at least once
    m = scale * torch.randn(1, 2, w, w, generator=gen(w))
    m[0, 1, :, 3] -= 300  # a column no row wants
    m[0, 1, 5, :] -= 300  # a row no column wants
    torch.testing.assert_close(sinkhorn(m, 10).double(), sinkhorn_log(m.double(), 10), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("period", [1, 2])
def test_gradient_is_exact_across_anchors(period, monkeypatch):
    monkeypatch.setattr(sk, "anchor_period", lambda w, dtype=torch.float32: period)
    assert sk.anchor_schedule(6, 7) == list(range(1 + period, 7, period))
    m = torch.randn(1, 3, 6, 6, generator=gen(1), dtype=torch.float64)
    m[0, 1, :, 2] -= 200
    m[0, 2] *= 30
    m.requires_grad_(True)
    torch.testing.assert_close(sinkhorn(m, 7), sinkhorn_log(m, 7), rtol=1e-10, atol=1e-12)
    # one slice per chunk, then one chunk: chunk boundaries and anchors together
    for chunk_bytes in (6 * 6 * 8, None):
        assert torch.autograd.gradcheck(lambda x: sinkhorn(x, 7, chunk_bytes=chunk_bytes), (m,), fast_mode=True)


def test_float32_gradient_with_reanchoring_matches_log_domain_autograd():
    w = 93
    m = (3 * torch.randn(1, 2, w, w, generator=gen(2))).requires_grad_(True)
    weight = torch.randn(1, 2, w, w, generator=gen(3))
    (sinkhorn(m, 10) * weight).sum().backward()
    m64 = m.detach().double().requires_grad_(True)
    (sinkhorn_log(m64, 10) * weight.double()).sum().backward()
    torch.testing.assert_close(m.grad.double(), m64.grad, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("block_rows", [1, 3, 7])
def test_wide_exponent_in_row_blocks_is_the_same_kernel(monkeypatch, block_rows):
    """Wide slices form their float64 exponent a block of rows at a time (to stay in cache): same bits."""
    import msinet.layers.sinkhorn as sk

    w, n = 20, 3
    monkeypatch.setitem(sk.WIDE_BLOCK_BYTES, "cpu", block_rows * w * 8)  # one slice no longer fits a block
    g0 = torch.Generator().manual_seed(3)
    m = torch.randn(n, w, w, generator=g0) * 30
    f = torch.randn(n, w, generator=g0, dtype=torch.float64) * 10
    g = torch.randn(n, w, generator=g0, dtype=torch.float64) * 10
    wide = m.double() + g[:, None, :]
    out = torch.empty_like(m)
    r = sk._anchored_kernel(m, f, g, out, shift=True)
    assert torch.equal(r, wide.amax(-1)) and torch.equal(out, (wide - r[..., None]).float().exp())
    sk._anchored_kernel(m, f, g, out)
    assert torch.equal(out, (wide + f[:, :, None]).float().exp())
