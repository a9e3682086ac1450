"""NAFRSSR (JNUChenYiHong/NAFRSSR): the authors' released checkpoints load as they are and reproduce the
outputs of the authors' own code (reference crops in /work/shared/peers), and the model behaves as a model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from model_checks import (
    assert_batch_items_independent,
    assert_missing_keys_named,
    assert_round_trip,
    authors_state,
    load_error,
    reference_diffs,
    save_pth,
)

import msinet
from msinet.cli.main import main as cli_main
from msinet.models.foreign import read_checkpoint
from msinet.models.nafrssr import matches
from msinet.models.weights import WeightsError

pytestmark = pytest.mark.usefixtures("one_thread")

RELEASED = ("nafrssr_t_x4", "nafrssr_m_x4")
PUBLISHED_PARAMS = {
    "nafrssr_t_x4": 344_799,  # /work/shared/peers/README.md
    "nafrssr_m_x4": 280_383,
    "nafrssr_s_x4": 1_347_903,  # /work/shared/peers/arch/MANIFEST.tsv (the authors' NAFRSSR_B_Net.py)
    "nafrssr_b_x4": 5_784_063,
}
ALIASES = {
    "nafrssr_t": "nafrssr_t_x4",
    "nafrssr_m": "nafrssr_m_x4",
    "nafrssr_s": "nafrssr_s_x4",
    "nafrssr_b": "nafrssr_b_x4",
}
TOLERANCE = 1e-4


# ---- exactness against the authors' code ---------------------------------------------------------------------


@pytest.mark.parametrize("name", RELEASED)
def test_released_checkpoint_reproduces_the_authors_outputs(shared_peers, name):
    model = msinet.load_model(shared_peers / f"{name}.pth")
    assert model.model_name == name and not model.training
    z = np.load(shared_peers / f"{name}_reference.npz")
    for crop in "abc":
        diffs = reference_diffs(model, z, crop)
        print(f"{name} crop {crop}: max |diff| left {diffs[0]:.2e}, right {diffs[1]:.2e}")
        assert max(diffs) <= TOLERANCE, (name, crop, diffs)


def test_registered_models_have_the_published_parameter_counts():
    for name, count in PUBLISHED_PARAMS.items():
        assert sum(p.numel() for p in msinet.create_model(name).parameters()) == count, name
    for alias, name in ALIASES.items():
        assert msinet.create_model(alias).config == msinet.create_model(name).config


def test_released_checkpoints_hold_exactly_the_registered_models(shared_peers):
    for name in RELEASED:
        state = authors_state(shared_peers, name)
        assert sum(v.numel() for v in state.values()) == PUBLISHED_PARAMS[name]


def test_the_matcher_claims_nafrssr_checkpoints_only(shared_peers):
    for path in sorted(shared_peers.glob("*.pth")):
        assert matches(read_checkpoint(path)) == path.name.startswith("nafrssr_"), path.name
    # MSINet / NAFSSR layout (body.<i>)
    assert not matches(
        {
            "intro.weight": torch.zeros(1),
            "body.0.module.blk.conv1.weight": torch.zeros(1),
            "up.0.weight": torch.zeros(1),
        }
    )


# ---- damaged and unknown checkpoints -------------------------------------------------------------------------


def test_a_checkpoint_with_a_key_removed_names_the_key(shared_peers, tmp_path):
    state = authors_state(shared_peers, "nafrssr_m_x4")
    keys = (
        "mid.2.module.fusion.l_proj1.weight",
        "blur.weight",
        "weight",
        "body1.1.module.blk.conv3.bias",
        "up.0.weight",
    )
    assert_missing_keys_named(state, keys, tmp_path)


def test_a_tensor_of_the_wrong_shape_names_the_key(shared_peers, tmp_path):
    state = authors_state(shared_peers, "nafrssr_m_x4")
    for key in ("body2.3.module.blk.conv3.weight", "mid.0.module.blk.conv4.weight", "weight", "intro.weight"):
        damaged = dict(state)
        damaged[key] = torch.zeros(*state[key].shape[:-1], state[key].shape[-1] + 1)
        message = load_error(save_pth(tmp_path, {"params": damaged}, "damaged.pth"), WeightsError)
        assert repr(key) in message and "shape" in message


def test_a_checkpoint_with_fewer_blocks_loads_as_that_size(shared_peers, tmp_path):
    state = authors_state(shared_peers, "nafrssr_t_x4")
    smaller = {k: v for k, v in state.items() if not k.startswith(("body2.3.", "mid.3."))}
    model = msinet.load_model(save_pth(tmp_path, {"params": smaller}, "smaller.pth"))
    assert model.model_name not in msinet.list_models()  # not a published size
    assert (model.config["middle_blocks"], model.config["late_blocks"]) == (3, 3)
    assert sum(p.numel() for p in model.parameters()) == sum(v.numel() for v in smaller.values())
    # a gap in the numbering is damage, not a size
    gap = {k: v for k, v in state.items() if not k.startswith("body2.1.")}
    assert "body2.1" in load_error(save_pth(tmp_path, {"params": gap}, "gap.pth"), WeightsError)


def test_tlsc_does_not_apply(shared_peers):
    model = msinet.load_model(shared_peers / "nafrssr_m_x4.pth", tlsc_window=None)  # nothing to switch off
    assert not model.supports_tlsc and "tlsc_window" not in model.config
    with pytest.raises(WeightsError, match="no global pooling"):
        msinet.load_model(shared_peers / "nafrssr_m_x4.pth", tlsc_window=(45, 135))


def test_convert_writes_a_safetensors_file_with_the_same_outputs(shared_peers, tmp_path, capsys):
    out = tmp_path / "nafrssr_m_x4.safetensors"
    assert cli_main(["convert", str(shared_peers / "nafrssr_m_x4.pth"), str(out)]) == 0
    assert "= nafrssr_m_x4, 280,383 parameters" in capsys.readouterr().out
    original, converted = msinet.load_model(shared_peers / "nafrssr_m_x4.pth"), msinet.load_model(out)
    assert converted.config == original.config
    left, right = torch.rand(1, 3, 12, 20), torch.rand(1, 3, 12, 20)
    with torch.no_grad():
        for a, b in zip(original(left, right), converted(left, right)):
            assert torch.equal(a, b)


# ---- behaviour -------------------------------------------------------------------------------------------------


def _random_model(scale=4, **overrides) -> torch.nn.Module:
    """nafrssr_m with random weights everywhere, zero-initialised scales included (so every branch counts)."""
    torch.manual_seed(0)
    model = msinet.create_model("nafrssr_m_x4", scale=scale, **overrides)
    with torch.no_grad():
        for p in model.parameters():
            if not p.any():
                p.normal_(std=0.1)
    return model


@pytest.mark.parametrize("scale", [2, 4])
@pytest.mark.parametrize("h,w", [(8, 16), (7, 13)])  # (7, 13): odd-sized
def test_output_shapes(scale, h, w):
    model = _random_model(scale).eval()
    with torch.no_grad():
        sr_l, sr_r = model(torch.rand(1, 3, h, w), torch.rand(1, 3, h, w))
    assert sr_l.shape == sr_r.shape == (1, 3, scale * h, scale * w)
    assert torch.isfinite(sr_l).all() and torch.isfinite(sr_r).all()


def test_train_mode_forward_and_backward_reach_every_parameter():
    model = _random_model(drop_path_rate=0.0).train()
    left, right = torch.rand(2, 3, 6, 10), torch.rand(2, 3, 6, 10)
    sr_l, sr_r = model(left, right)
    (sr_l.square().mean() + sr_r.square().mean()).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_stochastic_depth_is_off_in_eval_and_random_in_training():
    model = _random_model(drop_path_rate=0.5)
    left, right = torch.rand(1, 3, 6, 10), torch.rand(1, 3, 6, 10)
    with torch.no_grad():
        reference = _random_model(drop_path_rate=0.0).eval()(left, right)[0]
        assert torch.equal(model.eval()(left, right)[0], reference)
        model.train()
        torch.manual_seed(1)
        a = model(left, right)[0]
        torch.manual_seed(2)
        b = model(left, right)[0]
    assert not torch.equal(a, b)


def test_batch_items_are_independent():
    assert_batch_items_independent(_random_model(), 2, (9, 14))


def test_the_views_are_not_interchangeable():
    # the cross attention and the per-view edge gains make the two outputs depend on which view is which
    model = _random_model().eval()
    left, right = torch.rand(1, 3, 6, 10), torch.rand(1, 3, 6, 10)
    with torch.no_grad():
        sr_l, _ = model(left, right)
        _, swapped_r = model(right, left)
    assert not torch.allclose(sr_l, swapped_r, atol=1e-4)


def test_save_weights_and_load_model_round_trip(tmp_path):
    model = _random_model().eval()
    assert_round_trip(model, tmp_path, (7, 11))


def test_bad_inputs_and_options_get_one_line_errors():
    model = _random_model().eval()
    with pytest.raises(ValueError, match="right view must be a"):
        model(torch.rand(1, 3, 6, 6), torch.rand(1, 6, 6))
    with pytest.raises(ValueError, match="multiple of 4"):
        msinet.create_model("nafrssr_t_x4", channels=70)
    with pytest.raises(ValueError, match="middle_passes"):
        msinet.create_model("nafrssr_t_x4", middle_passes=0)


# ---- NAFRSSR-S / -B: one body of full blocks, no recursion (the authors' NAFRSSR_B_Net.py) ----------------------
# /work/shared/peers/arch holds a checkpoint of random weights saved by the authors' code for NAFRSSR-S x4 and what
# their code returned for it: the architecture, key for key and output for output (B is the same code, wider).

ARCH_S = "nafrssr_s_x4_random.pth"


def test_the_authors_s_checkpoint_reproduces_their_outputs(shared_arch):
    model = msinet.load_model(shared_arch / ARCH_S)
    assert model.model_name == "nafrssr_s_x4" and not model.training
    assert model.config["arch"] == "nafrssr_plain" and model.config["num_blocks"] == 34
    assert model.foreign_layout.describe() == "NAFRSSR (authors' code): x4, 80 channels, 34 blocks (one body)"
    z = np.load(shared_arch / "nafrssr_s_x4_reference.npz")
    for crop in "abc":
        diffs = reference_diffs(model, z, crop)
        print(f"nafrssr_s_x4 crop {crop}: max |diff| left {diffs[0]:.2e}, right {diffs[1]:.2e}")
        assert max(diffs) <= TOLERANCE, (crop, diffs)


def test_the_s_checkpoint_holds_exactly_the_registered_model(shared_arch):
    state = read_checkpoint(shared_arch / ARCH_S)
    assert sum(v.numel() for v in state.values()) == PUBLISHED_PARAMS["nafrssr_s_x4"]
    own = msinet.create_model("nafrssr_s_x4").state_dict()
    assert len(own) == len(state)


def test_the_matcher_claims_nafrssr_architecture_files_only(shared_arch):
    for path in sorted(shared_arch.glob("*.pth")):
        assert matches(read_checkpoint(path)) == path.name.startswith("nafrssr_"), path.name
    body = {
        "intro.weight": torch.zeros(1),
        "body.0.module.blk.conv1.weight": torch.zeros(1),
        "body.0.module.fusion.l_proj1.weight": torch.zeros(1),
        "up.0.weight": torch.zeros(1),
    }
    assert not matches(body)  # MSINet / NAFSSR / CVHSSR number a single body too; no edge boost
    assert matches({**body, "blur.weight": torch.zeros(1)}) and matches({**body, "weight": torch.zeros(1)})
    assert not matches({"weight": torch.zeros(1), "blur.weight": torch.zeros(1)})  # no NAFRSSR body


def test_a_damaged_s_checkpoint_names_the_key(shared_arch, tmp_path):
    state = read_checkpoint(shared_arch / ARCH_S)
    keys = (
        "blur.weight",
        "weight",
        "body.33.module.fusion.l_proj1.weight",
        "body.0.module.blk.conv3.bias",
        "body.12.module.fusion.gamma",
        "up.0.bias",
    )
    assert_missing_keys_named(state, keys, tmp_path)
    for key in ("body.7.module.blk.conv3.weight", "body.0.module.fusion.l_proj1.weight", "weight"):
        damaged = dict(state)
        damaged[key] = torch.zeros(*state[key].shape[:-1], state[key].shape[-1] + 1)
        message = load_error(save_pth(tmp_path, {"params": damaged}, "damaged.pth"), WeightsError)
        assert repr(key) in message and "shape" in message
    # a block gone from the middle of the body is damage, not a smaller size
    gap = {k: v for k, v in state.items() if not k.startswith("body.5.")}
    assert "block body.5 of 34 has no weights" in load_error(
        save_pth(tmp_path, {"params": gap}, "gap.pth"), WeightsError
    )
    # a staged T/M key mixed in makes it a T/M file, and an incomplete one
    extra = {**state, "mid.0.module.blk.conv1.weight": torch.zeros(1)}
    assert "no 'body1.<i>' keys" in load_error(save_pth(tmp_path, {"params": extra}, "extra.pth"), WeightsError)


def test_a_shorter_s_body_loads_as_that_size(shared_arch, tmp_path):
    state = read_checkpoint(shared_arch / ARCH_S)
    shorter = {k: v for k, v in state.items() if not k.startswith(tuple(f"body.{i}." for i in range(30, 34)))}
    model = msinet.load_model(save_pth(tmp_path, {"params": shorter}, "shorter.pth"))
    assert model.model_name not in msinet.list_models() and model.config["num_blocks"] == 30
    assert sum(p.numel() for p in model.parameters()) == sum(v.numel() for v in shorter.values())


def test_tlsc_does_not_apply_to_s(shared_arch):
    model = msinet.load_model(shared_arch / ARCH_S, tlsc_window=None)
    assert not model.supports_tlsc and "tlsc_window" not in model.config
    with pytest.raises(WeightsError, match="no global pooling"):
        msinet.load_model(shared_arch / ARCH_S, tlsc_window=(45, 135))


def _random_plain_model(**overrides) -> torch.nn.Module:
    """A small NAFRSSR-S-like network with random weights everywhere, zero-initialised scales included."""
    torch.manual_seed(0)
    model = msinet.create_model("nafrssr_s_x4", **{"channels": 16, "num_blocks": 3, **overrides})
    with torch.no_grad():
        for p in model.parameters():
            if not p.any():
                p.normal_(std=0.1)
    return model


def test_plain_network_train_forward_and_backward_reach_every_parameter():
    model = _random_plain_model(drop_path_rate=0.0).train()
    sr_l, sr_r = model(torch.rand(2, 3, 6, 10), torch.rand(2, 3, 6, 10))
    assert sr_l.shape == sr_r.shape == (2, 3, 24, 40)
    (sr_l.square().mean() + sr_r.square().mean()).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_plain_network_behaves_as_a_model(tmp_path):
    model = _random_plain_model().eval()
    assert_batch_items_independent(model, 2, (7, 13))
    assert_round_trip(model, tmp_path, (7, 11))
    with pytest.raises(ValueError, match="num_blocks"):
        msinet.create_model("nafrssr_s_x4", num_blocks=0)
    with pytest.raises(ValueError, match="multiple of 4"):
        msinet.create_model("nafrssr_b_x4", channels=118)
