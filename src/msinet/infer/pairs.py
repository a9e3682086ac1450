"""Finding the stereo pairs in a folder for `msinet upscale` (lenient: what does not pair up is listed, not fatal).

Recognised layouts (searched recursively, mixed freely; data/pair_scan.py does the scanning):
    NAME_L.png + NAME_R.png                         -> pair NAME
    left/NAME.png + right/NAME.png (sibling folders) -> pair NAME
    image_2/NAME.png + image_3/NAME.png (KITTI 2015), colored_0/ + colored_1/ (KITTI 2012) -> pair NAME
    SCENE/{left,right}.png, SCENE/{hr0,hr1}.png, SCENE/{im0,im1}.png, SCENE/{lr0,lr1}.png -> pair SCENE
Names match in any case (X_l/X_r, Left.PNG, LEFT/). Every other image file is returned as unpaired so that the
caller can list it. The output folder (`exclude`) and any folder msinet wrote results to are not scanned;
search_pairs also returns them, and the MPO and video files met (each one a stereo input of its own), so that
the caller can say what it leaves out.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from ..data.pair_scan import ScanPolicy, scan
from ..io.mpo import MPO_SUFFIXES
from ..io.video import VIDEO_SUFFIXES

SCENE_VIEW_NAMES = (("left", "right"), ("hr0", "hr1"), ("im0", "im1"), ("lr0", "lr1"))
SIBLING_FOLDERS = (("left", "right"), ("image_2", "image_3"), ("colored_0", "colored_1"))
POLICY = ScanPolicy(
    view_names=SCENE_VIEW_NAMES,
    sibling_folders=SIBLING_FOLDERS,
    siblings_by="stem",
    suffix_tags=("_L", "_R"),
    recursive=True,
    ignore_case=True,
    skip_marked=True,
)


@dataclass(frozen=True)
class StereoPair:
    name: str  # output stem: results go to <name>_L.png / <name>_R.png
    left: Path
    right: Path


def _name(root: Path, folder: Path, stem: str | None = None) -> str:
    parts = list(folder.relative_to(root).parts) if folder != root else []
    if stem is not None:
        parts.append(stem)
    return "_".join(parts) if parts else root.resolve().name


@dataclass
class PairSearch:
    pairs: list[StereoPair]
    unpaired: list[Path]  # images that belong to no pair
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # folders not scanned: "excluded" | "marked"
    media: list[Path] = field(default_factory=list)  # MPO and video files: inputs of their own


def find_pairs(root, exclude=()) -> tuple[list[StereoPair], list[Path]]:
    """(pairs sorted by name, image files that belong to no pair) under `root`, not looking into `exclude`."""
    found = search_pairs(root, exclude)
    return found.pairs, found.unpaired


def search_pairs(root, exclude=(), recursive: bool = True) -> PairSearch:
    """find_pairs, with the folders it did not scan and the MPO / video files it met; recursive=False looks only
    into `root` and its direct sub-folders."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"input folder not found: {root}")
    found = scan(root, POLICY if recursive else replace(POLICY, recursive=False), exclude)
    pairs = [StereoPair(_name(root, p.folder, p.stem), p.left, p.right) for p in found.pairs]
    names: dict[str, int] = {}
    for p in pairs:
        names[p.name] = names.get(p.name, 0) + 1
    dupes = sorted(n for n, c in names.items() if c > 1)
    if dupes:
        raise ValueError(f"{root}: several pairs would be written as {dupes[0]}_L/_R.png; rename or split the folder")
    unpaired = sorted([path for path, _ in found.halves] + found.others)
    media = [p for p in found.non_images if p.suffix.lower() in MPO_SUFFIXES + VIDEO_SUFFIXES]
    return PairSearch(sorted(pairs, key=lambda p: p.name), unpaired, found.skipped, media)
