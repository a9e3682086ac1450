"""CVHSSR-T (Zou et al. 2023): our implementation against the authors' released checkpoints and outputs.

The reference outputs in ../shared/peers were computed by the authors' own code (github AlexZou14/CVHSSR,
its test config: TLSC with train_size (1, 6, 30, 90)) on three real LR crops; crop b is larger than the 45x135
pooling window, so it checks the test-time local statistics too.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from model_checks import assert_reproduces_reference, load_error, reference_diffs

import msinet
from msinet.cli.main import main as cli_main
from msinet.models.foreign import read_checkpoint
from msinet.models.summary import parameter_breakdown
from msinet.models.weights import WeightsError, save_weights

pytestmark = pytest.mark.usefixtures("one_thread")

RELEASED = ("cvhssr_t_x4", "cvhssr_t_x2")
PUBLISHED_PARAMS = {"cvhssr_t_x4": 678_000, "cvhssr_t_x2": 662_412, "cvhssr_t": 678_000}  # peers/README.md
TOLERANCE = 1e-4


@pytest.mark.parametrize("name", RELEASED)
def test_released_checkpoint_reproduces_the_authors_outputs(shared_peers, name):
    model = msinet.load_model(shared_peers / f"{name}.pth")
    assert not model.training and model.model_name == name
    assert model.config["tlsc_window"] == [45, 135]
    assert_reproduces_reference(model, shared_peers / f"{name}_reference.npz", TOLERANCE)


def test_cvhssr_s_reference_checkpoint_reproduces_the_authors_outputs(shared_arch):
    """CVHSSR-S (64 channels, 32 blocks): random weights saved by the authors' code, and what it returned."""
    model = msinet.load_model(shared_arch / "cvhssr_s_x4_random.pth")
    assert model.model_name == "cvhssr_s_x4" and model.config["drop_path_rate"] == 0.1  # the published size
    assert sum(p.numel() for p in model.parameters()) == 2_237_232  # arch/MANIFEST.tsv
    assert sum(p.numel() for p in msinet.create_model("cvhssr_s_x2").parameters()) == 2_216_460
    assert_reproduces_reference(model, shared_arch / "cvhssr_s_x4_reference.npz", TOLERANCE)


def test_global_pooling_misses_the_reference_on_a_crop_larger_than_the_window(shared_peers):
    model = msinet.load_model(shared_peers / "cvhssr_t_x2.pth", tlsc_window=None)
    assert model.config["tlsc_window"] is None
    left, right = reference_diffs(model, np.load(shared_peers / "cvhssr_t_x2_reference.npz"), "b")
    assert min(left, right) > 1e-3


@pytest.mark.parametrize("name", sorted(PUBLISHED_PARAMS))
def test_parameter_counts_are_the_published_ones(name):
    model = msinet.create_model(name)
    assert sum(p.numel() for p in model.parameters()) == PUBLISHED_PARAMS[name]
    assert model.config == {
        "arch": "cvhssr",
        "scale": 2 if name.endswith("x2") else 4,
        "channels": 48,
        "num_blocks": 16,
        "drop_path_rate": 0.0,
        "tlsc_window": [45, 135],
    }
    rows = dict(parameter_breakdown(model))  # `msinet models --breakdown`
    assert rows["total"] == PUBLISHED_PARAMS[name] and rows["CVIM (blocks.*.fusion)"] == 16 * 16_320


def test_damaged_checkpoints_name_the_key(shared_peers, tmp_path):
    state = read_checkpoint(shared_peers / "cvhssr_t_x4.pth")
    missing = dict(state)
    del missing["body.7.module.fusion.r_proj2.1.bias"]
    torch.save({"params": missing}, tmp_path / "missing.pth")
    assert "'body.7.module.fusion.r_proj2.1.bias'" in load_error(tmp_path / "missing.pth", WeightsError)
    wrong = dict(state)
    wrong["body.3.module.blk.sca1.conv_spatial.weight"] = torch.zeros(48, 1, 9, 9)
    torch.save({"params": wrong}, tmp_path / "wrong.pth")
    message = load_error(tmp_path / "wrong.pth", WeightsError)
    assert "'body.3.module.blk.sca1.conv_spatial.weight'" in message and "(48, 1, 9, 9)" in message
    extra = dict(state)
    extra["body.2.module.blk.conv7.weight"] = torch.zeros(3)
    torch.save({"params": extra}, tmp_path / "extra.pth")
    assert "'body.2.module.blk.conv7.weight'" in load_error(tmp_path / "extra.pth", WeightsError)
    scale = dict(state)
    scale["up.0.weight"] = torch.zeros(75, 48, 3, 3)
    torch.save({"params": scale}, tmp_path / "scale.pth")
    assert "'up.0.weight'" in load_error(tmp_path / "scale.pth", WeightsError)
    torch.save({"params": state}, tmp_path / "ok.pth")
    assert "unknown option 'lska_kernels'" in load_error(tmp_path / "ok.pth", WeightsError, lska_kernels=(7,))


def test_a_shallower_checkpoint_loads_as_its_size(shared_peers, tmp_path):
    state = read_checkpoint(shared_peers / "cvhssr_t_x4.pth")
    shallow = {k: v for k, v in state.items() if not any(k.startswith(f"body.{i}.") for i in range(6, 16))}
    torch.save({"params": shallow}, tmp_path / "shallow.pth")
    model = msinet.load_model(tmp_path / "shallow.pth")
    assert model.config["num_blocks"] == 6
    assert model.model_name == "shallow"  # no published network of that size: named after the file
    full = msinet.load_model(shared_peers / "cvhssr_t_x4.pth")
    assert torch.equal(model.blocks[5].fusion.out_r.weight, full.blocks[5].fusion.out_r.weight)


def test_stochastic_depth_skips_blocks_in_training_only():
    model = msinet.create_model("cvhssr_t_x2", channels=12, num_blocks=3, drop_path_rate=0.5)
    for p in model.parameters():
        if not p.any():
            torch.nn.init.normal_(p, std=0.1)
    left, right = torch.rand(1, 3, 8, 10), torch.rand(1, 3, 8, 10)
    model.train()
    outs = {tuple(model(left, right)[0].flatten()[:4].tolist()) for _ in range(8)}
    assert len(outs) > 1
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(left, right)[0], model(left, right)[0])


def test_bad_inputs_and_options_are_one_line_errors():
    model = msinet.create_model("cvhssr_t_x4", num_blocks=1)
    with pytest.raises(ValueError, match="differ in shape"):
        model(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 9))
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        model(torch.rand(3, 8, 8), torch.rand(3, 8, 8))
    with pytest.raises(ValueError, match="tlsc_window"):
        model.set_tlsc((0, 4))
    with pytest.raises(ValueError, match="drop_path_rate"):
        msinet.create_model("cvhssr_t_x4", drop_path_rate=1.0)


def test_save_and_convert_round_trips(shared_peers, tmp_path):
    model = msinet.load_model(shared_peers / "cvhssr_t_x2.pth")
    save_weights(model, tmp_path / "saved.safetensors")
    assert cli_main(["convert", str(shared_peers / "cvhssr_t_x2.pth"), str(tmp_path / "converted.safetensors")]) == 0
    left, right = torch.rand(1, 3, 11, 17), torch.rand(1, 3, 11, 17)
    with torch.no_grad():
        expected = model(left, right)
        for path in ("saved.safetensors", "converted.safetensors"):
            again = msinet.load_model(tmp_path / path)
            assert type(again) is type(model) and again.config == model.config
            assert all(torch.equal(a, b) for a, b in zip(again(left, right), expected))
