"""The GPU session rehearsed on the CPU, as the device machine will see it: a copy of the repository's code with
no ../shared beside it and no data but the pack that benchmarks/gpu_pack.py writes, the session run through
benchmarks/gpu_session.sh at toy sizes (REHEARSE=1). A missing file, path or import fails here, not on the
device."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
CARRY = REPO / "training" / "msinet_small_x4_cpu.safetensors"


def _toy_pairs(folder: Path, n: int) -> list[str]:
    """n small stereo pairs (crops of Middlebury Motorcycle shipped with scikit-image) as left/right PNGs."""
    from PIL import Image
    from skimage.data import stereo_motorcycle

    left, right, _ = stereo_motorcycle()
    names = []
    for i in range(n):
        pair = folder / f"{folder.name}{i}"
        pair.mkdir(parents=True)
        y, x = 150 + 40 * i, 200 + 60 * i
        for view, image in (("left", left), ("right", right)):
            Image.fromarray(np.ascontiguousarray(image[y : y + 64, x : x + 128])).save(pair / f"{view}.png")
        names.append(str(pair))
    return names


@pytest.mark.slow
def test_gpu_session_rehearsal_without_shared(tmp_path):
    if not CARRY.is_file():
        pytest.skip("no carry file to start from")
    sandbox = tmp_path / "device" / "repo"  # nothing beside it: ../shared does not exist there
    for part in ("src", "benchmarks", "configs"):
        shutil.copytree(REPO / part, sandbox / part, ignore=shutil.ignore_patterns("__pycache__"))
    assert not (sandbox.parent / "shared").exists()
    source = tmp_path / "source"
    config = sandbox / "configs" / "toy_x4.yaml"
    config.write_text(
        json.dumps(
            {
                "name": "toy",
                "model": {"name": "msinet_small_x4", "init": "msinet_small_x4"},
                "data": {"train": _toy_pairs(source / "train", 2), "val": _toy_pairs(source / "val", 1)},
                "train": {"ema_decay": 0.999},
                "checkpoint": {"carry": "unused.safetensors"},
            }
        )
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": ""}
    pack = subprocess.run(
        [
            sys.executable,
            "benchmarks/gpu_pack.py",
            "--config",
            "configs/toy_x4.yaml",
            "--carry",
            str(CARRY),
            "--no-wheels",
        ],
        cwd=sandbox,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert pack.returncode == 0, pack.stderr
    manifest = json.loads((sandbox / ".gpu" / "pack.json").read_text())
    assert len(manifest["folders"]) == 3 and (sandbox / ".gpu" / "start.safetensors").is_file()
    shutil.rmtree(source)  # the session may read the pack only

    out = tmp_path / "out"
    env.update(OUT=str(out), REHEARSE="1", PYTHON=sys.executable, SECONDS_BUDGET="400")
    run = subprocess.run(
        ["bash", "benchmarks/gpu_session.sh"], cwd=sandbox, env=env, capture_output=True, text=True, timeout=900
    )
    log = (out / "session.log").read_text() if (out / "session.log").exists() else run.stdout + run.stderr
    assert run.returncode == 0, log[-4000:]
    tables = (out / "tables.md").read_text()
    for title in (
        "(a) msinet doctor (exit 0",
        "(b) throughput probe",
        "(c) x4 training",
        "(d) bench_train.py (exit 0",
        "(d) bench_models.py (exit 0",
    ):
        assert title in tables, title
    assert "chosen: batch" in tables and "cosine" in tables
    # what comes back: at most 8 files, no folders, the weights among them
    returned = sorted(p.name for p in out.iterdir())
    assert len(returned) <= 8 and all((out / name).is_file() for name in returned), returned
    from msinet.models.weights import read_safetensors

    for name in ("x4_best.safetensors", "x4_final.safetensors"):
        tensors, metadata = read_safetensors(out / name)
        assert tensors, name
    assert int(read_safetensors(out / "x4_final.safetensors")[1]["step"]) == 4
    steps = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert any("val_psnr" in s for s in steps) and steps[-1]["step"] == 4
