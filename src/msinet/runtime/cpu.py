"""How many CPU threads a run uses: the physical cores this process may run on, unless the user says.

torch's own default counts the machine's cores, not the ones a `taskset`, a container's cpuset or a batch
scheduler leaves to this process; more threads than cores slows every op down (OpenMP teams wait for a
preempted thread), and a second hardware thread of a core adds little to convolution-heavy work.
"""

from __future__ import annotations

import os
from pathlib import Path


def physical_cores() -> int:
    """Distinct physical cores among the CPUs this process may run on (Linux sysfs topology; elsewhere the
    usable CPU count)."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1
    cores = set()
    for cpu in cpus:
        topology = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            cores.add(((topology / "physical_package_id").read_text(), (topology / "core_id").read_text()))
        except OSError:
            cores.add(("cpu", str(cpu)))  # no topology: count the CPU itself
    return max(1, len(cores))


def set_threads(threads: int | None = None) -> int:
    """torch's intra-op threads: `threads`, or the physical cores available (physical_cores), shared among the
    processes torchrun starts on this machine (LOCAL_WORLD_SIZE); returns it."""
    import torch

    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise ValueError(f"--threads must be a positive integer, got {threads!r}")
    n = threads or max(1, physical_cores() // int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1))
    torch.set_num_threads(n)
    return n
