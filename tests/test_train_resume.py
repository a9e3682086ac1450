"""Checkpoints: N steps straight == N/2 steps, stop, resume, N/2 steps (bit for bit on CPU); atomic saves."""

import json

import pytest
import torch
from train_utils import tiny_config, write_synthetic_pairs

from msinet.models.weights import read_safetensors
from msinet.train import checkpoint as ckpt
from msinet.train.config import load_config
from msinet.train.trainer import Trainer

pytestmark = pytest.mark.usefixtures("one_thread")


def _losses(run_dir):
    return [
        (r["step"], r["train_loss"])
        for r in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines())
        if "train_loss" in r
    ]


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    return write_synthetic_pairs(tmp_path_factory.mktemp("pairs"), count=2)


def test_resume_is_bit_exact(pairs, tmp_path):
    # drop-path 0.5 consumes the torch RNG and EMA adds state: both must be restored exactly
    extra = dict(
        model={"name": "msinet_tiny_x4", "options": {"num_blocks": 2, "channels": 8, "drop_path_rate": 0.5}},
        train={"steps": 6, "batch_size": 2, "seed": 3, "ema_decay": 0.9, "grad_clip": 0.05},
    )
    straight = load_config(base=tiny_config(pairs, tmp_path / "a", **extra))
    Trainer(straight).fit()

    split = load_config(base=tiny_config(pairs, tmp_path / "b", **extra))
    first = Trainer(split).fit(stop_after=3)
    assert first["step"] == 3
    (tmp_path / "b" / "t" / "metrics.jsonl").open("a").write('{"step": 4, "train_loss": 123.0}\n')  # a crashed tail
    resumed = Trainer(split, resume="auto")
    assert resumed.step == 3
    resumed.fit()

    a, b = tmp_path / "a" / "t", tmp_path / "b" / "t"
    assert _losses(a) == _losses(b) and len(_losses(a)) == 6
    for name in ("model.safetensors", "ema.safetensors"):
        wa, _ = read_safetensors(a / "checkpoints" / "step_00000006" / name)
        wb, _ = read_safetensors(b / "checkpoints" / "step_00000006" / name)
        assert wa.keys() == wb.keys()
        for key in wa:
            assert torch.equal(wa[key], wb[key]), key
    sa, sb = ckpt.load_state(a / "checkpoints" / "step_00000006"), ckpt.load_state(b / "checkpoints" / "step_00000006")
    assert torch.equal(sa["rng"]["torch"], sb["rng"]["torch"])
    assert sa["optimizer"]["state"][0]["exp_avg"].equal(sb["optimizer"]["state"][0]["exp_avg"])


def test_crash_while_saving_keeps_previous_checkpoint(pairs, tmp_path, monkeypatch):
    config = load_config(base=tiny_config(pairs, tmp_path, train={"steps": 4, "batch_size": 2, "seed": 3}))
    trainer = Trainer(config)
    trainer.fit(stop_after=2)
    run_dir = tmp_path / "t"
    good = ckpt.complete_checkpoints(run_dir)[-1]
    before = (good / "model.safetensors").read_bytes()

    def broken_save(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(ckpt.torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        trainer.fit(stop_after=1)
    monkeypatch.undo()
    assert (run_dir / "checkpoints" / "step_00000003.tmp").is_dir()  # the half-written one
    assert ckpt.resolve_resume("auto", run_dir) == good
    assert (good / "model.safetensors").read_bytes() == before
    assert Trainer(config, resume="auto").step == 2


def test_run_folder_is_not_overwritten_without_force(pairs, tmp_path):
    config = load_config(base=tiny_config(pairs, tmp_path, train={"steps": 1, "batch_size": 2}))
    Trainer(config).fit()
    with pytest.raises(FileExistsError, match="--force"):
        Trainer(config)
    assert Trainer(config, force=True).step == 0
    assert not (tmp_path / "t" / "checkpoints").exists()  # cleared by --force
    other = tmp_path / "not_a_run"
    other.mkdir()
    (other / "t").mkdir()
    (other / "t" / "thesis.tex").write_text("precious")
    config["log"]["out_dir"] = str(other)
    with pytest.raises(FileExistsError, match="not a training run folder"):
        Trainer(config, force=True)
    assert (other / "t" / "thesis.tex").read_text() == "precious"


def test_resume_from_missing_or_incomplete_checkpoint(pairs, tmp_path):
    config = load_config(base=tiny_config(pairs, tmp_path))
    with pytest.raises(FileNotFoundError, match="not found"):
        Trainer(config, resume=str(tmp_path / "nope"))
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "model.safetensors").write_bytes(b"")
    with pytest.raises(ValueError, match="missing state.pt"):
        Trainer(config, resume=str(tmp_path / "half"))


def test_keep_limits_the_number_of_checkpoints(pairs, tmp_path):
    config = load_config(base=tiny_config(pairs, tmp_path, checkpoint={"every": 1, "keep": 2}))
    Trainer(config).fit()
    assert [p.name for p in ckpt.complete_checkpoints(tmp_path / "t")] == ["step_00000003", "step_00000004"]


def test_cli_stop_and_resume_then_load(pairs, tmp_path, capsys):
    import yaml

    import msinet
    from msinet.cli.main import main

    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(tiny_config(pairs, tmp_path / "runs", train={"steps": 2, "batch_size": 2})))
    assert main(["train", "--config", str(cfg), "--stop-after", "1"]) == 0
    assert not (tmp_path / "runs" / "t" / "final.safetensors").exists()
    assert main(["train", "--config", str(cfg)]) == 2  # the run folder exists: no silent overwrite
    assert "--resume auto" in capsys.readouterr().err
    assert main(["train", "--config", str(cfg), "--resume", "auto"]) == 0
    assert "done: step 2" in capsys.readouterr().out
    model = msinet.load_model(tmp_path / "runs" / "t" / "final.safetensors")
    sr_l, _ = model(torch.rand(1, 3, 8, 24), torch.rand(1, 3, 8, 24))
    assert sr_l.shape == (1, 3, 32, 96)


def test_bf16_autocast_trains_on_cpu(pairs, tmp_path):
    config = load_config(base=tiny_config(pairs, tmp_path, train={"steps": 2, "batch_size": 2, "precision": "bf16"}))
    summary = Trainer(config).fit()
    assert summary["step"] == 2 and summary["loss"] == summary["loss"] and summary["loss"] < 1.0
    fp16 = load_config(base=tiny_config(pairs, tmp_path / "x", train={"precision": "fp16", "device": "cpu"}))
    with pytest.raises(ValueError, match="fp16 needs a CUDA device"):
        Trainer(fp16)


def test_sigterm_checkpoints_a_background_run(pairs, tmp_path):
    """`kill` (SIGTERM) stops a run like Ctrl-C: it checkpoints the step it reached, and --resume continues.
    Run as a background process with SIGINT ignored, as `nohup msinet train ... &` is."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import yaml

    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(tiny_config(pairs, tmp_path / "runs", train={"steps": 100000, "batch_size": 2})))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "msinet", "train", "--config", str(cfg)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    metrics = tmp_path / "runs" / "t" / "metrics.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and not (metrics.is_file() and len(metrics.read_text().splitlines()) >= 3):
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)  # ignored, as for a background job
    time.sleep(0.5)
    assert proc.poll() is None
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143 and "interrupted (SIGTERM)" in err  # 128 + 15, as the shell reports SIGTERM
    (saved,) = ckpt.complete_checkpoints(tmp_path / "runs" / "t")
    step = int(saved.name.split("_")[1])
    assert step >= 3
    resumed = Trainer(load_config(cfg), resume="auto")
    assert resumed.step == step
