"""The authors' checkpoints (MSINet: xu3385/msinet, NAFSSR: megvii-research/NAFNet) load into our models.

Checkpoints are built here key by key in the authors' BasicSR layout, with random weights, and saved as .pth.
Our loaded model is compared with `reference_forward`, a functional float64 re-implementation of the
reference codes' forward pass written over those foreign keys (it uses none of msinet's modules), at sizes
where the test-time local statistics (TLSC) are active and where they fall back to global pooling.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from model_checks import load_error, save_pth

import msinet
from msinet.cli.main import main as cli_main

# LSKA kernel size -> (small kernel, dilated kernel, dilation), as the authors' LSKA class hard-codes them
LSKA_SHAPES = {7: (3, 3, 2), 11: (3, 5, 2), 23: (5, 7, 3), 35: (5, 11, 3)}
RELEASED_ROUTE = (0, 1, 2, 2)  # the released MultiscaleAttention feeds group 4 to lska3
PAPER_ROUTE = (0, 1, 2, 3)
WINDOW = (45, 135)  # 1.5 x the (30, 90) train_size of both reference codes


# ----------------------------------------------------------------------------------------------------------
# checkpoints in the authors' layout


def _conv(sd, name, cout, cin, kh, kw, g, gain=1.0):
    sd[f"{name}.weight"] = torch.randn(cout, cin, kh, kw, generator=g) * (gain / math.sqrt(cin * kh * kw))
    sd[f"{name}.bias"] = 0.05 * torch.randn(cout, generator=g)


def _norm(sd, name, c, g):
    sd[f"{name}.weight"] = 1 + 0.1 * torch.randn(c, generator=g)
    sd[f"{name}.bias"] = 0.1 * torch.randn(c, generator=g)


def _scale(sd, name, c, g):  # beta / gamma: zeros at init; random here so every branch counts
    sd[name] = 0.5 * torch.randn(1, c, 1, 1, generator=g)


def reference_state(family: str, channels: int, num_blocks: int, scale: int, seed: int = 0, fusion: bool = True):
    """A state dict with the keys and shapes of the authors' MSINetSSR ('msinet') or NAFSSR ('nafssr')."""
    g = torch.Generator().manual_seed(seed)
    c = channels
    sd = OrderedDict()
    _conv(sd, "intro", c, 3, 3, 3, g)
    for i in range(num_blocks):
        b = f"body.{i}.module.blk."
        _conv(sd, b + "conv1", 2 * c, c, 1, 1, g)
        _conv(sd, b + "conv2", 2 * c, 1, 3, 3, g)
        _conv(sd, b + "conv3", c, c, 1, 1, g)
        _conv(sd, b + "sca.1", c, c, 1, 1, g)
        if family == "msinet":
            for n, k in enumerate((7, 11, 23, 35), start=1):
                k0, k1, _ = LSKA_SHAPES[k]
                q = c // 4
                _conv(sd, f"{b}msattn.lska{n}.conv0h", q, 1, 1, k0, g)
                _conv(sd, f"{b}msattn.lska{n}.conv0v", q, 1, k0, 1, g)
                _conv(sd, f"{b}msattn.lska{n}.conv_spatial_h", q, 1, 1, k1, g)
                _conv(sd, f"{b}msattn.lska{n}.conv_spatial_v", q, 1, k1, 1, g)
                _conv(sd, f"{b}msattn.lska{n}.conv1", q, q, 1, 1, g)
            _conv(sd, b + "msattn.conv", c, c, 1, 1, g)
            _conv(sd, b + "convconcat", c, 2 * c, 1, 1, g)
        _conv(sd, b + "conv4", 2 * c, c, 1, 1, g)
        _conv(sd, b + "conv5", c, c, 1, 1, g)
        _norm(sd, b + "norm1", c, g)
        _norm(sd, b + "norm2", c, g)
        _scale(sd, b + "beta", c, g)
        _scale(sd, b + "gamma", c, g)
        if fusion:
            f = f"body.{i}.module.fusion."
            _norm(sd, f + "norm_l", c, g)
            _norm(sd, f + "norm_r", c, g)
            for name in ("l_proj1", "r_proj1", "l_proj2", "r_proj2"):
                _conv(sd, f + name, c, c, 1, 1, g)
            _scale(sd, f + "beta", c, g)
            _scale(sd, f + "gamma", c, g)
    _conv(sd, "up.0", 3 * scale**2, c, 3, 3, g)
    return sd


# ----------------------------------------------------------------------------------------------------------
# the reference forward pass, written with torch.nn.functional over the foreign keys


def f_conv(x, sd, name, padding=0, dilation=1, groups=1):
    return F.conv2d(x, sd[name + ".weight"], sd[name + ".bias"], padding=padding, dilation=dilation, groups=groups)


def f_layernorm(x, sd, name, eps=1e-6):
    mu = x.mean(1, keepdim=True)
    var = (x - mu).pow(2).mean(1, keepdim=True)
    y = (x - mu) / (var + eps).sqrt()
    return sd[name + ".weight"].view(1, -1, 1, 1) * y + sd[name + ".bias"].view(1, -1, 1, 1)


def f_gate(x):
    a, b = x.chunk(2, dim=1)
    return a * b


def f_pool(x, window):
    """Global average pool, or the TLSC box mean: integral image, valid windows, replicate-padded back."""
    h, w = x.shape[-2:]
    if window is None or (window[0] >= h and window[1] >= w):
        return x.mean((-2, -1), keepdim=True)
    kh, kw = min(h, window[0]), min(w, window[1])
    s = F.pad(x.cumsum(-1).cumsum(-2), (1, 0, 1, 0))
    box = (s[..., kh:, kw:] + s[..., :-kh, :-kw] - s[..., :-kh, kw:] - s[..., kh:, :-kw]) / (kh * kw)
    bh, bw = box.shape[-2:]
    return F.pad(box, ((w - bw) // 2, (w - bw + 1) // 2, (h - bh) // 2, (h - bh + 1) // 2), mode="replicate")


def f_lska_map(x, sd, name, k):
    k0, k1, d = LSKA_SHAPES[k]
    q = x.shape[1]
    x = f_conv(x, sd, name + ".conv0h", padding=(0, (k0 - 1) // 2), groups=q)
    x = f_conv(x, sd, name + ".conv0v", padding=((k0 - 1) // 2, 0), groups=q)
    x = f_conv(x, sd, name + ".conv_spatial_h", padding=(0, d * (k1 - 1) // 2), dilation=d, groups=q)
    x = f_conv(x, sd, name + ".conv_spatial_v", padding=(d * (k1 - 1) // 2, 0), dilation=d, groups=q)
    return f_conv(x, sd, name + ".conv1")


def f_intra(x, sd, p, family, window, route):
    c = x.shape[1]
    y = f_gate(f_conv(f_conv(f_layernorm(x, sd, p + "norm1"), sd, p + "conv1"), sd, p + "conv2", 1, groups=2 * c))
    attended = y * f_conv(f_pool(y, window), sd, p + "sca.1")
    if family == "msinet":
        kernels = (7, 11, 23, 35)
        groups = y.chunk(4, dim=1)
        maps = [f_lska_map(grp, sd, f"{p}msattn.lska{route[i] + 1}", kernels[route[i]]) for i, grp in enumerate(groups)]
        multi = f_conv(torch.cat(maps, 1), sd, p + "msattn.conv") * y
        attended = f_conv(torch.cat([attended, multi], 1), sd, p + "convconcat")
    y = x + f_conv(attended, sd, p + "conv3") * sd[p + "beta"]
    z = f_conv(f_gate(f_conv(f_layernorm(y, sd, p + "norm2"), sd, p + "conv4")), sd, p + "conv5")
    return y + z * sd[p + "gamma"]


def f_sinkhorn(a, iters=10):
    """Log-domain Sinkhorn of the released DEAM: marginals 1/(2W), column potential v first, plan x 2W."""
    w = a.shape[-1]
    # constants rounded in the working dtype, as the reference computes them
    log_m = (torch.ones((), dtype=a.dtype) / (2 * w)).log()
    log_2w = torch.tensor(2.0 * w, dtype=a.dtype).log()
    u = torch.zeros(a.shape[:-1], dtype=a.dtype)
    v = torch.zeros(a.shape[:-1], dtype=a.dtype)
    for _ in range(iters):
        v = log_m - torch.logsumexp(a + u[..., :, None], dim=-2)
        u = log_m - torch.logsumexp(a + v[..., None, :], dim=-1)
    return (a + u[..., :, None] + v[..., None, :] + log_2w).exp()


def f_cross(x_l, x_r, sd, p, family):
    c = x_l.shape[1]
    q_l = f_conv(f_layernorm(x_l, sd, p + "norm_l"), sd, p + "l_proj1").permute(0, 2, 3, 1)  # B,H,W,C
    q_r = f_conv(f_layernorm(x_r, sd, p + "norm_r"), sd, p + "r_proj1").permute(0, 2, 1, 3)  # B,H,C,W
    v_l = f_conv(x_l, sd, p + "l_proj2").permute(0, 2, 3, 1).contiguous()
    v_r = f_conv(x_r, sd, p + "r_proj2").permute(0, 2, 3, 1).contiguous()
    a = q_l.contiguous() @ q_r.contiguous() * c**-0.5  # B,H,W_left,W_right
    if family == "msinet":
        r2l = f_sinkhorn(a)
        l2r = r2l.transpose(-1, -2).contiguous()
    else:
        r2l, l2r = a.softmax(-1), a.transpose(-1, -2).softmax(-1)
    f_r2l = (r2l @ v_r).permute(0, 3, 1, 2) * sd[p + "beta"]
    f_l2r = (l2r @ v_l).permute(0, 3, 1, 2) * sd[p + "gamma"]
    return x_l + f_r2l, x_r + f_l2r


def reference_forward(sd, left, right, family, window=WINDOW, route=RELEASED_ROUTE):
    """(B,3,h,w) views -> (sr_left, sr_right), computed in the dtype of the inputs."""
    sd = {k: v.to(left.dtype) for k, v in sd.items()}
    scale = math.isqrt(sd["up.0.weight"].shape[0] // 3)
    n = 1 + max(int(k.split(".")[1]) for k in sd if k.startswith("body."))
    x = torch.cat([left, right], 1)  # the reference takes the pair as one (B,6,h,w) tensor
    base = F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False)
    feats = [f_conv(v, sd, "intro", 1) for v in x.chunk(2, 1)]
    for i in range(n):
        feats = [f_intra(f, sd, f"body.{i}.module.blk.", family, window, route) for f in feats]
        if f"body.{i}.module.fusion.beta" in sd:
            feats = list(f_cross(*feats, sd, f"body.{i}.module.fusion.", family))
    out = torch.cat([F.pixel_shuffle(f_conv(f, sd, "up.0", 1), scale) for f in feats], 1) + base
    return out[:, :3], out[:, 3:]


# ----------------------------------------------------------------------------------------------------------


def pair(h, w, seed=1, batch=1):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 3, h, w, generator=g), torch.rand(batch, 3, h, w, generator=g)


def max_diff(ours, ref):
    return max((a.double() - b.double()).abs().max().item() for a, b in zip(ours, ref))


@pytest.mark.parametrize("family,scale", [("msinet", 4), ("nafssr", 4), ("nafssr", 2), ("msinet", 2)])
@pytest.mark.parametrize("size", [(60, 160), (30, 90), (40, 200)], ids=["tlsc", "global", "tlsc_rows_clipped"])
def test_loaded_model_matches_reference_forward(tmp_path, family, scale, size):
    sd = reference_state(family, channels=16, num_blocks=2, scale=scale)
    model = msinet.load_model(save_pth(tmp_path, {"params": sd}))
    left, right = pair(*size)
    with torch.no_grad():
        ours = model(left, right)
    ref = reference_forward(sd, left.double(), right.double(), family)
    assert ours[0].shape == (1, 3, scale * size[0], scale * size[1])
    assert max_diff(ours, ref) < 1e-5


def test_tlsc_and_released_routing_change_the_output(tmp_path):
    """The two switches the comparison above depends on are really exercised by it."""
    sd = reference_state("msinet", channels=16, num_blocks=2, scale=4)
    path = save_pth(tmp_path, {"params": sd})
    left, right = pair(60, 160)
    with torch.no_grad():
        released = msinet.load_model(path)(left, right)
        no_tlsc = msinet.load_model(path, tlsc_window=None)(left, right)
        paper = msinet.load_model(path, lska_branch_of_group=None)(left, right)
    assert max_diff(released, no_tlsc) > 1e-3
    assert max_diff(released, paper) > 1e-3
    # and each variant is the reference with the corresponding change
    x = left.double(), right.double()
    assert max_diff(no_tlsc, reference_forward(sd, *x, "msinet", window=None)) < 1e-5
    assert max_diff(paper, reference_forward(sd, *x, "msinet", route=PAPER_ROUTE)) < 1e-5


def test_real_pair_matches_reference(tmp_path, shared_data):
    from PIL import Image

    folder = shared_data / "stereo" / "kitti2015_000046"
    views = [
        torch.from_numpy(np.asarray(Image.open(folder / f"{v}.png").convert("RGB"), dtype=np.float32) / 255)
        for v in ("left", "right")
    ]
    left, right = (v.permute(2, 0, 1)[None, :, 100:164, 300:500].contiguous() for v in views)  # (1,3,64,200)
    sd = reference_state("msinet", channels=16, num_blocks=3, scale=4, seed=5)
    with torch.no_grad():
        ours = msinet.load_model(save_pth(tmp_path, {"params_ema": sd}))(left, right)
    assert max_diff(ours, reference_forward(sd, left.double(), right.double(), "msinet")) < 1e-5


def test_training_mode_uses_global_pooling(tmp_path):
    """The reference converts pooling for inference; in training our model keeps the global statistics."""
    sd = reference_state("nafssr", channels=16, num_blocks=2, scale=4)
    model = msinet.load_model(save_pth(tmp_path, {"params": sd}), drop_path_rate=0.0).train()
    left, right = pair(60, 160)
    with torch.no_grad():
        ours = model(left, right)
    assert max_diff(ours, reference_forward(sd, left.double(), right.double(), "nafssr", window=None)) < 1e-5


# ----------------------------------------------------------------------------------------------------------
# recognising the checkpoint


@pytest.mark.parametrize(
    "family,channels,blocks,scale,name,params",
    [
        ("msinet", 64, 32, 4, "msinet_x4_released", 2_042_672),
        ("msinet", 64, 32, 2, "msinet_x2_released", None),
        ("nafssr", 48, 16, 4, "nafssr_t_x4", 460_656),
        ("nafssr", 64, 32, 2, "nafssr_s_x2", None),
        ("nafssr", 96, 64, 4, "nafssr_b_x4", None),
    ],
)
def test_infers_published_models(tmp_path, family, channels, blocks, scale, name, params):
    sd = reference_state(family, channels, blocks, scale)
    model = msinet.load_model(save_pth(tmp_path, {"params": sd}))
    cfg = model.config
    assert (cfg["channels"], cfg["num_blocks"], cfg["scale"], model.scale) == (channels, blocks, scale, scale)
    assert cfg["fusion"] == ("deam" if family == "msinet" else "scam")
    assert cfg["multiscale"] == (family == "msinet")
    assert cfg["tlsc_window"] == list(WINDOW)
    assert model.model_name == name
    published = msinet.create_model(name).config
    # same architecture and drop-path rate as the registered model; MSINet keeps the reference's Sinkhorn rounding
    assert cfg.pop("sinkhorn_method") == ("log" if family == "msinet" else "auto")
    assert cfg.pop("stack_views") is False  # one view at a time, as the reference codes run
    assert cfg == {k: v for k, v in published.items() if k not in ("sinkhorn_method", "stack_views")}
    assert not model.training
    n = sum(p.numel() for p in model.parameters())
    assert n == sum(v.numel() for v in sd.values())
    if params is not None:
        assert n == params
    if family == "msinet":
        assert cfg["lska_branch_of_group"] == list(RELEASED_ROUTE)
        assert cfg["lska_kernels"] == [7, 11, 23, 35]


def test_checkpoint_without_fusion_and_fusion_override(tmp_path):
    sd = reference_state("nafssr", channels=16, num_blocks=2, scale=4, fusion=False)
    path = save_pth(tmp_path, sd)
    assert msinet.load_model(path).config["fusion"] == "none"
    sd = reference_state("nafssr", channels=16, num_blocks=2, scale=4)
    path = save_pth(tmp_path, {"params": sd})
    model = msinet.load_model(path, fusion="deam")  # e.g. the paper's NAFBlock + DEAM ablation
    assert (
        model.config["fusion"] == "deam" and model.model_name == path.stem
    )  # not a published network: the file's name
    left, right = pair(30, 90)
    with torch.no_grad():
        ours = model(left, right)
    assert max_diff(ours, reference_forward(sd, left.double(), right.double(), "nafssr")) > 1e-3  # not SCAM
    # the NAFBlock + DEAM model is the reference with DEAM in place of SCAM
    ref = _nafblock_with_deam(sd, left.double(), right.double())
    assert max_diff(ours, ref) < 1e-5


def _nafblock_with_deam(sd, left, right):
    sd = {k: v.double() for k, v in sd.items()}
    x = torch.cat([left, right], 1)
    base = F.interpolate(x, scale_factor=4, mode="bilinear", align_corners=False)
    feats = [f_conv(v, sd, "intro", 1) for v in x.chunk(2, 1)]
    for i in range(2):
        feats = [f_intra(f, sd, f"body.{i}.module.blk.", "nafssr", None, None) for f in feats]
        feats = list(f_cross(*feats, sd, f"body.{i}.module.fusion.", "msinet"))
    out = torch.cat([F.pixel_shuffle(f_conv(f, sd, "up.0", 1), 4) for f in feats], 1) + base
    return out[:, :3], out[:, 3:]


def test_wrappers_and_prefixes_give_identical_models(tmp_path):
    sd = reference_state("msinet", channels=16, num_blocks=2, scale=4)
    other = reference_state("msinet", channels=16, num_blocks=2, scale=4, seed=9)
    prefixed = OrderedDict(("module." + k, v) for k, v in sd.items())
    variants = {
        "params": {"params": sd},
        "ema_preferred": {"params": other, "params_ema": sd},
        "bare": sd,
        "state_dict": {"state_dict": sd, "iter": torch.tensor(3)},
        "dataparallel": {"params": prefixed},
    }
    left, right = pair(30, 90)
    outs = {}
    for name, obj in variants.items():
        with torch.no_grad():
            outs[name] = msinet.load_model(save_pth(tmp_path, obj, f"{name}.pth"))(left, right)
    for name, out in outs.items():
        assert torch.equal(out[0], outs["params"][0]) and torch.equal(out[1], outs["params"][1]), name
    with torch.no_grad():
        from_other = msinet.load_model(save_pth(tmp_path, {"params": other}, "other.pth"))(left, right)
    assert not torch.equal(from_other[0], outs["params"][0])


# ----------------------------------------------------------------------------------------------------------
# refusals: one line naming the problem


def test_unplaceable_missing_and_misshaped_keys_are_named(tmp_path):
    sd = reference_state("msinet", channels=16, num_blocks=2, scale=4)
    extra = OrderedDict(sd)
    extra["body.1.module.blk.mixer.weight"] = torch.zeros(3)
    assert "'body.1.module.blk.mixer.weight'" in load_error(save_pth(tmp_path, {"params": extra}, "a.pth"))
    missing = OrderedDict(sd)
    del missing["body.1.module.blk.msattn.lska4.conv_spatial_v.bias"]
    assert "'body.1.module.blk.msattn.lska4.conv_spatial_v.bias'" in load_error(save_pth(tmp_path, missing, "b.pth"))
    wrong = OrderedDict(sd)
    wrong["body.0.module.fusion.l_proj2.weight"] = torch.zeros(16, 8, 1, 1)
    message = load_error(save_pth(tmp_path, wrong, "c.pth"))
    assert "'body.0.module.fusion.l_proj2.weight'" in message and "(16, 8, 1, 1)" in message


def test_structural_problems(tmp_path):
    sd = reference_state("msinet", channels=16, num_blocks=3, scale=4)
    partial = OrderedDict((k, v) for k, v in sd.items() if not k.startswith("body.2.module.fusion."))
    assert "fusion in 2 of 3 blocks" in load_error(save_pth(tmp_path, partial, "p.pth"))
    gap = OrderedDict((k, v) for k, v in sd.items() if not k.startswith("body.1."))
    assert "block 1 of 3" in load_error(save_pth(tmp_path, gap, "g.pth"))
    odd_scale = OrderedDict(sd)
    odd_scale["up.0.weight"] = torch.zeros(3 * 25, 16, 3, 3)
    assert "'up.0.weight'" in load_error(save_pth(tmp_path, odd_scale, "s.pth"))
    sr_net = {"params": {"conv_first.weight": torch.zeros(64, 3, 3, 3)}}
    message = load_error(save_pth(tmp_path, sr_net, "x.pth"))
    assert "not a checkpoint of a known family (first key 'conv_first.weight'" in message
    assert "unknown option 'windw'" in load_error(save_pth(tmp_path, {"params": sd}, "o.pth"), windw=3)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_unreadable_files(tmp_path):
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"\x80\x04not really a checkpoint" * 10)
    assert "damaged or incomplete PyTorch checkpoint" in load_error(garbage)  # a pickle, cut short
    truncated = tmp_path / "truncated.pth"
    full = save_pth(tmp_path, {"params": reference_state("nafssr", 16, 2, 4)}, "full.pth")
    for cut in (5000, 300, len(full.read_bytes()) - 100):
        truncated.write_bytes(full.read_bytes()[:cut])
        message = load_error(truncated)
        assert "damaged or incomplete PyTorch checkpoint" in message and "download or copy" in message, message
        assert "miniz" not in message and "PytorchStreamReader" not in message and "Errno" not in message
    random = tmp_path / "random.pth"
    random.write_bytes(np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes())
    text = tmp_path / "text.pth"
    text.write_text("hello world\n" * 20)
    for other in (random, text):  # neither "Python objects" nor "(pop from empty list)": what the file is not
        assert "not a PyTorch checkpoint: the file is neither" in load_error(other)
    import argparse

    objects = tmp_path / "objects.pth"
    torch.save({"params": {"x": torch.zeros(1)}, "args": argparse.Namespace(lr=1)}, objects)
    assert "holds Python objects besides tensors" in load_error(objects)
    assert "not a tensor" in load_error(save_pth(tmp_path, {"params": {"intro.weight": 3}}, "int.pth"))
    assert "holds a list" in load_error(save_pth(tmp_path, [torch.zeros(1)], "list.pth"))
    with pytest.raises(FileNotFoundError, match="absent.pth"):
        msinet.load_model(tmp_path / "absent.pth")


# ----------------------------------------------------------------------------------------------------------
# msinet convert


def test_convert_cli_round_trip(tmp_path, capsys):
    sd = reference_state("msinet", channels=16, num_blocks=2, scale=2)
    src = save_pth(tmp_path, {"params": sd})
    dst = tmp_path / "out" / "model.safetensors"
    assert cli_main(["convert", str(src), str(dst)]) == 0
    assert "x2, 16 channels, 2 blocks, DEAM" in capsys.readouterr().out
    left, right = pair(60, 160)
    with torch.no_grad():
        a = msinet.load_model(src)(left, right)
        b = msinet.load_model(dst)(left, right)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert msinet.load_model(dst).config == msinet.load_model(src).config
    before = dst.read_bytes()
    assert cli_main(["convert", str(src), str(dst)]) == 2
    assert "exists" in capsys.readouterr().err and dst.read_bytes() == before
    assert cli_main(["convert", str(src), str(dst), "--overwrite"]) == 0
    assert cli_main(["convert", str(tmp_path / "nope.pth"), str(tmp_path / "n.safetensors")]) == 2
    assert "nope.pth" in capsys.readouterr().err
    assert cli_main(["convert", str(src), str(tmp_path / "bad.pth")]) == 2
    assert ".safetensors" in capsys.readouterr().err


def test_float32_agrees_with_the_reference_rounding(tmp_path):
    """Run in float32 like the authors' code (views separately, log-domain Sinkhorn), our loaded model
    reproduces it to about one float32 ulp of the output, far inside the 1e-5 promised.

    One thread: with several, the BLAS may split reductions differently from call to call, and these random
    weights amplify a last-bit difference to ~1e-3 at the output (the reference is just as sensitive)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _float32_agreement(tmp_path)
    finally:
        torch.set_num_threads(threads)


def _float32_agreement(tmp_path):
    sd = reference_state("msinet", channels=32, num_blocks=4, scale=4, seed=2)
    model = msinet.load_model(save_pth(tmp_path, {"params": sd}))
    for size in [(30, 90), (60, 160)]:
        left, right = pair(*size, seed=3)
        with torch.no_grad():
            ours = model(left, right)
        assert max_diff(ours, reference_forward(sd, left, right, "msinet")) < 1e-6


def test_eval_cli_scores_an_authors_checkpoint(tmp_path, shared_data):
    """`msinet eval --model X.pth` on a real pair in the iPASSR/NAFSSR test layout. The checkpoint's head is
    zero, so the network outputs exactly its bilinear global residual: the PSNR is checked against
    bilinear upsampling scored here with plain numpy."""
    import json

    from PIL import Image

    src = shared_data / "stereo" / "kitti2015_000046"
    scene = "scene_000046"
    hrs, lrs = [], []
    for n, view in enumerate(("left", "right")):
        hr = Image.open(src / f"{view}.png").convert("RGB").crop((400, 100, 720, 220))  # 320x120
        lr = hr.resize((80, 30), Image.BICUBIC)
        for kind, img, name in (("hr", hr, f"hr{n}"), ("lr_x4", lr, f"lr{n}")):
            (tmp_path / "test" / "KITTI2015" / kind / scene).mkdir(parents=True, exist_ok=True)
            img.save(tmp_path / "test" / "KITTI2015" / kind / scene / f"{name}.png")
        hrs.append(np.asarray(hr, dtype=np.float64))
        lrs.append(torch.from_numpy(np.asarray(lr, dtype=np.float32) / 255).permute(2, 0, 1)[None])
    sd = reference_state("nafssr", channels=16, num_blocks=2, scale=4)
    sd["up.0.weight"].zero_()
    sd["up.0.bias"].zero_()
    ckpt = save_pth(tmp_path, {"params": sd}, "NAFSSR-zero_4x.pth")
    out = tmp_path / "results"
    assert (
        cli_main(
            [
                "eval",
                "--model",
                str(ckpt),
                "--data",
                str(tmp_path),
                "--sets",
                "KITTI2015",
                "--scale",
                "4",
                "--no-bicubic",
                "-q",
                "--no-cache",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    got = json.loads((out / "NAFSSR-zero_4x_x4.json").read_text())["sets"]["KITTI2015"]["methods"]
    psnr = got["NAFSSR-zero_4x"]["mean"]["stereo"]["psnr"]

    def expected_psnr(lr, hr):
        sr = F.interpolate(lr.double(), scale_factor=4, mode="bilinear", align_corners=False)
        sr = np.round(sr[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255)
        return 10 * np.log10(255**2 / np.mean((sr - hr) ** 2))

    assert psnr == pytest.approx((expected_psnr(lrs[0], hrs[0]) + expected_psnr(lrs[1], hrs[1])) / 2, abs=1e-3)


def test_convert_options_change_the_saved_config(tmp_path, capsys):
    src = save_pth(tmp_path, {"params": reference_state("msinet", channels=16, num_blocks=2, scale=4)})
    dst = tmp_path / "paper.safetensors"
    assert cli_main(["convert", str(src), str(dst), "--paper-lska", "--no-tlsc"]) == 0
    cfg = msinet.load_model(dst).config
    assert cfg["lska_branch_of_group"] is None and cfg["tlsc_window"] is None
    left, right = pair(60, 160)
    with torch.no_grad():
        ours = msinet.load_model(dst)(left, right)
    ref = reference_forward(
        reference_state("msinet", 16, 2, 4), left.double(), right.double(), "msinet", window=None, route=PAPER_ROUTE
    )
    assert max_diff(ours, ref) < 1e-5
    naf = save_pth(tmp_path, {"params": reference_state("nafssr", 16, 2, 4)}, "naf.pth")
    assert cli_main(["convert", str(naf), str(tmp_path / "n.safetensors"), "--paper-lska"]) == 2
    assert "--paper-lska applies to MSINet" in capsys.readouterr().err
    assert not (tmp_path / "n.safetensors").exists()
