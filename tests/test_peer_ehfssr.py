"""EHFSSR-S (jianwensong/EHFSSR): the authors' released checkpoints load as they are and reproduce the outputs
of the authors' own code (../shared/peers/<name>_reference.npz, three real crops), and the model behaves as
a msinet model (shapes, batching, training, save / load, damaged checkpoints)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from model_checks import (
    assert_batch_items_independent,
    assert_round_trip,
    authors_state,
    load_error,
    reference_diffs,
    reference_pair,
    save_pth,
)

import msinet
from msinet.cli.main import main as cli_main
from msinet.layers.band_cross_attention import disparity_band
from msinet.layers.token_shift import shift_channel_groups
from msinet.layers.window_attention import pad_to_multiple
from msinet.models.ehfssr import matches
from msinet.models.weights import WeightsError

pytestmark = pytest.mark.usefixtures("one_thread")

RELEASED = ("ehfssr_s_x4", "ehfssr_s_x2")
# /work/shared/peers/README.md (and the authors' own count of their EHFSSR_S class)
PUBLISHED_PARAMETERS = {"ehfssr_s_x4": 643_513, "ehfssr_s_x2": 627_925, "ehfssr_s": 643_513}
TOLERANCE = 1e-4


def _small(scale=4, **kw):
    torch.manual_seed(0)
    config = {**dict(channels=16, num_groups=2, blocks_per_group=3), **kw}
    return msinet.create_model(f"ehfssr_s_x{scale}", **config)


# ---------------------------------------------------------------------------------------------------------
# the released weights against the authors' outputs


@pytest.mark.parametrize("name", RELEASED)
def test_released_checkpoint_reproduces_authors_outputs(shared_peers, name):
    model = msinet.load_model(shared_peers / f"{name}.pth")
    assert model.model_name == name and not model.training
    ref = np.load(shared_peers / f"{name}_reference.npz")
    for crop in "abc":
        left, right = reference_diffs(model, ref, crop)
        print(f"{name} crop {crop}: max |diff| left {left:.2e}, right {right:.2e}")
        assert max(left, right) <= TOLERANCE, f"{name} crop {crop}: max |diff| {left:.3g} / {right:.3g}"


def test_registered_parameter_counts_are_the_published_ones():
    for name, count in PUBLISHED_PARAMETERS.items():
        model = msinet.create_model(name)
        assert sum(p.numel() for p in model.parameters()) == count, name
    assert msinet.create_model("ehfssr_s").config == msinet.create_model("ehfssr_s_x4").config


def test_convert_cli_gives_the_same_model(shared_peers, tmp_path, capsys):
    out = tmp_path / "ehfssr.safetensors"
    assert cli_main(["convert", str(shared_peers / "ehfssr_s_x2.pth"), str(out)]) == 0
    assert "5 groups x 6 blocks = ehfssr_s_x2, 627,925 parameters" in capsys.readouterr().out
    direct, converted = msinet.load_model(shared_peers / "ehfssr_s_x2.pth"), msinet.load_model(out)
    left, right = reference_pair(np.load(shared_peers / "ehfssr_s_x2_reference.npz"), "c")
    with torch.no_grad():
        for a, b in zip(direct(left, right), converted(left, right)):
            assert torch.equal(a, b)


# ---------------------------------------------------------------------------------------------------------
# checkpoints of this family that do not fit, or fit another size


def test_checkpoint_missing_a_key_names_it(shared_peers, tmp_path):
    state = authors_state(shared_peers, "ehfssr_s_x4")
    key = "body.2.body.3.selfatn.to_qk.weight"
    del state[key]
    assert key in load_error(save_pth(tmp_path, {"params": state}, "missing.pth"), WeightsError)


def test_checkpoint_with_a_wrong_shape_names_the_key(shared_peers, tmp_path):
    state = authors_state(shared_peers, "ehfssr_s_x4")
    key = "body.4.body.0.interaction.feaR.weight"
    state[key] = torch.zeros(48, 40, 1, 1)
    assert key in load_error(save_pth(tmp_path, {"params": state}, "shape.pth"), WeightsError)


def test_checkpoint_with_a_stray_key_names_it(shared_peers, tmp_path):
    state = authors_state(shared_peers, "ehfssr_s_x2")
    key = "body.1.body.2.selfatn.extra.weight"
    state[key] = torch.zeros(3)
    assert key in load_error(save_pth(tmp_path, {"params": state}, "stray.pth"), WeightsError)


def test_checkpoint_of_another_size_loads_as_that_size(shared_peers, tmp_path):
    # 2 groups x 3 blocks: the released groups 0, 1 with their blocks 0 (cross-view), 1 (window) and 5 (global)
    state = authors_state(shared_peers, "ehfssr_s_x2")
    small = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] != "body":
            small[key] = value
        elif int(parts[1]) < 2 and (parts[2] == "conv" or parts[3] in ("0", "1", "5")):
            if parts[2] == "body" and parts[3] == "5":
                parts[3] = "2"
            small[".".join(parts)] = value
    model = msinet.load_model(save_pth(tmp_path, {"params": small}, "small.pth"))
    assert model.config["num_groups"] == 2 and model.config["blocks_per_group"] == 3
    assert model.model_name not in msinet.list_models()  # not a published size (named after the file)
    with torch.no_grad():
        out = model(torch.rand(1, 3, 10, 12), torch.rand(1, 3, 10, 12))
    assert out[0].shape == (1, 3, 20, 24)
    # a group that lacks a block the others have is damaged, not another size
    del small["body.1.body.1.MLP.proj1.weight"]
    small = {k: v for k, v in small.items() if not k.startswith("body.1.body.1.")}
    assert "body.1.body.1." in load_error(save_pth(tmp_path, {"params": small}, "gap.pth"), WeightsError)


def test_the_full_ehfssr_is_refused_in_one_line(shared_peers, tmp_path):
    state = authors_state(shared_peers, "ehfssr_s_x4")
    state["body.0.body.1.selfatn.to_q.weight"] = state.pop("body.0.body.1.selfatn.to_qk.weight")
    assert "body.0.body.1.selfatn.to_q.weight" in load_error(
        save_pth(tmp_path, {"params": state}, "full.pth"), WeightsError
    )


def test_only_this_family_is_claimed(shared_peers):
    for name in RELEASED:
        assert matches(authors_state(shared_peers, name))
    for path in shared_peers.glob("*.pth"):
        if not path.name.startswith("ehfssr"):
            state = torch.load(path, map_location="cpu", weights_only=True)
            assert not matches(state.get("params", state)), path.name


def test_local_statistics_are_refused(shared_peers):
    with pytest.raises(WeightsError, match="no test-time local statistics"):
        msinet.load_model(shared_peers / "ehfssr_s_x2.pth", tlsc_window=(45, 135))
    assert not msinet.create_model("ehfssr_s").supports_tlsc


# ---------------------------------------------------------------------------------------------------------
# the model as a msinet model


@pytest.mark.parametrize("scale", [2, 4])
def test_output_shapes_and_odd_sizes(scale):
    model = _small(scale).eval()
    for h, w in [(16, 32), (13, 27), (5, 7), (1, 1)]:
        with torch.no_grad():
            sl, sr = model(torch.rand(1, 3, h, w), torch.rand(1, 3, h, w))
        assert sl.shape == sr.shape == (1, 3, scale * h, scale * w)
        assert torch.isfinite(sl).all() and torch.isfinite(sr).all()


def test_views_must_match():
    with pytest.raises(ValueError, match="differ in shape"):
        _small()(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 9))


def test_batch_equals_single_samples():
    assert_batch_items_independent(_small(), 3, (18, 35))


def test_views_interact_only_through_the_cross_attention():
    model = _small().eval()
    left, right = torch.rand(1, 3, 12, 40), torch.rand(1, 3, 12, 40)
    with torch.no_grad():
        a = model(left, right)[0]
        b = model(left, torch.rand(1, 3, 12, 40))[0]
        for group in model.groups:  # cut the cross-view path: the left output no longer sees the right view
            group.blocks[0].attn.value_r.weight.zero_()
        c = model(left, right)[0]
        d = model(left, torch.rand(1, 3, 12, 40))[0]
    assert (a - b).abs().max() > 1e-4
    torch.testing.assert_close(c, d, atol=1e-6, rtol=0)


@pytest.mark.parametrize("drop_path_rate,static", [(0.0, False), (0.5, False), (0.5, True)])
def test_train_step(drop_path_rate, static):
    model = _small(drop_path_rate=drop_path_rate).train()
    model.static_drop_path = static
    torch.manual_seed(1)
    left, right = torch.rand(2, 3, 20, 24), torch.rand(2, 3, 20, 24)
    sl, sr = model(left, right)
    loss = F.l1_loss(sl, torch.rand_like(sl)) + F.l1_loss(sr, torch.rand_like(sr))
    loss.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is None or torch.isfinite(g).all() for g in grads)
    if drop_path_rate == 0.0:
        assert all(g is not None for g in grads)


def test_save_and_load_round_trip(tmp_path):
    model = _small(2).eval()
    assert_round_trip(model, tmp_path, (9, 21))


def test_exported_program_holds_at_every_size_above_one_window():
    from msinet.export.program import export_program, minimum_size

    model = _small(2, num_groups=1).eval()  # cross-view, window and global attention all present
    program, _ = export_program(model, sample_size=(18, 20))
    assert minimum_size(program) == (17, 17)
    exported = program.module()
    for h, w in [(17, 40), (32, 48), (21, 64)]:  # needing padding or not, per side
        left, right = torch.rand(1, 3, h, w), torch.rand(1, 3, h, w)
        with torch.no_grad():
            for a, b in zip(model(left, right), exported(left, right)):
                torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


# ---------------------------------------------------------------------------------------------------------
# layers


def test_token_shift_moves_four_groups_one_pixel():
    x = torch.rand(1, 16, 5, 6)
    y = shift_channel_groups(x, 8)  # groups of 2 channels
    torch.testing.assert_close(y[:, 0:2, :, :-1], x[:, 0:2, :, 1:])  # from the right neighbour
    torch.testing.assert_close(y[:, 2:4, :, 1:], x[:, 2:4, :, :-1])  # from the left neighbour
    torch.testing.assert_close(y[:, 4:6, :-1], x[:, 4:6, 1:])  # from below
    torch.testing.assert_close(y[:, 6:8, 1:], x[:, 6:8, :-1])  # from above
    torch.testing.assert_close(y[:, 8:], x[:, 8:])
    assert (y[:, 0:2, :, -1] == 0).all() and (y[:, 2:4, :, 0] == 0).all()
    assert (y[:, 4:6, -1] == 0).all() and (y[:, 6:8, 0] == 0).all()


def test_pad_to_multiple():
    x = torch.rand(1, 2, 27, 61)
    torch.testing.assert_close(pad_to_multiple(x, 16), F.pad(x, (0, 3, 0, 5), mode="reflect"), atol=0, rtol=0)
    # too short for one reflection: reflected again (a periodic mirror), a single pixel replicated
    small = torch.arange(3.0).view(1, 1, 1, 3)
    padded = pad_to_multiple(small, 8)
    assert padded.shape == (1, 1, 8, 8) and (padded == padded[..., :1, :]).all()
    assert padded[0, 0, 0].tolist() == [0, 1, 2, 1, 0, 1, 2, 1]
    assert pad_to_multiple(torch.ones(1, 1, 1, 1), 4).shape == (1, 1, 4, 4)


def test_disparity_band():
    band = disparity_band(200, 96)
    i, j = torch.meshgrid(torch.arange(200), torch.arange(200), indexing="ij")
    assert torch.equal(band.bool(), (i - j >= 0) & (i - j <= 96))
