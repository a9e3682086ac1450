"""Models: registry, parameter counts, shapes and scale rules, ablation switches, stochastic depth."""

import pytest
import torch

import msinet
from msinet.layers import DEAM, SCAM
from msinet.registry import get_entry

# x4 counts: MSINet from the paper (2.04M) and the released code (2,042,672); NAFSSR as published
PUBLISHED = {"msinet_x4": 2.04e6, "nafssr_t": 0.46e6, "nafssr_s": 1.56e6, "nafssr_b": 6.80e6, "nafssr_l": 23.83e6}
TOLERANCE = {"msinet_x4": 0.02, "nafssr_t": 0.01, "nafssr_s": 0.01, "nafssr_b": 0.01, "nafssr_l": 0.01}
# NAFSSR x2 counts (0.45/1.54/6.77/23.79M as published, rounded)
PUBLISHED_X2 = {"nafssr_t_x2": 0.45e6, "nafssr_s_x2": 1.54e6, "nafssr_b_x2": 6.77e6, "nafssr_l_x2": 23.79e6}


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def expected_params(cfg: dict) -> int:
    """Independent count from the block structure (see docs/architecture.md)."""
    if cfg["arch"] == "bicubic":
        return 0
    c, s = cfg["channels"], cfg["scale"]
    conv = lambda cin, cout, k=1, groups=1: cin // groups * cout * k + cout  # noqa: E731
    ln = 2 * c
    mixer = ln + conv(c, 2 * c) + conv(2 * c, 2 * c, 9, 2 * c) + conv(c, c) + conv(c, c) + c  # + SCA, project, beta
    if cfg["multiscale"]:
        kernels = cfg["lska_kernels"]
        d = c // len(kernels)
        table = {7: (3, 3), 11: (3, 5), 23: (5, 7), 35: (5, 11), 41: (5, 13), 53: (5, 17)}
        lska = sum(2 * conv(d, d, k0, d) + 2 * conv(d, d, k1, d) + conv(d, d) for k0, k1 in map(table.get, kernels))
        mixer += lska + conv(c, c) + conv(2 * c, c)
    ffn = ln + conv(c, 2 * c) + conv(c, c) + c
    fusion = 0 if cfg["fusion"] == "none" else 2 * ln + 4 * conv(c, c) + 2 * c
    return conv(3, c, 9) + cfg["num_blocks"] * (mixer + ffn + fusion) + conv(c, 3 * s * s, 9)


# the stereo trunk and bicubic; peer architectures (nafrssr, ...) check their counts in tests/test_peer_*.py
TRUNK_MODELS = [n for n in msinet.list_models() if get_entry(n).arch in ("stereo_sr", "bicubic")]


@pytest.mark.parametrize("name", TRUNK_MODELS)
def test_parameter_count_of_every_registered_model(name):
    model = msinet.create_model(name)
    assert n_params(model) == expected_params(model.config)
    key = name.removesuffix("_x4")
    if key in PUBLISHED:
        assert abs(n_params(model) - PUBLISHED[key]) / PUBLISHED[key] < TOLERANCE[key]
    if name in PUBLISHED_X2:  # published to two decimals of a million
        assert round(n_params(model) / 1e6, 2) == PUBLISHED_X2[name] / 1e6


def test_msinet_x4_matches_the_released_count_exactly():
    assert n_params(msinet.create_model("msinet_x4")) == 2_042_672
    assert n_params(msinet.create_model("msinet_x4_released")) == 2_042_672


@pytest.mark.parametrize(
    "name,scale", [("msinet_tiny_x2", 2), ("msinet_tiny_x4", 4), ("nafssr_t_x2", 2), ("bicubic_x3", 3)]
)
@pytest.mark.parametrize("h,w,b", [(7, 13, 1), (10, 31, 2)])
def test_forward_shapes(name, scale, h, w, b):
    model = msinet.create_model(name, **({} if name.startswith("bicubic") else {"num_blocks": 2})).eval()
    assert model.scale == scale
    left, right = torch.rand(b, 3, h, w), torch.rand(b, 3, h, w)
    with torch.no_grad():
        sr_l, sr_r = model(left, right)
    assert sr_l.shape == sr_r.shape == (b, 3, scale * h, scale * w)
    assert torch.isfinite(sr_l).all() and torch.isfinite(sr_r).all()


def test_untrained_network_outputs_the_bilinear_residual():
    # zero-initialised residual scales make every block the identity; the head then adds to bilinear
    model = msinet.create_model("msinet_tiny_x4", num_blocks=2).eval()
    with torch.no_grad():
        model.head[0].weight.zero_()
        model.head[0].bias.zero_()
        left, right = torch.rand(1, 3, 6, 10), torch.rand(1, 3, 6, 10)
        sr_l, sr_r = model(left, right)
    up = torch.nn.functional.interpolate(left, scale_factor=4, mode="bilinear", align_corners=False)
    torch.testing.assert_close(sr_l, up)


def test_batch_items_are_independent():
    model = msinet.create_model("msinet_tiny_x2", num_blocks=2, tlsc_window=None).eval()
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.05)
    left, right = torch.rand(3, 3, 5, 12), torch.rand(3, 3, 5, 12)
    with torch.no_grad():
        full = model(left, right)[0]
        single = torch.cat([model(left[i : i + 1], right[i : i + 1])[0] for i in range(3)])
    torch.testing.assert_close(full, single, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    "row,fusion_cls,multiscale",
    [("none", None, False), ("scam", SCAM, False), ("deam", DEAM, False), ("deam_mscam", DEAM, True)],
)
def test_ablation_switches(row, fusion_cls, multiscale):
    model = msinet.create_model(f"msinet_x4_ablation_{row}", num_blocks=2)
    for block in model.blocks:
        assert (block.fusion is None) if fusion_cls is None else type(block.fusion) is fusion_cls
        assert (block.intra.mixer.msa is not None) == multiscale


def test_create_model_rejects_unknown_names_and_options():
    with pytest.raises(ValueError, match="unknown model 'msinet_x8'"):
        msinet.create_model("msinet_x8")
    with pytest.raises(ValueError, match="unknown option 'blocks'"):
        msinet.create_model("msinet_x4", blocks=3)
    with pytest.raises(ValueError, match="fusion"):
        msinet.create_model("msinet_x4", fusion="softmax")
    with pytest.raises(ValueError, match="scale"):
        msinet.create_model("msinet_x4", scale=5)


def test_old_option_name_width_still_builds_the_same_network(tmp_path):
    """'width' was the channel count's old name: a user passing it is warned and gets the same network; a file
    saved under the old name loads silently; both names at once is an error."""
    with pytest.warns(FutureWarning, match="'width' is now called 'channels'"):
        old = msinet.create_model("msinet_tiny_x4", width=8, num_blocks=1)
    new = msinet.create_model("msinet_tiny_x4", channels=8, num_blocks=1)
    assert old.config == new.config and old.config["channels"] == 8 and "width" not in old.config
    assert [p.shape for p in old.parameters()] == [p.shape for p in new.parameters()]
    with pytest.raises(ValueError, match="give 'channels' only"):
        msinet.create_model("msinet_tiny_x4", width=8, channels=8)

    import json
    import warnings

    from safetensors.torch import save_file

    legacy = {k if k != "channels" else "width": v for k, v in new.config.items()}
    path = tmp_path / "legacy.safetensors"
    save_file(
        {k: v.contiguous() for k, v in new.state_dict().items()},
        str(path),
        metadata={"msinet_config": json.dumps(legacy)},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = msinet.load_model(path)
    assert loaded.config["channels"] == 8
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), new.state_dict().values()))


def test_inputs_are_checked():
    model = msinet.create_model("msinet_tiny_x4", num_blocks=1)
    with pytest.raises(ValueError, match="differ in shape"):
        model(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 9))
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        model(torch.rand(1, 4, 8, 8), torch.rand(1, 4, 8, 8))


def test_stochastic_depth_only_in_training():
    model = msinet.create_model("msinet_tiny_x4", num_blocks=4, drop_path_rate=0.5)
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.05)
    left, right = torch.rand(1, 3, 6, 8), torch.rand(1, 3, 6, 8)
    model.train()
    with torch.no_grad():
        outs = {tuple(model(left, right)[0].flatten()[:4].tolist()) for _ in range(12)}
    assert len(outs) > 1  # different blocks dropped on different calls
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(left, right)[0], model(left, right)[0], rtol=0, atol=0)


def test_transport_plans_are_exposed_on_request():
    model = msinet.create_model("msinet_tiny_x4", num_blocks=2).eval()
    left, right = torch.rand(1, 3, 5, 9), torch.rand(1, 3, 5, 9)
    with torch.no_grad():
        model(left, right)
        assert all(f.last_plan is None for f in model.fusions)
        with model.keep_transport_plans() as deams:
            model(left, right)
    assert len(deams) == 2 and all(d.last_plan.shape == (1, 5, 9, 9) for d in deams)
    assert not any(d.keep_plan for d in deams)


def test_parameter_breakdown_and_models_command(capsys):
    from msinet.cli.main import main
    from msinet.models.summary import parameter_breakdown

    rows = dict(parameter_breakdown(msinet.create_model("msinet_x4")))
    assert rows["total"] == 2_042_672 and rows["fusion (DEAM)"] == 32 * 17_024
    assert main(["models", "nafssr_t", "--breakdown"]) == 0
    assert "460,656" in capsys.readouterr().out
    assert main(["models", "nothing_like_this*"]) == 2
    assert "no registered model matches" in capsys.readouterr().err
