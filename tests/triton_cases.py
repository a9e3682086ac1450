"""The fused Triton Sinkhorn (`sinkhorn_triton`) against the float64 reference, forward and gradient.

Run by tests/test_sinkhorn_triton.py in a subprocess with TRITON_INTERPRET=1 (Triton's interpreter runs the
kernels on CPU tensors); pytest does not collect this file by itself (its name does not start with test_).
"""

import os

import pytest
import torch

if os.environ.get("TRITON_INTERPRET") != "1":
    pytest.skip(
        "needs TRITON_INTERPRET=1 before triton is imported (see test_sinkhorn_triton.py)", allow_module_level=True
    )

from msinet.layers.sinkhorn import sinkhorn, sinkhorn_log  # noqa: E402
from msinet.layers.sinkhorn_triton import sinkhorn_triton  # noqa: E402

torch.set_num_threads(1)


def gen(seed):
    return torch.Generator().manual_seed(seed)


def adversarial(w: int, seed: int) -> dict[str, torch.Tensor]:
    """Costs of tests/test_sinkhorn_fast.py, one epipolar line each, at width w."""
    g = gen(seed)
    unwanted = 3 * torch.randn(w, w, generator=g)
    unwanted[:, w // 3] -= 200  # a column no row wants
    low_row = 3 * torch.randn(w, w, generator=g)
    low_row[w // 2, :] -= 300  # a row far below the others
    return {
        "random": 3 * torch.randn(w, w, generator=g),
        "sharp": 10 * torch.randn(w, w, generator=g),
        "large_1e3": 1e3 * torch.randn(w, w, generator=g),
        "offset_5e3": 5e3 + torch.randn(w, w, generator=g),
        "ties": torch.full((w, w), 5.0),
        "integer_ties": torch.randint(-3, 3, (w, w), generator=g).float(),
        "one_hot_rows": 500 * torch.eye(w),
        "unwanted_column": unwanted,
        "low_row": low_row,
    }


def check(m: torch.Tensor, iters: int, grad_rtol=1e-4, grad_atol=1e-5):
    m = m.float()
    weight = torch.randn(m.shape, generator=gen(99))
    x = m.clone().requires_grad_(True)
    plan = sinkhorn_triton(x, iters)
    (plan * weight).sum().backward()
    x64 = m.double().requires_grad_(True)  # the reference on the very same (rounded) costs
    ref = sinkhorn_log(x64, iters)
    (ref * weight.double()).sum().backward()
    assert plan.dtype == torch.float32 and plan.shape == m.shape
    torch.testing.assert_close(plan.double(), ref.detach(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(x.grad.double(), x64.grad, rtol=grad_rtol, atol=grad_atol)


# the interpreter costs ~0.2 s per line and iteration at these widths: few lines, fewer iterations when wide
@pytest.mark.parametrize(
    "w,lines,iters", [(1, 2, 10), (7, 2, 10), (93, 1, 10), (275, 1, 4), (310, 1, 4), (370, 1, 4), (960, 1, 2)]
)
def test_widths(w, lines, iters):
    check(3 * torch.randn(1, lines, w, w, generator=gen(w)), iters)


@pytest.mark.parametrize("name", list(adversarial(8, 0)))
def test_adversarial_costs(name):
    # a line of width 37 (not a power of two, one tile) and one of width 150 (crosses tiles)
    check(adversarial(37, 1)[name].unsqueeze(0), iters=10)
    check(adversarial(150, 3)[name].unsqueeze(0), iters=10)


def test_auto_method_stays_off_the_interpreter_on_cpu():
    m = 3 * torch.randn(2, 9, 9, generator=gen(4))
    torch.testing.assert_close(sinkhorn(m, 10, method="triton"), sinkhorn_triton(m, 10))
    # on CPU "auto" is the anchored scaling form, not the kernel (equal to rounding)
    torch.testing.assert_close(sinkhorn(m, 10), sinkhorn_triton(m, 10), rtol=1e-5, atol=1e-6)


def test_wrapper_issues_no_syncing_op():
    # the torch ops around the two launches (allocations, the float64 constant, contiguous copies) must not
    # read device values either; the interpreter itself works on numpy views, outside torch's dispatcher
    from test_no_sync import SyncRecorder

    x = (3 * torch.randn(2, 12, 12, generator=gen(5))).requires_grad_(True)
    # the first call per device checks the kernel against Algorithm 1 (msinet.fastpath), reading the
    # deviation on the host once per process; every later call must not
    sinkhorn(x, 10, method="triton").square().sum().backward()
    with SyncRecorder() as rec:
        sinkhorn(x, 10, method="triton").square().sum().backward()
    assert rec.ops > 0 and not rec.syncing, rec.syncing
