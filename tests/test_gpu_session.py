"""benchmarks/gpu_session.sh, the one prepared script for a GPU session, run end to end at toy sizes on the CPU
(DRY_RUN=1): every step exits 0 and leaves its table, and the training step's EMA weights come back alone."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_gpu_session_dry_run(tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "DRY_RUN": "1", "OUT": str(out), "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(["bash", str(REPO / "benchmarks" / "gpu_session.sh")], env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + (out / "session.log").read_text()
    for table in ("doctor", "bf16_vs_fp32", "bench_models", "bench_train"):
        assert (out / f"{table}.md").read_text().strip(), table
    assert "| msinet_small_x4 |" in (out / "bf16_vs_fp32.md").read_text()
    assert (out / "train" / "last_ema.safetensors").is_file()
    assert not list((out / "train").rglob("state.pt"))  # optimizer states never leave the machine
