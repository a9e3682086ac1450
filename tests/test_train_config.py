"""Training configs: schema, dotted overrides, validation that names the key; CLI errors; patch dataset."""

from pathlib import Path

import numpy as np
import pytest
import torch
from train_utils import tiny_config, write_synthetic_pairs

from msinet.cli.main import main
from msinet.data.degradation import degrade
from msinet.data.imresize import imresize
from msinet.data.train_patches import StereoPatches, find_pairs
from msinet.train.config import DEFAULTS, load_config, parse_override
from msinet.train.trainer import Trainer, cosine_factor

pytestmark = pytest.mark.usefixtures("one_thread")

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_configs_are_valid_and_build_their_model(path):
    from msinet.registry import get_entry

    config = load_config(path)
    get_entry(config["model"]["name"])  # a registered model
    assert config["data"]["train"]


def test_paper_recipe_values():
    paper = load_config(CONFIGS / "msinet_x4_paper.yaml")
    assert paper["model"]["name"] == "msinet_x4" and paper["optim"]["name"] == "lion"
    assert paper["optim"]["lr"] == 3e-4 and paper["optim"]["weight_decay"] == 0.0
    assert paper["scheduler"] == {"name": "cosine", "eta_min": 1e-8, "warmup_steps": 0}
    assert paper["loss"]["freq_weight"] == 0.01 and paper["data"]["lr_patch"] == [30, 90]
    released = load_config(CONFIGS / "msinet_x4_released.yaml")
    assert released["optim"]["lr"] == 5e-5 and released["optim"]["betas"] == [0.9, 0.9]
    assert load_config(CONFIGS / "ablation_deam_mscam.yaml")["loss"]["freq_weight"] == 0.0
    assert load_config(CONFIGS / "ablation_deam_mscam_freq.yaml")["loss"]["freq_weight"] == 0.01
    nafssr = load_config(CONFIGS / "nafssr_s.yaml")
    assert nafssr["optim"]["name"] == "adamw" and nafssr["optim"]["lr"] == 3e-3


def test_overrides_are_typed_and_nested():
    assert parse_override("optim.lr=1e-4") == {"optim": {"lr": 1e-4}}
    assert parse_override("data.lr_patch=[16, 48]") == {"data": {"lr_patch": [16, 48]}}
    config = load_config(CONFIGS / "msinet_tiny_x4.yaml", ["optim.lr=1e-4", "train.steps=7", "train.precision=bf16"])
    assert config["optim"]["lr"] == 1e-4 and config["train"]["steps"] == 7 and config["train"]["precision"] == "bf16"
    assert DEFAULTS["optim"]["lr"] == 3e-4  # the defaults are not mutated
    assert config["data"]["degradation"] == "kit"  # LR made as the stereo-SR test kits' files
    assert load_config(None, ["data.degradation=rcan"])["data"]["degradation"] == "rcan"


@pytest.mark.parametrize(
    "override, message",
    [
        ("optim.lrr=1", "unknown key 'optim.lrr'"),
        ("trian.steps=1", "unknown key 'trian'"),
        ("optim.lr=-1e-4", "'optim.lr' must be positive"),
        ("optim.lr=fast", "'optim.lr' must be a number"),
        ("train.steps=0", "'train.steps' must be positive"),
        ("train.steps=1.5", "'train.steps' must be an integer"),
        ("train.precision=fp8", "'train.precision' must be one of"),
        ("data.degradation=matlab", "'data.degradation' must be one of kit, rcan, got 'matlab'"),
        ("optim.betas=[0.9]", "'optim.betas'"),
        ("data.lr_patch=[30, -2]", "'data.lr_patch'"),
        ("train.ema_decay=1.0", "'train.ema_decay'"),
        ("scheduler.eta_min=1.0", "'scheduler.eta_min'"),
        ("optim.lr", "not of the form key=value"),
    ],
)
def test_bad_values_name_the_key(override, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("(", r"\(")):
        load_config(CONFIGS / "msinet_tiny_x4.yaml", [override])


def test_bad_config_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("optim: {lr: [1, 2\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_config(bad)
    bad.write_text("- a\n- b\n")
    with pytest.raises(ValueError, match="mapping"):
        load_config(bad)


def test_patch_larger_than_images_fails_before_training(tmp_path):
    pairs = write_synthetic_pairs(tmp_path / "pairs", count=1, size=(40, 120))
    config = load_config(base=tiny_config(pairs, tmp_path / "runs", data={"lr_patch": [30, 90]}))
    with pytest.raises(ValueError, match="data.lr_patch"):
        Trainer(config)
    assert not (tmp_path / "runs" / "t" / "checkpoints").exists()


def test_cli_reports_errors_in_one_line(tmp_path, capsys):
    assert main(["train", "--config", str(CONFIGS / "msinet_tiny_x4.yaml"), "optim.lr=-1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("msinet train: error:") and "'optim.lr'" in err and len(err.splitlines()) == 1
    assert main(["train", "--config", str(tmp_path / "none.yaml")]) == 2
    assert "config file not found" in capsys.readouterr().err
    assert main(["train", "--config", str(CONFIGS / "msinet_tiny_x4.yaml"), "data.train=[]"]) == 2
    assert "'data.train' is empty" in capsys.readouterr().err
    assert main(["train", "--config", str(CONFIGS / "msinet_tiny_x4.yaml"), f"data.train=[{tmp_path}/nothing]"]) == 2
    assert "not found" in capsys.readouterr().err


def test_cosine_schedule_endpoints():
    assert cosine_factor(0, 100, 0, 1e-3) == 1.0
    assert cosine_factor(100, 100, 0, 1e-3) == pytest.approx(1e-3)
    assert cosine_factor(50, 100, 0, 0.0) == pytest.approx(0.5)
    assert cosine_factor(4, 100, 10, 0.0) == pytest.approx(0.5)  # linear warm-up


def test_find_pairs_layouts(tmp_path):
    folders = write_synthetic_pairs(tmp_path / "a", count=2)
    flickr = tmp_path / "flickr"
    flickr.mkdir()
    for side, name in (("L", "left.png"), ("R", "right.png")):
        (flickr / f"0001_{side}.png").write_bytes((Path(folders[0]) / name).read_bytes())
    assert len(find_pairs(tmp_path)) == 3
    assert find_pairs(flickr)[0][0].name == "0001_L.png"
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no stereo pairs"):
        find_pairs(tmp_path / "empty")
    with pytest.raises(FileNotFoundError):
        find_pairs(tmp_path / "missing")


def test_patches_are_deterministic_and_consistent(tmp_path):
    folders = write_synthetic_pairs(tmp_path, count=2, size=(64, 192))
    ds = StereoPatches.from_folders(folders, scale=4, lr_patch=(8, 24), seed=1)
    a, b = ds[17], ds[17]
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not torch.equal(ds[18][2], a[2])
    lr_l, lr_r, hr_l, hr_r = a
    assert lr_l.shape == (3, 8, 24) and hr_l.shape == (3, 32, 96)
    # LR follows the named degradation (the kits' by default)
    hr_u8 = (hr_l.permute(1, 2, 0) * 255).round().byte().numpy()
    to_u8 = lambda t: (t.permute(1, 2, 0) * 255).round().byte().numpy()  # noqa: E731
    assert np.array_equal(degrade(hr_u8, 4, "kit")[3:-3, 3:-3], to_u8(lr_l)[3:-3, 3:-3])  # interior; borders below
    rcan = StereoPatches.from_folders(folders, scale=4, lr_patch=(8, 24), seed=1, degradation="rcan")[17]
    assert torch.equal(rcan[2], hr_l)  # same crop and augmentation: only the LR rule differs
    assert np.array_equal(degrade(hr_u8, 4, "rcan")[3:-3, 3:-3], to_u8(rcan[0])[3:-3, 3:-3])


@pytest.mark.parametrize("scale, size, kind", [(4, (61, 190), "kit"), (2, (37, 83), "kit"), (4, (64, 192), "rcan")])
def test_lr_patches_are_crops_of_the_whole_image_lr(tmp_path, scale, size, kind):
    """The LR patch is the same crop of imresize(whole image) (as test kits make LR), borders included, and
    HR/LR stay aligned under every augmentation; sizes not a multiple of the scale included."""
    from PIL import Image

    folder = tmp_path / "p"
    folder.mkdir()
    rng = np.random.default_rng(3)
    base = rng.integers(0, 256, (size[0] // 4 + 2, size[1] // 4 + 2, 3)).astype(np.float64)
    views = [
        np.clip(imresize(base + rng.normal(0, 20, base.shape), 4), 0, 255).astype(np.uint8)[: size[0], : size[1]]
        for _ in range(2)
    ]
    for name, v in zip(("left.png", "right.png"), views):
        Image.fromarray(v).save(folder / name)
    views = [v[: size[0] // scale * scale, : size[1] // scale * scale] for v in views]  # kits crop HR to k*s
    whole = [degrade(v, scale, kind) for v in views]
    ph, pw = 8 * scale, 12 * scale
    ds = StereoPatches.from_folders(
        [folder], scale=scale, lr_patch=(8, 12), seed=5, hflip=False, vflip=False, rgb_perm=False, degradation=kind
    )
    to_u8 = lambda t: (t.permute(1, 2, 0) * 255).round().byte().numpy()  # noqa: E731
    seen_edges = set()
    for i in range(60):
        lr_l, lr_r, hr_l, hr_r = (to_u8(t) for t in ds[i])
        # locate the HR crop in the source, then compare with the whole-image LR at the same place
        hits = [
            (y, x)
            for y in range(0, size[0] - ph + 1, scale)
            for x in range(0, size[1] - pw + 1, scale)
            if np.array_equal(views[0][y : y + ph, x : x + pw], hr_l)
        ]
        assert len(hits) == 1
        y, x = hits[0]
        assert np.array_equal(views[1][y : y + ph, x : x + pw], hr_r)
        for lr, full in ((lr_l, whole[0]), (lr_r, whole[1])):
            assert np.array_equal(lr, full[y // scale : y // scale + 8, x // scale : x // scale + 12])
        seen_edges |= {"top"} if y == 0 else set()
        seen_edges |= {"left"} if x == 0 else set()
        seen_edges |= {"bottom"} if y + ph == views[0].shape[0] else set()
        seen_edges |= {"right"} if x + pw == views[0].shape[1] else set()
    assert seen_edges == {"top", "left", "bottom", "right"}  # the border rule was exercised
    augmented = StereoPatches.from_folders([folder], scale=scale, lr_patch=(8, 12), seed=5, degradation=kind)
    for i in range(20):  # flips and channel permutations keep LR = the resize of the HR patch's interior
        lr_l, _, hr_l, _ = (to_u8(t) for t in augmented[i])
        inner = degrade(hr_l, scale, kind)[3:-3, 3:-3]
        assert np.array_equal(lr_l[3:-3, 3:-3], inner)


def test_horizontal_flip_swaps_the_views(tmp_path):
    from PIL import Image

    folder = tmp_path / "p"
    folder.mkdir()
    rng = np.random.default_rng(0)
    left, right = (rng.integers(0, 256, (32, 96, 3), dtype=np.uint8) for _ in range(2))
    Image.fromarray(left).save(folder / "left.png")
    Image.fromarray(right).save(folder / "right.png")
    ds = StereoPatches.from_folders([folder], scale=4, lr_patch=(8, 24), hflip=True, vflip=False, rgb_perm=False)
    seen = set()
    for i in range(12):
        hr_l = (ds[i][2].permute(1, 2, 0) * 255).round().byte().numpy()
        if np.array_equal(hr_l, left):
            seen.add("plain")
        else:  # flipped: the new left view is the mirrored right view
            assert np.array_equal(hr_l, right[:, ::-1])
            seen.add("flipped")
    assert seen == {"plain", "flipped"}
