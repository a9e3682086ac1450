import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
SHARED_PEERS = REPO.parent / "shared" / "peers"

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


@pytest.fixture(scope="module")
def one_thread():
    """Small models run fastest on one thread, and far faster when the CPU is shared (OpenMP teams wait for a
    preempted thread at every op); the previous setting is restored. Use with pytest.mark.usefixtures."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
