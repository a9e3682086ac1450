"""Sinkhorn (paper Algorithm 1) against an independent float64 NumPy implementation, plus its properties."""

import math

import numpy as np
import pytest
import torch
from scipy.special import logsumexp

from msinet.layers import sinkhorn_log


def algorithm1_numpy(m: np.ndarray, iters: int) -> np.ndarray:
    """Algorithm 1 written from the paper in float64: M (H, W, W), marginals 1/(2W), v first, then u."""
    w = m.shape[-1]
    log_mu = np.full(m.shape[:-1], math.log(1 / (2 * w)))
    u = np.zeros(m.shape[:-1])  # one per row i
    v = np.zeros(m.shape[:-1])  # one per column j
    for _ in range(iters):
        v = log_mu - logsumexp(m + u[..., :, None], axis=-2)
        u = log_mu - logsumexp(m + v[..., None, :], axis=-1)
    return np.exp(m + u[..., :, None] + v[..., None, :] + math.log(2 * w))


def costs():
    g = torch.Generator().manual_seed(0)
    yield "random", torch.randn(2, 3, 17, 17, generator=g, dtype=torch.float64)
    yield "large", 1e3 * torch.randn(1, 2, 9, 9, generator=g, dtype=torch.float64)
    yield "ties", torch.full((1, 2, 8, 8), 5.0, dtype=torch.float64)
    yield "w1", torch.randn(2, 4, 1, 1, generator=g, dtype=torch.float64)
    yield "one_hot_rows", torch.eye(12, dtype=torch.float64).mul(500).expand(1, 1, 12, 12).clone()


@pytest.mark.parametrize("name,m", list(costs()), ids=[n for n, _ in costs()])
@pytest.mark.parametrize("iters", [1, 10])
def test_matches_float64_reference(name, m, iters):
    ref = algorithm1_numpy(m.numpy().reshape(-1, *m.shape[-2:]), iters).reshape(m.shape)
    got = sinkhorn_log(m, iters).numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)
    got32 = sinkhorn_log(m.float(), iters).double().numpy()
    np.testing.assert_allclose(got32, ref, rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("name,m", list(costs()), ids=[n for n, _ in costs()])
def test_rows_sum_to_one_after_any_iteration_count(name, m):
    # the row potential is updated last, so rows are exactly normalised
    plan = sinkhorn_log(m, 3)
    torch.testing.assert_close(plan.sum(-1), torch.ones_like(plan.sum(-1)), rtol=1e-10, atol=1e-10)


def test_converged_plan_is_doubly_stochastic():
    m = torch.randn(2, 5, 24, 24, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    plan = sinkhorn_log(m, 500)
    ones = torch.ones(2, 5, 24, dtype=torch.float64)
    torch.testing.assert_close(plan.sum(-1), ones, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(plan.sum(-2), ones, rtol=1e-9, atol=1e-9)
    # and it is the entropic OT solution: plan = diag(a) exp(M) diag(b), i.e. log-plan minus M has rank one
    r = (plan.log() - m)[0, 0]
    torch.testing.assert_close(r - r[:, :1] - r[:1, :] + r[0, 0], torch.zeros_like(r), atol=1e-8, rtol=0)


@pytest.mark.parametrize("scale", [1.0, 1e2, 1e3])
def test_finite_for_large_costs_in_float32(scale):
    m = scale * torch.randn(1, 4, 64, 64, generator=torch.Generator().manual_seed(2))
    plan = sinkhorn_log(m, 10)
    assert torch.isfinite(plan).all()
    torch.testing.assert_close(plan.sum(-1), torch.ones(1, 4, 64), rtol=1e-4, atol=1e-4)


def test_view_swap_symmetry_at_convergence():
    # transporting right->left with M^T gives the transpose of the plan for M (once converged)
    m = torch.randn(1, 2, 10, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(
        sinkhorn_log(m.transpose(-1, -2), 400), sinkhorn_log(m, 400).transpose(-1, -2), atol=1e-9, rtol=1e-9
    )


def test_rejects_non_square_scores():
    with pytest.raises(ValueError, match="square"):
        sinkhorn_log(torch.zeros(1, 1, 3, 4))
