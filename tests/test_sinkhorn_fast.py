"""The fast Sinkhorn (`sinkhorn`) against the float64 log-domain reference (Algorithm 1, `sinkhorn_log`).

Costs cover the regime the scaling form handles itself and the adversarial ones its guard must hand to the
log-domain fallback; the `accepted` helper checks which of the two actually ran, so that an equivalence test
cannot pass only because everything fell back.
"""

import math

import pytest
import torch

from msinet.layers import DEAM
from msinet.layers.sinkhorn import TAU, _scaling_forward, sinkhorn, sinkhorn_log


def accepted(m: torch.Tensor, iters: int = 10) -> torch.Tensor:
    """Which slices (flattened) the scaling form keeps, i.e. did not hand to the log-domain fallback."""
    return _scaling_forward(m.reshape(-1, *m.shape[-2:]), iters, 4, keep=False)[1]


def gen(seed):
    return torch.Generator().manual_seed(seed)


def unwanted_column():
    m = 3 * torch.randn(2, 3, 30, 30, generator=gen(1), dtype=torch.float64)
    m[..., 7] -= 200  # no row wants column 7: its potential must climb ~200 nats
    return m


def low_row():
    m = 3 * torch.randn(2, 3, 30, 30, generator=gen(2), dtype=torch.float64)
    m[..., 4, :] -= 300  # a row far below the others: a0 = exp(rowmax - max) underflows for it
    return m


def mixed_batch():
    m = torch.randn(3, 4, 25, 25, generator=gen(3), dtype=torch.float64)
    m[1, 2] *= 1000  # one epipolar line with extreme costs among ordinary ones
    m[2, 0, :, 3] -= 500
    return m


# name -> (costs, which slices the scaling form must keep: "all", "none" or "some")
CASES = {
    "random_small": (0.3 * torch.randn(2, 5, 40, 40, generator=gen(4), dtype=torch.float64), "all"),
    "random": (3 * torch.randn(2, 5, 40, 40, generator=gen(5), dtype=torch.float64), "all"),
    "random_sharp": (10 * torch.randn(2, 5, 40, 40, generator=gen(6), dtype=torch.float64), "all"),
    "large_1e3": (1e3 * torch.randn(1, 4, 16, 16, generator=gen(7), dtype=torch.float64), "none"),
    "offset_5e3": (5e3 + torch.randn(1, 4, 16, 16, generator=gen(8), dtype=torch.float64), "all"),
    "ties": (torch.full((1, 3, 8, 8), 5.0, dtype=torch.float64), "all"),
    "integer_ties": (torch.randint(-3, 3, (2, 4, 20, 20), generator=gen(9)).double(), "all"),
    "w1": (100 * torch.randn(2, 4, 1, 1, generator=gen(10), dtype=torch.float64), "all"),
    "one_hot_rows": (500 * torch.eye(12, dtype=torch.float64).expand(1, 2, 12, 12).clone(), "all"),
    "unwanted_column": (unwanted_column(), "none"),
    "low_row": (low_row(), "all"),
    "mixed_batch": (mixed_batch(), "some"),
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("iters", [1, 10])
def test_float32_matches_float64_reference(name, iters):
    m, expect = CASES[name]
    m32 = m.float()
    ref = sinkhorn_log(m32.double(), iters)  # reference on the very same (rounded) costs
    got = sinkhorn(m32, iters)
    assert got.dtype == torch.float32 and got.shape == m.shape
    torch.testing.assert_close(got.double(), ref, rtol=1e-5, atol=1e-6)
    keep = accepted(m32, iters)
    if iters == 10:
        assert {
            "all": bool(keep.all()),
            "none": not bool(keep.any()),
            "some": bool(keep.any()) and not bool(keep.all()),
        }[expect], keep


@pytest.mark.parametrize("name", list(CASES))
def test_float64_matches_reference_to_rounding(name):
    m, _ = CASES[name]
    torch.testing.assert_close(sinkhorn(m, 10), sinkhorn_log(m, 10), rtol=1e-10, atol=1e-12)


def test_agrees_with_float32_log_domain_on_feature_like_costs():
    # what DEAM sees: scaled dot products of layer-normalised features
    q = torch.nn.functional.layer_norm(torch.randn(2, 6, 50, 32, generator=gen(11)), (32,))
    m = q @ q.roll(3, dims=2).transpose(-1, -2) / math.sqrt(32)
    torch.testing.assert_close(sinkhorn(m, 10), sinkhorn_log(m, 10), rtol=1e-5, atol=1e-6)
    assert bool(accepted(m).all())


def test_rows_sum_to_one_and_plan_is_nonnegative():
    m = 5 * torch.randn(3, 7, 33, 33, generator=gen(12))
    plan = sinkhorn(m, 4)
    assert bool((plan >= 0).all())
    torch.testing.assert_close(plan.sum(-1), torch.ones(3, 7, 33), rtol=1e-6, atol=1e-6)


def test_chunking_does_not_change_the_result():
    m = 3 * torch.randn(2, 9, 21, 21, generator=gen(13))
    whole = sinkhorn(m, 10, chunk_bytes=1 << 30)
    for chunk_bytes in (1, 21 * 21 * 4 * 5):  # one slice per chunk; 5 slices per chunk (uneven tail)
        torch.testing.assert_close(sinkhorn(m, 10, chunk_bytes=chunk_bytes), whole, rtol=1e-6, atol=1e-7)


def test_guard_threshold_is_what_the_docstring_says():
    # TAU bounds the spread of column sums; a slice whose column sums differ by more is refused
    w = 6
    m = torch.zeros(1, w, w, dtype=torch.float64)
    gap = -math.log(TAU)
    m[0, :, 0] = -(gap - 2)  # column 0 wanted e^(gap-2) times less than the others: still accepted
    assert bool(accepted(m, 1).all())
    m[0, :, 0] = -(gap + 2)
    assert not bool(accepted(m, 1).any())


@pytest.mark.parametrize("case", ["random", "sharp", "mixed", "unwanted", "w1", "chunked"])
def test_gradcheck_float64(case):
    g = gen(14)
    iters, chunk = 10, 1 << 22
    if case == "random":
        m = torch.randn(1, 2, 6, 6, generator=g, dtype=torch.float64)
    elif case == "sharp":
        m = 8 * torch.randn(1, 2, 7, 7, generator=g, dtype=torch.float64)
    elif case == "mixed":  # one slice falls back, the others do not: both gradients are stitched together
        m = torch.randn(1, 3, 5, 5, generator=g, dtype=torch.float64)
        m[0, 1, :, 2] -= 200
        assert accepted(m).tolist() == [True, False, True]
    elif case == "unwanted":
        m = unwanted_column()[:1, :1, :6, :6].clone()
    elif case == "w1":
        m = torch.randn(1, 3, 1, 1, generator=g, dtype=torch.float64)
    else:  # one slice per chunk, 3 iterations
        m = torch.randn(1, 4, 5, 5, generator=g, dtype=torch.float64)
        iters, chunk = 3, 1
    m.requires_grad_(True)
    # fast mode (random projections of the Jacobian) except for the plain case, to keep the suite quick
    assert torch.autograd.gradcheck(lambda x: sinkhorn(x, iters, chunk_bytes=chunk), (m,), fast_mode=case != "random")


def test_float32_gradient_matches_log_domain_autograd():
    m = (3 * torch.randn(2, 4, 24, 24, generator=gen(15))).requires_grad_(True)
    weight = torch.randn(2, 4, 24, 24, generator=gen(16))
    (sinkhorn(m, 10) * weight).sum().backward()
    fast = m.grad.clone()
    m64 = m.detach().double().requires_grad_(True)
    (sinkhorn_log(m64, 10) * weight.double()).sum().backward()
    torch.testing.assert_close(fast.double(), m64.grad, rtol=1e-4, atol=1e-5)


def test_deam_under_bfloat16_autocast_gives_finite_normalised_plans():
    torch.manual_seed(0)
    deam = DEAM(16)
    with torch.no_grad():
        for p in deam.parameters():
            p.normal_()
        deam.query_l.weight.mul_(20)  # sharp, large scores: bf16 matmul output in the hundreds
    x_l, x_r = torch.randn(1, 16, 3, 40), torch.randn(1, 16, 3, 40)
    deam.keep_plan = True
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y_l, y_r = deam(x_l, x_r)
        (y_l.float().sum() + y_r.float().sum()).backward()
    plan = deam.last_plan
    assert plan.dtype == torch.float32
    assert bool(torch.isfinite(plan).all()) and bool(torch.isfinite(y_l).all())
    torch.testing.assert_close(plan.sum(-1), torch.ones(1, 3, 40), rtol=1e-5, atol=1e-5)
    assert all(bool(torch.isfinite(p.grad).all()) for p in deam.parameters())


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_scores_outside_autocast(dtype):
    m = (30 * torch.randn(2, 3, 50, 50, generator=gen(17))).to(dtype)
    plan = sinkhorn(m, 10)
    assert plan.dtype == dtype and bool(torch.isfinite(plan).all())
    ref = sinkhorn_log(m.double(), 10)
    torch.testing.assert_close(plan.double(), ref, rtol=0, atol=1e-2)
    torch.testing.assert_close(plan.float().sum(-1), torch.ones(2, 3, 50), rtol=0, atol=2e-2)


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::torch.jit.TracerWarning")
def test_tracing_records_plain_log_domain_ops():
    m = torch.randn(1, 2, 7, 7, generator=gen(18))
    traced = torch.jit.trace(lambda x: sinkhorn(x, 3), (m,), check_trace=False)
    graph = str(traced.graph)
    assert "logsumexp" in graph and "nonzero" not in graph and "index_put" not in graph
    other = torch.randn(1, 2, 7, 7, generator=gen(19))
    torch.testing.assert_close(traced(other), sinkhorn_log(other, 3))


def test_method_log_is_the_reference():
    m = torch.randn(2, 8, 8, generator=gen(20))
    assert torch.equal(sinkhorn(m, 10, method="log"), sinkhorn_log(m, 10))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(scores=torch.zeros(1, 3, 4)), "square"),
        (dict(scores=torch.zeros(3)), "square"),
        (dict(scores=torch.zeros(2, 2), method="fast"), "method"),
        (dict(scores=torch.zeros(2, 2), iters=0), "iteration"),
        (dict(scores=torch.zeros(2, 2), chunk_bytes=0), "chunk_bytes"),
    ],
)
def test_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sinkhorn(**kwargs)
