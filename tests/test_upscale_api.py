"""msinet.infer: image kinds in and out, row tiling, memory fallbacks, precision fallback, disparity."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import msinet
from msinet.infer import upscale_pair
from msinet.infer.disparity import decode_kitti_png16, disparity_from_plan, encode_kitti_png16, end_point_error
from msinet.infer.tiling import OutOfMemory, plan_tile, run_tiled
from msinet.models.base import StereoSRModel

pytestmark = pytest.mark.usefixtures("one_thread")


def bicubic_ref(x: np.ndarray, scale: int) -> np.ndarray:
    """Reference for the bicubic_x* models: the numpy MATLAB imresize (float64) of (H, W, C) in [0, 1], clamped."""
    from msinet.data.imresize import imresize

    return np.clip(imresize(x.astype(np.float64), scale), 0, 1)


def perturbed_tiny(seed: int = 0, blocks: int = 2, tlsc=(45, 135)):
    """A tiny MSINet whose residual branches are switched on (the zero init makes every block an identity)."""
    torch.manual_seed(seed)
    model = msinet.create_model("msinet_tiny_x4", num_blocks=blocks, tlsc_window=tlsc).eval()
    g = torch.Generator().manual_seed(seed + 1)
    for name, p in model.named_parameters():
        if name.endswith(("beta", "gamma", "scale_l", "scale_r")):
            p.data = 0.5 * torch.randn(p.shape, generator=g)
    return model


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


@pytest.fixture(scope="module")
def motorcycle_lr():
    """The real Motorcycle pair shipped with scikit-image, downscaled x4 (MATLAB bicubic), float in [0, 1]."""
    from msinet.data.imresize import imresize
    from msinet.infer.demo import motorcycle_pair

    left, right = motorcycle_pair()
    return tuple(imresize(v, 0.25).astype(np.float32) / 255.0 for v in (left, right))


# ---- image kinds -----------------------------------------------------------------------------------------


def test_uint8_rgb_matches_independent_bicubic():
    rng = np.random.default_rng(0)
    l, r = (rng.integers(0, 256, (13, 17, 3), dtype=np.uint8) for _ in range(2))
    sl, sr = upscale_pair(msinet.create_model("bicubic_x2"), l, r)
    assert sl.dtype == np.uint8 and sl.shape == (26, 34, 3)
    for src, out in ((l, sl), (r, sr)):
        want = np.round(bicubic_ref(src / 255.0, 2) * 255).astype(np.uint8)
        assert np.abs(out.astype(int) - want.astype(int)).max() <= 1


def test_uint16_stays_16_bit_with_full_precision():
    rng = np.random.default_rng(1)
    l = rng.integers(0, 65536, (9, 11, 3), dtype=np.uint16)
    sl, _ = upscale_pair(msinet.create_model("bicubic_x2"), l, l.copy())
    assert sl.dtype == np.uint16 and sl.shape == (18, 22, 3)
    want = bicubic_ref(l / 65535.0, 2) * 65535
    assert np.abs(sl - want).max() <= 2  # 16-bit levels, not 8-bit ones (one 8-bit step = 257)
    assert len(np.unique(sl % 257)) > 10


def test_grayscale_in_grayscale_out():
    rng = np.random.default_rng(2)
    g = rng.integers(0, 256, (10, 12), dtype=np.uint8)
    model = perturbed_tiny()
    sl, sr = upscale_pair(model, g, g)
    assert sl.shape == (40, 48) and sl.dtype == np.uint8
    rgb = np.repeat(g[:, :, None], 3, axis=2)
    cl, _ = upscale_pair(model, rgb, rgb)
    want = np.round(cl.astype(np.float64).mean(axis=2))
    assert np.abs(sl - want).max() <= 1


def test_rgba_alpha_upscaled_separately_or_dropped():
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (8, 10, 4), dtype=np.uint8)
    model = msinet.create_model("bicubic_x2")
    sl, _ = upscale_pair(model, img, img)
    assert sl.shape == (16, 20, 4)
    want_alpha = np.round(bicubic_ref(img[:, :, 3:] / 255.0, 2)[:, :, 0] * 255)
    assert np.abs(sl[:, :, 3] - want_alpha).max() <= 1
    rgb_only, _ = upscale_pair(model, img[:, :, :3], img[:, :, :3])
    np.testing.assert_array_equal(sl[:, :, :3], rgb_only)  # alpha does not leak into the colour
    dropped, _ = upscale_pair(model, img, img, alpha="drop")
    assert dropped.shape == (16, 20, 3)


def test_pil_images_come_back_as_pil_of_the_same_mode():
    rng = np.random.default_rng(4)
    model = msinet.create_model("bicubic_x2")
    arrays = {
        "RGB": rng.integers(0, 256, (6, 7, 3), dtype=np.uint8),
        "L": rng.integers(0, 256, (6, 7), dtype=np.uint8),
        "RGBA": rng.integers(0, 256, (6, 7, 4), dtype=np.uint8),
        "I;16": rng.integers(0, 65536, (6, 7), dtype=np.uint16),
    }
    for mode, arr in arrays.items():
        img = Image.fromarray(arr)
        assert img.mode == mode
        out, _ = upscale_pair(model, img, img)
        assert isinstance(out, Image.Image) and out.mode == mode and out.size == (14, 12)
        direct, _ = upscale_pair(model, arr, arr)
        np.testing.assert_array_equal(np.asarray(out), direct)


def test_tensors_keep_dims_dtype_and_match_the_forward():
    model = perturbed_tiny(blocks=1)
    l, r = torch.rand(2, 3, 11, 13, dtype=torch.float64), torch.rand(2, 3, 11, 13, dtype=torch.float64)
    sl, sr = upscale_pair(model, l, r, tile=None)
    assert sl.shape == (2, 3, 44, 52) and sl.dtype == torch.float64
    with torch.no_grad():
        fl, fr = model(l.float(), r.float())
    torch.testing.assert_close(sl.float(), fl.clamp(0, 1), atol=1e-5, rtol=0)
    torch.testing.assert_close(sr.float(), fr.clamp(0, 1), atol=1e-5, rtol=0)
    one, _ = model.upscale(l[1], r[1], tile=None)  # (3, H, W) in, (3, sH, sW) out
    assert one.shape == (3, 44, 52)
    torch.testing.assert_close(one, sl[1], atol=1e-5, rtol=0)


def test_training_mode_is_restored():
    model = perturbed_tiny().train()
    upscale_pair(model, torch.rand(3, 6, 8), torch.rand(3, 6, 8))
    assert model.training


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((5, 6, 2), np.uint8), "HxWx3"),
        (np.zeros((5, 6, 3), np.int32), "unsupported pixel type"),
        (np.full((5, 6, 3), np.nan, np.float32), "NaN"),
        (torch.zeros(5, 6, 7), "channels"),
        (torch.zeros(1, 3, 6, 7, dtype=torch.uint8), "floating point"),
        ("left.png", "numpy array, a PIL image or a torch tensor"),
    ],
)
def test_bad_images_are_named(bad, message):
    with pytest.raises(ValueError, match=message):
        upscale_pair(msinet.create_model("bicubic_x2"), bad, np.zeros((5, 6, 3), np.uint8))


@pytest.mark.parametrize(
    "option, message",
    [
        (dict(tile=0), "tile"),
        (dict(tile="big"), "tile"),
        (dict(context=-1), "context"),
        (dict(precision="fp64"), "precision"),
        (dict(alpha="keep"), "alpha"),
        (dict(device="cuda"), "CUDA"),
        (dict(device="tpu"), "device"),
    ],
)
def test_bad_options_are_named(option, message):
    if option.get("device") == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    img = np.zeros((5, 6, 3), np.uint8)
    with pytest.raises(ValueError, match=message):
        upscale_pair(msinet.create_model("bicubic_x2"), img, img, **option)


def test_views_of_different_size_need_pad_common():
    rng = np.random.default_rng(5)
    l = rng.integers(0, 256, (12, 20, 3), dtype=np.uint8)
    r = rng.integers(0, 256, (10, 23, 3), dtype=np.uint8)
    model = msinet.create_model("bicubic_x2")
    with pytest.raises(ValueError, match=r"differ in size: left 20x12, right 23x10.*pad-common"):
        upscale_pair(model, l, r)
    sl, sr = upscale_pair(model, l, r, pad_common=True)
    assert sl.shape == (24, 40, 3) and sr.shape == (20, 46, 3)
    alone, _ = upscale_pair(model, l, l)
    # padding only touches the right border (bicubic reaches 2 LR pixels, i.e. 4 HR pixels)
    np.testing.assert_array_equal(sl[:, :34], alone[:, :34])


# ---- tiling ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("height, tile_rows, context", [(1, 1, 0), (37, 8, 3), (64, 64, 10), (100, 33, 50), (7, 3, 1)])
def test_tile_cores_cover_every_row_once(height, tile_rows, context):
    rows, start = [], 0
    while start < height:
        tile = plan_tile(height, start, tile_rows, context)
        assert tile.in0 == max(0, tile.core0 - context) and tile.in1 == min(height, tile.core1 + context)
        rows += list(range(tile.core0, tile.core1))
        start = tile.core1
    assert rows == list(range(height))


def test_on_tile_reports_every_tile_and_on_band_is_its_old_name():
    x = torch.rand(1, 3, 20, 12)
    model = msinet.create_model("bicubic_x2")
    seen = []
    upscale_pair(model, x, x, tile=8, context=2, on_tile=lambda t, rows: seen.append((t.core0, t.core1, rows)))
    assert seen == [(0, 8, 8), (8, 16, 8), (16, 20, 8)]
    old = []
    with pytest.warns(FutureWarning, match=r"on_band=\.\.\.\) is now on_tile"):
        upscale_pair(model, x, x, tile=8, context=2, on_band=lambda t, rows: old.append((t.core0, t.core1, rows)))
    assert old == seen
    with pytest.raises(ValueError, match="give on_tile only"):
        upscale_pair(model, x, x, on_tile=print, on_band=print)


def test_tiling_is_exact_for_a_local_model():
    """Bicubic reads two rows either side: two rows of context make any tiling exact, zero do not."""
    x = torch.rand(1, 3, 41, 29)
    model = msinet.create_model("bicubic_x4")
    full, _ = upscale_pair(model, x, x, tile=None)
    tiled, _ = upscale_pair(model, x, x, tile=7, context=2)
    assert torch.equal(full, tiled)
    seams, _ = upscale_pair(model, x, x, tile=7, context=0)
    assert not torch.equal(full, seams)


def test_tiled_matches_untiled_on_a_real_pair(motorcycle_lr):
    """Row tiles with the default context reproduce the untiled result (>= 50 dB) with TLSC on or off."""
    l, r = (v[40:100, 40:136] for v in motorcycle_lr)  # 60 x 96 LR pixels of the real Motorcycle pair
    for tlsc in ((45, 135), None):
        model = perturbed_tiny(tlsc=tlsc)
        full, _ = upscale_pair(model, l, r, tile=None)
        tiled, _ = upscale_pair(model, l, r, tile=20)
        assert psnr(full, tiled) >= 50.0, tlsc
        # the check can fail: without context, the tile seams show
        no_context, _ = upscale_pair(model, l, r, tile=20, context=0)
        assert psnr(full, no_context) < psnr(full, tiled)


class RowLimitedModel(StereoSRModel):
    """Bicubic x2 that raises CUDA-style out-of-memory errors for tiles taller than `max_rows`."""

    def __init__(self, max_rows: int):
        super().__init__(2)
        self.max_rows = max_rows
        self.seen: list[int] = []

    def forward(self, left, right):
        self.seen.append(left.shape[-2])
        if left.shape[-2] > self.max_rows:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return (
            F.interpolate(left, scale_factor=2, mode="bicubic", align_corners=False),
            F.interpolate(right, scale_factor=2, mode="bicubic", align_corners=False),
        )


def test_out_of_memory_halves_the_tile_and_keeps_done_rows():
    x = torch.rand(1, 3, 100, 16)
    model = RowLimitedModel(max_rows=30)
    tiled, _ = upscale_pair(model, x, x, tile=64, context=2)
    full, _ = upscale_pair(RowLimitedModel(max_rows=1000), x, x, tile=None)
    assert torch.equal(tiled, full)
    assert model.seen[:3] == [66, 34, 18]  # the first tile has context below only: 64+2, 32+2, then 16+2 fits
    assert max(s for s in model.seen[3:]) <= 30


def test_out_of_memory_at_the_smallest_tile_is_a_clear_error():
    x = torch.rand(1, 3, 40, 8)
    with pytest.raises(OutOfMemory, match="out of memory on cpu even with 8-row tiles"):
        upscale_pair(RowLimitedModel(max_rows=5), x, x, tile=32, context=2)


def test_run_tiled_stitches_per_row_maps():
    x = torch.arange(30.0).view(1, 1, 30, 1).expand(1, 3, 30, 4).contiguous()

    def fn(lb, rb):  # an SR-like output (rows x 2) and a per-row map (rows x 1)
        return lb.repeat_interleave(2, dim=-2), lb[:, :1]

    up, rows = run_tiled(fn, x, x, tile_rows=7, context=3, device=torch.device("cpu"))
    assert torch.equal(rows, x[:, :1]) and torch.equal(up, x.repeat_interleave(2, dim=-2))


# ---- precision -------------------------------------------------------------------------------------------


class OverflowModel(StereoSRModel):
    """A 1x1 conv through 1e5 and back: exact in fp32, Inf in fp16 (max 65504)."""

    def __init__(self):
        super().__init__(2)
        self.up = torch.nn.Conv2d(3, 3, 1, bias=False)
        self.down = torch.nn.Conv2d(3, 3, 1, bias=False)
        with torch.no_grad():
            self.up.weight.copy_(torch.eye(3)[:, :, None, None] * 1e5)
            self.down.weight.copy_(torch.eye(3)[:, :, None, None] * 1e-5)

    def forward(self, left, right):
        def f(x):
            return F.interpolate(self.down(self.up(x)), scale_factor=2, mode="nearest")

        return f(left), f(right)


def test_fp16_overflow_is_recomputed_in_fp32_with_a_warning():
    x = torch.rand(1, 3, 12, 10) * 0.5 + 0.5
    model = OverflowModel()
    with pytest.warns(RuntimeWarning, match="fp16 inference produced NaN/Inf"):
        out, _ = upscale_pair(model, x, x, precision="fp16", tile=4, context=0)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, x.repeat_interleave(2, -1).repeat_interleave(2, -2), atol=1e-5, rtol=0)


def test_bf16_is_close_to_fp32_without_fallback(motorcycle_lr):
    l, r = (v[40:64, 40:100] for v in motorcycle_lr)
    model = perturbed_tiny()
    ref, _ = upscale_pair(model, l, r, tile=None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback warning: bf16 cannot overflow here
        low, _ = upscale_pair(model, l, r, tile=None, precision="bf16")
    assert psnr(ref, low) > 30.0


# ---- disparity -------------------------------------------------------------------------------------------


def test_disparity_of_a_shifting_plan_is_the_shift():
    w, d = 12, 3
    plan = torch.zeros(1, 2, w, w)
    for x in range(w):
        plan[0, :, x, max(0, x - d)] = 1.0  # left pixel x matches right pixel x - d
    disp = disparity_from_plan(plan)
    assert torch.equal(disp[0, 0, d:], torch.full((w - d,), float(d)))
    uniform = disparity_from_plan(torch.full((1, 1, w, w), 1.0 / w))
    torch.testing.assert_close(uniform[0, 0], torch.arange(w) - (w - 1) / 2)


def test_kitti_png16_round_trip_and_end_point_error():
    disp = np.array([[0.0, 1.5, 10.25], [-3.0, 100.0, 300.0]], np.float32)
    back, valid = decode_kitti_png16(encode_kitti_png16(disp))
    assert valid.tolist() == [[False, True, True], [False, True, True]]
    np.testing.assert_allclose(back[valid], [1.5, 10.25, 100.0, 65535 / 256], atol=1 / 512)
    err = end_point_error(np.array([1.0, 2.0, 9.0]), np.array([1.0, 4.0, 4.0]), np.array([True, True, True]))
    assert err["epe"] == pytest.approx(7 / 3) and err["bad3"] == pytest.approx(1 / 3)


def test_disparity_from_the_model_has_hr_size_and_survives_tiling(motorcycle_lr):
    l, r = (v[40:70, 40:120] for v in motorcycle_lr)
    model = perturbed_tiny()
    _, _, full = upscale_pair(model, l, r, tile=None, return_disparity=True)
    _, _, tiled = upscale_pair(model, l, r, tile=10, return_disparity=True)
    assert full.shape == (120, 320) and full.dtype == np.float32
    assert np.abs(full - tiled).max() < 0.05  # HR pixels
    with model.keep_transport_plans() as deams:
        with torch.no_grad():
            model(torch.from_numpy(l).permute(2, 0, 1)[None], torch.from_numpy(r).permute(2, 0, 1)[None])
        lr = disparity_from_plan(deams[-1].last_plan)  # (1, h, w), from the LAST fusion layer
    want = 4 * F.interpolate(lr[:, None], scale_factor=4, mode="bilinear", align_corners=False)[0, 0]
    np.testing.assert_allclose(full, want.numpy(), atol=1e-3)


def test_disparity_needs_a_deam_model():
    img = np.zeros((6, 8, 3), np.uint8)
    with pytest.raises(ValueError, match="no DEAM"):
        upscale_pair(msinet.create_model("bicubic_x4"), img, img, return_disparity=True)
    with pytest.raises(ValueError, match="no DEAM"):
        upscale_pair(msinet.create_model("nafssr_t", num_blocks=1), img, img, return_disparity=True)


# ---- CPU settings chosen per family ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["msinet_small_x4", "bicubic_x4", "cvhssr_t_x4", "nafrssr_t_x4", "ehfssr_s_x4"])
def test_chosen_cpu_memory_format_gives_the_reference_outputs(motorcycle_lr, name, request):
    """`memory_format="auto"` (channels_last where the family declares it faster on the CPU) equals the plain
    contiguous path on a real pair, tiled as well as whole, to float rounding."""
    if name in ("msinet_small_x4", "bicubic_x4"):
        model = msinet.load_model(name)
    else:  # the peers' published checkpoints
        model = msinet.load_model(str(request.getfixturevalue("shared_peers") / f"{name}.pth"))
    assert model.cpu_channels_last == (name not in ("bicubic_x4", "ehfssr_s_x4"))  # bench_cpu_settings.py
    left, right = (torch.from_numpy(v[:40, :96]).permute(2, 0, 1)[None].contiguous() for v in motorcycle_lr)
    for tile in (None, 16):
        ref = upscale_pair(model, left, right, tile=tile, memory_format="contiguous")
        got = upscale_pair(model, left, right, tile=tile)  # auto
        if name != "bicubic_x4" and model.cpu_channels_last:
            weight = next(p for p in model.parameters() if p.dim() == 4)
            assert weight.is_contiguous(memory_format=torch.channels_last) and not weight.is_contiguous()
        for a, b in zip(got, ref):
            assert a.is_contiguous() and a.shape == b.shape and float((a - b).abs().max()) <= 1e-5
    with pytest.raises(ValueError, match="memory_format must be"):
        upscale_pair(model, left, right, memory_format="nhwc")
