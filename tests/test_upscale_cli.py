"""`msinet upscale` end to end: real pairs, folders, the demo, every bad input and the no-overwrite rule."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

import msinet
from msinet.cli.main import main
from msinet.data.image_io import read_image, write_png
from msinet.data.imresize import imresize
from msinet.infer.pairs import find_pairs

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
STEREO = DATA / "stereo"


pytestmark = pytest.mark.usefixtures("one_thread")


def need_data(*names):
    for name in names:
        if not (STEREO / name).is_dir():
            pytest.skip(f"real stereo data not available: {STEREO / name}")


def real_lr_pair(tmp: Path, scene: str, crop=None, name: str | None = None) -> tuple[Path, Path]:
    """A real pair from ../shared/data/stereo, downscaled x4 (MATLAB bicubic), optionally cropped, as PNGs."""
    need_data(scene)
    out = []
    for view, tag in (("left", "L"), ("right", "R")):
        img = imresize(np.asarray(Image.open(STEREO / scene / f"{view}.png").convert("RGB")), 0.25)
        if crop is not None:
            img = img[crop]
        out.append(write_png(tmp / f"{name or scene}_{tag}.png", img))
    return out[0], out[1]


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory) -> Path:
    """A 2-block MSINet saved as safetensors, residual branches switched on: --model PATH for CLI runs."""
    torch.manual_seed(0)
    model = msinet.create_model("msinet_tiny_x4", num_blocks=2)
    g = torch.Generator().manual_seed(1)
    for name, p in model.named_parameters():
        if name.endswith(("beta", "gamma", "scale_l", "scale_r")):
            p.data = 0.5 * torch.randn(p.shape, generator=g)
    return msinet.save_weights(model, tmp_path_factory.mktemp("weights") / "tiny.safetensors")


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    rc = main(["upscale", *map(str, argv)])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


# ---- real pairs ------------------------------------------------------------------------------------------


def test_real_pair_with_model_file_tiles_and_disparity(tmp_path, capsys, tiny_weights):
    left, right = real_lr_pair(tmp_path, "kitti2015_000046", crop=(slice(30, 70), slice(0, 200)))
    out = tmp_path / "out"
    rc, stdout, err = run_cli(
        capsys, left, right, "-o", out, "--model", tiny_weights, "--tile", "16", "--save-disparity"
    )
    assert rc == 0, err
    sr_l, sr_r = read_image(out / "kitti2015_000046_L.png"), read_image(out / "kitti2015_000046_R.png")
    assert sr_l.shape == sr_r.shape == (160, 800, 3) and sr_l.dtype == np.uint8
    disp = read_image(out / "kitti2015_000046_disp.png")
    assert disp.dtype == np.uint16 and disp.shape == (160, 800)
    assert read_image(out / "kitti2015_000046_disp_color.png").shape == (160, 800, 3)
    # the CLI's output is the API's output
    model = msinet.load_model(tiny_weights)
    want_l, _, want_disp = model.upscale(read_image(left), read_image(right), tile=16, return_disparity=True)
    np.testing.assert_array_equal(sr_l, want_l)
    np.testing.assert_array_equal(disp, np.round(np.clip(want_disp, 0, 65535 / 256) * 256).astype(np.uint16))
    assert "kitti2015_000046: wrote" in stdout


def test_real_pair_bicubic_matches_matlab_bicubic(tmp_path, capsys):
    left, right = real_lr_pair(tmp_path, "middlebury2014_motorcycle_quarter")  # 186x125, odd sizes
    rc, _, err = run_cli(capsys, left, right, "-o", tmp_path / "o", "--model", "bicubic_x4")
    assert rc == 0, err
    sr = read_image(tmp_path / "o" / "middlebury2014_motorcycle_quarter_L.png")
    want = np.clip(np.round(imresize(read_image(left).astype(np.float64) / 255, 4) * 255), 0, 255)
    assert sr.shape == (500, 744, 3)
    assert np.abs(sr.astype(int) - want.astype(int)).max() <= 1


def test_find_pairs_on_the_real_data_folder():
    need_data("kitti2015_000046")
    pairs, unpaired = find_pairs(STEREO)
    names = {p.name for p in pairs}
    assert {"kitti2015_000046", "middlebury2014_motorcycle_quarter", "sceneflow_A-0032-0006"} <= names
    for p in pairs:
        assert p.left.name.startswith("left") and p.right.name.startswith("right")
    assert {p.name for p in unpaired} <= {"disp_left.png", "mask_nonocc_left.png", "occlusion_left.png"}
    assert STEREO / "kitti2015_000046" / "disp_left.png" in unpaired


def test_folder_batch_mixed_layouts_bad_pair_and_unpaired(tmp_path, capsys):
    need_data("kitti2012_000000", "flickr1024_0026")
    src = tmp_path / "in"
    crop = (slice(0, 24), slice(0, 40))
    real_lr_pair(src, "kitti2012_000000", crop, name="a")  # a_L.png / a_R.png
    l, r = real_lr_pair(tmp_path, "flickr1024_0026", crop, name="b")
    (src / "left").mkdir(), (src / "right").mkdir()
    os.replace(l, src / "left" / "b.png"), os.replace(r, src / "right" / "b.png")  # left/ + right/
    (src / "scene_c").mkdir()
    write_png(src / "scene_c" / "im0.png", read_image(src / "a_L.png"))  # SCENE/im0 + im1
    write_png(src / "scene_c" / "im1.png", read_image(src / "a_R.png"))
    (src / "broken_L.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")  # a bad pair
    write_png(src / "broken_R.png", read_image(src / "a_R.png"))
    write_png(src / "lonely.png", read_image(src / "a_R.png"))  # unpaired
    out = tmp_path / "out"
    rc, stdout, err = run_cli(capsys, "--input", src, "-o", out, "--model", "bicubic_x2")
    assert rc == 1
    assert f"unpaired (skipped): {src / 'lonely.png'}" in err
    assert f"error: pair broken: cannot read image {src / 'broken_L.png'}" in err
    assert "4 pair(s): 3 written, 0 skipped, 1 failed" in err
    for name in ("a", "b", "scene_c"):
        assert read_image(out / f"{name}_L.png").shape == (48, 80, 3)
    assert not (out / "broken_L.png").exists()


# ---- the demo --------------------------------------------------------------------------------------------


def test_demo_runs_offline_and_reports_true_psnr(tmp_path, capsys):
    from msinet.data.image_io import mod_crop
    from msinet.infer.demo import motorcycle_pair
    from msinet.metrics import stereo_psnr

    out = tmp_path / "demo"
    rc, stdout, err = run_cli(capsys, "--demo", "-o", out, "--model", "bicubic_x4")
    assert rc == 0, err
    for name in ("demo_L.png", "demo_R.png", "demo_comparison.png"):
        assert f"wrote {out / name}" in stdout
    hr_l, hr_r = (mod_crop(v, 4) for v in motorcycle_pair())
    sr_l, sr_r = read_image(out / "demo_L.png"), read_image(out / "demo_R.png")
    assert sr_l.shape == hr_l.shape == (500, 740, 3)
    psnr = stereo_psnr(sr_l, sr_r, hr_l, hr_r)
    assert 20 < psnr < 30  # bicubic x4 on a real scene
    assert f"bicubic_x4 {psnr:.2f} dB" in stdout
    fig = read_image(out / "demo_comparison.png")
    assert fig.ndim == 3 and fig.shape[0] > 300
    rc, _, err = run_cli(capsys, "--demo", "-o", out, "--model", "bicubic_x4")  # second run: refuses
    assert rc == 2 and "demo_L.png exists; pass --overwrite" in err


def test_entry_point_runs_as_a_program(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "msinet", "upscale", "--help"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0 and "--save-disparity" in proc.stdout and "--pad-common" in proc.stdout


# ---- never overwrite -------------------------------------------------------------------------------------


def test_nothing_is_overwritten_without_overwrite(tmp_path, capsys):
    rng = np.random.default_rng(0)
    left = write_png(tmp_path / "x_L.png", rng.integers(0, 256, (9, 12, 3), dtype=np.uint8))
    right = write_png(tmp_path / "x_R.png", rng.integers(0, 256, (9, 12, 3), dtype=np.uint8))
    out = tmp_path / "out"
    out.mkdir()
    (out / "x_R.png").write_bytes(b"precious")
    rc, _, err = run_cli(capsys, left, right, "-o", out, "--model", "bicubic_x2")
    assert rc == 2 and f"{out / 'x_R.png'} exists; pass --overwrite to replace it" in err
    assert (out / "x_R.png").read_bytes() == b"precious" and not (out / "x_L.png").exists()
    rc, _, err = run_cli(capsys, left, right, "-o", out, "--model", "bicubic_x2", "--overwrite")
    assert rc == 0, err
    assert read_image(out / "x_R.png").shape == (18, 24, 3)
    # writing next to the inputs would replace them: refused even with --overwrite
    rc, _, err = run_cli(capsys, left, right, "-o", tmp_path, "--model", "bicubic_x2", "--overwrite")
    assert rc == 2 and "is an input of this pair" in err
    assert read_image(left).shape == (9, 12, 3)


# ---- input kinds -----------------------------------------------------------------------------------------


def test_grayscale_rgba_16bit_and_exif(tmp_path, capsys):
    rng = np.random.default_rng(1)
    cases = {
        "gray": (rng.integers(0, 256, (7, 9), dtype=np.uint8), (14, 18)),
        "rgba": (rng.integers(0, 256, (7, 9, 4), dtype=np.uint8), (14, 18, 4)),
        "deep": (rng.integers(0, 65536, (7, 9, 3), dtype=np.uint16), (14, 18, 3)),
    }
    for name, (arr, shape) in cases.items():
        l, r = write_png(tmp_path / f"{name}_L.png", arr), write_png(tmp_path / f"{name}_R.png", arr)
        rc, _, err = run_cli(capsys, l, r, "-o", tmp_path / "out", "--model", "bicubic_x2")
        assert rc == 0, err
        got = read_image(tmp_path / "out" / f"{name}_L.png")
        assert got.shape == shape and got.dtype == arr.dtype, name
        if name == "rgba":
            assert "has an alpha channel; it is upscaled separately" in err
    rc, _, err = run_cli(
        capsys,
        tmp_path / "rgba_L.png",
        tmp_path / "rgba_R.png",
        "-o",
        tmp_path / "drop",
        "--model",
        "bicubic_x2",
        "--alpha",
        "drop",
    )
    assert rc == 0 and "dropped" in err
    assert read_image(tmp_path / "drop" / "rgba_L.png").shape == (14, 18, 3)
    # JPEG whose EXIF says "rotate 90": stored 16 wide x 8 high, displayed 8 wide x 16 high
    img = Image.fromarray(rng.integers(0, 256, (8, 16, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6
    for tag in "LR":
        img.save(tmp_path / f"photo_{tag}.jpg", exif=exif.tobytes())
    rc, _, err = run_cli(
        capsys, tmp_path / "photo_L.jpg", tmp_path / "photo_R.jpg", "-o", tmp_path / "out", "--model", "bicubic_x2"
    )
    assert rc == 0, err
    assert read_image(tmp_path / "out" / "photo_L.png").shape == (32, 16, 3)


def test_different_sizes_error_or_pad_common(tmp_path, capsys):
    rng = np.random.default_rng(2)
    l = write_png(tmp_path / "p_L.png", rng.integers(0, 256, (10, 13, 3), dtype=np.uint8))
    r = write_png(tmp_path / "p_R.png", rng.integers(0, 256, (11, 12, 3), dtype=np.uint8))
    rc, _, err = run_cli(capsys, l, r, "-o", tmp_path / "out", "--model", "bicubic_x2")
    assert rc == 2
    assert err.strip() == (
        "msinet upscale: error: left and right views differ in size: left 13x10, right 12x11 "
        "(WxH); pass --pad-common (pad_common=True) to pad both to a common frame"
    )
    rc, _, err = run_cli(capsys, l, r, "-o", tmp_path / "out", "--model", "bicubic_x2", "--pad-common")
    assert rc == 0, err
    assert read_image(tmp_path / "out" / "p_L.png").shape == (20, 26, 3)
    assert read_image(tmp_path / "out" / "p_R.png").shape == (22, 24, 3)


# ---- bad input: one line, exit code 2 --------------------------------------------------------------------


def _good_pair(tmp_path):
    rng = np.random.default_rng(3)
    return (
        write_png(tmp_path / "g_L.png", rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)),
        write_png(tmp_path / "g_R.png", rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)),
    )


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing", "image not found: {tmp}/nope.png"),
        ("corrupt", "cannot read image {tmp}/bad.png: not a recognised image file"),
        ("truncated", "cannot read image {tmp}/cut.png"),
        ("empty", "cannot read image {tmp}/empty.png: the file is empty"),
        ("model", "'no_such_model' is neither a registered model nor an existing weights file"),
        ("tile", "tile must be 'auto' or a number of rows >= 1, got '0'"),
        ("device", "device 'cuda' requested but CUDA is not available"),
        ("no_output", "missing -o OUTDIR"),
        ("two_modes", "give exactly one of: LEFT RIGHT, --input DIR, --demo"),
        ("no_right", "missing RIGHT"),
        ("scale", "tiny.safetensors upscales x4, not x2"),
        ("disparity", "has no DEAM transport plan"),
        ("empty_dir", "no stereo pairs found in {tmp}/nothing"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(tmp_path, capsys, tiny_weights, case, message):
    if case == "device" and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    good_l, good_r = _good_pair(tmp_path)
    out = ["-o", tmp_path / "out"]
    model = ["--model", "bicubic_x2"]
    if case == "corrupt":
        (tmp_path / "bad.png").write_bytes(os.urandom(300))
    if case == "truncated":
        data = (tmp_path / "g_L.png").read_bytes()
        big = write_png(tmp_path / "big.png", np.random.default_rng(4).integers(0, 256, (64, 64, 3), np.uint8))
        (tmp_path / "cut.png").write_bytes(big.read_bytes()[: len(data) // 2 + 60])
    if case == "empty":
        (tmp_path / "empty.png").write_bytes(b"")
    if case == "empty_dir":
        (tmp_path / "nothing").mkdir()
    argv = {
        "missing": [tmp_path / "nope.png", good_r, *out, *model],
        "corrupt": [tmp_path / "bad.png", good_r, *out, *model],
        "truncated": [tmp_path / "cut.png", good_r, *out, *model],
        "empty": [tmp_path / "empty.png", good_r, *out, *model],
        "model": [good_l, good_r, *out, "--model", "no_such_model"],
        "tile": [good_l, good_r, *out, *model, "--tile", "0"],
        "device": [good_l, good_r, *out, *model, "--device", "cuda"],
        "no_output": [good_l, good_r, *model],
        "two_modes": [good_l, good_r, "--demo", *out, *model],
        "no_right": [good_l, *out, *model],
        "scale": [good_l, good_r, *out, "--model", tiny_weights, "--scale", "2"],
        "disparity": [good_l, good_r, *out, *model, "--save-disparity"],
        "empty_dir": ["--input", tmp_path / "nothing", *out, *model],
    }[case]
    rc, _, err = run_cli(capsys, *argv)
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("msinet upscale: error: ")
    assert message.format(tmp=tmp_path) in lines[0]
    written = [p for p in (tmp_path / "out").glob("*") if p.name != ".msinet-output"]  # the pre-flight's marker
    assert not written if (tmp_path / "out").exists() else True


def test_scale_picks_the_registered_variant(tmp_path, capsys):
    good_l, good_r = _good_pair(tmp_path)
    rc, _, err = run_cli(capsys, good_l, good_r, "-o", tmp_path / "out", "--model", "bicubic_x4", "--scale", "2")
    assert rc == 0, err
    assert read_image(tmp_path / "out" / "g_L.png").shape == (12, 16, 3)


# ---- trained weights only --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--model", "msinet_x4"], "msinet_x4 has no trained weights"),
        (["--scale", "3"], "no default x3 model ships with msinet"),
        (["--model", "msinet_x4", "--scale", "2"], "msinet_x2 has no trained weights"),
    ],
)
def test_models_without_trained_weights_are_refused(tmp_path, capsys, argv, message):
    good_l, good_r = _good_pair(tmp_path)
    out = tmp_path / "out"
    rc, stdout, err = run_cli(capsys, good_l, good_r, "-o", out, *argv)
    assert rc == 2 and stdout == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("msinet upscale: error: ") and message in lines[0], err
    assert "--random-init" in lines[0] or "--model" in lines[0]
    assert not out.exists()


@pytest.mark.parametrize("argv, scale", [(["--model", "msinet_x4"], 4), (["--model", "msinet_x4", "--scale", "2"], 2)])
def test_random_init_runs_with_a_warning(tmp_path, capsys, argv, scale):
    good_l, good_r = _good_pair(tmp_path)
    rc, _, err = run_cli(capsys, good_l, good_r, "-o", tmp_path / "out", *argv, "--random-init")
    assert rc == 0, err
    assert "random weights (--random-init)" in err
    assert read_image(tmp_path / "out" / "g_L.png").shape == (6 * scale, 8 * scale, 3)


def test_scale_picks_a_shipped_default_of_that_scale(tmp_path, capsys, monkeypatch):
    """Adding a shipped model is one record plus its file; --scale 2 then uses it with no --model."""
    import hashlib

    from msinet.models import pretrained
    from msinet.models.pretrained import WeightsRecord

    torch.manual_seed(0)
    model = msinet.create_model("msinet_small_x2").eval()
    folder = tmp_path / "pkg_weights"
    path = msinet.save_weights(model, folder / "msinet_small_x2.safetensors")
    record = WeightsRecord(
        "msinet_small_x2",
        "shipped",
        ".safetensors",
        file=path.name,
        size=path.stat().st_size,
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        default=True,
    )
    original = pretrained.weights_table
    monkeypatch.setattr(pretrained, "weights_table", lambda: {**original(), record.name: record})
    monkeypatch.setattr(pretrained, "WEIGHTS_DIR", folder)
    good_l, good_r = _good_pair(tmp_path)
    rc, stdout, err = run_cli(capsys, good_l, good_r, "-o", tmp_path / "out", "--scale", "2")
    assert rc == 0 and "random" not in err, err
    want, _ = model.upscale(read_image(good_l), read_image(good_r))
    np.testing.assert_array_equal(read_image(tmp_path / "out" / "g_L.png"), want)


def test_16bit_png_reader_keeps_all_bits(tmp_path):
    arr = ((np.arange(5 * 6 * 3, dtype=np.uint32).reshape(5, 6, 3) * 1201) % 65536).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "d.png"), cv2.cvtColor(arr.astype(np.uint16), cv2.COLOR_RGB2BGR))
    np.testing.assert_array_equal(read_image(tmp_path / "d.png"), arr)
