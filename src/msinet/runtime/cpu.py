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


def default_threads() -> int:
    """OMP_NUM_THREADS where it is set (the user's, or torchrun's 1 for several local processes), else the
    physical cores available (physical_cores) shared among the processes torchrun starts on this machine."""
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env:
        try:
            n = int(env)
        except ValueError:
            raise ValueError(f"OMP_NUM_THREADS must be a positive integer, got {env!r}") from None
        if n < 1:
            raise ValueError(f"OMP_NUM_THREADS must be a positive integer, got {env!r}")
        return n
    return max(1, physical_cores() // int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1))


def set_threads(threads: int | None = None) -> int:
    """torch's intra-op threads: `threads`, or default_threads(); returns it."""
    import torch

    if threads is not None and (not isinstance(threads, int) or isinstance(threads, bool) or threads < 1):
        raise ValueError(f"--threads must be a positive integer, got {threads!r}")
    n = threads or default_threads()
    torch.set_num_threads(n)
    return n
