"""Safetensors weights: bit-identical round trip, config in metadata, one-line errors, no overwrite."""

import json

import pytest
import torch

import msinet
from msinet.models.weights import WeightsError


def _trained_like(name="msinet_tiny_x2", **kw):
    torch.manual_seed(0)
    model = msinet.create_model(name, num_blocks=2, **kw)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.02 * torch.randn_like(p))
    return model.eval()


def test_round_trip_is_bit_identical(tmp_path):
    model = _trained_like()
    path = msinet.save_weights(model, tmp_path / "m.safetensors")
    loaded = msinet.load_model(path)
    assert loaded.config == model.config and not loaded.training
    left, right = torch.rand(1, 3, 9, 14), torch.rand(1, 3, 9, 14)
    with torch.no_grad():
        for a, b in zip(model(left, right), loaded(left, right)):
            assert torch.equal(a, b)


def test_config_travels_in_metadata(tmp_path):
    from safetensors import safe_open

    model = _trained_like("nafssr_t_x2")
    path = msinet.save_weights(model, tmp_path / "n.safetensors")
    with safe_open(str(path), "pt") as f:
        config = json.loads(f.metadata()["msinet_config"])
    assert config["fusion"] == "scam" and config["channels"] == 48 and config["num_blocks"] == 2


def test_never_overwrites(tmp_path):
    path = tmp_path / "m.safetensors"
    path.write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="refusing to overwrite"):
        msinet.save_weights(_trained_like(), path)
    assert path.read_bytes() == b"precious"


def test_mismatched_shapes_name_the_first_key(tmp_path):
    path = msinet.save_weights(_trained_like(), tmp_path / "m.safetensors")
    target = msinet.create_model("msinet_tiny_x2", num_blocks=2, channels=16)
    from msinet.models.loading import load_into

    with pytest.raises(WeightsError) as err:
        load_into(target, path)
    msg = str(err.value)
    assert "\n" not in msg and "'intro.weight'" in msg and "(32, 3, 3, 3)" in msg and "(16, 3, 3, 3)" in msg


def test_missing_and_unexpected_keys(tmp_path):
    path = msinet.save_weights(_trained_like(), tmp_path / "m.safetensors")
    from msinet.models.loading import load_into

    with pytest.raises(WeightsError, match="unexpected key 'blocks.1"):
        load_into(msinet.create_model("msinet_tiny_x2", num_blocks=1), path)
    with pytest.raises(WeightsError, match="missing key 'blocks.2"):
        load_into(msinet.create_model("msinet_tiny_x2", num_blocks=3), path)


def test_corrupt_and_missing_files(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(WeightsError, match="bad.safetensors: not a readable safetensors file"):
        msinet.load_model(bad)
    with pytest.raises(FileNotFoundError, match="nothere.safetensors"):
        msinet.load_model(tmp_path / "nothere.safetensors")
    with pytest.raises(ValueError, match="neither a registered model"):
        msinet.load_model("no_such_model")


def test_file_without_config_is_refused(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "plain.safetensors"
    save_file({"intro.weight": torch.zeros(32, 3, 3, 3)}, str(path))
    with pytest.raises(WeightsError, match="no msinet config"):
        msinet.load_model(path)
