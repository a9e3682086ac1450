"""Test-time local statistics (TLSC): `local_mean` against a brute-force box mean, the fallback rule,
its effect inside the model, and ONNX export.

Reference semantics (both authors' codes): the window (wh, ww) is clipped to the image, (kh, kw) =
(min(H, wh), min(W, ww)); the mean over every kh x kw window that lies inside the image is computed and the
result is replicate-padded back to H x W with (kh-1)//2 rows on top and (kw-1)//2 columns on the left. So
pixel (i, j) gets the mean of the window whose top-left corner is (i - (kh-1)//2, j - (kw-1)//2), shifted
to stay inside the image. Where the window covers the whole image in both directions, the global mean.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import msinet
from msinet.layers import local_mean


def brute_force_local_mean(x: np.ndarray, window) -> np.ndarray:
    """float64 loops over every pixel: the mean of its (clipped, border-shifted) window."""
    h, w = x.shape[-2:]
    wh, ww = window
    if wh >= h and ww >= w:
        return x.mean(axis=(-2, -1), keepdims=True)
    kh, kw = min(h, wh), min(w, ww)
    out = np.empty_like(x)
    for i in range(h):
        r = min(max(i - (kh - 1) // 2, 0), h - kh)
        for j in range(w):
            c = min(max(j - (kw - 1) // 2, 0), w - kw)
            out[..., i, j] = x[..., r : r + kh, c : c + kw].mean(axis=(-2, -1))
    return out


WINDOWS = [(5, 7), (4, 6), (1, 1), (2, 17), (13, 5), (20, 5), (3, 40), (13, 17), (20, 30)]


@pytest.mark.parametrize("window", WINDOWS, ids=[f"{a}x{b}" for a, b in WINDOWS])
def test_matches_brute_force(window):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 13, 17, generator=g, dtype=torch.float64)
    got = local_mean(x, window)
    ref = brute_force_local_mean(x.numpy(), window)
    assert got.shape == ref.shape
    np.testing.assert_allclose(got.numpy(), ref, rtol=0, atol=1e-12)
    # float32: the integral image's cancellation error grows with the image (as in the reference codes)
    got32 = local_mean(x.float(), window).double().numpy()
    np.testing.assert_allclose(got32, ref, rtol=0, atol=1e-5)


def test_fallback_rule():
    x = torch.rand(1, 2, 30, 90)
    # window covers the image in both directions: global mean, (B, C, 1, 1)
    for window in [(30, 90), (45, 135), (100, 90)]:
        out = local_mean(x, window)
        assert out.shape == (1, 2, 1, 1)
        assert torch.equal(out, x.mean((-2, -1), keepdim=True))
    # covers only the rows: the full-height window slides along the columns
    out = local_mean(x, (45, 60))
    assert out.shape == x.shape
    assert torch.allclose(out[..., 0, :], out[..., 29, :])  # every row sees the same window
    assert not torch.allclose(out[..., 0, 0], out[..., 0, 89])
    # a 1x1 window is the identity (in float64: float32 integral images lose small windows' precision)
    assert torch.allclose(local_mean(x.double(), (1, 1)), x.double(), atol=1e-12)


def test_constant_and_large_image_stay_accurate():
    """The integral image must not lose the mean on big, offset inputs (float32 cancellation)."""
    x = torch.full((1, 1, 400, 1200), 7.25)
    assert (local_mean(x, (45, 135)) - 7.25).abs().max() < 1e-3
    g = torch.Generator().manual_seed(1)
    x = 5 + torch.rand(1, 2, 120, 360, generator=g, dtype=torch.float64)
    ref = brute_force_local_mean(x[..., :60, :150].numpy(), (45, 135))
    got = local_mean(x[..., :60, :150].float(), (45, 135)).double().numpy()
    np.testing.assert_allclose(got, ref, atol=1e-4)


def test_model_tlsc_only_at_inference_and_only_on_large_inputs():
    model = msinet.create_model("nafssr_t_x4", num_blocks=2)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():  # non-zero residual scales, so every branch reaches the output
            p.add_(0.2 * torch.randn(p.shape, generator=g))
    model.eval()
    small = torch.rand(1, 3, 30, 90, generator=g), torch.rand(1, 3, 30, 90, generator=g)
    large = torch.rand(1, 3, 60, 160, generator=g), torch.rand(1, 3, 60, 160, generator=g)
    with torch.no_grad():
        small_tlsc, large_tlsc = model(*small), model(*large)
        model.set_tlsc(None)
        small_global, large_global = model(*small), model(*large)
        model.set_tlsc((45, 135))
        model.train()
        large_train = model(*large)
    assert torch.equal(small_tlsc[0], small_global[0])  # smaller than the window: global statistics
    assert (large_tlsc[0] - large_global[0]).abs().max() > 1e-3
    assert torch.equal(large_train[0], large_global[0])  # never in training
    assert model.config["tlsc_window"] == [45, 135]
    with pytest.raises(ValueError, match="tlsc_window"):
        model.set_tlsc((0, 10))


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning", "ignore::FutureWarning")
def test_exports_to_onnx_with_plain_ops(tmp_path, capsys):
    """Export-friendly: cumulative sums, slices and an edge pad; no loops, no data-dependent control flow
    (the fallback branch depends on shapes only and is fixed at export time)."""
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")

    class LocalMean(torch.nn.Module):
        def forward(self, x):
            return local_mean(x, (5, 7))

    x = torch.rand(1, 4, 12, 20)
    path = tmp_path / "local_mean.onnx"
    torch.onnx.export(LocalMean(), (x,), str(path), dynamo=True, verbose=False)
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert "CumSum" in ops and "Pad" in ops and not ops & {"Loop", "If", "Scan"}
    session = ort.InferenceSession(str(path))
    out = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    np.testing.assert_allclose(out, brute_force_local_mean(x.double().numpy(), (5, 7)), atol=2e-6)
