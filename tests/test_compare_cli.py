"""`msinet compare` end to end on the bundled real pair (Middlebury Motorcycle, cropped small): the figure's
layout and pixels, its PSNR/SSIM against an independent computation, the automatic crop, and the refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import msinet
from msinet.cli.main import main
from msinet.data.degradation import degrade
from msinet.data.image_io import read_image, write_png
from msinet.data.sample_pair import motorcycle_pair
from msinet.infer.compare import PAD, auto_zoom, overview_size
from msinet.metrics import psnr, ssim, stereo_scores

pytestmark = pytest.mark.usefixtures("one_thread")

HR_BOX = (slice(150, 342), slice(250, 506))  # 192x256 HR around the engine: LR 48x64 at x4, a second per model


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    """(left.png, right.png, hr_left, hr_right): a small crop of the real pair, written as PNGs."""
    folder = tmp_path_factory.mktemp("pair")
    views = [np.ascontiguousarray(v[HR_BOX]) for v in motorcycle_pair()]
    paths = [write_png(folder / f"moto_{tag}.png", v) for tag, v in zip("LR", views)]
    return paths[0], paths[1], views[0], views[1]


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    rc = main(["compare", *map(str, argv)])
    out = capsys.readouterr()
    return rc, out.out, out.err


def line_of(stdout: str, name: str) -> str:
    (line,) = [ln for ln in stdout.splitlines() if ln.strip().startswith(name + " ")]
    return line


def panel(fig: np.ndarray, i: int, ov_w: int, ph: int, pw: int) -> np.ndarray:
    """Panel i of the row (0 = the first after the overview): the panels end PAD above the bottom edge."""
    y0, x0 = fig.shape[0] - PAD - ph, PAD + ov_w + PAD + i * (pw + PAD)
    return fig[y0 : y0 + ph, x0 : x0 + pw]


def test_figure_layout_and_scores_match_an_independent_computation(pair, tmp_path, capsys):
    left, right, hr_l, hr_r = pair
    fig_path = tmp_path / "fig.png"
    top, lft, h, w = 32, 48, 64, 96
    rc, stdout, err = run_cli(
        capsys, left, right, "--hr", "--models", "bicubic_x4,msinet_small_x4", "--crop", f"{top},{lft},{h},{w}",
        "-o", fig_path, "--device", "cpu",
    )  # fmt: skip
    assert rc == 0, err
    assert f"wrote {fig_path}" in stdout
    # the same metric, computed here on msinet.upscale's output of the kit-degraded pair
    lr = [degrade(v, 4, "kit") for v in (hr_l, hr_r)]
    sr_l, sr_r = msinet.upscale(msinet.load_model("msinet_small_x4"), *lr)
    p, s = stereo_scores(sr_l, sr_r, hr_l, hr_r)  # the evaluation's default protocol: RGB, no shave, mean of L, R
    box = (slice(top, top + h), slice(lft, lft + w))
    cp, cs = psnr(sr_l[box], hr_l[box]), ssim(sr_l[box], hr_l[box], window="uniform")
    line = line_of(stdout, "msinet_small_x4")
    assert f"image {p:.2f} dB / {s:.4f}" in line and f"crop {cp:.2f} dB / {cs:.4f}" in line
    assert "protocol 'stereo' (RGB, no shave, mean of L and R, SSIM uniform)" in stdout
    assert p > float(line_of(stdout, "bicubic_x4").split("image ")[1].split(" dB")[0])  # a trained model wins
    # layout: overview + HR, bicubic, model; each panel the crop enlarged `zoom` times by nearest neighbour
    fig = read_image(fig_path)
    zoom = auto_zoom((h, w))
    ph, pw = h * zoom, w * zoom
    ov_h, ov_w = overview_size(hr_l.shape[:2], (ph, pw))
    assert (zoom, ov_h) == (3, ph)  # 320 // 96; the overview as tall as the panels
    assert fig.shape[1] == PAD + ov_w + PAD + 3 * (pw + PAD)
    assert ph + 2 * PAD < fig.shape[0] < ph + 2 * PAD + 8 * 14  # panels plus a few lines of titles
    enlarge = lambda img: np.repeat(np.repeat(img[box], zoom, 0), zoom, 1)  # noqa: E731
    np.testing.assert_array_equal(panel(fig, 0, ov_w, ph, pw), enlarge(hr_l))
    np.testing.assert_array_equal(panel(fig, 2, ov_w, ph, pw), enlarge(sr_l))
    # a second run refuses to replace the figure, --overwrite replaces it
    rc, _, err = run_cli(capsys, left, right, "--hr", "--models", "bicubic_x4", "-o", fig_path)
    assert rc == 2 and err.strip() == f"msinet compare: error: {fig_path} exists; pass --overwrite to replace it"
    rc, _, err = run_cli(capsys, left, right, "--hr", "--models", "bicubic_x4", "-o", fig_path, "--overwrite")
    assert rc == 0, err


def test_automatic_crop_is_the_window_of_largest_bicubic_error(pair, tmp_path, capsys):
    left, right, hr_l, hr_r = pair
    rc, stdout, err = run_cli(capsys, left, right, "--hr", "--models", "bicubic_x4", "-o", tmp_path / "f.png")
    assert rc == 0, err
    crop_line = next(ln for ln in stdout.splitlines() if ln.startswith("crop: "))
    assert "auto: where bicubic_x4 errs most" in crop_line
    # brute force: every 64x64 window (a third of the 192-pixel side) on the LR grid, 2 LR pixels off the border
    bic_l, _ = msinet.upscale(msinet.load_model("bicubic_x4"), *(degrade(v, 4, "kit") for v in (hr_l, hr_r)))
    err_map = ((bic_l.astype(float) - hr_l) ** 2).sum(-1)
    tops, lefts = range(8, 192 - 64 - 8 + 1, 4), range(8, 256 - 64 - 8 + 1, 4)
    windows = {(t, c): err_map[t : t + 64, c : c + 64].sum() for t in tops for c in lefts}
    t, c = max(windows, key=windows.get)
    assert f"crop: top {t}, left {c}, height 64, width 64 of the left view" in crop_line


def test_without_ground_truth_the_inputs_are_the_lr_pair(pair, tmp_path, capsys):
    left, right, _, _ = pair
    fig_path = tmp_path / "lr.png"
    rc, stdout, err = run_cli(capsys, left, right, "--models", "bicubic_x4", "--view", "right", "--crop", "0,0,64,64",
                              "--zoom", "2", "-o", fig_path)  # fmt: skip
    assert rc == 0, err
    assert "no ground truth" in stdout and " dB" not in stdout
    fig = read_image(fig_path)
    sr_r = msinet.upscale(msinet.load_model("bicubic_x4"), read_image(left), read_image(right))[1]
    assert sr_r.shape == (768, 1024, 3)  # the inputs were upscaled x4, not degraded
    ov_w = overview_size(sr_r.shape[:2], (128, 128))[1]
    assert fig.shape[1] == PAD + ov_w + PAD + 128 + PAD
    np.testing.assert_array_equal(panel(fig, 0, ov_w, 128, 128), np.repeat(np.repeat(sr_r[:64, :64], 2, 0), 2, 1))


@pytest.mark.parametrize(
    "case, message",
    [
        ("mixed_scales", "the models upscale by different factors (msinet_small_x4 x4, msinet_small_x2 x2)"),
        ("no_weights", "msinet_x4 has no trained weights"),
        ("unknown", "'no_such_model' is neither a registered model nor an existing weights file"),
        ("sizes", "left and right views differ in size: moto_L.png is 256x192, small_R.png is 128x96"),
        ("missing", "image not found:"),
        ("crop_outside", "crop top 150, left 0, height 64, width 64 does not fit the left view at x4"),
        ("not_png", "the figure is written as PNG"),
    ],
)
def test_refusals_are_one_line_and_write_nothing(pair, tmp_path, capsys, case, message):
    left, right, _, hr_r = pair
    small = write_png(tmp_path / "small_R.png", np.ascontiguousarray(hr_r[:96, :128]))
    out = tmp_path / ("fig.jpg" if case == "not_png" else "fig.png")
    args = {
        "mixed_scales": [left, right, "--models", "msinet_small_x4,msinet_small_x2"],
        "no_weights": [left, right, "--models", "msinet_x4"],
        "unknown": [left, right, "--models", "bicubic_x4,no_such_model"],
        "sizes": [left, small, "--models", "bicubic_x4"],
        "missing": [left, tmp_path / "absent.png", "--models", "bicubic_x4"],
        "crop_outside": [left, right, "--models", "bicubic_x4", "--crop", "150,0,64,64"],
        "not_png": [left, right, "--models", "bicubic_x4"],
    }[case]
    rc, stdout, err = run_cli(capsys, *args, "--hr", "-o", out)
    assert rc == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("msinet compare: error: ")
    assert message in err
    assert not out.exists() and stdout == ""
