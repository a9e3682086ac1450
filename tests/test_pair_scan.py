"""The one pair scanner (data/pair_scan.py) under the three commands' policies, and the import layering."""

import ast
from pathlib import Path

import numpy as np

from msinet.data.image_io import write_png
from msinet.data.pair_scan import ScanPolicy, scan
from msinet.data.stereo_sets import SCENES_POLICY
from msinet.downstream.scenes import POLICY as STEREO_EVAL_POLICY
from msinet.infer.pairs import POLICY as UPSCALE_POLICY

SRC = Path(__file__).resolve().parents[1] / "src" / "msinet"


def _img(path: Path) -> Path:
    return write_png(path, np.zeros((4, 6, 3), np.uint8))


def _tree(root: Path) -> None:
    for rel in (
        "a_L.png",
        "a_R.png",
        "b_L.png",
        "lonely.png",
        "scene/left.png",
        "scene/right.png",
        "scene/disp_left.png",
        "deep/x/im0.png",
        "deep/x/im1.png",
        "half/hr0.png",
        "left/p.png",
        "right/p.png",
        "right/q.png",
        ".hidden_L.png",
    ):
        _img(root / rel)


def test_scan_sorts_every_image_into_pairs_halves_and_others(tmp_path):
    _tree(tmp_path)
    found = scan(tmp_path, UPSCALE_POLICY)
    got = {(p.kind, p.folder.relative_to(tmp_path).as_posix(), p.stem) for p in found.pairs}
    assert got == {
        ("suffixed", ".", "a"),
        ("in-folder", "scene", None),
        ("in-folder", "deep/x", None),
        ("siblings", ".", "p"),
    }
    halves = {p.relative_to(tmp_path).as_posix(): why for p, why in found.halves}
    assert set(halves) == {"b_L.png", "half/hr0.png", "right/q.png"}
    assert "b_L has no b_R view" in halves["b_L.png"] and "no 'hr1' view" in halves["half/hr0.png"]
    assert "q.png has no counterpart in" in halves["right/q.png"]
    # hidden files are nobody's business; the disparity map is an image of no pair
    assert sorted(p.relative_to(tmp_path).as_posix() for p in found.others) == ["lonely.png", "scene/disp_left.png"]


def test_policies_differ_only_where_the_commands_do(tmp_path):
    _tree(tmp_path)
    eval_pairs = {p.folder.relative_to(tmp_path).as_posix() for p in scan(tmp_path, SCENES_POLICY).pairs}
    assert eval_pairs == {".", "scene", "deep/x"}  # eval's scene layout: no sibling folders, recursive
    stereo = scan(tmp_path, STEREO_EVAL_POLICY).pairs  # root and its children only; left/right names only
    assert {(p.kind, p.folder.name) for p in stereo} == {("in-folder", "scene"), ("siblings", tmp_path.name)}
    flat = scan(tmp_path, ScanPolicy(suffix_tags=("_L", "_R"), recursive=False)).pairs
    assert [p.stem for p in flat] == ["a"]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level >= 2 and node.module:
            names.add(node.module.split(".")[0])
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("msinet."):
            names.add(node.module.split(".")[1])
    return names


def test_infer_and_data_never_import_models():
    """models -> infer (model.upscale) is the only direction: no import circle."""
    for package in ("infer", "data"):
        for path in (SRC / package).glob("*.py"):
            assert not _imports(path) & {"models", "registry"}, path
