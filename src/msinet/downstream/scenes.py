"""Finding stereo pairs with ground-truth disparity on disk (the layouts stereo-eval accepts).

Scene folders (the layout of ../shared/data/stereo; DIR may also be one scene folder itself):
    DIR/<scene>/left.png, right.png                  any common image suffix; RGBA is fine (alpha dropped)
    DIR/<scene>/disp_left.pfm | disp_left.png        PFM (inf = unknown) or KITTI 16-bit PNG (0 = unknown)
    DIR/<scene>/mask_nonocc_left.png                 optional, Middlebury style (255 = non-occluded)
    DIR/<scene>/occlusion_left.png                   optional, SceneFlow style (white = occluded)

Split folders (convenient for a subset of SceneFlow, whose tree keeps left/ and right/ apart):
    DIR/left/<name>.png, DIR/right/<name>.png, DIR/disparity/<name>.pfm|.png, optional DIR/occlusion/<name>.png

Pairs without a ground-truth disparity file are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..data.image_io import find_file
from ..data.pair_scan import FoundPair, ScanPolicy, scan

DISPARITY_SUFFIXES = (".pfm", ".png")
MASK_FILES = {"mask_nonocc_left": "nonocc", "occlusion_left": "occlusion"}


@dataclass(frozen=True)
class StereoScene:
    name: str
    left: Path
    right: Path
    disparity: Path
    mask: Path | None = None
    mask_kind: str | None = None  # "nonocc" (True = visible) or "occlusion" (True = occluded)


# stereo-eval keeps the pairs that have ground truth beside them (data/pair_scan.py scans)
POLICY = ScanPolicy(
    view_names=(("left", "right"),),
    sibling_folders=(("left", "right"),),
    siblings_by="stem",
    suffix_tags=None,
    recursive=False,
)


def _with_ground_truth(pair: FoundPair, root: Path) -> StereoScene | None:
    if pair.kind == "siblings":  # split folders: disparity/<name>, optional occlusion/<name>
        disp = find_file(root / "disparity", pair.stem, DISPARITY_SUFFIXES)
        occ = find_file(root / "occlusion", pair.stem, (".png",)) if (root / "occlusion").is_dir() else None
        if disp is None:
            return None
        return StereoScene(pair.stem, pair.left, pair.right, disp, occ, "occlusion" if occ else None)
    disp = find_file(pair.folder, "disp_left", DISPARITY_SUFFIXES)
    if disp is None:
        return None
    for stem, kind in MASK_FILES.items():
        mask = find_file(pair.folder, stem, (".png",))
        if mask is not None:
            return StereoScene(pair.folder.name, pair.left, pair.right, disp, mask, kind)
    return StereoScene(pair.folder.name, pair.left, pair.right, disp)


def find_scenes(root) -> list[StereoScene]:
    """Every pair with ground truth under `root`, sorted by name; a clear error if there is none."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"data folder not found: {root}")
    found = scan(root, POLICY).pairs
    single = [
        s for s in (_with_ground_truth(p, root) for p in found if p.folder == root and p.kind == "in-folder") if s
    ]
    if single:  # DIR is one scene folder itself
        return single
    if (root / "left").is_dir() and (root / "right").is_dir() and (root / "disparity").is_dir():
        candidates = [p for p in found if p.kind == "siblings" and p.folder == root]
    else:
        candidates = [p for p in found if p.kind == "in-folder" and p.folder.parent == root]
    scenes = [s for s in (_with_ground_truth(p, root) for p in candidates) if s is not None]
    if not scenes:
        raise ValueError(
            f"{root}: no stereo pair with ground-truth disparity found (expected <scene>/left.png, "
            "right.png and disp_left.pfm or disp_left.png; see docs/downstream.md)"
        )
    return scenes
