"""Fill `.gpu/` (git-ignored) with what a GPU session needs and a bare device machine lacks; the device call
names `.gpu` in `carry` (the working tree that travels is limited to 64 MiB in all).

    python benchmarks/gpu_pack.py                       # configs/msinet_small_x4_cpu.yaml's data, its carry file
    python benchmarks/gpu_pack.py --no-wheels           # offline: wheels fetched by an earlier pack are kept

.gpu/
  data/<folder>/<file>.webp   each training and validation pair of the config, as the uint8 RGB arrays the
                              trainer reads (load_pair), stored as lossless WebP and checked to decode bit for bit
  pack.json                   {original folder: packed folder}, the carry file, what the wheels are
  start.safetensors           the carry file the GPU run starts from (EMA weights, step in its metadata)
  wheels/*.whl                pure-Python dependencies the device image lacks (lion-pytorch, platformdirs)

benchmarks/gpu_session.py reads only the repository and this folder.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from msinet.data.train_patches import find_pairs, load_rgb_pair  # noqa: E402
from msinet.train.config import load_config  # noqa: E402

# on the device image (python 3.12, torch 2.11) these are missing; both are pure Python
WHEELS = ("lion-pytorch==0.2.5", "platformdirs==4.14.9")
LIMIT_BYTES = 64 * 2**20


def encode_lossless(array: np.ndarray, path: Path) -> None:
    from PIL import Image

    Image.fromarray(array).save(path, "WEBP", lossless=True, quality=100, method=6)
    with Image.open(path) as img:
        back = np.asarray(img.convert("RGB"))
    if back.shape != array.shape or not np.array_equal(back, array):
        raise RuntimeError(f"{path}: lossless WebP did not give back the same pixels")


def pack_folder(folder: Path, dest: Path) -> int:
    """Every pair under `folder` as lossless WebP under `dest`, same relative names; returns bytes written."""
    written = 0
    for left, right in find_pairs(folder):
        for view, array in zip((left, right), load_rgb_pair(left, right)):
            target = dest / view.relative_to(folder).with_suffix(".webp")
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                encode_lossless(np.ascontiguousarray(array), target)
            written += target.stat().st_size
    return written


def fetch_wheels(dest: Path) -> list[str]:
    dest.mkdir(parents=True, exist_ok=True)
    for spec in WHEELS:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--only-binary=:all:",
                "--python-version",
                "3.12",
                "--implementation",
                "py",
                "-d",
                str(dest),
                spec,
            ],
            check=True,
        )
    return sorted(p.name for p in dest.glob("*.whl"))


def tree_bytes() -> int:
    """Bytes of what travels besides the carried folder: tracked plus untracked-not-ignored files (0 outside git)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True
    )
    if listed.returncode:
        return 0
    names = [n.decode() for n in listed.stdout.split(b"\0") if n]
    return sum((ROOT / n).stat().st_size for n in names if (ROOT / n).is_file())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/msinet_small_x4_cpu.yaml")
    parser.add_argument("--carry", default=None, help="weights to start from (default: the config's carry file)")
    parser.add_argument("--out", default=".gpu")
    parser.add_argument("--no-wheels", action="store_true")
    args = parser.parse_args(argv)

    out = ROOT / args.out
    config = load_config(ROOT / args.config)
    carry = Path(args.carry or config["checkpoint"]["carry"])
    carry = carry if carry.is_absolute() else ROOT / carry
    if not carry.is_file():
        raise SystemExit(f"gpu_pack: the weights to start from are missing: {carry}")
    (out / "data").mkdir(parents=True, exist_ok=True)
    folders, total = {}, 0
    for key in ("train", "val"):
        for name in config["data"][key]:
            src = Path(name) if Path(name).is_absolute() else ROOT / name
            packed = f"{args.out}/data/{src.name}"
            if packed in folders.values():
                raise SystemExit(f"gpu_pack: two data folders share the name {src.name}")
            folders[name] = packed
            total += pack_folder(src, ROOT / packed)
    shutil.copyfile(carry, out / "start.safetensors")
    wheels = sorted(p.name for p in (out / "wheels").glob("*.whl")) if args.no_wheels else fetch_wheels(out / "wheels")
    (out / "pack.json").write_text(
        json.dumps({"config": args.config, "folders": folders, "start": carry.name, "wheels": wheels}, indent=1)
    )
    carried = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    travels = carried + tree_bytes()
    print(
        f"{len(folders)} folders, {total / 2**20:.1f} MiB of lossless WebP; {out} holds {carried / 2**20:.1f} "
        f"MiB; with the working tree {travels / 2**20:.1f} MiB travel (limit {LIMIT_BYTES / 2**20:.0f})"
    )
    if travels > LIMIT_BYTES:
        raise SystemExit("gpu_pack: what travels is over the device's 64 MiB limit")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
