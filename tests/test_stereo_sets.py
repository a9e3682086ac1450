"""Stereo test-set readers: every layout, LR from files / the kits' degradation / cache, and clear errors."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from msinet.data.degradation import degrade
from msinet.data.image_io import load_pair, read_rgb8
from msinet.data.imresize import imresize
from msinet.data.stereo_sets import StereoSet, discover_pairs, open_set

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "stereo"


def _img(seed, h=26, w=41):
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def _save(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def test_ipassr_layout_lr_files_win_and_hr_is_mod_cropped(tmp_path):
    hr_l, hr_r = _img(0, 34, 50), _img(1, 34, 50)
    lr_marker = np.full((8, 12, 3), 7, np.uint8)  # not what imresize would give: proves the file is used
    for scene in ("b_scene", "a_scene"):
        _save(tmp_path / "KITTI2012" / "hr" / scene / "hr0.png", hr_l)
        _save(tmp_path / "KITTI2012" / "hr" / scene / "hr1.png", hr_r)
    _save(tmp_path / "KITTI2012" / "lr_x4" / "a_scene" / "lr0.png", lr_marker)
    _save(tmp_path / "KITTI2012" / "lr_x4" / "a_scene" / "lr1.png", lr_marker)
    s = open_set(tmp_path, "kitti2012", 4, cache_dir=tmp_path / "cache")
    assert (s.name, s.layout, len(s)) == ("KITTI2012", "ipassr", 2)
    a, b = s[0], s[1]
    assert (a.name, a.lr_source, b.name, b.lr_source) == ("a_scene", "files", "b_scene", "imresize")
    np.testing.assert_array_equal(a.lr_left, lr_marker)
    np.testing.assert_array_equal(a.hr_left, hr_l[:32, :48])  # cropped to a multiple of 4
    np.testing.assert_array_equal(b.lr_right, degrade(hr_r[:32, :48], 4, "kit"))  # made LR: the kits' rule
    assert s[1].lr_source == "cache"  # second read comes from the cache, same pixels
    np.testing.assert_array_equal(s[1].lr_right, b.lr_right)
    # the other rule is cached apart (never served the kit's pixels) and gives its own LR
    rcan = open_set(tmp_path, "kitti2012", 4, cache_dir=tmp_path / "cache", degradation="rcan")[1]
    assert rcan.lr_source == "imresize"
    np.testing.assert_array_equal(rcan.lr_right, degrade(hr_r[:32, :48], 4, "rcan"))
    assert not np.array_equal(rcan.lr_right, b.lr_right)
    with pytest.raises(ValueError, match="unknown degradation 'matlab'"):
        open_set(tmp_path, "kitti2012", 4, degradation="matlab")


def test_flickr_suffix_and_left_right_folder_layouts(tmp_path):
    for i in (2, 1):
        _save(tmp_path / "flickr" / f"{i:04d}_L.png", _img(i))
        _save(tmp_path / "flickr" / f"{i:04d}_R.png", _img(i + 10))
        _save(tmp_path / "kitti" / "colored_0" / f"00000{i}_10.png", _img(i))
        _save(tmp_path / "kitti" / "colored_1" / f"00000{i}_10.png", _img(i + 10))
    layout, pairs = discover_pairs(tmp_path / "flickr")
    assert layout == "scenes" and [p.name for p in pairs] == ["0001", "0002"]
    layout, pairs = discover_pairs(tmp_path / "kitti")
    assert layout == "folders" and [p.name for p in pairs] == ["000001_10", "000002_10"]
    s = StereoSet(tmp_path / "kitti", scale=2, use_cache=False)
    sample = s[1]
    np.testing.assert_array_equal(sample.hr_right, _img(12)[:26, :40])
    assert sample.lr_left.shape == (13, 20, 3) and sample.lr_source == "imresize"


def test_shared_stereo_pairs_as_custom_set(tmp_path):
    if not DATA.is_dir():
        pytest.skip(f"real data not available at {DATA}")
    s = open_set(DATA, "custom", 4, cache_dir=tmp_path)
    names = [p.name for p in s.pairs]
    assert s.layout == "scenes" and len(s) >= 5 and names == sorted(names)
    assert "kitti2012_000000" in names
    sample = s[names.index("kitti2012_000000")]
    assert sample.hr_left.shape == (376, 1240, 3) and sample.lr_left.shape == (94, 310, 3)
    if "sceneflow_A-0032-0006" in names:  # an RGBA pair reads as RGB
        assert s[names.index("sceneflow_A-0032-0006")].hr_left.shape == (540, 960, 3)


def test_missing_views_mismatched_sizes_and_empty_folders_fail_clearly(tmp_path):
    _save(tmp_path / "lonely" / "0001_L.png", _img(0))
    with pytest.raises(ValueError, match="0001_L has no 0001_R"):
        discover_pairs(tmp_path / "lonely")
    _save(tmp_path / "ip" / "hr" / "s1" / "hr0.png", _img(0))
    with pytest.raises(ValueError, match="missing hr1"):
        discover_pairs(tmp_path / "ip")
    _save(tmp_path / "half" / "left" / "a.png", _img(0))
    with pytest.raises(ValueError, match="no right/ folder"):
        discover_pairs(tmp_path / "half")
    _save(tmp_path / "scene" / "left.png", _img(0))
    with pytest.raises(ValueError, match="no 'right' view"):
        discover_pairs(tmp_path / "scene")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no stereo pairs found"):
        discover_pairs(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="not found"):
        open_set(tmp_path, "KITTI2015")
    _save(tmp_path / "mis" / "x_L.png", _img(0, 20, 30))
    _save(tmp_path / "mis" / "x_R.png", _img(1, 20, 31))
    with pytest.raises(ValueError, match="differ in size"):
        StereoSet(tmp_path / "mis", 2, use_cache=False)[0]
    _save(tmp_path / "badlr" / "hr" / "s" / "hr0.png", _img(0, 32, 32))
    _save(tmp_path / "badlr" / "hr" / "s" / "hr1.png", _img(1, 32, 32))
    _save(tmp_path / "badlr" / "lr_x4" / "s" / "lr0.png", _img(0, 9, 8))
    _save(tmp_path / "badlr" / "lr_x4" / "s" / "lr1.png", _img(1, 9, 8))
    with pytest.raises(ValueError, match="needs 8x8"):
        StereoSet(tmp_path / "badlr", 4, use_cache=False)[0]


def test_image_io_converts_16bit_gray_rgba_and_rejects_corrupt_files(tmp_path):
    import cv2

    rgb16 = np.random.default_rng(3).integers(0, 65536, size=(5, 7, 3)).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "c16.png"), rgb16[..., ::-1])  # OpenCV writes BGR
    np.testing.assert_array_equal(read_rgb8(tmp_path / "c16.png"), np.round(rgb16 / 257.0).astype(np.uint8))
    rgba = _img(4, 5, 7)
    Image.fromarray(np.dstack([rgba, np.full((5, 7), 9, np.uint8)])).save(tmp_path / "a.png")
    np.testing.assert_array_equal(read_rgb8(tmp_path / "a.png"), rgba)
    Image.fromarray(rgba[..., 0]).save(tmp_path / "g.png")
    np.testing.assert_array_equal(read_rgb8(tmp_path / "g.png"), np.repeat(rgba[..., :1], 3, axis=2))
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="cannot read image"):
        read_rgb8(tmp_path / "bad.png")
    with pytest.raises(FileNotFoundError):
        load_pair(tmp_path / "nope.png", tmp_path / "a.png")


def test_prepare_cli_converts_raw_downloads_and_eval_reads_them(tmp_path, capsys):
    from msinet.cli.main import main

    raw = tmp_path / "raw"
    for i in (1, 2):
        _save(raw / "Flickr1024" / "Train" / f"000{i}_L.png", _img(i, 120, 400))
        _save(raw / "Flickr1024" / "Train" / f"000{i}_R.png", _img(i + 5, 120, 400))
    _save(raw / "Flickr1024" / "Test" / "0001_L.png", _img(7, 33, 50))
    _save(raw / "Flickr1024" / "Test" / "0001_R.png", _img(8, 33, 50))
    _save(raw / "MiddEval" / "Motorcycle" / "im0.png", _img(9, 90, 200))
    _save(raw / "MiddEval" / "Motorcycle" / "im1.png", _img(10, 90, 200))
    out = tmp_path / "prepared"
    assert main(["prepare", str(raw), "-o", str(out), "--patches"]) == 0
    log = capsys.readouterr().out
    assert "found Flickr1024-train: 2 pairs" in log and "found Middlebury: 1 pairs" in log
    assert "missing KITTI2012" in log and "missing KITTI2015" in log
    hr = read_rgb8(out / "test" / "Flickr1024" / "hr" / "0001" / "hr0.png")
    np.testing.assert_array_equal(hr, _img(7, 33, 50)[:32, :48])
    np.testing.assert_array_equal(
        read_rgb8(out / "test" / "Flickr1024" / "lr_x4" / "0001" / "lr0.png"), degrade(hr, 4, "kit")
    )  # as the published kits
    mid = read_rgb8(out / "train" / "middlebury_Motorcycle" / "hr0.png")
    np.testing.assert_array_equal(mid, imresize(_img(9, 90, 200), 1 / 2))  # Middlebury halved for training
    assert (out / "train" / "flickr1024_0002" / "hr1.png").is_file()
    assert len(list((out / "patches_x4").iterdir())) == 2 * 1 * 1  # 30x100 LR: one 30x90 patch per pair
    patch = out / "patches_x4" / "000000"
    assert read_rgb8(patch / "lr0.png").shape == (30, 90, 3) and read_rgb8(patch / "hr1.png").shape == (120, 360, 3)
    s = open_set(out / "test", "Flickr1024", 4, use_cache=False)
    assert s.layout == "ipassr" and s[0].lr_source == "files"
    assert main(["prepare", str(raw), "-o", str(out)]) == 2  # refuses to write into its earlier output
    assert "--overwrite" in capsys.readouterr().err
    assert main(["prepare", str(tmp_path / "nothing"), "-o", str(out)]) == 2
