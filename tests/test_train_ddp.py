"""DDP: a two-process torchrun (gloo, CPU) run equals a single-process run over the same global batch."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from train_utils import tiny_config, write_synthetic_pairs

from msinet.registry import create_model
from msinet.train.config import load_config
from msinet.train.trainer import Trainer

pytestmark = pytest.mark.usefixtures("one_thread")

HERE = Path(__file__).resolve().parent


@pytest.mark.slow
def test_two_process_ddp_matches_single_process(tmp_path):
    pairs = write_synthetic_pairs(tmp_path / "pairs", count=2)
    # SGD is linear in the gradients, so averaging over ranks = one big batch up to float rounding
    cfg = tiny_config(
        pairs,
        tmp_path / "ddp",
        optim={"name": "sgd", "lr": 0.05, "betas": [0.9, 0.99]},
        train={"steps": 3, "batch_size": 4, "seed": 5},
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            str(HERE / "train_ddp_worker.py"),
            json.dumps(cfg),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "effective batch size 4 = 2 per process x 2 process(es)" in proc.stdout + proc.stderr
    rank0, rank1 = load_file(str(tmp_path / "rank0.safetensors")), load_file(str(tmp_path / "rank1.safetensors"))
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), f"ranks disagree on {key}"
    # rank 0 alone logged and saved
    run = tmp_path / "ddp" / "t"
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 3
    assert (run / "checkpoints" / "step_00000003" / "model.safetensors").is_file()

    single_cfg = load_config(base={**cfg, "log": {**cfg["log"], "out_dir": str(tmp_path / "single")}})
    single = Trainer(single_cfg)
    single.fit()
    torch.manual_seed(5)  # the trainer seeds the same way before building the model
    init = create_model("msinet_tiny_x4", num_blocks=1, channels=8)
    moved = 0.0
    for key, value in single.model.state_dict().items():
        torch.testing.assert_close(rank0[key], value, rtol=1e-4, atol=1e-6, msg=f"DDP vs single process: {key}")
        moved = max(moved, float((value - init.state_dict()[key]).abs().max()))
    assert moved > 1e-3  # the runs really trained
