"""Turn raw dataset downloads into the layouts msinet (and iPASSR/NAFSSR) read.

Recognised in the raw folder (at any depth):
  Flickr1024      Train/ Validation/ Test/ folders of NNNN_L.png + NNNN_R.png (under a folder named *flickr*)
  KITTI2012       colored_0/ + colored_1/ (frames *_10 used), under a folder whose path mentions 2012
  KITTI2015       image_2/ + image_3/ (frames *_10), under a folder whose path mentions 2015 or scene_flow
  Middlebury      scene folders with im0.png + im1.png (2014) or view1.png + view5.png (2005/2006)
Written to OUT:
  test/<Set>/hr/<scene>/hr0.png, hr1.png          HR cropped to a multiple of the scale
  test/<Set>/lr_x<s>/<scene>/lr0.png, lr1.png     that HR downscaled as the published kits are (degrade "kit")
  train/<name>/hr0.png, hr1.png                   Flickr1024 Train as is + Middlebury downscaled x2 (as prior work)
  patches_x<s>/<NNNNNN>/{hr0,hr1,lr0,lr1}.png     only with patches=True: LR 30x90 crops, stride 20
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .degradation import degrade
from .image_io import load_pair, mod_crop, write_png
from .imresize import imresize

DOWNLOADS = {
    "Flickr1024": "https://yingqianwang.github.io/Flickr1024/",
    "KITTI2012": "https://www.cvlibs.net/datasets/kitti/eval_stereo_flow.php?benchmark=stereo",
    "KITTI2015": "https://www.cvlibs.net/datasets/kitti/eval_scene_flow.php?benchmark=stereo",
    "Middlebury": "https://vision.middlebury.edu/stereo/data/",
}
PATCH_LR = (30, 90)
PATCH_STRIDE = 20


@dataclass
class Found:
    pairs: list = field(default_factory=list)  # (name, left path, right path)
    sources: set = field(default_factory=set)


def _pairs_by_suffix(folder: Path) -> list:
    lefts = sorted(folder.glob("*_L.png"))
    return [
        (p.stem[:-2], p, p.with_name(p.stem[:-2] + "_R.png"))
        for p in lefts
        if p.with_name(p.stem[:-2] + "_R.png").is_file()
    ]


def _pairs_by_folders(left_dir: Path, right_dir: Path) -> list:
    return [
        (p.stem, p, right_dir / p.name) for p in sorted(left_dir.glob("*_10.png")) if (right_dir / p.name).is_file()
    ]


def scan_raw(raw) -> dict[str, Found]:
    """What the raw folder holds: keys Flickr1024-train/-val/-test, KITTI2012, KITTI2015, Middlebury."""
    raw = Path(raw)
    if not raw.is_dir():
        raise FileNotFoundError(f"raw data folder not found: {raw}")
    found: dict[str, Found] = {}

    def add(key, pairs, source):
        if pairs:
            entry = found.setdefault(key, Found())
            entry.pairs.extend(pairs)
            entry.sources.add(str(source))

    for folder in sorted([raw, *(p for p in raw.rglob("*") if p.is_dir())]):
        path_text = folder.as_posix().lower()
        name = folder.name.lower()
        if "flickr" in path_text and name in ("train", "validation", "test"):
            split = {"train": "train", "validation": "val", "test": "test"}[name]
            add(f"Flickr1024-{split}", _pairs_by_suffix(folder), folder)
        if (folder / "colored_0").is_dir() and (folder / "colored_1").is_dir() and "2012" in path_text:
            add("KITTI2012", _pairs_by_folders(folder / "colored_0", folder / "colored_1"), folder)
        if (
            (folder / "image_2").is_dir()
            and (folder / "image_3").is_dir()
            and ("2015" in path_text or "scene_flow" in path_text)
        ):
            add("KITTI2015", _pairs_by_folders(folder / "image_2", folder / "image_3"), folder)
        for l_name, r_name in (("im0.png", "im1.png"), ("view1.png", "view5.png")):
            if (folder / l_name).is_file() and (folder / r_name).is_file():
                add("Middlebury", [(folder.name, folder / l_name, folder / r_name)], folder.parent)
                break
    return found


def _check_free(path: Path, overwrite: bool) -> None:
    if path.exists() and any(path.iterdir()) and not overwrite:
        raise FileExistsError(f"{path} exists and is not empty (pass --overwrite to write into it)")


def _write_test_set(pairs, folder: Path, scale: int, overwrite: bool) -> int:
    for name, left_path, right_path in pairs:
        left, right = load_pair(left_path, right_path)
        left, right = mod_crop(left, scale), mod_crop(right, scale)
        for view, img in (("0", left), ("1", right)):
            write_png(folder / "hr" / name / f"hr{view}.png", img, overwrite)
            write_png(folder / f"lr_x{scale}" / name / f"lr{view}.png", degrade(img, scale), overwrite)
    return len(pairs)


def _write_patches(left, right, scale: int, out: Path, start: int, overwrite: bool) -> int:
    """LR 30x90 / HR (30s)x(90s) aligned crops every 20 LR pixels (iPASSR-style pre-generated patches)."""
    left, right = mod_crop(left, scale), mod_crop(right, scale)
    lr_l, lr_r = degrade(left, scale), degrade(right, scale)
    ph, pw = PATCH_LR
    count = 0
    for y in range(0, lr_l.shape[0] - ph + 1, PATCH_STRIDE):
        for x in range(0, lr_l.shape[1] - pw + 1, PATCH_STRIDE):
            folder = out / f"{start + count:06d}"
            hy, hx = y * scale, x * scale
            for name, img in (
                ("lr0", lr_l[y : y + ph, x : x + pw]),
                ("lr1", lr_r[y : y + ph, x : x + pw]),
                ("hr0", left[hy : hy + ph * scale, hx : hx + pw * scale]),
                ("hr1", right[hy : hy + ph * scale, hx : hx + pw * scale]),
            ):
                write_png(folder / f"{name}.png", img, overwrite)
            count += 1
    return count


def prepare(raw, out, scale: int = 4, patches: bool = False, overwrite: bool = False, log=print) -> dict:
    """Convert what `raw` holds; returns {what: count written}. Logs what was found and what is missing."""
    if scale not in (2, 3, 4):
        raise ValueError(f"scale must be 2, 3 or 4, got {scale!r}")
    out = Path(out)
    found = scan_raw(raw)
    for key, entry in sorted(found.items()):
        log(f"found {key}: {len(entry.pairs)} pairs in {', '.join(sorted(entry.sources))}")
    for dataset, url in DOWNLOADS.items():
        if not any(k.startswith(dataset) for k in found):
            log(f"missing {dataset}: not found under {raw} (download: {url})")
    if not found:
        raise ValueError(f"nothing to prepare in {raw}: no Flickr1024, KITTI or Middlebury layout found")
    tests = {
        "Flickr1024": found.get("Flickr1024-test"),
        "KITTI2012": found.get("KITTI2012"),
        "KITTI2015": found.get("KITTI2015"),
        "Middlebury": found.get("Middlebury"),
    }
    train_sources = [k for k in ("Flickr1024-train", "Middlebury") if k in found]
    targets = [out / "test" / s for s, e in tests.items() if e] + ([out / "train"] if train_sources else [])
    targets += [out / f"patches_x{scale}"] if patches and train_sources else []
    for t in targets:  # refuse before writing anything
        _check_free(t, overwrite)

    written = {}
    for set_name, entry in tests.items():
        if entry:
            written[f"test/{set_name}"] = _write_test_set(entry.pairs, out / "test" / set_name, scale, overwrite)
            log(f"wrote test/{set_name}: {written[f'test/{set_name}']} pairs (HR + LR x{scale})")
    n_train = n_patches = 0
    for key in train_sources:
        for name, left_path, right_path in found[key].pairs:
            left, right = load_pair(left_path, right_path)
            if key == "Middlebury":  # prior work trains on Middlebury at half resolution
                left, right = imresize(left, 1 / 2), imresize(right, 1 / 2)
                name = f"middlebury_{name}"
            else:
                name = f"flickr1024_{name}"
            write_png(out / "train" / name / "hr0.png", left, overwrite)
            write_png(out / "train" / name / "hr1.png", right, overwrite)
            n_train += 1
            if patches:
                n_patches += _write_patches(left, right, scale, out / f"patches_x{scale}", n_patches, overwrite)
    if train_sources:
        written["train"] = n_train
        log(f"wrote train: {n_train} pairs ({' + '.join(train_sources)}; Middlebury downscaled x2)")
    if patches and train_sources:
        written[f"patches_x{scale}"] = n_patches
        log(f"wrote patches_x{scale}: {n_patches} patches (LR {PATCH_LR[0]}x{PATCH_LR[1]}, stride {PATCH_STRIDE})")
    return written
