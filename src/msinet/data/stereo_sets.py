"""Stereo SR test sets in the layouts the community ships, and any folder of stereo pairs.

Layouts recognised (first match wins), for a set folder ROOT:
  ipassr   ROOT/hr/<scene>/hr0.png, hr1.png  [+ ROOT/lr_x<s>/<scene>/lr0.png, lr1.png]   (iPASSR, NAFSSR, MSINet)
  folders  ROOT/left/* + ROOT/right/*  (also KITTI's colored_0 + colored_1, image_2 + image_3), same file names
  suffix   ROOT/<name>_L.<ext> + ROOT/<name>_R.<ext>                                     (Flickr1024)
  scenes   ROOT/<scene>/{left,right}.*, {hr0,hr1}.*, {im0,im1}.* or {view1,view5}.*, at any depth, and
           <name>_L / <name>_R files inside sub-folders                                 (msinet's shared data)
HR views are cropped to a multiple of the scale. LR views come from the files where the layout has them (they
win), else from the cropped HR by a named degradation (msinet.data.degradation; default "kit", the rule the
stereo-SR kits' LR files were made with), cached on disk so later runs read them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .degradation import DEFAULT_DEGRADATION, check_degradation, degrade
from .image_io import find_file, load_pair, mod_crop, write_png
from .pair_scan import ScanPolicy, scan

IN_FOLDER_NAMES = (("left", "right"), ("hr0", "hr1"), ("im0", "im1"), ("view1", "view5"))
FOLDER_PAIRS = (("left", "right"), ("colored_0", "colored_1"), ("image_2", "image_3"))
BENCHMARKS = ("KITTI2012", "KITTI2015", "Middlebury", "Flickr1024")
LAYOUT_HELP = (
    "hr/<scene>/hr0.png+hr1.png, left/ + right/ folders, <name>_L.png + <name>_R.png files, "
    "or <scene>/left.png + right.png folders"
)


@dataclass(frozen=True)
class PairFiles:
    name: str
    hr_left: Path
    hr_right: Path
    lr_left: Path | None = None
    lr_right: Path | None = None


@dataclass
class StereoSample:
    name: str
    lr_left: np.ndarray  # uint8 (h, w, 3)
    lr_right: np.ndarray
    hr_left: np.ndarray  # uint8 (s*h, s*w, 3), mod-cropped
    hr_right: np.ndarray
    lr_source: str  # "files" | "imresize" (made now) | "cache"


def _ipassr_pairs(root: Path, scale: int) -> list[PairFiles]:
    pairs = []
    lr_root = root / f"lr_x{scale}"
    for scene in sorted(p for p in (root / "hr").iterdir() if p.is_dir()):
        hr = (find_file(scene, "hr0"), find_file(scene, "hr1"))
        if not all(hr):
            raise ValueError(f"{scene}: needs hr0.png and hr1.png, missing {'hr0' if hr[0] is None else 'hr1'}")
        lr = (None, None)
        if (lr_root / scene.name).is_dir():
            lr = (find_file(lr_root / scene.name, "lr0"), find_file(lr_root / scene.name, "lr1"))
            if not all(lr):
                raise ValueError(f"{lr_root / scene.name}: needs lr0.png and lr1.png, one is missing")
        pairs.append(PairFiles(scene.name, hr[0], hr[1], lr[0], lr[1]))
    return pairs


# eval is strict: a view without its partner is an error (data/pair_scan.py scans, this module names the pairs)
FOLDERS_POLICY = ScanPolicy(sibling_folders=FOLDER_PAIRS, siblings_by="name", suffix_tags=None, recursive=False)
SCENES_POLICY = ScanPolicy(view_names=IN_FOLDER_NAMES, suffix_tags=("_L", "_R"), recursive=True)


def _strict_scan(root: Path, policy: ScanPolicy) -> list[PairFiles]:
    found = scan(root, policy)
    if found.halves:
        path, why = found.halves[0]
        raise ValueError(f"{why} ({len(found.halves)} unmatched)" if len(found.halves) > 1 else why)
    pairs = []
    for p in found.pairs:
        rel = p.folder.relative_to(root).as_posix()
        if p.kind == "in-folder":
            name = root.name if rel == "." else rel
        elif p.kind == "suffixed":
            name = p.stem if rel == "." else f"{rel}/{p.stem}"
        else:
            name = p.stem
        pairs.append(PairFiles(name, p.left, p.right))
    return pairs


def discover_pairs(root, scale: int = 4) -> tuple[str, list[PairFiles]]:
    """(layout name, sorted pairs) of a set folder; raises with a clear message where nothing usable is found."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"data folder not found: {root}")
    if (root / "hr").is_dir():
        layout, pairs = "ipassr", _ipassr_pairs(root, scale)
    else:
        layout, pairs = None, []
        for l_name, r_name in FOLDER_PAIRS:
            if (root / l_name).is_dir() and (root / r_name).is_dir():
                layout, pairs = "folders", _strict_scan(root, FOLDERS_POLICY)
                break
            if (root / l_name).is_dir() != (root / r_name).is_dir():
                have, miss = (l_name, r_name) if (root / l_name).is_dir() else (r_name, l_name)
                raise ValueError(f"{root}: has a {have}/ folder but no {miss}/ folder")
        if layout is None:
            layout, pairs = "scenes", _strict_scan(root, SCENES_POLICY)
    if not pairs:
        raise ValueError(f"no stereo pairs found in {root} (expected {LAYOUT_HELP})")
    return layout, pairs


def default_cache_dir() -> Path:
    """Where generated LR views are cached: lr/ in msinet's cache folder (msinet.cache: $MSINET_CACHE or the
    platform's user cache)."""
    from ..cache import cache_root

    return cache_root() / "lr"


class StereoSet:
    """A test set: `len(s)`, `s[i]` -> StereoSample with uint8 LR and (mod-cropped) HR views of pair i."""

    def __init__(
        self,
        root,
        scale: int = 4,
        name: str | None = None,
        cache_dir=None,
        use_cache: bool = True,
        degradation: str = DEFAULT_DEGRADATION,
    ):
        if scale not in (2, 3, 4):
            raise ValueError(f"scale must be 2, 3 or 4, got {scale!r}")
        self.degradation = check_degradation(degradation)  # only used where the layout has no LR files
        self.root = Path(root)
        self.scale = scale
        self.name = name or self.root.name
        self.layout, self.pairs = discover_pairs(self.root, scale)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.use_cache = use_cache

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> StereoSample:
        files = self.pairs[index]
        hr_left, hr_right = load_pair(files.hr_left, files.hr_right)
        if hr_left.shape[0] < self.scale or hr_left.shape[1] < self.scale:  # its size as stored, not mod-cropped
            raise ValueError(
                f"{files.hr_left}: {hr_left.shape[1]}x{hr_left.shape[0]} is too small for x{self.scale} "
                f"(at least {self.scale}x{self.scale}); remove the pair from the set"
            )
        hr_left, hr_right = mod_crop(hr_left, self.scale), mod_crop(hr_right, self.scale)
        want = (hr_left.shape[0] // self.scale, hr_left.shape[1] // self.scale, 3)
        if files.lr_left is not None:
            lr_left, lr_right = load_pair(files.lr_left, files.lr_right)
            if lr_left.shape != want:
                raise ValueError(
                    f"{files.lr_left}: LR is {lr_left.shape[1]}x{lr_left.shape[0]} but the HR "
                    f"{files.hr_left.name} at x{self.scale} needs {want[1]}x{want[0]}"
                )
            return StereoSample(files.name, lr_left, lr_right, hr_left, hr_right, "files")
        lr_left, lr_right, source = self._made_lr(files, hr_left, hr_right)
        return StereoSample(files.name, lr_left, lr_right, hr_left, hr_right, source)

    def _cache_paths(self, files: PairFiles) -> tuple[Path, Path]:
        # keyed by the degradation and the HR files' absolute paths, sizes and mtimes: edited HR files get fresh LR
        key = hashlib.sha1(self.degradation.encode())
        for p in (files.hr_left, files.hr_right):
            st = p.stat()
            key.update(f"{p.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
        stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in files.name)[-60:]
        folder = self.cache_dir / f"x{self.scale}"
        digest = key.hexdigest()[:16]
        return folder / f"{stem}-{digest}-L.png", folder / f"{stem}-{digest}-R.png"

    def _made_lr(self, files: PairFiles, hr_left, hr_right):
        paths = self._cache_paths(files) if self.use_cache else None
        if paths and paths[0].is_file() and paths[1].is_file():
            try:
                lr_left, lr_right = load_pair(*paths)
                if lr_left.shape == (hr_left.shape[0] // self.scale, hr_left.shape[1] // self.scale, 3):
                    return lr_left, lr_right, "cache"
            except ValueError:
                pass  # a damaged cache entry is simply remade
        lr_left, lr_right = (degrade(v, self.scale, self.degradation) for v in (hr_left, hr_right))
        if paths:
            try:
                for path, img in zip(paths, (lr_left, lr_right)):
                    write_png(path, img, overwrite=True)  # our own cache file, never a user's
            except OSError:
                pass  # a read-only cache only costs time
        return lr_left, lr_right, "imresize"


def find_set_folder(data_root, set_name: str) -> Path:
    """The folder of a named set under data_root (also under data_root/test/, case-insensitive);
    'custom' (or '.') is data_root itself."""
    root = Path(data_root)
    if not root.is_dir():
        raise FileNotFoundError(f"data folder not found: {root}")
    if set_name in ("custom", "."):
        return root
    for base in (root, root / "test", root / "Test"):
        if not base.is_dir():
            continue
        for child in base.iterdir():
            if child.is_dir() and child.name.lower() == set_name.lower():
                return child
    found = sorted(p.name for p in root.iterdir() if p.is_dir())
    raise FileNotFoundError(
        f"set {set_name!r} not found in {root} (folders there: {', '.join(found) or 'none'}; "
        "use --sets custom to evaluate the folder itself)"
    )


def open_set(
    data_root,
    set_name: str,
    scale: int = 4,
    cache_dir=None,
    use_cache: bool = True,
    degradation: str = DEFAULT_DEGRADATION,
) -> StereoSet:
    folder = find_set_folder(data_root, set_name)
    name = Path(data_root).name if set_name in ("custom", ".") else folder.name
    return StereoSet(folder, scale, name=name, cache_dir=cache_dir, use_cache=use_cache, degradation=degradation)
