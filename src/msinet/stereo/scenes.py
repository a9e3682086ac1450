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

from ..data.image_io import IMAGE_SUFFIXES, find_file

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


def _scene_in_folder(folder: Path) -> StereoScene | None:
    left, right = find_file(folder, "left", IMAGE_SUFFIXES), find_file(folder, "right", IMAGE_SUFFIXES)
    disp = find_file(folder, "disp_left", DISPARITY_SUFFIXES)
    if left is None or right is None or disp is None:
        return None
    for stem, kind in MASK_FILES.items():
        mask = find_file(folder, stem, (".png",))
        if mask is not None:
            return StereoScene(folder.name, left, right, disp, mask, kind)
    return StereoScene(folder.name, left, right, disp)


def _split_scenes(root: Path) -> list[StereoScene]:
    scenes = []
    for left in sorted(p for p in (root / "left").iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        right = find_file(root / "right", left.stem, IMAGE_SUFFIXES)
        disp = find_file(root / "disparity", left.stem, DISPARITY_SUFFIXES)
        if right is None or disp is None:
            continue
        occ = find_file(root / "occlusion", left.stem, (".png",)) if (root / "occlusion").is_dir() else None
        scenes.append(StereoScene(left.stem, left, right, disp, occ, "occlusion" if occ else None))
    return scenes


def find_scenes(root) -> list[StereoScene]:
    """Every pair with ground truth under `root`, sorted by name; a clear error if there is none."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"data folder not found: {root}")
    single = _scene_in_folder(root)
    if single is not None:
        return [single]
    if (root / "left").is_dir() and (root / "right").is_dir() and (root / "disparity").is_dir():
        scenes = _split_scenes(root)
    else:
        scenes = [s for s in (_scene_in_folder(d) for d in sorted(root.iterdir()) if d.is_dir()) if s is not None]
    if not scenes:
        raise ValueError(f"{root}: no stereo pair with ground-truth disparity found (expected <scene>/left.png, "
                         "right.png and disp_left.pfm or disp_left.png; see docs/downstream.md)")
    return scenes
