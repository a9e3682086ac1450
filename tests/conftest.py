import os
import subprocess
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
SHARED_PEERS = REPO.parent / "shared" / "peers"
SHARED_ARCH = SHARED_PEERS / "arch"

# two cores: keep torch from oversubscribing when pytest runs beside other work
torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent")
    return SHARED_DATA


@pytest.fixture
def shared_peers() -> Path:
    """The peers' released checkpoints and their authors' reference outputs (read-only; never copied)."""
    if not SHARED_PEERS.is_dir():
        pytest.skip(f"peer weights folder {SHARED_PEERS} is absent")
    return SHARED_PEERS


@pytest.fixture
def shared_arch() -> Path:
    """Architecture references of more peers: random-weight checkpoints saved by the authors' code and what
    that code returned for them (read-only; never copied; see its README.md)."""
    if not SHARED_ARCH.is_dir():
        pytest.skip(f"peer architecture folder {SHARED_ARCH} is absent")
    return SHARED_ARCH


@pytest.fixture(scope="module")
def one_thread():
    """Small models run fastest on one thread, and far faster when the CPU is shared (OpenMP teams wait for a
    preempted thread at every op); the previous setting is restored. Use with pytest.mark.usefixtures."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def tmpfs(tmp_path):
    """mount(options) -> a real small or read-only tmpfs where this process may mount one (root with mount
    rights; skips elsewhere). Unmounted after the test."""
    mounted = []

    def mount(options: str) -> Path:
        where = tmp_path / f"mnt{len(mounted)}"
        where.mkdir()
        try:
            proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True)
        except FileNotFoundError:  # no mount command
            proc = None
        if proc is None or proc.returncode != 0:
            pytest.skip("cannot mount a tmpfs here (needs root and mount rights)")
        mounted.append(where)
        return where

    yield mount
    for where in mounted:
        subprocess.run(["umount", str(where)], capture_output=True)
