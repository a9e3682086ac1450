"""torchrun / DDP plumbing: process group set-up, rank-aware helpers, and the step-indexed batch sampler.

Launch with `torchrun --nproc_per_node N -m msinet train ...` (multi-node: add --nnodes, --node_rank and a
--rdzv_endpoint); a plain `python -m msinet train` is a world of one. gloo on CPU, nccl on CUDA.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.utils.data import Sampler


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def init_world(device_type: str) -> World:
    """Join the process group if torchrun started us (nccl on CUDA, gloo on CPU); else a world of one."""
    if not launched_by_torchrun():
        return World()
    world = World(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", 0)))
    if world.size > 1 and not dist.is_initialized():
        if device_type == "cuda":
            torch.cuda.set_device(world.local_rank)
        dist.init_process_group("nccl" if device_type == "cuda" else "gloo")
    return world


def close_world() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier(world: World) -> None:
    if world.distributed:
        dist.barrier()


def broadcast_object(obj, world: World):
    """rank 0's value of a picklable object on every rank."""
    if not world.distributed:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def all_gather_objects(obj, world: World) -> list:
    """[rank 0's obj, rank 1's obj, ...] on every rank (picklable objects)."""
    if not world.distributed:
        return [obj]
    out = [None] * world.size
    dist.all_gather_object(out, obj)
    return out


def all_mean(value: float, world: World, device) -> float:
    if not world.distributed:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return float(t.item()) / world.size


class StepSampler(Sampler):
    """Sample indices for one rank, from `start_step` on, forever: global step s draws the samples
    s*G .. s*G+G-1 (G = global batch) and rank r takes the contiguous slice r*b .. r*b+b-1 (b = G / world).

    This is the role of torch's DistributedSampler (disjoint shards of each global batch) for an endless
    on-the-fly dataset: the whole data position is the step number, so a resumed run draws exactly the
    samples the uninterrupted run would have, whatever the number of processes.
    """

    def __init__(self, global_batch: int, world: World, start_step: int = 0):
        if global_batch % world.size:
            raise ValueError(
                f"train.batch_size ({global_batch}) must be divisible by the number of processes ({world.size})"
            )
        self.global_batch, self.world, self.start_step = global_batch, world, start_step
        self.local_batch = global_batch // world.size

    def __iter__(self):
        step = self.start_step
        while True:
            first = step * self.global_batch + self.world.rank * self.local_batch
            yield from range(first, first + self.local_batch)
            step += 1

    def __len__(self):  # endless; DataLoader only needs this for its own bookkeeping
        return 2**62
