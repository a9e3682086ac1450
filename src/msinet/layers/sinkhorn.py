"""Entropic optimal transport between the two views' pixels along each epipolar line (paper Algorithm 1).

Given a cost/score matrix M (..., W, W) whose rows are left-view pixels and columns right-view pixels,
log-domain Sinkhorn finds potentials u (rows) and v (columns) such that T = exp(M + u + v + log 2W) has
unit row and column sums (marginals 1/(2W), rescaled by 2W). The column potential is updated first and
the row potential last, so after a finite number of iterations rows sum to exactly 1 and columns to ~1.

`sinkhorn_log` is Algorithm 1 as written: the reference. `sinkhorn` computes the same plan faster:

Scaling form. With K = exp(M - rowmax(M)) (entries in (0, 1], a row shift is absorbed by the row scaling),
a = exp(u + rowmax) and b = exp(v), one iteration is two batched matrix-vector products
    b = 1 / (K^T a),    a = 1 / (K b),        T = diag(a) K diag(b)
instead of two log-sum-exps over (W, W). The constants log(1/2W) cancel, and T only depends on b up to a
scalar, so b is renormalised to max 1 every iteration. The first `b` needs the column sums of exp(M),
i.e. K^T exp(rowmax): a0 = exp(rowmax - max rowmax).

Guard. The scaling form is exact as long as K^T a and K b stay far above float underflow. Both are
bounded below by min(K^T a) / max(K^T a) (each row of K holds a 1), so a slice (one epipolar line) is
accepted only if that ratio stays >= TAU at every iteration; elsewhere (potentials spread over more than
~44 nats, e.g. a column no row wants, or costs in the thousands) the slice is recomputed with
`sinkhorn_log` (in float64 for float32 input: with such costs float32 log-domain rounding shows). Underflowed entries of K then contribute at most W * 1.4e-45 / TAU ~ W * 3e-26 relative.

Memory and cache. Slices are processed in chunks of about `chunk_bytes`, all iterations per chunk, so
K stays in cache and temporaries never exceed one chunk; the only full-size tensor is the plan itself.

Backward. A custom autograd Function differentiates the unrolled iterations exactly (not the fixed
point) from the saved input, the plan and the 4 * iters (N, W) vectors, recomputing K per chunk. In log
coordinates each step is a row- or column-normalisation, whose adjoint is a matrix-vector product with
K, and d loss / d M = G * T - K * (X Y^T) with X, Y (W, 2 * iters) collecting the rank-one terms.
"""
from __future__ import annotations


import torch

# Slices whose column sums spread over more than this factor use the log-domain path (see Guard).
TAU = 2.0 ** -64
# CPU: all iterations of a chunk run on cache-resident K; 16 MiB was as fast as L2-sized chunks (1-4 MiB)
# on one core and needs 4x fewer small ops, which matters when threads are preempted (docs/performance.md).
# GPU: cache blocking does not pay against kernel-launch overhead; chunks only bound the temporaries.
DEFAULT_CHUNK_BYTES = {"cpu": 16 << 20, "cuda": 256 << 20}

METHODS = ("auto", "scaling", "log")


def sinkhorn_log(scores: torch.Tensor, iters: int = 10) -> torch.Tensor:
    """Transport plan of Algorithm 1 for scores (..., W, W); returns a tensor of the same shape."""
    w = scores.shape[-1]
    if scores.shape[-2] != w:
        raise ValueError(f"Sinkhorn expects square (..., W, W) scores, got {tuple(scores.shape)}")
    # constants as tensor ops in the scores' dtype: the same float32 rounding as the reference code (log of
    # the float32 marginal 1/(2W)), and W stays symbolic under torch.export (dynamic width)
    two_w = scores.new_full((), 2 * w)
    log_marginal = torch.log(1.0 / two_w)
    u = scores.new_zeros(scores.shape[:-1])                      # (..., W) row potentials
    v = scores.new_zeros(scores.shape[:-2] + scores.shape[-1:])  # (..., W) column potentials
    for _ in range(iters):
        v = log_marginal - torch.logsumexp(scores + u.unsqueeze(-1), dim=-2)
        u = log_marginal - torch.logsumexp(scores + v.unsqueeze(-2), dim=-1)
    return (scores + u.unsqueeze(-1) + v.unsqueeze(-2) + torch.log(two_w)).exp()


def _plain_ops_required() -> bool:
    """True while tracing, scripting, exporting or compiling: data-dependent fallbacks are not allowed."""
    return (torch.jit.is_tracing() or torch.jit.is_scripting() or torch.onnx.is_in_onnx_export()
            or torch.compiler.is_compiling())


def sinkhorn(scores: torch.Tensor, iters: int = 10, *, method: str = "auto",
             chunk_bytes: int | None = None) -> torch.Tensor:
    """Transport plan of Algorithm 1 for scores (..., W, W), equal to `sinkhorn_log` to float rounding.

    method: "scaling" = fast path with a per-slice log-domain fallback; "log" = `sinkhorn_log`;
    "auto" = "scaling", except under tracing / ONNX export / torch.compile where "log" (plain ops) is used.
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
        method = "log" if _plain_ops_required() else "scaling"

    device = scores.device.type
    autocast = torch.is_autocast_enabled(device) if device in ("cpu", "cuda") else False
    low_precision = scores.dtype in (torch.float16, torch.bfloat16)
    out_dtype = torch.float32 if autocast and low_precision else scores.dtype
    work = scores.float() if low_precision else scores
    with torch.autocast(device, enabled=False) if autocast else _nullcontext():
        if method == "log":
            plan = sinkhorn_log(work, iters)
        else:
            plan = _sinkhorn_scaling(work, iters, chunk_bytes)
    return plan.to(out_dtype)


class _nullcontext:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _sinkhorn_scaling(scores: torch.Tensor, iters: int, chunk_bytes: int) -> torch.Tensor:
    shape = scores.shape
    w = shape[-1]
    m = scores.reshape(-1, w, w)  # (N, W, W): one slice per epipolar line
    chunk = max(1, chunk_bytes // max(1, w * w * m.element_size()))
    if torch.is_grad_enabled() and m.requires_grad:
        plan, ok = _ScalingSinkhorn.apply(m, iters, chunk)
    else:
        plan, ok, _ = _scaling_forward(m, iters, chunk, keep=False)
    if not bool(ok.all()):
        bad = (~ok).nonzero().squeeze(1)
        plan = plan.index_put((bad,), _fallback(m[bad], iters))
    return plan.reshape(shape)


def _fallback(m: torch.Tensor, iters: int) -> torch.Tensor:
    """Log-domain plan for the rejected slices, in float64 where the device has it: these are the slices with
    extreme costs, where float32 log-domain rounding (|M| * 6e-8 in every exponent) is itself visible."""
    if m.dtype == torch.float32 and m.device.type != "mps":
        return sinkhorn_log(m.double(), iters).to(m.dtype)
    return sinkhorn_log(m, iters)


def _scaling_forward(m: torch.Tensor, iters: int, chunk: int, keep: bool):
    """Plan (N, W, W), accepted slices (N,) bool, and (if keep) the per-iteration vectors for backward.

    Vectors (each (N, iters, W)): a[k] = a_k for k = 0..iters-1 (the a that produced s_{k+1}),
    b[k] = b_{k+1}, s[k] = K^T a_k before normalisation; plus the final a_n (N, W).
    """
    n_slices, w, _ = m.shape
    plan = torch.empty_like(m)
    ok = torch.empty(n_slices, dtype=torch.bool, device=m.device)
    saved = [] if keep else None
    for start in range(0, n_slices, chunk):
        stop = min(start + chunk, n_slices)
        mc = m[start:stop]
        rowmax = mc.amax(-1, keepdim=True)                                # (n, W, 1)
        k = torch.sub(mc, rowmax, out=plan[start:stop]).exp_()            # K, in place in the output
        a = (rowmax - rowmax.amax(-2, keepdim=True)).exp_().transpose(-1, -2)  # (n, 1, W)
        ratios = []
        vecs = ([], [], []) if keep else None
        for _ in range(iters):
            s = torch.matmul(a, k)                                        # (n, 1, W) column sums
            s_min, s_max = s.aminmax(dim=-1, keepdim=True)
            ratios.append(s_min / s_max)
            b = s_min / s                                                 # (n, 1, W), max 1
            t = torch.matmul(k, b.transpose(-1, -2))                      # (n, W, 1) row sums
            if keep:
                for store, vec in zip(vecs, (a, b, s)):
                    store.append(vec.reshape(-1, w))
            a = t.reciprocal().transpose(-1, -2)
        ok[start:stop] = (torch.cat(ratios, -1) >= TAU).all(-1).squeeze(-1)
        k.mul_(a.transpose(-1, -2)).mul_(b)                               # T = diag(a) K diag(b)
        if keep:
            saved.append([torch.stack(v, 1) for v in vecs] + [a.reshape(-1, w)])
    if keep:
        saved = [torch.cat(parts, 0) for parts in zip(*saved)]
    return plan, ok, saved


class _ScalingSinkhorn(torch.autograd.Function):
    """Scaling-form Sinkhorn with an exact, memory-light backward through the unrolled iterations."""

    @staticmethod
    def forward(ctx, m, iters, chunk):
        plan, ok, (a, b, s, a_last) = _scaling_forward(m, iters, chunk, keep=True)
        ctx.chunk = chunk
        ctx.save_for_backward(m, plan, ok, a, b, s, a_last)
        ctx.mark_non_differentiable(ok)
        return plan, ok

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_plan, _grad_ok):
        m, plan, ok, a, b, s, a_last = ctx.saved_tensors
        grad = torch.empty_like(m)
        device = m.device.type
        with torch.autocast(device, enabled=False) if device in ("cpu", "cuda") else _nullcontext():
            for start in range(0, m.shape[0], ctx.chunk):
                sl = slice(start, start + ctx.chunk)
                _backward_chunk(m[sl], plan[sl], grad_plan[sl], a[sl], b[sl], s[sl], a_last[sl], grad[sl])
        if not bool(ok.all()):
            grad[~ok] = 0  # those slices were recomputed in the log domain; their gradient flows there
        return grad, None, None


def _backward_chunk(m, plan, grad_plan, a, b, s, a_last, out):
    """d loss / d M for one chunk, written into `out`. Shapes: m, plan (n, W, W); a, b, s (n, iters, W).

    Adjoints are taken w.r.t. log a_k and log b_k (alpha, beta). Step a_k = 1 / (K b_k) is a row
    normalisation with Jacobian -P_k, P_k = diag(a_k) K diag(b_k); step b_k = c / (K^T a_{k-1}) is a column
    normalisation with Jacobian -Q_k, Q_k = diag(a_{k-1}) K diag(1 / s_k). The normalisers c are constants:
    the plan does not depend on them.
    """
    iters = a.shape[1]
    k = (m - m.amax(-1, keepdim=True)).exp_()
    gt = grad_plan * plan
    alpha = gt.sum(-1)               # (n, W) adjoint of log a_n
    beta_last = gt.sum(-2)           # (n, W) adjoint of log b_n through the plan
    a_all = torch.cat([a[:, 1:], a_last.unsqueeze(1)], 1)   # a_all[:, j] = a_{j+1}
    xs, ys = [], []
    for j in reversed(range(iters)):
        x = alpha * a_all[:, j]                                              # row coefficients of -P_k
        beta = -b[:, j] * torch.matmul(x.unsqueeze(1), k).squeeze(1)           # -P^T alpha
        if j == iters - 1:
            beta = beta + beta_last
        y = beta / s[:, j]                                                   # column coefficients of -Q_k
        # balance a_{k-1} (<= max s) against y (<= |beta| / (TAU max s)) so neither overflows
        s_max = s[:, j].amax(-1, keepdim=True)
        a_prev = a[:, j] / s_max
        y = y * s_max
        if j > 0:
            alpha = -a_prev * torch.matmul(k, y.unsqueeze(-1)).squeeze(-1)
        xs += [x, a_prev]
        ys += [b[:, j], y]
    low_rank = torch.matmul(torch.stack(xs, -1), torch.stack(ys, -2))   # (n, W, W) = X Y^T
    torch.sub(gt, k.mul_(low_rank), out=out)
