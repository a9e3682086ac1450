"""Finding the stereo pairs in a folder, and naming what could not be paired.

Recognised layouts (searched recursively, mixed freely):
    NAME_L.png + NAME_R.png                         -> pair NAME
    left/NAME.png + right/NAME.png (sibling folders) -> pair NAME
    SCENE/{left,right}.png, SCENE/{hr0,hr1}.png, SCENE/{im0,im1}.png, SCENE/{lr0,lr1}.png -> pair SCENE
Every other image file is returned as unpaired so that the caller can list it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..data.image_io import IMAGE_SUFFIXES

SCENE_VIEW_NAMES = (("left", "right"), ("hr0", "hr1"), ("im0", "im1"), ("lr0", "lr1"))
SUFFIX_VIEWS = (("_L", "_R"),)


@dataclass(frozen=True)
class StereoPair:
    name: str   # output stem: results go to <name>_L.png / <name>_R.png
    left: Path
    right: Path


def _is_image(p: Path) -> bool:
    return p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")


def _name(root: Path, folder: Path, stem: str | None = None) -> str:
    parts = list(folder.relative_to(root).parts) if folder != root else []
    if stem is not None:
        parts.append(stem)
    return "_".join(parts) if parts else root.resolve().name


def _by_stem(files) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for f in sorted(files):
        out.setdefault(f.stem, f)  # the same stem with two suffixes: the first (sorted) wins, the other is unpaired
    return out


def find_pairs(root) -> tuple[list[StereoPair], list[Path]]:
    """(pairs sorted by name, image files that belong to no pair) under `root`."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"input folder not found: {root}")
    images = sorted(p for p in root.rglob("*") if _is_image(p))
    used: set[Path] = set()
    pairs: list[StereoPair] = []

    def add(name: str, left: Path, right: Path) -> None:
        pairs.append(StereoPair(name, left, right))
        used.update((left, right))

    folders = sorted({p.parent for p in images})
    by_folder = {d: _by_stem(p for p in images if p.parent == d) for d in folders}
    for folder, files in by_folder.items():
        # left/ + right/ sibling folders
        if folder.name == "left" and folder.with_name("right") in by_folder:
            rights = by_folder[folder.with_name("right")]
            for stem, left in files.items():
                if stem in rights:
                    add(_name(root, folder.parent, stem), left, rights[stem])
        # one scene per folder
        for l_stem, r_stem in SCENE_VIEW_NAMES:
            if l_stem in files and r_stem in files and files[l_stem] not in used:
                add(_name(root, folder), files[l_stem], files[r_stem])
                break
        # NAME_L / NAME_R
        for l_tag, r_tag in SUFFIX_VIEWS:
            for stem, left in files.items():
                if stem.endswith(l_tag) and left not in used:
                    right = files.get(stem[: -len(l_tag)] + r_tag)
                    if right is not None and right not in used:
                        add(_name(root, folder, stem[: -len(l_tag)]), left, right)
    names: dict[str, int] = {}
    for p in pairs:
        names[p.name] = names.get(p.name, 0) + 1
    dupes = sorted(n for n, c in names.items() if c > 1)
    if dupes:
        raise ValueError(f"{root}: several pairs would be written as {dupes[0]}_L/_R.png; rename or split the folder")
    unpaired = [p for p in images if p not in used]
    return sorted(pairs, key=lambda p: p.name), unpaired
