"""One scanner for folders of stereo pairs; each command brings its policy (which layouts, how deep) and decides
what to do with what does not pair up.

A folder holds pairs in three ways:
    in-folder  two files named as the views of one pair (left/right, hr0/hr1, im0/im1, ...): the folder is the pair
    suffixed   NAME_L.* + NAME_R.*                                                         : pair NAME
    siblings   left/NAME.* + right/NAME.* (sibling folders, same names)                    : pair NAME
`scan` returns the pairs in folder order, the half pairs (a view whose partner is missing, with a message naming
it) and every other image. Users: upscale (infer/pairs.py: lists what it skips), eval (data/stereo_sets.py:
refuses half pairs), stereo-eval (stereo/scenes.py: keeps pairs with ground truth beside them).

With `ignore_case`, view names, folder names and tags match in any case (Left.PNG, X_l/X_r, LEFT/). Folders in
`exclude`, and with `skip_marked` folders holding OUTPUT_MARKER (msinet wrote results there), are not scanned
with everything below them (the root always is), so that a job's outputs never become its inputs; they are
returned in `skipped` with the reason, and files that are no image in `non_images`, so that a caller can say
what it leaves out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .image_io import IMAGE_SUFFIXES

OUTPUT_MARKER = ".msinet-output"  # written into every folder `msinet upscale` writes results to


@dataclass(frozen=True)
class ScanPolicy:
    view_names: tuple[tuple[str, str], ...] = ()  # in-folder pairs by stem; the first present one counts
    sibling_folders: tuple[tuple[str, str], ...] = ()  # (left folder name, right folder name)
    siblings_by: str = "stem"  # match sibling files by "stem" or full "name"
    suffix_tags: tuple[str, str] | None = ("_L", "_R")
    recursive: bool = True  # False: the root and its direct sub-folders
    ignore_case: bool = False  # Left.PNG, X_l / X_r, LEFT/ count as well
    skip_marked: bool = False  # skip folders holding OUTPUT_MARKER


@dataclass(frozen=True)
class FoundPair:
    kind: str  # "in-folder" | "suffixed" | "siblings"
    folder: Path  # where the pair lives (siblings: the folder holding left/ and right/)
    stem: str | None  # suffixed / siblings: NAME; in-folder: None
    left: Path
    right: Path


@dataclass
class ScanResult:
    pairs: list[FoundPair] = field(default_factory=list)
    halves: list[tuple[Path, str]] = field(default_factory=list)  # (the view found, why it has no partner)
    others: list[Path] = field(default_factory=list)  # images that are no view of any pair
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # folders not scanned: "excluded" | "marked"
    non_images: list[Path] = field(default_factory=list)  # visible files of the scanned folders, no image


def is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def images_by_stem(folder: Path) -> dict[str, Path]:
    """{stem: image} of one folder; a stem with several suffixes keeps the first of IMAGE_SUFFIXES (png first)."""
    rank = {s: i for i, s in enumerate(IMAGE_SUFFIXES)}
    out: dict[str, Path] = {}
    for f in sorted((p for p in folder.iterdir() if is_image(p)), key=lambda p: (rank[p.suffix.lower()], p.name)):
        out.setdefault(f.stem, f)
    return dict(sorted(out.items()))


def _folders(root: Path, recursive: bool, skip) -> list[Path]:
    out, todo, seen = [root], [root], {root.resolve()}
    while todo:  # walk by hand: a skipped folder is pruned with everything below it; a link cycle ends
        for sub in sorted(p for p in todo.pop().iterdir() if p.is_dir() and not p.name.startswith(".")):
            if not skip(sub) and sub.resolve() not in seen:
                seen.add(sub.resolve())
                out.append(sub)
                if recursive:
                    todo.append(sub)
    return sorted(out)


class _Names(dict):
    """{stem: image} looked up as written or, with ignore_case, in any case (the first in sorted order wins)."""

    def __init__(self, items: dict, ignore_case: bool):
        super().__init__(items)
        self.folded = {}
        if ignore_case:
            for k, v in items.items():
                self.folded.setdefault(k.lower(), v)

    def get(self, key, default=None):
        hit = super().get(key)
        return hit if hit is not None else self.folded.get(key.lower(), default)


def scan(root, policy: ScanPolicy, exclude=()) -> ScanResult:
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"folder not found: {root}")
    excluded = {Path(p).resolve() for p in exclude}
    skipped: dict[Path, str] = {}

    def skip(folder: Path) -> bool:
        why = (
            "excluded"
            if folder.resolve() in excluded
            else "marked"
            if policy.skip_marked and (folder / OUTPUT_MARKER).is_file()
            else None
        )
        if why is not None:
            skipped.setdefault(folder, why)
        return why is not None

    folders = _folders(root, policy.recursive, skip)
    files = {d: _Names(images_by_stem(d), policy.ignore_case) for d in folders}
    fold = str.lower if policy.ignore_case else (lambda s: s)
    result, used = ScanResult(), set()

    def add(kind, folder, stem, left, right):
        result.pairs.append(FoundPair(kind, folder, stem, left, right))
        used.update((left, right))

    def half(path, why):
        result.halves.append((path, why))
        used.add(path)

    for folder in folders:
        here = files[folder]
        for l_name, r_name in policy.sibling_folders:
            if fold(folder.name) != fold(l_name):
                continue
            other = folder.with_name(r_name)
            if policy.ignore_case and not other.is_dir():
                other = next(
                    (
                        p
                        for p in sorted(folder.parent.iterdir())
                        if p.is_dir() and fold(p.name) == fold(r_name) and not skip(p)
                    ),
                    other,
                )
            if not other.is_dir() or skip(other):
                continue
            key = (lambda p: p.stem) if policy.siblings_by == "stem" else (lambda p: p.name)
            lefts = {key(p): p for p in here.values()}
            rights = {key(p): p for p in (files[other] if other in files else images_by_stem(other)).values()}
            for k in sorted(set(lefts) | set(rights)):
                if k in lefts and k in rights:
                    add("siblings", folder.parent, Path(k).stem, lefts[k], rights[k])
                else:
                    have, where = (lefts[k], other) if k in lefts else (rights[k], folder)
                    half(have, f"{have.name} has no counterpart in {where}")
        for l_stem, r_stem in policy.view_names:
            left, right = here.get(l_stem), here.get(r_stem)
            if left in used or right in used:
                continue
            if left and right:
                add("in-folder", folder, None, left, right)
                break
            if left or right:
                half(
                    left or right, f"{folder}: found {(left or right).name} but no '{r_stem if left else l_stem}' view"
                )
                break
        if policy.suffix_tags:
            l_tag, r_tag = policy.suffix_tags
            names = sorted(
                {s[: -len(t)] for s in here for t in (l_tag, r_tag) if fold(s).endswith(fold(t)) and len(s) > len(t)}
            )
            for name in names:
                left, right = here.get(name + l_tag), here.get(name + r_tag)
                if left in used or right in used:
                    continue
                if left and right:
                    add("suffixed", folder, name, left, right)
                else:
                    have, miss = (name + l_tag, name + r_tag) if left else (name + r_tag, name + l_tag)
                    half(left or right, f"{folder}: {have} has no {miss} view")
    result.others = [p for d in folders for p in sorted(d.iterdir()) if is_image(p) and p not in used]
    result.skipped = sorted(skipped.items())
    result.non_images = [
        p
        for d in folders
        for p in sorted(d.iterdir())
        if p.is_file() and not p.name.startswith(".") and not is_image(p)
    ]
    return result
