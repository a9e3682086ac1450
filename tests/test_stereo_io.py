"""msinet.io on real pairs: MPO round trip with EXIF, every layout split/join exact, and the CLI on both."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

import msinet
from msinet.cli.main import main
from msinet.data.image_io import read_image, write_png
from msinet.io import guess_layout, join, read_mpo, split, to_full, write_mpo

pytestmark = pytest.mark.usefixtures("one_thread")

SCENES = ("kitti2015_000046", "middlebury2014_motorcycle_quarter", "sceneflow_A-0032-0006")


def real_views(shared_data, scene: str, crop=(slice(None), slice(None))):
    folder = shared_data / "stereo" / scene
    return tuple(np.ascontiguousarray(read_image(folder / f"{v}.png")[crop]) for v in ("left", "right"))


def exif_block() -> bytes:
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0132] = "FUJIFILM", "FinePix REAL 3D W3", "2026:11:26 12:00:00"
    return exif.tobytes()


# ---- MPO -------------------------------------------------------------------------------------------------


def jpeg_roundtrip(view: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(view).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def test_mpo_round_trip_on_real_views_keeps_order_and_exif(tmp_path, shared_data):
    left, right = real_views(shared_data, "middlebury2014_motorcycle_quarter")
    path = write_mpo(tmp_path / "pair.mpo", left, right, exif_block(), quality=95)
    with Image.open(path) as img:  # a real multi-picture file, not two JPEGs glued together
        assert img.format == "MPO" and img.n_frames == 2
    got_l, got_r, exif = read_mpo(path)
    # each picture decodes exactly as that view saved alone as a JPEG of the same quality: order and pixels kept
    np.testing.assert_array_equal(got_l, jpeg_roundtrip(left, 95))
    np.testing.assert_array_equal(got_r, jpeg_roundtrip(right, 95))
    assert not np.array_equal(got_l, got_r)
    tags = Image.Exif()
    tags.load(exif)
    assert tags[0x010F] == "FUJIFILM" and tags[0x0110] == "FinePix REAL 3D W3"
    with pytest.raises(FileExistsError, match="pass --overwrite"):
        write_mpo(path, left, right)


def test_mpo_with_one_picture_is_refused(tmp_path, shared_data):
    left, _ = real_views(shared_data, "middlebury2014_motorcycle_quarter")
    path = tmp_path / "flat.mpo"
    Image.fromarray(left).save(path, format="JPEG")
    with pytest.raises(ValueError, match=r"holds 1 picture\(s\), not a stereo pair"):
        read_mpo(path)
    rc = main(["upscale", str(path), "-o", str(tmp_path / "out")])
    assert rc == 2 and not (tmp_path / "out").exists()


def test_cli_upscales_an_mpo_to_an_mpo_with_exif(tmp_path, shared_data, capsys):
    left, right = real_views(shared_data, "kitti2015_000046", (slice(100, 124), slice(300, 340)))
    src = write_mpo(tmp_path / "DSCF0001.MPO", left, right, exif_block(), quality=98)
    out = tmp_path / "out"
    rc = main(["upscale", str(src), "-o", str(out), "--mpo-output", "both"])
    assert rc == 0, capsys.readouterr().err
    sr_l, sr_r, exif = read_mpo(out / "DSCF0001.mpo")
    assert sr_l.shape == (96, 160, 3)
    tags = Image.Exif()
    tags.load(exif)
    assert tags[0x0110] == "FinePix REAL 3D W3"
    # the PNGs are the default model's result on the MPO's views; the MPO holds them as JPEG q95
    want_l, want_r = msinet.load_model().upscale(*read_mpo(src)[:2])
    np.testing.assert_array_equal(read_image(out / "DSCF0001_L.png"), want_l)
    np.testing.assert_array_equal(read_image(out / "DSCF0001_R.png"), want_r)
    np.testing.assert_array_equal(sr_l, jpeg_roundtrip(want_l, 95))
    rc = main(["upscale", str(src), "-o", str(out)])  # never overwritten without --overwrite
    assert rc == 2 and "exists; pass --overwrite" in capsys.readouterr().err


# ---- layouts ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scene", SCENES)
@pytest.mark.parametrize("layout", ["sbs", "sbs-half", "tb", "tb-half", "cross"])
def test_layout_split_join_exact_on_real_pairs(shared_data, scene, layout):
    left, right = real_views(shared_data, scene)
    h, w = left.shape[:2]
    packed = join(left, right, layout)
    horizontal = layout in ("sbs", "sbs-half", "cross")
    assert packed.shape[:2] == ((h, 2 * w) if horizontal else (2 * h, w))
    first = packed[:, :w] if horizontal else packed[:h]
    np.testing.assert_array_equal(first, right if layout == "cross" else left)  # which view sits where
    got_l, got_r = split(packed, layout)
    np.testing.assert_array_equal(got_l, left)
    np.testing.assert_array_equal(got_r, right)
    np.testing.assert_array_equal(join(got_l, got_r, layout), packed)


def test_half_layout_to_full_stretches_each_view(shared_data):
    left, right = real_views(shared_data, "kitti2015_000046", (slice(0, 40), slice(0, 60)))
    full = to_full(join(left, right, "sbs-half"), "sbs-half")
    assert full.shape == (40, 240, 3)
    # reference: torch's bicubic (a = -0.75, half-pixel centres) along the width only, in float64
    import torch
    import torch.nn.functional as F

    for view, got in zip((left, right), split(full, "sbs")):
        x = torch.from_numpy(view.astype(np.float64)).permute(2, 0, 1)[None]
        want = F.interpolate(x, size=(40, 120), mode="bicubic", align_corners=False)[0].permute(1, 2, 0)
        want = want.clamp(0, 255).round().numpy()
        assert np.abs(got.astype(float) - want).max() <= 1


def test_bad_layout_inputs_one_line_errors(tmp_path, shared_data, capsys):
    left, right = real_views(shared_data, "kitti2015_000046", (slice(0, 24), slice(0, 41)))
    odd = write_png(tmp_path / "odd.png", np.concatenate([left, right[:, :-1]], axis=1))  # 81 px wide
    rc = main(["upscale", str(odd), "--layout", "sbs", "-o", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and "must have an even width" in err and len(err.strip().splitlines()) == 1
    rc = main(["upscale", str(odd), "-o", str(tmp_path / "o")])
    assert rc == 2 and "or one MPO, video, or image with --layout" in capsys.readouterr().err
    square = write_png(tmp_path / "square.png", left[:24, :24])
    rc = main(["upscale", str(square), "--layout", "auto", "-o", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and "cannot tell the stereo layout" in err and "24x24" in err
    assert not (tmp_path / "o").exists()


def test_guess_layout_only_when_unambiguous():
    assert guess_layout(3840, 1080) == "sbs"  # two 16:9 views
    assert guess_layout(2560, 960) == "sbs"  # two 4:3 views
    for w, h in ((1920, 1080), (1080, 1920), (2048, 1024), (1920, 2160)):  # 2D, portrait, 360 mono, tb?
        with pytest.raises(ValueError, match="pass --layout"):
            guess_layout(w, h)


def test_cli_sbs_image_same_and_full_layout(tmp_path, shared_data, capsys):
    left, right = real_views(shared_data, "middlebury2014_motorcycle_quarter", (slice(200, 224), slice(300, 332)))
    src = write_png(tmp_path / "sbs.png", join(left, right, "sbs-half"))  # 64x24: two squeezed 32x24 views
    rc = main(["upscale", str(src), "--layout", "sbs-half", "-o", str(tmp_path / "same")])
    assert rc == 0, capsys.readouterr().err
    want_l, want_r = msinet.load_model().upscale(left, right)
    same = read_image(tmp_path / "same" / "sbs.png")
    np.testing.assert_array_equal(same, join(want_l, want_r, "sbs-half"))  # 256x96: same layout, x4
    rc = main(["upscale", str(src), "--layout", "sbs-half", "--full", "-o", str(tmp_path / "full")])
    assert rc == 0, capsys.readouterr().err
    full = read_image(tmp_path / "full" / "sbs.png")
    assert full.shape == (96, 512, 3)
    np.testing.assert_array_equal(full, to_full(same, "sbs-half"))
