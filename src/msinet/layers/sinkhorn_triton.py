"""Fused Sinkhorn for CUDA in Triton: Algorithm 1 (log domain) with every iteration of one epipolar line in
one program, and the exact unrolled adjoint in one more.

Forward, per line (M: (W, W)): for k = 1..n, v_k = c - LSE_i(M_ij + u_{k-1,i}), u_k = c - LSE_j(M_ij + v_kj)
(c = log 1/2W, u_0 = 0), then T = exp(M + u_n (+) v_n - c). The program streams M in (BLOCK_R, BLOCK_C)
tiles with an online log-sum-exp, so W is free (93, 310, 960, ...). Potentials and exponents are float64
(with |M| ~ 1e3 the potentials are ~1e3 and a float32 sum would lose ~1e-4: see sinkhorn.py, (iv)); the
exponent minus its running maximum is rounded once to float32 for exp. No data-dependent control flow, no
host synchronisation: this is Algorithm 1 itself, so it needs no underflow protection at all.

Backward, per line, the same adjoint as sinkhorn.py's: with R_k = exp(M + u_k (+) v_k - c) (rows sum to 1)
and Q_k = exp(M + u_{k-1} (+) v_k - c) (columns sum to 1), alpha_n = rowsum(G * T), then for k = n..1
beta_k = [k = n] colsum(G * T) - R_k^T alpha_k and alpha_{k-1} = -Q_k beta_k, and
d loss / d M = G * T - sum_k (diag(alpha_k) R_k + Q_k diag(beta_k)). Entries of R_k and Q_k are <= 1, so
no shift is needed. The potentials u_k, v_k saved by the forward ((N, n+1, W) and (N, n, W) float64) are
the only extra memory.

`TRITON_INTERPRET=1` (set before triton is imported) runs the same kernels on CPU tensors: that is how
the tests check them without a GPU.
"""

from __future__ import annotations

import math
import os

import torch
import triton
import triton.language as tl

INTERPRETED = os.environ.get("TRITON_INTERPRET") == "1"
NUM_WARPS = 4


def tile(w: int) -> tuple[int, int]:
    """(BLOCK_R, BLOCK_C). GPU: 32x64 float64 tiles keep registers in bounds at 4 warps. The interpreter runs
    numpy per tile op, so it is fastest with one tile as large as the line (up to 128 x 128)."""
    if INTERPRETED:
        side = min(128, max(16, triton.next_power_of_2(w)))
        return side, side
    return 32, 64


@triton.jit
def _lse(m_ptr, pot_ptr, out_ptr, c, W, stride_in, stride_out, BLOCK_IN: tl.constexpr, BLOCK_OUT: tl.constexpr):
    """out_o = c - LSE_i(M[i * stride_in + o * stride_out] + pot_i) for one line: the column update with
    strides (W, 1), the row update with (1, W). Tiles are (BLOCK_IN, BLOCK_OUT), reduced over axis 0."""
    for o0 in range(0, W, BLOCK_OUT):
        outs = o0 + tl.arange(0, BLOCK_OUT)
        omask = outs < W
        run_max = tl.full([BLOCK_OUT], float("-inf"), tl.float64)
        run_sum = tl.zeros([BLOCK_OUT], tl.float32)
        for i0 in range(0, W, BLOCK_IN):
            ins = i0 + tl.arange(0, BLOCK_IN)
            imask = ins < W
            mask = imask[:, None] & omask[None, :]
            m = tl.load(m_ptr + ins[:, None] * stride_in + outs[None, :] * stride_out, mask=mask, other=0.0)
            pot = tl.load(pot_ptr + ins, mask=imask, other=0.0)
            x = tl.where(mask, m.to(tl.float64) + pot[:, None], float("-inf"))
            new_max = tl.maximum(run_max, tl.max(x, 0))
            safe = tl.where(new_max == float("-inf"), 0.0, new_max)
            run_sum = run_sum * tl.exp((run_max - safe).to(tl.float32)) + tl.sum(
                tl.exp((x - safe[None, :]).to(tl.float32)), 0
            )
            run_max = new_max
        lse = run_max + tl.log(tl.where(omask, run_sum, 1.0)).to(tl.float64)
        tl.store(out_ptr + outs, c - lse, mask=omask)


@triton.jit
def _forward_kernel(m_ptr, plan_ptr, u_ptr, v_ptr, c_ptr, W, ITERS, BLOCK_R: tl.constexpr, BLOCK_C: tl.constexpr):
    c = tl.load(c_ptr)  # log 1/2W in float64 (a Python float argument would be float32)
    line = tl.program_id(0).to(tl.int64)
    m_ptr += line * W * W
    plan_ptr += line * W * W
    u_ptr += line * (ITERS + 1) * W  # u[0] = 0 (zero-filled by the caller), u[k] = u_k
    v_ptr += line * ITERS * W  # v[k - 1] = v_k
    for k in range(0, ITERS):
        _lse(m_ptr, u_ptr + k * W, v_ptr + k * W, c, W, W, 1, BLOCK_R, BLOCK_C)  # columns
        tl.debug_barrier()  # the whole program reads what it just wrote
        _lse(m_ptr, v_ptr + k * W, u_ptr + (k + 1) * W, c, W, 1, W, BLOCK_C, BLOCK_R)  # rows
        tl.debug_barrier()
    u_ptr += ITERS * W
    v_ptr += (ITERS - 1) * W
    for i0 in range(0, W, BLOCK_R):
        rows = i0 + tl.arange(0, BLOCK_R)
        rmask = rows < W
        u = tl.load(u_ptr + rows, mask=rmask, other=float("-inf"))
        for j0 in range(0, W, BLOCK_C):
            cols = j0 + tl.arange(0, BLOCK_C)
            cmask = cols < W
            mask = rmask[:, None] & cmask[None, :]
            offs = rows[:, None] * W + cols[None, :]
            m = tl.load(m_ptr + offs, mask=mask, other=0.0)
            v = tl.load(v_ptr + cols, mask=cmask, other=float("-inf"))
            t = tl.exp((m.to(tl.float64) + u[:, None] + v[None, :] - c).to(tl.float32))
            tl.store(plan_ptr + offs, t, mask=mask)


@triton.jit
def _sum_product(g_ptr, plan_ptr, out_ptr, W, stride_in, stride_out, BLOCK_IN: tl.constexpr, BLOCK_OUT: tl.constexpr):
    """out_o = sum_i (G * T)[i * stride_in + o * stride_out]: row sums with strides (1, W), columns (W, 1)."""
    for o0 in range(0, W, BLOCK_OUT):
        outs = o0 + tl.arange(0, BLOCK_OUT)
        omask = outs < W
        acc = tl.zeros([BLOCK_OUT], tl.float32)
        for i0 in range(0, W, BLOCK_IN):
            ins = i0 + tl.arange(0, BLOCK_IN)
            mask = (ins < W)[:, None] & omask[None, :]
            offs = ins[:, None] * stride_in + outs[None, :] * stride_out
            g = tl.load(g_ptr + offs, mask=mask, other=0.0)
            acc += tl.sum(g * tl.load(plan_ptr + offs, mask=mask, other=0.0), 0)
        tl.store(out_ptr + outs, acc, mask=omask)


@triton.jit
def _adjoint_step(
    m_ptr,
    w_ptr,
    pot_in_ptr,
    pot_out_ptr,
    out_ptr,
    c,
    W,
    stride_in,
    stride_out,
    ACCUMULATE,
    BLOCK_IN: tl.constexpr,
    BLOCK_OUT: tl.constexpr,
):
    """out_o = [ACCUMULATE] out_o - sum_i w_i exp(M[i * stride_in + o * stride_out] + pot_in_i + pot_out_o - c):
    -R_k^T alpha_k with strides (W, 1) and (pot_in, pot_out) = (u_k, v_k); -Q_k beta_k with (1, W) and
    (v_k, u_{k-1}). The exponentials are entries of R_k or Q_k, <= 1: no shift needed."""
    for o0 in range(0, W, BLOCK_OUT):
        outs = o0 + tl.arange(0, BLOCK_OUT)
        omask = outs < W
        pot_out = tl.load(pot_out_ptr + outs, mask=omask, other=float("-inf"))
        acc = tl.zeros([BLOCK_OUT], tl.float32)
        for i0 in range(0, W, BLOCK_IN):
            ins = i0 + tl.arange(0, BLOCK_IN)
            imask = ins < W
            mask = imask[:, None] & omask[None, :]
            m = tl.load(m_ptr + ins[:, None] * stride_in + outs[None, :] * stride_out, mask=mask, other=0.0)
            pot_in = tl.load(pot_in_ptr + ins, mask=imask, other=float("-inf"))
            weight = tl.load(w_ptr + ins, mask=imask, other=0.0)
            e = tl.exp((m.to(tl.float64) + pot_in[:, None] + pot_out[None, :] - c).to(tl.float32))
            acc += tl.sum(e * weight[:, None], 0)
        if ACCUMULATE:
            acc = tl.load(out_ptr + outs, mask=omask, other=0.0) - acc
        else:
            acc = -acc
        tl.store(out_ptr + outs, acc, mask=omask)


@triton.jit
def _backward_kernel(
    m_ptr,
    g_ptr,
    plan_ptr,
    u_ptr,
    v_ptr,
    alpha_ptr,
    beta_ptr,
    grad_ptr,
    c_ptr,
    W,
    ITERS,
    BLOCK_R: tl.constexpr,
    BLOCK_C: tl.constexpr,
):
    c = tl.load(c_ptr)
    line = tl.program_id(0).to(tl.int64)
    m_ptr += line * W * W
    g_ptr += line * W * W
    plan_ptr += line * W * W
    grad_ptr += line * W * W
    u_ptr += line * (ITERS + 1) * W
    v_ptr += line * ITERS * W
    alpha_ptr += line * ITERS * W  # alpha[k - 1] = alpha_k
    beta_ptr += line * ITERS * W  # beta[k - 1] = beta_k
    last = (ITERS - 1) * W
    _sum_product(g_ptr, plan_ptr, alpha_ptr + last, W, 1, W, BLOCK_C, BLOCK_R)  # alpha_n = rowsum(G * T)
    _sum_product(g_ptr, plan_ptr, beta_ptr + last, W, W, 1, BLOCK_R, BLOCK_C)  # direct part of beta_n
    tl.debug_barrier()
    for kk in range(0, ITERS):
        k = ITERS - 1 - kk  # 0-based: step k + 1 of the forward
        # beta_k = [k = n] colsum(G * T) - R_k^T alpha_k
        _adjoint_step(
            m_ptr,
            alpha_ptr + k * W,
            u_ptr + (k + 1) * W,
            v_ptr + k * W,
            beta_ptr + k * W,
            c,
            W,
            W,
            1,
            kk == 0,
            BLOCK_R,
            BLOCK_C,
        )
        tl.debug_barrier()
        if k > 0:  # alpha_{k-1} = -Q_k beta_k (u_0 is a constant: no alpha_0)
            _adjoint_step(
                m_ptr,
                beta_ptr + k * W,
                v_ptr + k * W,
                u_ptr + k * W,
                alpha_ptr + (k - 1) * W,
                c,
                W,
                1,
                W,
                False,
                BLOCK_C,
                BLOCK_R,
            )
            tl.debug_barrier()
    # d M = G * T - sum_k (alpha_k R_k + Q_k beta_k)
    for i0 in range(0, W, BLOCK_R):
        rows = i0 + tl.arange(0, BLOCK_R)
        rmask = rows < W
        for j0 in range(0, W, BLOCK_C):
            cols = j0 + tl.arange(0, BLOCK_C)
            cmask = cols < W
            mask = rmask[:, None] & cmask[None, :]
            offs = rows[:, None] * W + cols[None, :]
            m = tl.load(m_ptr + offs, mask=mask, other=0.0).to(tl.float64)
            acc = tl.load(g_ptr + offs, mask=mask, other=0.0) * tl.load(plan_ptr + offs, mask=mask, other=0.0)
            for k in range(0, ITERS):
                u_prev = tl.load(u_ptr + k * W + rows, mask=rmask, other=float("-inf"))
                u = tl.load(u_ptr + (k + 1) * W + rows, mask=rmask, other=float("-inf"))
                v = tl.load(v_ptr + k * W + cols, mask=cmask, other=float("-inf"))
                alpha = tl.load(alpha_ptr + k * W + rows, mask=rmask, other=0.0)
                beta = tl.load(beta_ptr + k * W + cols, mask=cmask, other=0.0)
                mv = m + v[None, :] - c
                r = tl.exp((mv + u[:, None]).to(tl.float32))
                q = tl.exp((mv + u_prev[:, None]).to(tl.float32))
                acc -= alpha[:, None] * r + q * beta[None, :]
            tl.store(grad_ptr + offs, acc, mask=mask)


def _log_marginal(w: int, device) -> torch.Tensor:
    return torch.full((1,), math.log(1.0 / (2 * w)), dtype=torch.float64, device=device)


def _launch_forward(m: torch.Tensor, iters: int):
    n, w, _ = m.shape
    plan = torch.empty_like(m)
    u = torch.zeros(n, iters + 1, w, dtype=torch.float64, device=m.device)
    v = torch.empty(n, iters, w, dtype=torch.float64, device=m.device)
    if n:
        _forward_kernel[(n,)](
            m,
            plan,
            u,
            v,
            _log_marginal(w, m.device),
            w,
            iters,
            BLOCK_R=tile(w)[0],
            BLOCK_C=tile(w)[1],
            num_warps=NUM_WARPS,
        )
    return plan, u, v


class _TritonSinkhorn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, m, iters):
        plan, u, v = _launch_forward(m, iters)
        ctx.save_for_backward(m, plan, u, v)
        return plan

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_plan):
        m, plan, u, v = ctx.saved_tensors
        n, w, _ = m.shape
        iters = v.shape[1]
        grad_plan = grad_plan.contiguous().float()
        grad = torch.empty_like(m)
        alpha = torch.empty(n, iters, w, dtype=torch.float32, device=m.device)
        beta = torch.empty_like(alpha)
        if n:
            _backward_kernel[(n,)](
                m,
                grad_plan,
                plan,
                u,
                v,
                alpha,
                beta,
                grad,
                _log_marginal(w, m.device),
                w,
                iters,
                BLOCK_R=tile(w)[0],
                BLOCK_C=tile(w)[1],
                num_warps=NUM_WARPS,
            )
        return grad, None


def sinkhorn_triton(scores: torch.Tensor, iters: int = 10) -> torch.Tensor:
    """Plan of Algorithm 1 for float32 scores (..., W, W) on CUDA (or on CPU under TRITON_INTERPRET=1)."""
    if scores.dtype != torch.float32:
        raise ValueError(f"the Triton Sinkhorn takes float32 scores, got {scores.dtype}")
    shape = scores.shape
    m = scores.reshape(-1, shape[-1], shape[-1]).contiguous()
    if torch.is_grad_enabled() and m.requires_grad:
        plan = _TritonSinkhorn.apply(m, iters)
    else:
        plan = _launch_forward(m, iters)[0]
    return plan.reshape(shape)
