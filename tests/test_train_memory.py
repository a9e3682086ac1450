"""Training memory: per-block activation checkpointing (same gradients), graph-friendly drop-path (same
result), the saved-activation count behind the pre-flight memory check, and its one-line refusal."""

import json

import pytest
import torch
from train_utils import tiny_config, write_synthetic_pairs

import msinet
from msinet.cli.main import main
from msinet.train.config import load_config
from msinet.train.loss import StereoSRLoss
from msinet.train.memory import ActivationCount, MemoryBudgetError, check_fits, count_saved_activations
from msinet.train.trainer import Trainer

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    return write_synthetic_pairs(tmp_path_factory.mktemp("pairs"), count=2)


def _step(model, seed, lr, hr):
    """Loss and parameter gradients of one training forward/backward with the global RNG at `seed`."""
    model.zero_grad(set_to_none=True)
    torch.manual_seed(seed)
    sr = model(*lr)
    loss = StereoSRLoss(0.01)(sr, hr)
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def _model_and_batch():
    torch.manual_seed(0)
    model = msinet.create_model("msinet_tiny_x4", num_blocks=3, channels=8, drop_path_rate=0.4).double().train()
    with torch.no_grad():  # non-zero residual scales, or every block is the identity and gradients are trivial
        for name, p in model.named_parameters():
            if name.endswith(("beta", "gamma", "scale_l", "scale_r")):
                p.normal_(0, 0.5)
    g = torch.Generator().manual_seed(1)
    lr = tuple(torch.rand(2, 3, 6, 20, generator=g, dtype=torch.float64) for _ in range(2))
    hr = tuple(torch.rand(2, 3, 24, 80, generator=g, dtype=torch.float64) for _ in range(2))
    return model, lr, hr


@pytest.mark.parametrize("seed", [0, 1, 5])
def test_checkpointed_blocks_give_the_plain_gradients(seed):
    """float64, drop-path 0.4 (its coin is drawn outside the checkpoint; the seeds skip different blocks)."""
    model, lr, hr = _model_and_batch()
    loss, grads = _step(model, seed, lr, hr)
    model.checkpoint_blocks = True
    loss_ckpt, grads_ckpt = _step(model, seed, lr, hr)
    assert torch.equal(loss, loss_ckpt)
    assert grads.keys() == grads_ckpt.keys() and len(grads) > 10
    for name in grads:
        torch.testing.assert_close(grads_ckpt[name], grads[name], rtol=1e-12, atol=1e-14, msg=name)


def test_static_drop_path_is_the_same_draw_and_result():
    """The branch-free stochastic depth (for graphs / torch.compile) skips the same blocks as the branching one."""
    model, lr, hr = _model_and_batch()
    for seed in range(4):
        model.static_drop_path = False
        loss, grads = _step(model, seed, lr, hr)
        after = torch.rand(())
        model.static_drop_path = True
        loss_static, grads_static = _step(model, seed, lr, hr)
        assert torch.rand(()) == after  # the same number of draws from the global RNG
        assert torch.equal(loss, loss_static)
        for name in grads:  # a skipped block gets zero gradients instead of none
            torch.testing.assert_close(grads_static[name], grads[name], rtol=1e-12, atol=0)


def test_saved_activations_scale_with_the_batch_and_checkpointing_keeps_less():
    model = msinet.create_model("msinet_tiny_x4", num_blocks=8, channels=8, drop_path_rate=0.0).train()
    counts = []
    for batch in (1, 3):
        lr = [torch.rand(batch, 3, 8, 24) for _ in range(2)]
        hr = [torch.rand(batch, 3, 32, 96) for _ in range(2)]
        counts.append(
            count_saved_activations(
                lambda: StereoSRLoss(0.01)(model(*lr), hr), model.blocks, exclude=list(model.parameters())
            )
        )
    one, three = counts
    assert len(one.blocks) == 8 and min(one.blocks) > 0 and one.outside > 0
    assert one.block_input == 2 * 8 * 8 * 24 * 4  # both views, 8 channels, float32
    assert three.block_input == 3 * one.block_input
    # every saved tensor carries the batch: the count is linear in it (within a few scalars)
    assert abs(three.per_sample(False) - 3 * one.per_sample(False)) < 0.01 * three.per_sample(False)
    assert one.per_sample(True) < 0.5 * one.per_sample(False)


def test_check_fits_names_the_fix():
    mib = 1 << 20
    count = ActivationCount(outside=10 * mib, blocks=(100 * mib,) * 10, block_input=2 * mib)  # 1010 / 330 MiB
    gib = 1 << 30
    assert check_fits(count, 4, False, 0, 8 * gib, "cpu", (30, 90)) > 4 * 1010 * mib
    with pytest.raises(MemoryBudgetError) as err:
        check_fits(count, 8, False, 0, 8 * gib, "cpu (free)", (30, 90))
    msg = str(err.value)
    assert "\n" not in msg and "batch 8 of 30x90" in msg and "cpu (free) has 8.0 GiB" in msg
    assert "train.checkpoint_blocks=true" in msg and "train.batch_size to 6" in msg  # 8 GiB / (1.3 x 1010 MiB)
    with pytest.raises(MemoryBudgetError, match="checkpoint_blocks=true and train.batch_size=2"):
        check_fits(count, 8, False, 0, 1 * gib, "cpu", (30, 90))  # ckpt alone is not enough, nor batch 1
    with pytest.raises(MemoryBudgetError, match="smaller data.lr_patch"):
        check_fits(count, 8, True, 0, 100 * mib, "cpu", (30, 90))


def test_training_refuses_a_run_that_cannot_fit_before_its_first_step(pairs, tmp_path, capsys):
    config = tiny_config(pairs, tmp_path, train={"steps": 2, "batch_size": 2, "memory_budget_gb": 0.001})
    with pytest.raises(MemoryBudgetError, match="train.memory_budget_gb has 0.0 GiB"):
        Trainer(load_config(base=config)).fit()
    assert not (tmp_path / "t" / "checkpoints").exists()
    path = tmp_path / "c.json"
    path.write_text(json.dumps(config))  # YAML is a superset of JSON
    assert main(["train", "--config", str(path), f"log.out_dir={tmp_path / 'cli'}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("msinet train: error: train: batch 2 of 8x24 patches needs about")
    assert len(err.splitlines()) == 1 and "train.memory_check=false" in err


def test_checkpointed_training_run_and_compile_fallback_on_cpu(pairs, tmp_path, capsys):
    config = tiny_config(
        pairs, tmp_path, train={"steps": 2, "batch_size": 2, "checkpoint_blocks": True, "compile": "reduce-overhead"}
    )
    trainer = Trainer(load_config(base=config))
    assert trainer.model.checkpoint_blocks and trainer.step_model is trainer.ddp_model  # eager on CPU
    summary = trainer.fit()
    log = capsys.readouterr().out
    assert "train.compile=reduce-overhead is for CUDA; training eagerly on cpu" in log
    assert "blocks checkpointed" in log
    assert summary["step"] == 2 and summary["loss"] == summary["loss"]  # finite: NaN != NaN


def test_channels_last_training_takes_the_same_steps(pairs, tmp_path):
    losses = {}
    for fmt in (False, True):
        config = tiny_config(pairs, tmp_path / str(fmt), train={"steps": 3, "batch_size": 2, "channels_last": fmt})
        trainer = Trainer(load_config(base=config))
        assert trainer.model.intro.weight.is_contiguous(memory_format=torch.channels_last) == fmt
        trainer.fit()
        losses[fmt] = [
            r["train_loss"]
            for r in map(json.loads, (tmp_path / str(fmt) / "t" / "metrics.jsonl").read_text().splitlines())
            if "train_loss" in r
        ]
    assert len(losses[True]) == 3
    np_close = [abs(a - b) <= 1e-4 * abs(b) for a, b in zip(losses[True], losses[False])]
    assert all(np_close), (losses[True], losses[False])


def test_shipped_recipe_fits_in_24_gib_with_checkpointing():
    """configs/msinet_small_x4_shipped.yaml, batch 32: refused on a 24 GiB machine as it is (it was OOM-killed
    there), with the advice to checkpoint; with train.checkpoint_blocks=true it fits, with room to spare."""
    from pathlib import Path

    from msinet.train.memory import GIB, fixed_bytes

    config = load_config(Path(__file__).resolve().parents[1] / "configs" / "msinet_small_x4_shipped.yaml")
    model = msinet.create_model(config["model"]["name"], drop_path_rate=0.0).train()
    h, w = config["data"]["lr_patch"]
    lr, hr = [torch.rand(1, 3, h, w) for _ in range(2)], [torch.rand(1, 3, 4 * h, 4 * w) for _ in range(2)]
    count = count_saved_activations(
        lambda: StereoSRLoss(0.01)(model(*lr), hr), model.blocks, exclude=list(model.parameters())
    )
    fixed = fixed_bytes(model, config["optim"]["name"], config["data"]["workers"])
    batch, budget = config["train"]["batch_size"], 24 * (1 << 30)
    assert batch == 32
    with pytest.raises(MemoryBudgetError, match="set train.checkpoint_blocks=true"):
        check_fits(count, batch, False, fixed, budget, "cpu (free)", (h, w))
    assert check_fits(count, batch, True, fixed, budget, "cpu (free)", (h, w)) < 12 * GIB
