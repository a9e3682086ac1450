"""iPASSR (Wang et al., CVPRW 2021): our implementation against the authors' code, key for key and output for output.

../shared/peers/arch holds a checkpoint of random weights saved by the authors' code (github YingqianWang/iPASSR,
`{"state_dict": state}` of their Net, x4) and what their `forward(left, right, is_training=0)` returned for it in
eval mode on three real LR crops. Random weights say nothing about quality; they check that every path of the
network (dense blocks, parallax attention with its valid masks, fusion, head) is the authors'.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from model_checks import assert_reproduces_reference, load_error, reference_pair

import msinet
from msinet.layers import cycle_validity
from msinet.models import ipassr
from msinet.models.foreign import read_checkpoint
from msinet.models.weights import WeightsError

pytestmark = pytest.mark.usefixtures("one_thread")

RANDOM = "ipassr_x4_random"
PARAMS = {"ipassr_x4": 1_427_851, "ipassr_x2": 1_377_931, "ipassr": 1_427_851}  # peers/arch/MANIFEST.tsv
TOLERANCE = 1e-4


def test_random_checkpoint_reproduces_the_authors_outputs(shared_arch):
    model = msinet.load_model(shared_arch / f"{RANDOM}.pth")
    assert isinstance(model, ipassr.IPASSRNet) and not model.training
    assert model.model_name == "ipassr_x4" and model.config == {"arch": "ipassr", "scale": 4, "channels": 64}
    assert_reproduces_reference(model, shared_arch / "ipassr_x4_reference.npz", TOLERANCE)


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_parameter_counts_are_the_authors(name):
    model = msinet.create_model(name)
    assert sum(p.numel() for p in model.parameters()) == PARAMS[name]
    assert model.config == {"arch": "ipassr", "scale": 2 if name.endswith("x2") else 4, "channels": 64}


def test_manifest_counts_are_the_ones_tested(shared_arch):
    with open(shared_arch / "MANIFEST.tsv", newline="") as f:
        rows = {r["name"]: int(r["parameters"]) for r in csv.DictReader(f, delimiter="\t")}
    assert {k: v for k, v in rows.items() if k.startswith("ipassr")} == {
        k: PARAMS[k] for k in ("ipassr_x4", "ipassr_x2")
    }


def test_batch_norm_statistics_are_loaded_and_used_in_eval(shared_arch, tmp_path):
    # the random checkpoint keeps the initial running statistics (0, 1): change them to see they are read
    state = read_checkpoint(shared_arch / f"{RANDOM}.pth")
    state["pam.bn.running_mean"] = torch.linspace(-0.5, 0.5, 256)
    state["pam.bn.running_var"] = torch.linspace(0.5, 2.0, 256)
    torch.save({"state_dict": state}, tmp_path / "stats.pth")
    model = msinet.load_model(tmp_path / "stats.pth")
    assert torch.equal(model.parallax.norm.running_var, state["pam.bn.running_var"])
    original = msinet.load_model(shared_arch / f"{RANDOM}.pth")
    left, right = torch.rand(1, 3, 6, 12), torch.rand(1, 3, 6, 12)
    with torch.no_grad():
        assert not torch.allclose(model(left, right)[0], original(left, right)[0])


def test_damaged_checkpoints_name_the_key(shared_arch, tmp_path):
    state = read_checkpoint(shared_arch / f"{RANDOM}.pth")

    def refused(damaged: dict, name: str, **overrides) -> str:
        torch.save({"state_dict": damaged}, tmp_path / name)
        return load_error(tmp_path / name, WeightsError, **overrides)

    missing = dict(state)
    del missing["pam.bq.bias"]
    assert "missing key 'pam.bq.bias'" in refused(missing, "missing.pth")
    no_intro = {k: v for k, v in state.items() if k != "init_feature.weight"}
    assert "missing key 'init_feature.weight'" in refused(no_intro, "no_intro.pth")
    wrong = dict(state)
    wrong["reconstruct.RDB.2.conv.1.conv.weight"] = torch.zeros(24, 80, 3, 3)
    message = refused(wrong, "wrong.pth")
    assert "'reconstruct.RDB.2.conv.1.conv.weight'" in message and "(24, 80, 3, 3)" in message
    scale = dict(state)
    scale["upscale.0.weight"] = torch.zeros(100, 64, 1, 1)
    assert "'upscale.0.weight'" in refused(scale, "scale.pth")
    extra = dict(state)
    extra["deep_feature.RDB.4.LFF.weight"] = torch.zeros(64, 160, 1, 1)
    assert "'deep_feature.RDB.4.LFF.weight'" in refused(extra, "extra.pth")
    assert "unknown option" in refused(state, "ok.pth", lska_kernels=(7,))


def test_valid_masks_are_the_round_trip_within_two_pixels():
    g = torch.Generator().manual_seed(0)
    there = torch.rand(2, 3, 7, 7, generator=g).softmax(-1)
    back = torch.rand(2, 3, 7, 7, generator=g).softmax(-1)
    expected = torch.zeros(2, 3, 7)
    for u in range(7):  # V[u] = sum over the rows u-2..u+2 of `there`, each against back[:, u]
        for d in range(-2, 3):
            if 0 <= u + d < 7:
                expected[..., u] += (there[..., u + d, :] * back[..., :, u]).sum(-1)
    assert (cycle_validity(there, back) - expected).abs().max() < 1e-6


def test_training_normalises_each_view_on_its_own_statistics():
    # the authors call the batch norm once per view: two updates of the running statistics per forward
    model = msinet.create_model("ipassr_x2", channels=8).train()
    left, right = torch.rand(1, 3, 6, 10), torch.rand(1, 3, 6, 10) + 1
    model(left, right)
    assert model.parallax.norm.num_batches_tracked.item() == 2
    sr_left, sr_right = model.eval()(left, right)
    assert sr_left.shape == sr_right.shape == (1, 3, 12, 20)
    with pytest.raises(ValueError, match="multiple of 8"):
        msinet.create_model("ipassr_x4", channels=12)


def test_channels_last_on_the_cpu_gives_the_contiguous_outputs(shared_arch):
    """`cpu_channels_last` (measured faster) changes the speed, not the result: whole and in row tiles."""
    from msinet.infer import upscale_pair

    model = msinet.load_model(shared_arch / f"{RANDOM}.pth")
    assert model.cpu_channels_last
    pair = reference_pair(np.load(shared_arch / "ipassr_x4_reference.npz"), "a")
    left, right = (v[..., :24, :48] for v in pair)
    for tile, context in ((None, "auto"), (8, 4)):
        ref = upscale_pair(model, left, right, tile=tile, context=context, memory_format="contiguous")
        got = upscale_pair(model, left, right, tile=tile, context=context)
        assert all(float((a - b).abs().max()) <= 1e-5 for a, b in zip(got, ref))
