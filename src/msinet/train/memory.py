"""Will a training run fit in memory? Checked before the first step, so a run that would be OOM-killed
stops at once with one line saying what to change.

The activations autograd keeps are counted exactly, on one sample at the run's patch size: a forward pass
(+ loss) under `saved_tensors_hooks` adds up the distinct storages saved for backward, attributed to the
block being run. They scale linearly with the batch (every saved tensor has the batch as a factor). Then

    plain run:            outside the blocks + every block's saved tensors
    checkpoint_blocks:    outside the blocks + every block's input + RECOMPUTE_FACTOR x the largest block's
                          saved tensors (its recomputation, the gradients flowing through it, temporaries)
    peak = batch x activations x BACKWARD_FACTOR + gradients + optimizer state + RUNTIME + workers

BACKWARD_FACTOR covers what backward allocates beside the saved tensors (gradients of activations,
temporaries). Both factors are calibrated on CPU against the peak resident memory of real steps and
err on the safe side by 10-20% (docs/training.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import nn

BACKWARD_FACTOR = 1.3
RECOMPUTE_FACTOR = 3
RUNTIME_BYTES = 512 << 20  # allocator slack and what the loop allocates beside the step
WORKER_BYTES = 256 << 20  # each DataLoader worker process (copy-on-write pages it touches)
OPTIMIZER_SLOTS = {"lion": 1, "sgd": 1, "adam": 2, "adamw": 2}
GIB = float(1 << 30)


@dataclass(frozen=True)
class ActivationCount:
    """Bytes autograd saves for one sample."""

    outside: int  # intro, head, loss: not inside any block
    blocks: tuple[int, ...]  # saved inside each block
    block_input: int  # one block's input (what checkpointing keeps per block)

    def per_sample(self, checkpoint_blocks: bool) -> int:
        if checkpoint_blocks and self.blocks:
            return self.outside + len(self.blocks) * self.block_input + RECOMPUTE_FACTOR * max(self.blocks)
        return self.outside + sum(self.blocks)


def count_saved_activations(
    run: Callable[[], torch.Tensor], blocks: Sequence[nn.Module], exclude: Sequence[torch.Tensor] = ()
) -> ActivationCount:
    """Run `run()` (one sample's forward + loss) and count the distinct storages saved for backward."""
    seen = {t.untyped_storage().data_ptr() for t in exclude}
    per_block = [0] * len(blocks)
    outside = 0
    current: list[int | None] = [None]
    block_input = [0]

    def pack(t: torch.Tensor):
        nonlocal outside
        storage = t.untyped_storage()
        if storage.data_ptr() not in seen and storage.nbytes() > 0:
            seen.add(storage.data_ptr())
            if current[0] is None:
                outside += storage.nbytes()
            else:
                per_block[current[0]] += storage.nbytes()
        return t

    def enter(i):
        def hook(module, args):
            current[0] = i
            block_input[0] = max(block_input[0], args[0].numel() * args[0].element_size())

        return hook

    def leave(module, args, output):
        current[0] = None

    handles = [
        h for i, b in enumerate(blocks) for h in (b.register_forward_pre_hook(enter(i)), b.register_forward_hook(leave))
    ]
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            run()
    finally:
        for h in handles:
            h.remove()
    return ActivationCount(outside, tuple(per_block), block_input[0])


def fixed_bytes(model: nn.Module, optimizer: str, workers: int = 0) -> int:
    """What the first step adds beside activations: gradients, the optimizer's state, loader workers
    (the weights and the EMA copy exist already, so the free memory measured before excludes them)."""
    params = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
    return params * (1 + OPTIMIZER_SLOTS.get(optimizer, 2)) + workers * WORKER_BYTES + RUNTIME_BYTES


def peak_bytes(count: ActivationCount, batch: int, checkpoint_blocks: bool, fixed: int) -> int:
    return int(batch * count.per_sample(checkpoint_blocks) * BACKWARD_FACTOR) + fixed


def largest_batch(count: ActivationCount, checkpoint_blocks: bool, fixed: int, budget: int) -> int:
    per = count.per_sample(checkpoint_blocks) * BACKWARD_FACTOR
    return max(0, math.floor((budget - fixed) / per)) if per > 0 else 1 << 30


def check_fits(
    count: ActivationCount,
    batch: int,
    checkpoint_blocks: bool,
    fixed: int,
    budget: int,
    where: str,
    patch: Sequence[int],
    processes: int = 1,
    can_checkpoint: bool = True,
) -> int:
    """The estimated peak in bytes; raises MemoryBudgetError (one line) if it exceeds `budget`, suggesting
    checkpointed blocks only where the model supports them (`can_checkpoint`)."""
    need = peak_bytes(count, batch, checkpoint_blocks, fixed)
    if need <= budget:
        return need
    what = (
        f"train: batch {batch}{' per process' if processes > 1 else ''} of {patch[0]}x{patch[1]} patches needs "
        f"about {need / GIB:.1f} GiB{' with checkpoint_blocks' if checkpoint_blocks else ''} but {where} has "
        f"{budget / GIB:.1f} GiB"
    )
    fixes = []
    if not checkpoint_blocks and can_checkpoint:
        with_ckpt = peak_bytes(count, batch, True, fixed)
        if with_ckpt <= budget:
            fixes.append(f"set train.checkpoint_blocks=true (about {with_ckpt / GIB:.1f} GiB)")
    fit_now = largest_batch(count, checkpoint_blocks, fixed, budget)
    if fit_now >= 1:
        fixes.append(f"lower train.batch_size to {fit_now * processes}")
    if not checkpoint_blocks and can_checkpoint and not fixes:
        fit_ckpt = largest_batch(count, True, fixed, budget)
        if fit_ckpt >= 1:
            fixes.append(f"set train.checkpoint_blocks=true and train.batch_size={fit_ckpt * processes}")
    if not fixes:
        fixes.append("use smaller data.lr_patch or a smaller model")
    raise MemoryBudgetError(f"{what}: {' or '.join(fixes)} (train.memory_check=false skips this check)")


class MemoryBudgetError(ValueError):
    """The run would not fit in memory (a user error: the message says what to change)."""
