"""Export: ONNX with dynamic height/width matches PyTorch in onnxruntime on real image crops (TLSC and DEAM
Sinkhorn on), the .pt2 program runs, and the CLI writes what it says and refuses what it should."""

from pathlib import Path

import numpy as np
import pytest
import torch

import msinet
from msinet.cli.main import main
from msinet.files import umask_mode

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "stereo"
PAIR = DATA / "middlebury2014_motorcycle_quarter"


def _real_pair():
    if not (PAIR / "left.png").is_file():
        pytest.skip(f"real stereo data not found at {PAIR}")
    from msinet.data.image_io import load_pair, to_tensor

    left, right = load_pair(PAIR / "left.png", PAIR / "right.png")
    return to_tensor(left), to_tensor(right)  # (1,3,497,741) in [0,1]


def _crop(x, top, left, h, w):
    return x[..., top : top + h, left : left + w].contiguous()


WINDOW = (12, 36)  # TLSC window small enough that crops of a few dozen pixels straddle it


def _busy_model(num_blocks=2, seed=0):
    """A tiny MSINet whose zero-initialised residual and fusion scales are drawn at random and whose DEAM
    queries are sharpened, so that every branch (MSCAM with TLSC, SFFN, DEAM's Sinkhorn) changes the output."""
    torch.manual_seed(seed)
    model = msinet.create_model("msinet_tiny_x4", num_blocks=num_blocks, tlsc_window=WINDOW).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("beta", "gamma", "scale_l", "scale_r")):
                p.normal_(0.0, 0.5)
            if ".query_" in name:
                p.mul_(8.0)
    return model


@pytest.mark.slow
def test_onnx_matches_pytorch_on_real_crops_at_several_sizes(tmp_path):
    from msinet.export import export_onnx, export_program, minimum_size, run_onnx

    model = _busy_model()
    left, right = _real_pair()
    # sizes around the TLSC window: above it in both dimensions (the traced case), below it in both (PyTorch
    # takes its global-mean branch there, the graph its box mean: they must agree), and mixed
    sizes = [(16, 44), (40, 120), (10, 30), (9, 60), (30, 20)]
    crops = [(_crop(left, 200, 300, h, w), _crop(right, 200, 300, h, w)) for h, w in sizes]

    with torch.no_grad():
        ref = [model(lc, rc) for lc, rc in crops]
        model.set_tlsc(None)
        no_tlsc = model(*crops[1])[0]
        model.set_tlsc(WINDOW)
    assert (no_tlsc - ref[1][0]).abs().max() > 1e-3  # TLSC really is part of what is exported

    program = export_program(model)
    result = export_onnx(model, tmp_path / "m.onnx", program=program)
    assert result.max_abs_diff is not None and result.max_abs_diff < 1e-4
    assert result.sinkhorn_iters == 10

    proto = onnx.load(str(tmp_path / "m.onnx"))
    dims = [
        [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
        for v in list(proto.graph.input) + list(proto.graph.output)
    ]
    assert [v.name for v in proto.graph.input] == ["left", "right"]
    assert [v.name for v in proto.graph.output] == ["sr_left", "sr_right"]
    assert dims == [[1, 3, "height", "width"]] * 2 + [[1, 3, "4*height", "4*width"]] * 2
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["msinet.scale"] == "4" and meta["msinet.sinkhorn_iters"] == "10"
    assert meta["msinet.tlsc_window"] == "12x36"

    for (lc, rc), (sr_l, sr_r), (h, w) in zip(crops, ref, sizes):
        got_l, got_r = run_onnx(tmp_path / "m.onnx", lc.numpy(), rc.numpy())
        assert got_l.shape == (1, 3, 4 * h, 4 * w)
        np.testing.assert_allclose(got_l, sr_l.numpy(), atol=1e-4, rtol=0)
        np.testing.assert_allclose(got_r, sr_r.numpy(), atol=1e-4, rtol=0)

    # the same program saved as .pt2 runs in PyTorch at another size (above its recorded minimum height)
    assert minimum_size(program[0])[0] == WINDOW[0] + 1
    torch.export.save(program[0], tmp_path / "m.pt2")
    loaded = torch.export.load(tmp_path / "m.pt2").module()
    with torch.no_grad():
        out_l, out_r = loaded(*crops[1])
    torch.testing.assert_close(out_l, ref[1][0], atol=1e-4, rtol=0)
    torch.testing.assert_close(out_r, ref[1][1], atol=1e-4, rtol=0)


def test_sinkhorn_iteration_override_is_baked_in_and_restored():
    from msinet.export.program import export_settings
    from msinet.layers import DEAM

    model = _busy_model(num_blocks=1)
    deam = next(m for m in model.modules() if isinstance(m, DEAM))
    left, right = torch.rand(1, 3, 12, 20), torch.rand(1, 3, 12, 20)
    with torch.no_grad():
        base = model(left, right)[0]
        with export_settings(model, sinkhorn_iters=2):
            assert deam.sinkhorn_iters == 2 and deam.sinkhorn_method == "log"
            two = model(left, right)[0]
        assert deam.sinkhorn_iters == 10 and deam.sinkhorn_method == "auto"
        again = model(left, right)[0]
    assert (two - base).abs().max() > 1e-6  # the iteration count matters, so baking it in means something
    torch.testing.assert_close(again, base, atol=0, rtol=0)
    with pytest.raises(ValueError, match="sinkhorn_iters"):
        with export_settings(model, sinkhorn_iters=0):
            pass


@pytest.mark.slow
def test_cli_export_static_from_weights_file(tmp_path, capsys):
    from msinet.export import run_onnx

    weights = tmp_path / "tiny.safetensors"
    msinet.save_weights(_busy_model(num_blocks=1), weights)
    out = tmp_path / "tiny.onnx"
    assert (
        main(["export", "--model", str(weights), "--onnx", str(out), "--static", "--height", "24", "--width", "40"])
        == 0
    )
    text = capsys.readouterr().out
    assert "max |diff|" in text and str(out) in text
    assert out.stat().st_mode & 0o777 == umask_mode() == weights.stat().st_mode & 0o777  # one mode for every kind
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left
    proto = onnx.load(str(out))
    assert [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim] == [1, 3, 24, 40]

    left, right = _real_pair()
    lc, rc = _crop(left, 100, 100, 24, 40), _crop(right, 100, 100, 24, 40)
    model = msinet.load_model(weights)
    with torch.no_grad():
        ref_l, _ = model(lc, rc)
    got_l, _ = run_onnx(out, lc.numpy(), rc.numpy())
    np.testing.assert_allclose(got_l, ref_l.numpy(), atol=1e-4, rtol=0)

    # never replaces a file without --overwrite
    assert (
        main(["export", "--model", str(weights), "--onnx", str(out), "--static", "--height", "24", "--width", "40"])
        == 2
    )
    assert "exists" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["export", "--model", "msinet_tiny_x4"], "nothing to write"),
        (["export", "--model", "msinet_tiny_x4", "--onnx", "out.txt"], "should end in .onnx"),
        (["export", "--model", "msinet_tiny_x4", "--onnx", "a.onnx", "--height", "30"], "both --height and --width"),
        (["export", "--model", "msinet_tiny_x4", "--onnx", "a.onnx", "--static"], "--static needs"),
        (["export", "--model", "no_such_model", "--onnx", "a.onnx"], "neither a registered model"),
    ],
)
def test_cli_export_bad_input_is_one_line_error(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("msinet export: error:") and message in err and len(err.splitlines()) == 1


def test_size_bound_model_gets_a_clear_error_not_a_wrong_graph(tmp_path):
    """bicubic_x4 builds its resize matrices for one size: a dynamic export must refuse, naming the way out."""
    from msinet.export import export_onnx

    with pytest.raises(ValueError, match="--static"):
        export_onnx(msinet.load_model("bicubic_x4"), tmp_path / "b.onnx")
    assert not (tmp_path / "b.onnx").exists()


def test_a_graph_that_differs_from_pytorch_never_lands(tmp_path, monkeypatch):
    """The check runs before the file takes its name: a wrong graph is an error and nothing is written."""
    from msinet.export import onnx as exporter

    model = _busy_model(num_blocks=1)
    monkeypatch.setattr(exporter, "verify_onnx", lambda *a, **k: 0.25)
    with pytest.raises(ValueError, match="differs from PyTorch by 0.25.*nothing written"):
        exporter.export_onnx(model, tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["cvhssr_t_x4", "nafrssr_t_x4"])
def test_peers_export_to_onnx_equal_to_eager(tmp_path, shared_peers, name):
    """On the real sample pair; CVHSSR's features reach ~1e3 on uniform noise, so the sample is a real crop."""
    from msinet.export import export_onnx

    model = msinet.load_model(shared_peers / f"{name}.pth")
    result = export_onnx(model, tmp_path / f"{name}.onnx", sample_size=(24, 60))
    assert result.max_abs_diff is not None and result.max_abs_diff < 1e-4, result.max_abs_diff
