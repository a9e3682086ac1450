"""Entropic optimal transport between the two views' pixels along each epipolar line (paper Algorithm 1).

Given a cost/score matrix M (..., W, W) whose rows are left-view pixels and columns right-view pixels,
log-domain Sinkhorn finds potentials u (rows) and v (columns) such that T = exp(M + u + v + log 2W) has
unit row and column sums (marginals 1/(2W), rescaled by 2W). The column potential is updated first and
the row potential last, so after a finite number of iterations rows sum to exactly 1 and columns to ~1.

`sinkhorn_log` is Algorithm 1 as written: the reference. `sinkhorn` computes the same plan faster, with no
data-dependent control flow (no host synchronisation on a GPU), by anchored scaling:

Scaling form. The plan at every half-step is P = diag(a) K diag(b) with a kernel K = exp(M + f (+) g)
(anchor potentials f, g in float64) and scaling vectors a, b. One iteration is two batched
matrix-vector products, b = c / (K^T a) (c = min of K^T a, keeping b <= 1), then a = 1 / (K b), instead
of two log-sum-exps over (W, W); the plan does not depend on the constants c. Anchoring (f += log a,
g += log b, a = b = 1, K recomputed from M) changes the representation, never the plan.

Anchors and why the result is Algorithm 1's (proof sketch). (i) The first kernel is
K0 = exp(M - colmax - r) with r_i = max_j (M_ij - colmax_j) <= 0: every column and every row holds a 1.
With u0 = 0, a0 = e^r <= 1, so the first column sums lie in [1, W] (the 1 of each column sits in a row
with r = 0) and the first row sums, with b in [1/W, 1], in [1/W, W]: nothing under- or overflows whatever
the costs (a column or row no one wants, |M| in the thousands); rows whose a0 underflows contribute
< e^-87 to sums >= 1. (ii) From then on every state is the output of a normalisation, and a
row-normalised P reached from a column-normalised Q has column sums in [1/W, W] (entries <= 1, and each
column of Q sums to 1 while its rows sum to <= W); symmetrically for rows. So each half-step rescales any
entry by a factor in [1/W, W], one iteration by [W^-2, W^2]. (iii) A kernel K serves p iterations after
the state it was taken on, on which K >= P / W entrywise (K0 after iteration 1: a <= W, b <= 1; a later
anchor is taken on a row-normalised P, and K = P). During those iterations an entry of the plan is at most
W K_ij W^2p: entries of K that underflow (< e^-87.3 in float32) stay below e^-16 / W as long as
16 + 2(p + 1) ln W <= 87.3, and all of them together move a row or column sum by less than
e^-16 = 1.1e-7. So K is recomputed from M on a fixed schedule, every p = `anchor_period(W)` iterations
(p = 5 at W = 310, 6 at W = 90, 4 at W = 960; float64: never in practice), chosen from the shape alone:
the work is the same for every input. (iv) Exponents are formed in float64 and rounded once: with
|M| ~ 1e3 the potentials are ~1e3 and float32 sums would lose ~1e-4; K's relevant entries then carry
relative errors ~1e-7, and the scaling vectors add ~W eps per product, as in the plain scaling form.
Memory: the float64 exponent of ~1 MiB of slices at a time is the only extra temporary.

Diagnostics. `_scaling_forward` still reports, per slice, whether the spread of the column potentials
stayed within -ln TAU = 44 nats at every iteration: the regime where the plain scaling form (one kernel,
no anchors) would have been exact. The tests use it to check that their costs cover both regimes.

Memory and cache. Slices are processed in chunks of about `chunk_bytes`, all iterations per chunk, so
K stays in cache and temporaries never exceed one chunk; the only full-size tensor is the plan itself.

Backward. A custom autograd Function differentiates the unrolled iterations exactly (not the fixed
point) from the saved input, the plan, the anchors and the 3 * iters (N, W) vectors, recomputing each
kernel per chunk. In log coordinates each step is a row- or column-normalisation, whose adjoint is a
matrix-vector product with the step's kernel, and d loss / d M = G * T - sum over kernels K (X Y^T) with
X, Y collecting the rank-one terms of the steps that used K (2 * iters in all).
"""

from __future__ import annotations

import functools
import importlib.util
import math
import os
from contextlib import nullcontext

import torch

from .. import fastpath

# Column sums spreading over more than this factor would break the plain scaling form (see Diagnostics).
TAU = 2.0**-64
# CPU: all iterations of a chunk run on cache-resident K. On an Intel Xeon 16 MiB was as fast as 1-4 MiB; on
# an AMD EPYC (Zen 4, 1 MiB L2 per core) 4 MiB chunks take 0.82-0.85x the time of 16 MiB ones at W = 310, 500
# and 720 (one thread, 2026-12-05), and 2 MiB gains nothing more (docs/performance.md).
# GPU: cache blocking does not pay against kernel-launch overhead; chunks only bound the temporaries.
DEFAULT_CHUNK_BYTES = {"cpu": 4 << 20, "cuda": 256 << 20}

METHODS = ("auto", "scaling", "log", "triton")


def sinkhorn_log(scores: torch.Tensor, iters: int = 10) -> torch.Tensor:
    """Transport plan of Algorithm 1 for scores (..., W, W); returns a tensor of the same shape."""
    w = scores.shape[-1]
    if scores.shape[-2] != w:
        raise ValueError(f"Sinkhorn expects square (..., W, W) scores, got {tuple(scores.shape)}")
    # constants as tensor ops in the scores' dtype: the same float32 rounding as the reference code (log of
    # the float32 marginal 1/(2W)), and W stays symbolic under torch.export (dynamic width)
    two_w = scores.new_full((), 2 * w)
    log_marginal = torch.log(1.0 / two_w)
    u = scores.new_zeros(scores.shape[:-1])  # (..., W) row potentials
    v = scores.new_zeros(scores.shape[:-2] + scores.shape[-1:])  # (..., W) column potentials
    for _ in range(iters):
        v = log_marginal - torch.logsumexp(scores + u.unsqueeze(-1), dim=-2)
        u = log_marginal - torch.logsumexp(scores + v.unsqueeze(-2), dim=-1)
    return (scores + u.unsqueeze(-1) + v.unsqueeze(-2) + torch.log(two_w)).exp()


def sinkhorn(
    scores: torch.Tensor, iters: int = 10, *, method: str = "auto", chunk_bytes: int | None = None
) -> torch.Tensor:
    """Transport plan of Algorithm 1 for scores (..., W, W), equal to `sinkhorn_log` to float rounding.

    method: "scaling" = anchored scaling form (no data-dependent control flow); "log" = `sinkhorn_log`;
    "triton" = the fused kernel of `sinkhorn_triton` (CUDA; Algorithm 1 in one program per line);
    "auto" = "triton" on CUDA when triton is importable, else "scaling", except under tracing / ONNX export /
    torch.compile where "log" (plain ops) is used. The first "triton" call per device is checked against
    Algorithm 1 in float64 on one line of `scores` (msinet.fastpath): on a mismatch or an exception, one
    warning line and "scaling" for the rest of the process.
    Half-precision scores (or scores under autocast) are processed in float32; under autocast the plan is
    returned in float32 (like softmax), otherwise in the input's dtype. chunk_bytes: size of the groups of
    slices processed together (default per device, DEFAULT_CHUNK_BYTES); it does not change the result.
    """
    w = scores.shape[-1]
    if scores.dim() < 2 or scores.shape[-2] != w:
        raise ValueError(f"Sinkhorn expects square (..., W, W) scores, got {tuple(scores.shape)}")
    if method not in METHODS:
        raise ValueError(f"Sinkhorn method must be one of {', '.join(METHODS)}, got {method!r}")
    if iters < 1:
        raise ValueError(f"Sinkhorn needs at least one iteration, got {iters}")
    if chunk_bytes is None:
        chunk_bytes = DEFAULT_CHUNK_BYTES.get(scores.device.type, DEFAULT_CHUNK_BYTES["cuda"])
    if chunk_bytes < 1:
        raise ValueError(f"chunk_bytes must be positive, got {chunk_bytes}")
    if method == "auto":
        method = "log" if fastpath.plain_ops_required() else "triton" if _triton_usable(scores) else "scaling"
    elif method == "triton" and not _triton_importable():
        raise ValueError("Sinkhorn method 'triton' needs the triton package (pip install triton)")
    elif method == "triton" and not scores.is_cuda and os.environ.get("TRITON_INTERPRET") != "1":
        raise ValueError(f"Sinkhorn method 'triton' needs CUDA tensors, got {scores.device.type}")

    device = scores.device.type
    autocast = torch.is_autocast_enabled(device) if device in ("cpu", "cuda") else False
    low_precision = scores.dtype in (torch.float16, torch.bfloat16)
    out_dtype = torch.float32 if autocast and low_precision else scores.dtype
    work = scores.float() if low_precision else scores
    with torch.autocast(device, enabled=False) if autocast else nullcontext():
        if method == "log":
            plan = sinkhorn_log(work, iters)
        elif method == "triton" and work.dtype == torch.float32 and _triton_checked(work, iters):
            from .sinkhorn_triton import sinkhorn_triton

            plan = sinkhorn_triton(work, iters)
        else:
            plan = _sinkhorn_scaling(work, iters, chunk_bytes)
    return plan.to(out_dtype)


@functools.cache
def _triton_importable() -> bool:
    return importlib.util.find_spec("triton") is not None


# ---- the Triton kernel checks itself (msinet.fastpath) -------------------------------------------------------


def _triton_available(device: torch.device) -> str | None:
    if not _triton_importable():
        return "triton is not installed"
    if device.type != "cuda" and os.environ.get("TRITON_INTERPRET") != "1":
        return "needs CUDA"
    return None


def _plan_and_grad(fn, line: torch.Tensor, iters: int, grad: bool) -> list[torch.Tensor]:
    """fn's plan of `line` (n, W, W) and, if grad, d sum(plan * weight) / d line for a fixed weight."""
    if not grad:
        return [fn(line, iters)]
    with torch.enable_grad():
        x = line.detach().clone().requires_grad_(True)
        plan = fn(x, iters)
        weight = torch.cos(torch.arange(plan.numel(), device=plan.device, dtype=plan.dtype)).reshape(plan.shape)
        (plan * weight).sum().backward()
    return [plan.detach(), x.grad]


def _triton_outputs(line: torch.Tensor, iters: int, grad: bool) -> list[torch.Tensor]:
    from .sinkhorn_triton import sinkhorn_triton

    return _plan_and_grad(sinkhorn_triton, line, iters, grad)


def _reference_outputs(line: torch.Tensor, iters: int, grad: bool) -> list[torch.Tensor]:
    return _plan_and_grad(sinkhorn_log, line.double(), iters, grad)  # Algorithm 1 in float64


def _triton_probe(device: torch.device):
    """Two lines of width 93 (a tile and a ragged edge): random costs, and costs of magnitude 1e3 with a
    column no row wants; forward and gradient."""
    g = torch.Generator().manual_seed(19)
    costs = torch.stack([3 * torch.randn(93, 93, generator=g), 1e3 * torch.randn(93, 93, generator=g)])
    costs[1, :, 31] -= 5e3
    costs = costs.to(device)
    return (lambda: _triton_outputs(costs, 10, True)), (lambda: _reference_outputs(costs, 10, True))


TRITON_SINKHORN = fastpath.register(
    fastpath.FastPath(
        "triton-sinkhorn",
        "fused Triton Sinkhorn (forward, backward) vs Algorithm 1 in float64",
        rtol=1e-4,
        atol=1e-5,
        available=_triton_available,
        probe=_triton_probe,
    )
)


def _triton_checked(work: torch.Tensor, iters: int) -> bool:
    """May the kernel run? The first call per device (and per forward / forward+backward) compares it with
    Algorithm 1 in float64 on the first epipolar line of `work` (one W x W slice)."""
    if work.numel() == 0:
        return False  # nothing to compute, nothing to check on
    w = work.shape[-1]
    line = lambda: work.detach().reshape(-1, w, w)[:1]  # noqa: E731 - sliced only when checked
    grad = torch.is_grad_enabled() and work.requires_grad
    return TRITON_SINKHORN.enabled(
        work.device,
        lambda: _triton_outputs(line(), iters, grad),
        lambda: _reference_outputs(line(), iters, grad),
        variant="forward+backward" if grad else "forward",
    )


def _triton_usable(scores: torch.Tensor) -> bool:
    """The fused kernel runs float32 (and half, computed in float32) scores on CUDA."""
    return scores.is_cuda and scores.dtype != torch.float64 and _triton_importable()


def anchor_period(w: int, dtype: torch.dtype = torch.float32) -> int:
    """Iterations one kernel serves (module docstring, (iii)): the largest p with 16 + 2(p + 1) ln W <= -ln tiny."""
    if w <= 1:
        return 1 << 30
    log_w = math.log(w)
    return max(1, int((-math.log(torch.finfo(dtype).tiny) - 16 - 2 * log_w) / (2 * log_w)))


def anchor_schedule(w: int, iters: int, dtype: torch.dtype = torch.float32) -> list[int]:
    """Iterations (0-based) before whose column step the kernel is re-anchored (the first kernel serves
    iteration 0 and the `anchor_period` iterations after it)."""
    period = anchor_period(w, dtype)
    return list(range(1 + period, iters, period))


def _wide(t: torch.Tensor) -> torch.dtype:
    return torch.float32 if t.device.type == "mps" else torch.float64


# the wide exponent of this many bytes is formed at a time: in cache on CPU; on GPU only a bound on the buffer
WIDE_BLOCK_BYTES = {"cpu": 1 << 20, "cuda": 64 << 20}


def _anchored_kernel(
    m: torch.Tensor, f: torch.Tensor, g: torch.Tensor, out: torch.Tensor, shift: bool = False
) -> torch.Tensor | None:
    """out = exp(M + f (+) g), the exponent formed in the anchors' wide dtype and rounded once.

    m, out: (n, W, W); f, g: (n, W) wide. shift (the first kernel, whose f is zero and ignored): the exponent
    is M + g - r with r its row maxima (returned, (n, W)), so that every row of the kernel holds a 1.
    The wide exponent is formed a block at a time: several slices, or, once one slice's wide copy outgrows the
    block (W > 362 on CPU), a block of its rows, so that it stays in cache at any width (every entry is
    computed by the same operations either way).
    """
    n, w, _ = m.shape
    block = WIDE_BLOCK_BYTES.get(m.device.type, WIDE_BLOCK_BYTES["cuda"])
    step = min(n, max(1, block // max(1, w * w * 8)))
    rows = w if step > 1 else min(w, max(1, block // max(1, w * 8)))
    buf = torch.empty((step, rows, w), dtype=g.dtype, device=m.device)
    maxima = []
    for i in range(0, n, step):
        sl = slice(i, i + step)
        for r0 in range(0, w, rows):
            rs = slice(r0, r0 + rows)
            # one dtype per op: mixed float32/float64 operands take torch's slow casting loops (3-4x here)
            src = m[sl, rs]
            e = buf[: src.shape[0], : src.shape[1]].copy_(src).add_(g[sl].unsqueeze(-2))  # (step, rows, W) wide
            if shift:
                maxima.append(e.amax(-1))
                e.sub_(maxima[-1].unsqueeze(-1))
            else:
                e.add_(f[sl, rs].unsqueeze(-1))
            out[sl, rs].copy_(e).exp_()  # rounded once
    if not shift:
        return None
    if rows == w:
        return torch.cat(maxima)
    per_slice = -(-w // rows)
    return torch.stack([torch.cat(maxima[j * per_slice : (j + 1) * per_slice], -1)[0] for j in range(n)])


def _sinkhorn_scaling(scores: torch.Tensor, iters: int, chunk_bytes: int) -> torch.Tensor:
    shape = scores.shape
    w = shape[-1]
    m = scores.reshape(-1, w, w)  # (N, W, W): one slice per epipolar line
    chunk = max(1, chunk_bytes // max(1, w * w * m.element_size()))
    if torch.is_grad_enabled() and m.requires_grad:
        plan = _ScalingSinkhorn.apply(m, iters, chunk)
    else:
        plan = _scaling_forward(m, iters, chunk, keep=False, report=False)[0]
    return plan.reshape(shape)


def _scaling_forward(m: torch.Tensor, iters: int, chunk: int, keep: bool, report: bool = True):
    """Plan (N, W, W); (if report) per slice whether the plain scaling form would have been exact (see
    Diagnostics), else None; (if keep) what backward needs: a, b, s (N, iters, W) with a[k] = a after row
    step k, b[k] = the b row step k used, s[k] = K^T a of column step k; anchors f, g (A, N, W) wide, the
    first one before its row shift (`_anchored_kernel` recomputes the same kernels from them).
    """
    n_slices, w, _ = m.shape
    wide = _wide(m)
    reanchor = set(anchor_schedule(w, iters, m.dtype))
    plan = torch.empty_like(m)
    ok = torch.ones(n_slices, dtype=torch.bool, device=m.device) if report else None
    saved = [] if keep else None
    for start in range(0, n_slices, chunk):
        stop = min(start + chunk, n_slices)
        mc, k = m[start:stop], plan[start:stop]
        n = stop - start
        # first kernel exp(M - colmax - r): a 1 in every column and every row, see (i)
        f = mc.new_zeros((n, w), dtype=wide)  # u0 = 0
        g = -mc.amax(-2).to(wide)
        fs, gs, vecs = [f], [g], ([], [], [])
        r = _anchored_kernel(mc, f, g, k, shift=True)
        f = f - r
        a = r.exp().to(m.dtype).unsqueeze(1)  # (n, 1, W): P0 = diag(e^r) K
        b = torch.ones_like(a)
        for it in range(iters):
            if it in reanchor:  # on a row-normalised state, see (iii)
                f = f + a.reshape(n, w).to(wide).log()
                g = g + b.reshape(n, w).to(wide).log()
                fs.append(f), gs.append(g)
                _anchored_kernel(mc, f, g, k)  # K = P
                a = torch.ones_like(a)
            s = torch.matmul(a, k)  # (n, 1, W) column sums
            s_min = s.amin(-1, keepdim=True)
            if report:
                potential = g - s.reshape(n, w).to(wide).log()  # column potentials, up to a constant
                spread = potential.amax(-1) - potential.amin(-1)
                ok[start:stop] &= spread <= -math.log(TAU)
            b = s_min / s  # (n, 1, W), max 1
            t = torch.matmul(k, b.transpose(-1, -2))  # (n, W, 1) row sums
            a = t.reciprocal().transpose(-1, -2)
            if keep:
                for store, vec in zip(vecs, (a, b, s)):
                    store.append(vec.reshape(n, w))
        k.mul_(a.transpose(-1, -2)).mul_(b)  # T = diag(a) K diag(b)
        if keep:
            saved.append([torch.stack(v, 1) for v in vecs] + [torch.stack(fs), torch.stack(gs)])
    if keep:
        parts = list(zip(*saved))
        saved = [torch.cat(p, 0) for p in parts[:3]] + [torch.cat(p, 1) for p in parts[3:]]
    return plan, ok, saved


class _ScalingSinkhorn(torch.autograd.Function):
    """Anchored scaling Sinkhorn with an exact, memory-light backward through the unrolled iterations."""

    @staticmethod
    def forward(ctx, m, iters, chunk):
        plan, _, saved = _scaling_forward(m, iters, chunk, keep=True, report=False)
        ctx.chunk = chunk
        ctx.save_for_backward(m, plan, *saved)
        return plan

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_plan):
        m, plan, a, b, s, f, g = ctx.saved_tensors
        reanchor = anchor_schedule(m.shape[-1], a.shape[1], m.dtype)
        grad = torch.empty_like(m)
        device = m.device.type
        with torch.autocast(device, enabled=False) if device in ("cpu", "cuda") else nullcontext():
            for start in range(0, m.shape[0], ctx.chunk):
                sl = slice(start, start + ctx.chunk)
                _backward_chunk(
                    m[sl], plan[sl], grad_plan[sl], a[sl], b[sl], s[sl], f[:, sl], g[:, sl], reanchor, grad[sl]
                )
        return grad, None, None


def _backward_chunk(m, plan, grad_plan, a, b, s, f, g, reanchor, out):
    """d loss / d M for one chunk, written into `out`. Shapes: m, plan (n, W, W); a, b, s (n, iters, W).

    Adjoints are taken w.r.t. the log potentials (alpha for rows, beta for columns); they do not depend on
    the anchoring. Row step k, a_k = 1 / (K b_k), is a row normalisation with Jacobian -R_k,
    R_k = diag(a_k) K diag(b_k); column step k, b_k = c / (K^T a_{k-1}), a column normalisation with
    Jacobian -Q_k, Q_k = diag(a_{k-1}) K diag(1 / s_k), K being the kernel the step used (one per anchor;
    a_{-1} = e^r for the first). The normalisers c are constants: the plan does not depend on them.
    """
    n, iters, w = a.shape
    torch.mul(grad_plan, plan, out=out)
    alpha = out.sum(-1)  # (n, W) adjoint of log a_n
    beta_last = out.sum(-2)  # (n, W) adjoint of log b_n through the plan
    k = torch.empty_like(m)
    state = {"kernel": None, "x": [], "y": []}

    def flush():
        if state["kernel"] is not None:
            low_rank = torch.matmul(torch.stack(state["x"], -1), torch.stack(state["y"], -2))  # X Y^T
            out.sub_(k.mul_(low_rank))

    def use(kernel: int):
        """Make `k` the kernel of anchor `kernel`, first flushing the terms of the previous one."""
        if state["kernel"] == kernel:
            return
        flush()
        state.update(kernel=kernel, x=[], y=[])
        r = _anchored_kernel(m, f[kernel], g[kernel], k, shift=kernel == 0)
        state["a0"] = r.exp().to(m.dtype) if kernel == 0 else torch.ones_like(alpha)  # a of its first step

    for j in reversed(range(iters)):
        use(sum(1 for it in reanchor if it <= j))
        x = alpha * a[:, j]  # row coefficients of -R_j
        beta = -b[:, j] * torch.matmul(x.unsqueeze(1), k).squeeze(1)  # -R_j^T alpha
        if j == iters - 1:
            beta = beta + beta_last
        y = beta / s[:, j]  # column coefficients of -Q_j
        # balance a_{j-1} (<= max s) against y (<= |beta| / min s) so neither overflows
        s_max = s[:, j].amax(-1, keepdim=True)
        a_prev = (state["a0"] if j == 0 or j in reanchor else a[:, j - 1]) / s_max
        y = y * s_max
        if j > 0:
            alpha = -a_prev * torch.matmul(k, y.unsqueeze(-1)).squeeze(-1)
        state["x"] += [x, a_prev]
        state["y"] += [b[:, j], y]
    flush()
