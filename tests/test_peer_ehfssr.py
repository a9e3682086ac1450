"""EHFSSR-S and EHFSSR (jianwensong/EHFSSR): the authors' released EHFSSR-S checkpoints, and a random-weight
checkpoint of the full EHFSSR saved by their code, load as they are and reproduce the outputs of the authors'
own code (../shared/peers/<name>_reference.npz, ../shared/peers/arch/ehfssr_x4_reference.npz, three real crops
each), and the models behave as msinet models (shapes, batching, training, save / load, damaged checkpoints)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from model_checks import (
    assert_reproduces_reference,
    authors_state,
    load_error,
    reference_pair,
    save_pth,
)

import msinet
from msinet.cli.main import main as cli_main
from msinet.layers.band_cross_attention import disparity_band
from msinet.layers.token_shift import shift_channel_groups
from msinet.layers.two_scale_window_attention import TwoScaleWindowAttention
from msinet.layers.window_attention import pad_to_multiple
from msinet.models.ehfssr import EHFSSRFullNet
from msinet.models.family import n_parameters
from msinet.models.foreign import read_checkpoint
from msinet.models.weights import WeightsError

pytestmark = pytest.mark.usefixtures("one_thread")

RELEASED = ("ehfssr_s_x4", "ehfssr_s_x2")
# /work/shared/peers/README.md (and the authors' own count of their EHFSSR_S class)
PUBLISHED_PARAMETERS = {"ehfssr_s_x4": 643_513, "ehfssr_s_x2": 627_925, "ehfssr_s": 643_513}
# the full EHFSSR: /work/shared/peers/arch/MANIFEST.tsv (built by the authors' code)
FULL_PARAMETERS = {"ehfssr_x4": 1_208_121, "ehfssr_x2": 1_187_349, "ehfssr": 1_208_121}
TOLERANCE = 1e-4
SIZES = ("ehfssr_s", "ehfssr")  # EHFSSR-S and the full EHFSSR (their window attentions differ)


def _small(scale=4, size="ehfssr_s", **kw):
    torch.manual_seed(0)
    config = {**dict(channels=16, num_groups=2, blocks_per_group=3), **kw}
    return msinet.create_model(f"{size}_x{scale}", **config)


# ---------------------------------------------------------------------------------------------------------
# the released weights against the authors' outputs


@pytest.mark.parametrize("name", RELEASED)
def test_released_checkpoint_reproduces_authors_outputs(shared_peers, name):
    model = msinet.load_model(shared_peers / f"{name}.pth")
    assert model.model_name == name and not model.training
    assert_reproduces_reference(model, shared_peers / f"{name}_reference.npz", TOLERANCE)


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


def test_a_checkpoint_mixing_both_window_attentions_is_refused(shared_peers, tmp_path):
    # one window block of EHFSSR-S renamed to the full EHFSSR's q: read as the full EHFSSR, whose window
    # attention has no place for EHFSSR-S's other keys
    state = authors_state(shared_peers, "ehfssr_s_x4")
    state["body.0.body.1.selfatn.to_q.weight"] = state.pop("body.0.body.1.selfatn.to_qk.weight")
    message = load_error(save_pth(tmp_path, {"params": state}, "mixed.pth"), WeightsError)
    assert ".selfatn." in message and "EHFSSR (authors' code)" in message


# ---------------------------------------------------------------------------------------------------------
# the full EHFSSR (the authors' EHFSSR class): random weights saved by their code against their outputs
# (../shared/peers/arch/README.md)


def test_the_full_ehfssr_checkpoint_reproduces_authors_outputs(shared_arch):
    model = msinet.load_model(shared_arch / "ehfssr_x4_random.pth")
    assert isinstance(model, EHFSSRFullNet) and model.model_name == "ehfssr_x4" and not model.training
    assert model.foreign_layout.window_attention == "full"
    assert_reproduces_reference(model, shared_arch / "ehfssr_x4_reference.npz", TOLERANCE)


def test_full_parameter_counts_are_the_manifests():
    for name, count in FULL_PARAMETERS.items():
        model = msinet.create_model(name)
        assert isinstance(model, EHFSSRFullNet) and n_parameters(model) == count, name
    assert msinet.create_model("ehfssr").config == msinet.create_model("ehfssr_x4").config


def test_the_full_checkpoint_holds_exactly_the_registered_model(shared_arch):
    state = read_checkpoint(shared_arch / "ehfssr_x4_random.pth")
    assert sum(v.numel() for v in state.values()) == FULL_PARAMETERS["ehfssr_x4"]
    assert any(k.endswith(".selfatn.down.weight") for k in state)  # the strided key/value branch


@pytest.mark.parametrize(
    "key,damage",
    [
        ("body.3.body.2.selfatn.down.weight", "missing"),
        ("body.1.body.4.selfatn.to_k.weight", "shape"),
        ("body.0.body.3.selfatn.local.weight", "stray"),
    ],
)
def test_a_damaged_full_checkpoint_names_the_key(shared_arch, tmp_path, key, damage):
    state = read_checkpoint(shared_arch / "ehfssr_x4_random.pth")
    if damage == "missing":
        del state[key]
    elif damage == "shape":
        state[key] = torch.zeros(64, 32, 1, 1)
    else:
        state[key] = torch.zeros(32, 64, 1, 1)  # EHFSSR-S's local branch in a full window attention
    message = load_error(save_pth(tmp_path, {"params": state}, f"{damage}.pth"), WeightsError)
    assert key in message, message


def test_convert_cli_names_the_full_ehfssr(shared_arch, tmp_path, capsys):
    out = tmp_path / "ehfssr_full.safetensors"
    assert cli_main(["convert", str(shared_arch / "ehfssr_x4_random.pth"), str(out)]) == 0
    assert "5 groups x 6 blocks = ehfssr_x4, 1,208,121 parameters" in capsys.readouterr().out
    loaded = msinet.load_model(out)
    assert isinstance(loaded, EHFSSRFullNet) and loaded.config == msinet.create_model("ehfssr_x4").config


def test_local_statistics_are_refused(shared_peers):
    with pytest.raises(WeightsError, match="no test-time local statistics"):
        msinet.load_model(shared_peers / "ehfssr_s_x2.pth", tlsc_window=(45, 135))
    assert not msinet.create_model("ehfssr_s").supports_tlsc


# ---------------------------------------------------------------------------------------------------------
# the model as a msinet model


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("scale", [2, 4])
def test_output_shapes_and_odd_sizes(scale, size):
    model = _small(scale, size).eval()
    for h, w in [(16, 32), (13, 27), (5, 7), (1, 1)]:
        with torch.no_grad():
            sl, sr = model(torch.rand(1, 3, h, w), torch.rand(1, 3, h, w))
        assert sl.shape == sr.shape == (1, 3, scale * h, scale * w)
        assert torch.isfinite(sl).all() and torch.isfinite(sr).all()


def test_views_must_match():
    with pytest.raises(ValueError, match="differ in shape"):
        _small()(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 9))


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


@pytest.mark.parametrize(
    "size,drop_path_rate,static",
    [("ehfssr_s", 0.0, False), ("ehfssr_s", 0.5, False), ("ehfssr_s", 0.5, True), ("ehfssr", 0.0, False)],
)
def test_train_step(size, drop_path_rate, static):
    model = _small(size=size, drop_path_rate=drop_path_rate).train()
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


@pytest.mark.parametrize("size", SIZES)
def test_exported_program_holds_at_every_size_above_one_window(size):
    from msinet.export.program import export_program, minimum_size

    model = _small(2, size, num_groups=1).eval()  # cross-view, window and global attention all present
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


def _two_scale_by_loops(layer: TwoScaleWindowAttention, x0: torch.Tensor) -> torch.Tensor:
    """The full EHFSSR's window attention written out window by window, in the reference code's order
    (the coarse half's keys / values downsampled first, then rolled by a quarter window)."""
    win, c = layer.window, x0.shape[1] // 2
    x = layer.norm(x0)
    d = layer.dwconv(x)
    q, k, v = layer.q(x), layer.k(x), layer.v(x) * layer.eca.gate(d)
    halves = []
    for half, key_win in ((0, win), (1, win // 2)):
        qh, kh, vh = (t[:, half * c : (half + 1) * c] for t in (q, k, v))
        if half == 1:
            kh, vh = layer.down(kh), layer.down(vh)
        if layer.shift:
            qh = torch.roll(qh, (-(win // 2), -(win // 2)), (2, 3))
            kh, vh = (torch.roll(t, (-(key_win // 2), -(key_win // 2)), (2, 3)) for t in (kh, vh))
        out = torch.zeros_like(qh)
        for i in range(qh.shape[2] // win):
            for j in range(qh.shape[3] // win):
                cell = (slice(None), slice(None), slice(i * win, (i + 1) * win), slice(j * win, (j + 1) * win))
                keys = (
                    slice(None),
                    slice(None),
                    slice(i * key_win, (i + 1) * key_win),
                    slice(j * key_win, (j + 1) * key_win),
                )
                qw = qh[cell].flatten(2).transpose(1, 2)  # (B, win^2, c)
                kw, vw = (t[keys].flatten(2).transpose(1, 2) for t in (kh, vh))  # (B, key_win^2, c)
                att = torch.softmax(qw @ kw.transpose(1, 2) * c**-0.5, dim=-1)
                out[cell] = (att @ vw).transpose(1, 2).reshape(out[cell].shape)
        if layer.shift:
            out = torch.roll(out, (win // 2, win // 2), (2, 3))
        halves.append(out)
    y = torch.cat(halves, dim=1)
    return layer.project(y + torch.sigmoid(layer.gate(y)) * d) + x0


@pytest.mark.parametrize("shift", [False, True])
def test_two_scale_window_attention_is_the_window_by_window_computation(shift):
    torch.manual_seed(0)
    layer = TwoScaleWindowAttention(8, window=8, shift=shift).eval()
    with torch.no_grad():
        for p in layer.parameters():  # every path matters (the gate's and the norm's included)
            p.add_(0.1 * torch.randn_like(p))
        x = torch.randn(2, 8, 16, 24)
        torch.testing.assert_close(layer(x), _two_scale_by_loops(layer, x), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="multiples of 8"):
        layer(torch.randn(1, 8, 12, 16))
    with pytest.raises(ValueError, match="channels"):
        TwoScaleWindowAttention(7)
