"""`msinet eval` end to end, and the stereo self-ensemble."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import msinet
from msinet.cli.main import main
from msinet.data.imresize import imresize, imresize_torch
from msinet.eval.ensemble import ensemble_forward, transforms

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "stereo"


class LeftBiased(torch.nn.Module):
    """Bicubic that adds 0.1 to whatever it is told is the left view: not symmetric under a view swap."""

    scale = 2

    def forward(self, left, right):
        return imresize_torch(left, 2) + 0.1, imresize_torch(right, 2)


def test_self_ensemble_maps_outputs_back_and_swaps_views():
    left, right = torch.rand(1, 3, 10, 14, dtype=torch.float64), torch.rand(1, 3, 10, 14, dtype=torch.float64)
    up_l, up_r = imresize_torch(left, 2), imresize_torch(right, 2)
    assert len(transforms("x4")) == 4 and len(transforms("x8")) == 8 and len(transforms("off")) == 1
    # half of the x4 transforms swap the views, so the +0.1 lands half on each view
    sl, sr = ensemble_forward(LeftBiased(), left, right, "x4")
    torch.testing.assert_close(sl, up_l + 0.05)
    torch.testing.assert_close(sr, up_r + 0.05)
    sl, sr = ensemble_forward(LeftBiased(), left, right, "off")
    torch.testing.assert_close(sl, up_l + 0.1)
    # MATLAB bicubic is flip/transpose equivariant on a square grid: x8 changes nothing
    model = msinet.create_model("bicubic_x2").double().eval()
    sl, sr = ensemble_forward(model, left, right, "x8")
    torch.testing.assert_close(sl, up_l)
    torch.testing.assert_close(sr, up_r)


def _make_set(root: Path, n=2, size=(40, 96)):
    rng = np.random.default_rng(0)
    for i in range(n):
        base = rng.integers(0, 256, size=(size[0] // 8, size[1] // 8, 3)).astype(np.float64)
        for view in ("hr0", "hr1"):  # smooth images so bicubic scores are meaningful
            hr = np.clip(imresize(base + rng.normal(0, 3, base.shape), 8), 0, 255).astype(np.uint8)
            (root / "hr" / f"scene{i}").mkdir(parents=True, exist_ok=True)
            Image.fromarray(hr).save(root / "hr" / f"scene{i}" / f"{view}.png")


def test_eval_cli_writes_tables_csv_json(tmp_path, capsys):
    _make_set(tmp_path / "data" / "Flickr1024")
    out = tmp_path / "res"
    args = [
        "eval",
        "--model",
        "bicubic_x4",
        "--data",
        str(tmp_path / "data"),
        "--sets",
        "Flickr1024",
        "--protocol",
        "all",
        "--out",
        str(out),
        "--cache-dir",
        str(tmp_path / "cache"),
        "-q",
        "-v",
    ]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "Flickr1024 (x4, 2 pairs" in text and "scene1" in text
    assert "MSINet (2.04M)" in text and "24.03" in text  # the paper's Table 1 row beside ours
    data = json.loads((out / "bicubic_x4_x4.json").read_text())
    mean = data["sets"]["Flickr1024"]["methods"]["bicubic_x4"]["mean"]
    assert set(mean) == set(msinet.metrics.PROTOCOLS)
    # the JSON means equal the metrics recomputed independently from the files
    hr = [
        np.asarray(Image.open(tmp_path / "data" / "Flickr1024" / "hr" / f"scene{i}" / f"hr{v}.png"))
        for i in range(2)
        for v in (0, 1)
    ]

    def bicubic_psnr(padding):  # LR made by the given border rule (the set has no LR files)
        psnrs = []
        for h in hr:
            lr = imresize(h, 1 / 4, padding=padding)
            sr = imresize(lr.astype(np.float64) / 255, 4)
            sr = np.round(np.clip(sr, 0, 1) * 255).astype(np.uint8)
            psnrs.append(msinet.metrics.psnr(sr, h))
        return np.mean(psnrs)

    assert mean["stereo"]["psnr"] == pytest.approx(bicubic_psnr("symmetric"), abs=1e-4)  # the kits' rule
    rows = list(csv.DictReader(open(out / "bicubic_x4_x4.csv")))
    assert {r["image"] for r in rows} == {"scene0", "scene1", "MEAN"}
    # never overwrite without --overwrite; bicubic baseline row present by default for a real model
    assert main(args) == 2
    assert "exists" in capsys.readouterr().err
    # --degradation rcan: LR by edge clamping instead, cached apart from the kit's LR
    assert main(args + ["--degradation", "rcan", "--overwrite"]) == 0
    mean = json.loads((out / "bicubic_x4_x4.json").read_text())["sets"]["Flickr1024"]["methods"]["bicubic_x4"]["mean"]
    assert mean["stereo"]["psnr"] == pytest.approx(bicubic_psnr("replicate"), abs=1e-4)
    assert abs(bicubic_psnr("replicate") - bicubic_psnr("symmetric")) > 1e-3  # the check can tell them apart
    assert main(args + ["--overwrite", "--self-ensemble", "--protocol", "stereo"]) == 0
    text = capsys.readouterr().out
    assert "bicubic_x4 +SEx4" in text and "bicubic_x4 " in text
    assert (out / "bicubic_x4_sex4_x4.json").is_file()


def test_eval_cli_real_pairs_custom_set_with_a_network(tmp_path, capsys):
    if not DATA.is_dir():
        pytest.skip(f"real data not available at {DATA}")
    weights = tmp_path / "tiny.safetensors"
    msinet.save_weights(msinet.create_model("msinet_tiny_x4", num_blocks=2), weights)
    sr_dir = tmp_path / "sr"
    rc = main(
        [
            "eval",
            "--model",
            str(weights),
            "--data",
            str(DATA),
            "--sets",
            "custom",
            "--only",
            "middlebury*quarter",
            "--out",
            str(tmp_path / "res"),
            "--save-sr",
            str(sr_dir),
            "--cache-dir",
            str(tmp_path / "cache"),
            "-q",
        ]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert "tiny " in text and "bicubic_x4" in text and "LR made with MATLAB-exact bicubic" in text
    saved = sorted(p.name for p in (sr_dir / "stereo").iterdir() if p.name != ".msinet-output")
    assert saved == ["middlebury2014_motorcycle_quarter_L.png", "middlebury2014_motorcycle_quarter_R.png"]
    assert (sr_dir / "stereo" / ".msinet-output").is_file()  # msinet's folder: `upscale --input` skips it
    assert Image.open(sr_dir / "stereo" / saved[0]).size == (740, 496)  # HR mod-cropped to a multiple of 4


def test_eval_cli_errors_are_one_line(tmp_path, capsys):
    _make_set(tmp_path / "d" / "KITTI2012", n=1)
    cases = [
        (["--sets", "KITTI2015"], "not found"),
        (["--sets", "KITTI2012", "--protocol", "bogus"], "unknown protocol"),
        (["--sets", "KITTI2012", "--model", "msinet_small_x4", "--scale", "3"], "no x3 variant of 'msinet_small_x4'"),
    ]
    for extra, msg in cases:
        rc = main(
            ["eval", "--model", "bicubic_x4", "--data", str(tmp_path / "d"), "--out", str(tmp_path / "o"), "-q", *extra]
        )
        err = capsys.readouterr().err
        assert rc == 2 and err.startswith("msinet eval: error:") and msg in err, err


def test_eval_save_sr_resumes_with_skip_existing(tmp_path, capsys):
    _make_set(tmp_path / "data" / "Flickr1024")
    out, sr = tmp_path / "res", tmp_path / "sr"
    argv = [
        "eval",
        "--model",
        "bicubic_x4",
        "--data",
        str(tmp_path / "data"),
        "--sets",
        "Flickr1024",
        "--out",
        str(out),
        "--save-sr",
        str(sr),
        "--cache-dir",
        str(tmp_path / "cache"),
        "-q",
        "--no-bicubic",
    ]
    assert main(argv) == 0
    folder = sr / "Flickr1024"
    assert sorted(p.name for p in folder.glob("*.png")) == [
        "scene0_L.png",
        "scene0_R.png",
        "scene1_L.png",
        "scene1_R.png",
    ]
    kept = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.glob("*.png")}
    (out / "bicubic_x4_x4.csv").unlink()  # an interrupted run: no results, one saved image missing
    (out / "bicubic_x4_x4.json").unlink()
    (folder / "scene1_R.png").unlink()
    assert main(argv) == 2  # refused before any work, and told how to resume
    assert "scene0_L.png exists" in capsys.readouterr().err
    assert main([*argv, "--skip-existing"]) == 0
    assert (out / "bicubic_x4_x4.json").is_file() and (folder / "scene1_R.png").read_bytes() == kept["scene1_R.png"][0]
    for name in ("scene0_L.png", "scene0_R.png", "scene1_L.png"):  # existing images untouched
        assert (folder / name).stat().st_mtime_ns == kept[name][1]
    assert not [p for p in folder.iterdir() if p.name.startswith(".") and p.name != ".msinet-output"]
    capsys.readouterr()
    assert main([*argv, "--skip-existing"]) == 0  # everything there: the job is skipped
    assert "skipped (--skip-existing)" in capsys.readouterr().err
