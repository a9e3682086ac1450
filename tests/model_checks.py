"""Checks every architecture's tests share."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import msinet


def assert_round_trip(model, tmp_path, size=(7, 11)) -> None:
    """save_weights -> load_model rebuilds the same class and config, with bit-identical outputs."""
    path = msinet.save_weights(model.eval(), tmp_path / "round_trip.safetensors")
    loaded = msinet.load_model(path)
    assert type(loaded) is type(model) and loaded.config == model.config
    g = torch.Generator().manual_seed(0)
    left, right = torch.rand(1, 3, *size, generator=g), torch.rand(1, 3, *size, generator=g)
    with torch.no_grad():
        for a, b in zip(model(left, right), loaded(left, right)):
            assert torch.equal(a, b)


def reference_pair(ref, crop: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The LR views of crop a/b/c of a `<name>_reference.npz` as the authors' code got them: (1,3,h,w), uint8/255."""
    return tuple(
        torch.from_numpy(ref[f"{crop}_lr_{view}"]).permute(2, 0, 1)[None].float() / 255 for view in ("left", "right")
    )


def reference_diffs(model, ref, crop: str) -> tuple[float, float]:
    """max |ours - the authors' output| per view on one reference crop (eval mode, outputs before clamping)."""
    with torch.no_grad():
        sr = model(*reference_pair(ref, crop))
    diffs = []
    for view, out in zip(("left", "right"), sr):
        expected = torch.from_numpy(ref[f"{crop}_sr_{view}"])
        assert out.shape[1:] == expected.shape, (crop, view, tuple(out.shape))
        diffs.append((out[0] - expected).abs().max().item())
    return diffs[0], diffs[1]


def assert_reproduces_reference(model, reference_file, tolerance: float = 1e-4) -> None:
    """Crops a, b, c of an authors' `<name>_reference.npz`: max |ours - theirs| <= tolerance in both views
    (printed, for the notes: pytest -s)."""
    ref = np.load(reference_file)
    for crop in "abc":
        left, right = reference_diffs(model, ref, crop)
        print(f"{reference_file.stem} crop {crop}: max |diff| left {left:.2e}, right {right:.2e}")
        assert max(left, right) <= tolerance, f"{reference_file.name} crop {crop}: max |diff| {left:.3g} / {right:.3g}"


def assert_batch_items_independent(model, batch: int, size) -> None:
    """A batch of pairs gives each pair's own output (eval mode), to float rounding."""
    model.eval()
    g = torch.Generator().manual_seed(1)
    left, right = torch.rand(batch, 3, *size, generator=g), torch.rand(batch, 3, *size, generator=g)
    with torch.no_grad():
        batched = model(left, right)
        for i in range(batch):
            single = model(left[i : i + 1], right[i : i + 1])
            for a, b in zip(batched, single):
                torch.testing.assert_close(a[i : i + 1], b, atol=1e-5, rtol=0)


def load_error(path, error=ValueError, **overrides) -> str:
    """The message of the `error` msinet.load_model(path) raises: one line that names the file."""
    with pytest.raises(error) as info:
        msinet.load_model(path, **overrides)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


def authors_state(peers, name: str) -> dict:
    """The state dict ('params') of the authors' released checkpoint `<name>.pth` in ../shared/peers."""
    return dict(torch.load(peers / f"{name}.pth", map_location="cpu", weights_only=True)["params"])


def save_pth(tmp_path, obj, name: str = "ckpt.pth"):
    """torch.save(obj) as tmp_path/name: a checkpoint the way the authors' code writes one."""
    path = tmp_path / name
    torch.save(obj, path)
    return path


def assert_missing_keys_named(state: dict, keys, tmp_path) -> None:
    """An authors' checkpoint with any one of `keys` removed is refused in one line naming that key."""
    from msinet.models.weights import WeightsError

    for key in keys:
        damaged = {k: v for k, v in state.items() if k != key}
        path = save_pth(tmp_path, {"params": damaged}, "damaged.pth")
        assert f"missing key {key!r}" in load_error(path, WeightsError)
