"""Large separable kernel attention (LSKA, Lau et al. 2024) and MSINet's multi-scale version.

A k x k depthwise large-kernel attention is decomposed into
    1 x k0 and k0 x 1 depthwise convs          (local)
    1 x k1 and k1 x 1 depthwise dilated convs  (long range, dilation d)
    1 x 1 conv
which together reach a k x k receptive field at a cost linear in k.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .. import fastpath
from . import inference_fold

# kernel size k -> (k0, k1, dilation), the decomposition table of the LSKA paper
LSKA_DECOMPOSITION = {
    7: (3, 3, 2),
    11: (3, 5, 2),
    23: (5, 7, 3),
    35: (5, 11, 3),
    41: (5, 13, 3),
    53: (5, 17, 3),
}
# the fused execution's first use on a device is checked on this corner of the real input: wider than the
# largest kernel's reach (35: 3 * 10 + 2 = 32 pixels each side), so the zero padding is exercised on all sides
PROBE_ROWS, PROBE_COLS = 24, 80


def _depthwise(channels: int, kernel: tuple[int, int], dilation: int = 1) -> nn.Conv2d:
    pad = tuple(dilation * (k - 1) // 2 for k in kernel)
    return nn.Conv2d(channels, channels, kernel, padding=pad, dilation=dilation, groups=channels)


class LSKAMap(nn.Module):
    """The LSKA attention map for one kernel size (the caller multiplies it onto the features)."""

    def __init__(self, channels: int, kernel_size: int):
        super().__init__()
        if kernel_size not in LSKA_DECOMPOSITION:
            raise ValueError(f"LSKA kernel size must be one of {sorted(LSKA_DECOMPOSITION)}, got {kernel_size}")
        k0, k1, d = LSKA_DECOMPOSITION[kernel_size]
        self.kernel_size = kernel_size
        self.local_h = _depthwise(channels, (1, k0))
        self.local_v = _depthwise(channels, (k0, 1))
        self.dilated_h = _depthwise(channels, (1, k1), d)
        self.dilated_v = _depthwise(channels, (k1, 1), d)
        self.proj = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.dilated_v(self.dilated_h(self.local_v(self.local_h(x)))))


class MultiScaleLSKA(nn.Module):
    """Split channels into equal groups, one LSKA kernel size per group, mix with 1x1, multiply onto x.

    `branch_of_group[i]` names which LSKA branch processes channel group i. The default (0, 1, 2, ...) uses
    every scale; the authors' released code routes its last group through the third branch (0, 1, 2, 2),
    leaving the largest kernel built but unused; `msinet_*_released` reproduces that.

    Fused execution (`fused = True`; the default None fuses on CUDA only) runs the groups together: each of
    the four depthwise stages is one depthwise conv over all channels (kernels zero-padded to the stage's
    longest, centred; a dilated stage is one conv per run of groups sharing a dilation) and the per-branch
    1x1s one grouped conv, so 20 small convs become 7 larger ones: fewer kernel launches on a GPU, where they
    bound the speed. On CPU the per-branch convs measured faster (docs/performance.md). The fused weights are
    built from the branches' own parameters at forward time (gradients reach them; state-dict keys unchanged),
    cached under no_grad while the parameters are unchanged. Zero taps add exact zeros: the output equals
    the per-branch one (tests/test_layers.py). The first fused forward per device is compared with the
    per-branch one on a corner of its input (msinet.fastpath); on a mismatch, one warning line and per-branch
    execution for the rest of the process.
    """

    fused: bool | None = None

    def __init__(self, channels: int, kernel_sizes=(7, 11, 23, 35), branch_of_group=None):
        super().__init__()
        groups = len(kernel_sizes)
        if channels % groups:
            raise ValueError(f"channels ({channels}) is not divisible into the {groups} LSKA channel groups")
        self.branches = nn.ModuleList(LSKAMap(channels // groups, k) for k in kernel_sizes)
        self.branch_of_group = tuple(branch_of_group) if branch_of_group is not None else tuple(range(groups))
        if len(self.branch_of_group) != groups or not all(0 <= b < groups for b in self.branch_of_group):
            raise ValueError(f"branch_of_group must list one branch index in [0, {groups}) per group")
        self.proj = nn.Conv2d(channels, channels, 1)
        self._fused = inference_fold.ParameterCache()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (x.is_cuda if self.fused is None else self.fused) and self._fused_checked(x):
            return self._forward_fused(x)
        return self._forward_branches(x)

    def _forward_branches(self, x: torch.Tensor) -> torch.Tensor:
        chunks = x.chunk(len(self.branches), dim=1)
        attn = torch.cat([self.branches[b](c) for b, c in zip(self.branch_of_group, chunks)], dim=1)
        return self.proj(attn) * x

    def _fused_checked(self, x: torch.Tensor) -> bool:
        """The first fused call per device compares both executions on a corner of x (msinet.fastpath)."""
        corner = lambda: x.detach()[:1, :, :PROBE_ROWS, :PROBE_COLS]  # noqa: E731 - sliced only when checked
        return FUSED_LSKA.enabled(
            x.device, lambda: [self._forward_fused(corner())], lambda: [self._forward_branches(corner())]
        )

    def _forward_fused(self, x: torch.Tensor) -> torch.Tensor:
        plan = self._fused_plan()
        y = x
        for stage in plan[:4]:
            if len(stage) == 1:
                weight, bias, pad, dilation, _ = stage[0]
                y = F.conv2d(y, weight, bias, padding=pad, dilation=dilation, groups=weight.shape[0])
            else:  # one conv per run of channel groups that share a dilation
                y = torch.cat(
                    [
                        F.conv2d(y[:, c0:c1], weight, bias, padding=pad, dilation=dilation, groups=c1 - c0)
                        for weight, bias, pad, dilation, (c0, c1) in stage
                    ],
                    dim=1,
                )
        weight, bias = plan[4]
        return self.proj(F.conv2d(y, weight, bias, groups=len(self.branch_of_group))) * x

    def _fused_plan(self):
        if torch.is_grad_enabled():  # weights built under autograd belong to this forward pass
            return self._build_plan()
        return self._fused.get(tuple(self.branches.parameters()), self._build_plan)

    def _build_plan(self):
        routed = [self.branches[b] for b in self.branch_of_group]
        q = routed[0].proj.in_channels
        stages = []
        for name in ("local_h", "local_v", "dilated_h", "dilated_v"):
            convs = [getattr(m, name) for m in routed]
            runs: list[list[int]] = []  # consecutive groups with one dilation
            for g, conv in enumerate(convs):
                if runs and convs[runs[-1][0]].dilation == conv.dilation:
                    runs[-1].append(g)
                else:
                    runs.append([g])
            stage = []
            for run in runs:
                size = max(max(convs[g].kernel_size) for g in run)
                axis = 3 if convs[run[0]].kernel_size[0] == 1 else 2  # (1, k): along W; (k, 1): along H
                weights = []
                for g in run:
                    w = convs[g].weight  # (q, 1, 1, k) or (q, 1, k, 1)
                    extra = (size - w.shape[axis]) // 2
                    weights.append(F.pad(w, (extra, extra) if axis == 3 else (0, 0, extra, extra)))
                dilation = convs[run[0]].dilation
                reach = dilation[axis - 2] * (size - 1) // 2
                pad = (0, reach) if axis == 3 else (reach, 0)
                stage.append(
                    (
                        torch.cat(weights),
                        torch.cat([convs[g].bias for g in run]),
                        pad,
                        dilation,
                        (run[0] * q, (run[-1] + 1) * q),
                    )
                )
            stages.append(stage)
        proj = (torch.cat([m.proj.weight for m in routed]), torch.cat([m.proj.bias for m in routed]))
        return (*stages, proj)


def _lska_probe(device: torch.device):
    """Fused vs per-branch on two layers with seeded weights: every scale, and the released routing (0, 1, 2, 2)."""
    g = torch.Generator().manual_seed(19)
    with torch.random.fork_rng(devices=[]):  # the layers' default init leaves the global generator as it was
        layers = [MultiScaleLSKA(32), MultiScaleLSKA(32, branch_of_group=(0, 1, 2, 2))]
    with torch.no_grad():
        for p in (p for m in layers for p in m.parameters()):
            p.copy_(0.3 * torch.randn(p.shape, generator=g))
    layers = [m.to(device) for m in layers]
    x = torch.randn(1, 32, PROBE_ROWS, PROBE_COLS, generator=g).to(device)

    def fast():
        return [m._forward_fused(x) for m in layers]

    def reference():
        return [m._forward_branches(x) for m in layers]

    return fast, reference


FUSED_LSKA = fastpath.register(
    fastpath.FastPath(
        "fused-lska",
        "multi-scale LSKA as 7 fused convs vs one conv chain per branch",
        rtol=1e-3,
        atol=1e-5,
        probe=_lska_probe,
    )
)
