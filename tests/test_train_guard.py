"""Training that never goes silently wrong: non-finite gradients skip the step (Lion's sign(NaN) = 0 would freeze
every weight), ten in a row stop the run; `train.precision: auto`; the carry file continues a run elsewhere."""

from __future__ import annotations

import json

import pytest
import torch
from train_utils import tiny_config, write_synthetic_pairs

import msinet
from msinet.models.weights import read_safetensors
from msinet.runtime.precision import auto_training_precision, native_bf16
from msinet.train.config import load_config
from msinet.train.trainer import Trainer

pytestmark = pytest.mark.usefixtures("one_thread")


def _trainer(tmp_path, **sections):
    dirs = write_synthetic_pairs(tmp_path / "data", count=1)
    return Trainer(load_config(base=tiny_config(dirs, tmp_path / "runs", **sections)))


def _poison_gradients(trainer, steps: set[int]):
    """Make the gradients NaN on the given (1-based) steps, as a broken kernel would."""
    param = next(trainer.model.parameters())
    count = {"n": 0}

    def hook(grad):
        count["n"] += 1
        return torch.full_like(grad, float("nan")) if count["n"] in steps else grad

    param.register_hook(hook)


def test_a_nan_gradient_skips_the_step_and_training_goes_on(tmp_path):
    trainer = _trainer(tmp_path, train={"steps": 4, "ema_decay": 0.5, "grad_clip": 0.01})
    _poison_gradients(trainer, {2})
    snapshots = []
    original = trainer.optimizer.step

    def step(*a, **k):  # the weights before every real optimizer step
        snapshots.append(trainer.step)
        return original(*a, **k)

    trainer.optimizer.step = step
    trainer.fit()
    assert trainer.skipped_steps == 1 and snapshots == [0, 2, 3]  # step 2 (index 1) was skipped whole
    for name, p in trainer.model.named_parameters():
        assert torch.isfinite(p).all(), name
    state = trainer.optimizer.state_dict()["state"]
    assert all(torch.isfinite(s["exp_avg"]).all() for s in state.values())  # Lion's momentum never saw the NaN
    assert all(torch.isfinite(p).all() for p in trainer.ema.model.parameters())
    records = [json.loads(line) for line in (trainer.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert records[-1]["skipped_steps"] == 1


def test_ten_non_finite_steps_in_a_row_stop_the_run(tmp_path):
    trainer = _trainer(tmp_path, train={"steps": 20})
    _poison_gradients(trainer, set(range(3, 30)))
    with pytest.raises(FloatingPointError, match="not finite in 10 steps in a row.*train.precision=fp32"):
        trainer.fit()
    assert trainer.step == 2 + 9  # two good steps, nine skipped, the tenth raised


def test_precision_auto_follows_the_documented_rule(tmp_path):
    expected = "bf16" if native_bf16(torch.device("cpu")) else "fp32"
    assert auto_training_precision(torch.device("cpu"), from_random_init=True) == expected
    assert auto_training_precision(torch.device("cpu"), from_random_init=False) == "fp32"  # fine-tuning
    trainer = _trainer(tmp_path, train={"precision": "auto"})
    assert trainer.precision == expected
    with pytest.raises(ValueError, match="train.precision"):
        load_config(base={"train": {"precision": "fp8"}})


def test_the_carry_file_continues_a_run_on_another_machine(tmp_path):
    carry = tmp_path / "carried" / "run.safetensors"
    dirs = write_synthetic_pairs(tmp_path / "data", count=2)
    val = dirs[1:]
    config = tiny_config(
        dirs[:1],
        tmp_path / "runs",
        data={"val": val},
        val={"every": 2},
        train={"steps": 6, "ema_decay": 0.5},
        checkpoint={"every": 2, "carry": str(carry)},
    )
    first = Trainer(load_config(base=config), resume="auto")
    first.fit(stop_after=4)
    state, metadata = read_safetensors(carry)
    assert int(metadata["step"]) in (2, 4) and float(metadata["val_psnr"]) == pytest.approx(first.best, abs=1e-4)
    # a new machine: the run folder is gone, only the committed carry file remains
    config["log"]["out_dir"] = str(tmp_path / "elsewhere")
    second = Trainer(load_config(base=config), resume="auto")
    assert second.step == int(metadata["step"]) and second.carried_from == carry
    for key, value in second.model.state_dict().items():
        assert torch.equal(value, state[key]), key
    assert second.optimizer.state_dict()["state"] == {}  # fresh optimizer state
    lr_expected = first.scheduler.lr_lambdas[0](second.step) * config["optim"]["lr"]
    assert second.optimizer.param_groups[0]["lr"] == pytest.approx(lr_expected)
    summary = second.fit()
    assert summary["step"] == 6
    # without --resume the carry file is not used: a new run starts from its init
    config["log"]["out_dir"] = str(tmp_path / "third")
    assert Trainer(load_config(base=config)).step == 0
    loaded = msinet.load_model(carry)
    assert loaded.config["channels"] == 8


def test_sigterm_to_the_whole_process_group_still_checkpoints(tmp_path):
    """`kill -- -PGID` / `pkill -f` reach the DataLoader workers too; the run must still save its step."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import yaml

    dirs = write_synthetic_pairs(tmp_path / "data", count=1)
    config = tiny_config(
        dirs, tmp_path / "runs", train={"steps": 100000}, data={"workers": 1}, checkpoint={"every": 100000}
    )
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "msinet", "train", "--config", str(tmp_path / "c.yaml")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
    )
    metrics = tmp_path / "runs" / "t" / "metrics.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and not (metrics.is_file() and len(metrics.read_text().splitlines()) >= 3):
        time.sleep(0.2)
    assert proc.poll() is None, proc.stdout.read()
    os.killpg(proc.pid, signal.SIGTERM)  # the trainer and its worker alike
    out, _ = proc.communicate(timeout=120)
    assert "interrupted: checkpoint saved at step" in out, out
    assert "DataLoader worker" not in out
    assert list((tmp_path / "runs" / "t" / "checkpoints").glob("step_*"))
