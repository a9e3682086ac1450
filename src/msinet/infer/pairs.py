"""Finding the stereo pairs in a folder for `msinet upscale` (lenient: what does not pair up is listed, not fatal).

Recognised layouts (searched recursively, mixed freely; data/pair_scan.py does the scanning):
    NAME_L.png + NAME_R.png                         -> pair NAME
    left/NAME.png + right/NAME.png (sibling folders) -> pair NAME
    image_2/NAME.png + image_3/NAME.png (KITTI 2015), colored_0/ + colored_1/ (KITTI 2012) -> pair NAME
    SCENE/{left,right}.png, SCENE/{hr0,hr1}.png, SCENE/{im0,im1}.png, SCENE/{lr0,lr1}.png -> pair SCENE
Names match in any case (X_l/X_r, Left.PNG, LEFT/). Every other image file is returned as unpaired so that the
caller can list it. The output folder (`exclude`) and any folder msinet wrote results to are not scanned.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..data.pair_scan import ScanPolicy, scan

SCENE_VIEW_NAMES = (("left", "right"), ("hr0", "hr1"), ("im0", "im1"), ("lr0", "lr1"))
SIBLING_FOLDERS = (("left", "right"), ("image_2", "image_3"), ("colored_0", "colored_1"))
POLICY = ScanPolicy(view_names=SCENE_VIEW_NAMES, sibling_folders=SIBLING_FOLDERS, siblings_by="stem",
                    suffix_tags=("_L", "_R"), recursive=True, ignore_case=True, skip_marked=True)


@dataclass(frozen=True)
class StereoPair:
    name: str   # output stem: results go to <name>_L.png / <name>_R.png
    left: Path
    right: Path


def _name(root: Path, folder: Path, stem: str | None = None) -> str:
    parts = list(folder.relative_to(root).parts) if folder != root else []
    if stem is not None:
        parts.append(stem)
    return "_".join(parts) if parts else root.resolve().name


def find_pairs(root, exclude=()) -> tuple[list[StereoPair], list[Path]]:
    """(pairs sorted by name, image files that belong to no pair) under `root`, not looking into `exclude`."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"input folder not found: {root}")
    found = scan(root, POLICY, exclude)
    pairs = [StereoPair(_name(root, p.folder, p.stem), p.left, p.right) for p in found.pairs]
    names: dict[str, int] = {}
    for p in pairs:
        names[p.name] = names.get(p.name, 0) + 1
    dupes = sorted(n for n, c in names.items() if c > 1)
    if dupes:
        raise ValueError(f"{root}: several pairs would be written as {dupes[0]}_L/_R.png; rename or split the folder")
    unpaired = sorted([path for path, _ in found.halves] + found.others)
    return sorted(pairs, key=lambda p: p.name), unpaired
