"""Named degradations against the published LR files they claim to reproduce, bit for bit.

"kit" (mirror padding) must equal the stereo-SR kit's Flickr1024 lr_x2 / lr_x4 files, "rcan" (edge clamping)
the RCAN Set5 LRBI files; each must miss the other's files (so the tests can tell the rules apart), and only
on the LR pixels whose kernel reaches past the image border.
"""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from msinet.data.degradation import DEGRADATIONS, degrade
from msinet.data.imresize import imresize, imresize_torch

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
KIT = DATA / "testsets" / "Flickr1024"
RCAN = DATA / "rcan-set5"


def _rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def _kit_views(scale):
    if not (KIT / "hr" / "0001").is_dir():
        pytest.skip(f"stereo-SR kit sample not available at {KIT}")
    for view in (0, 1):
        yield _rgb(KIT / "hr" / "0001" / f"hr{view}.png"), _rgb(KIT / f"lr_x{scale}" / "0001" / f"lr{view}.png")


def _rcan_images(scale):
    if not (RCAN / "HR" / "Set5").is_dir():
        pytest.skip(f"RCAN Set5 kit not available at {RCAN}")
    hr_files = sorted((RCAN / "HR" / "Set5" / f"x{scale}").glob("*.png"))
    assert len(hr_files) == 5
    for hr_path in hr_files:
        lr_path = RCAN / "LR" / "LRBI" / "Set5" / f"x{scale}" / hr_path.name.replace("_HR_", "_LRBI_")
        yield _rgb(hr_path), _rgb(lr_path)


def _band(scale: int) -> int:
    """LR rows/cols at each border whose x1/s kernel reaches 2+ pixels past the edge (where the rules differ)."""
    return 2 if scale == 4 else 1


def _assert_only_border_differs(a: np.ndarray, b: np.ndarray, scale: int):
    b_ = _band(scale)
    diff = np.abs(a.astype(int) - b.astype(int))
    assert diff.any(), "the two rules should differ somewhere on a real image"
    assert not diff[b_:-b_, b_:-b_].any()


@pytest.mark.parametrize("scale", [2, 4])
def test_kit_degradation_reproduces_the_stereo_kit_lr_files(scale):
    for hr, lr in _kit_views(scale):
        np.testing.assert_array_equal(degrade(hr, scale, "kit"), lr)
        # the clamping rule does not: it misses on the border band only, by several levels
        rcan = degrade(hr, scale, "rcan")
        _assert_only_border_differs(rcan, lr, scale)
        assert np.abs(rcan.astype(int) - lr.astype(int)).max() >= 5


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_rcan_degradation_reproduces_the_rcan_lr_files(scale):
    for hr, lr in _rcan_images(scale):
        np.testing.assert_array_equal(degrade(hr, scale, "rcan"), lr)
        np.testing.assert_array_equal(imresize(hr, 1 / scale), lr)  # today's default is unchanged
        _assert_only_border_differs(degrade(hr, scale, "kit"), lr, scale)


@pytest.mark.parametrize("shape", [(37, 45), (2, 3)], ids=["image", "tiny"])
@pytest.mark.parametrize("scale", [1 / 4, 1 / 3, 1 / 2, 2, 3])
def test_symmetric_padding_equals_resizing_a_mirror_padded_image(scale, shape):
    """Independent reference: numpy's 'symmetric' pad (edge repeated), then the clamping resize, then crop.

    The pad (a multiple of the step) is wider than the kernel's reach, so clamping never happens on it. On the
    tiny image the x1/4 kernel reaches past the mirrored copy too: indices fold back and forth (period 2n)."""
    img = np.random.default_rng(0).uniform(0, 255, size=(*shape, 3))
    pad = 24
    padded = np.pad(img, ((pad, pad), (pad, pad), (0, 0)), mode="symmetric")
    ref = imresize(padded, scale, padding="replicate")
    off = int(round(pad * scale))
    ours = imresize(img, scale, padding="symmetric")
    np.testing.assert_allclose(ours, ref[off : off + ours.shape[0], off : off + ours.shape[1]], atol=1e-9)
    # the torch path follows the same rule
    t = torch.from_numpy(img.transpose(2, 0, 1).copy())[None]
    np.testing.assert_allclose(
        imresize_torch(t, scale, padding="symmetric")[0].numpy().transpose(1, 2, 0), ours, atol=1e-9
    )


def test_rules_agree_inside_and_keep_constants():
    import msinet

    assert msinet.degrade is degrade  # the top-level name users see
    img = np.random.default_rng(1).integers(0, 256, size=(48, 72, 3), dtype=np.uint8)  # multiples of 2, 3, 4
    for s in (2, 3, 4):
        _assert_only_border_differs(degrade(img, s, "kit"), degrade(img, s, "rcan"), s)
    flat = np.full((24, 36, 3), 91, np.uint8)
    for kind in DEGRADATIONS:
        assert (degrade(flat, 4, kind) == 91).all()


def test_bad_names_raise_one_line_errors():
    img = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match=r"unknown degradation 'matlab' \(choose one of kit, rcan\)"):
        degrade(img, 2, "matlab")
    with pytest.raises(ValueError, match="padding must be one of replicate, symmetric, got 'reflect'"):
        imresize(img, 0.5, padding="reflect")
    with pytest.raises(ValueError, match="padding must be one of"):
        imresize_torch(torch.zeros(1, 3, 8, 8), 0.5, padding="mirror")
