"""Which bicubic rule made a kit's LR files? Per-hypothesis table against the published files.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_degradation.py

For every hypothesis (border rule x pass order x rounding x antialiasing) the HR files are downscaled and
compared with the published LR: % of identical values and the largest difference, per scale and view of
the stereo-SR kit sample (../shared/data/testsets/Flickr1024), and over RCAN's Set5 x2/x3/x4 LRBI files.
Only the MATLAB kernel (a = -0.5 cubic, stretched by 1/s when shrinking) is used; hypotheses vary how it
reads past the border and where the result is rounded.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
from PIL import Image

from msinet.data.imresize import kernel_taps, output_length, pad_indices

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
KIT = DATA / "testsets" / "Flickr1024"
RCAN = DATA / "rcan-set5"


def border_matrix(n: int, scale: float, border: str, antialias: bool) -> np.ndarray:
    """(out, n) matrix of one 1-D pass. Borders: replicate | symmetric (edge repeated) | reflect (edge not
    repeated) | wrap | zero (taps outside dropped, the remaining weights renormalised)."""
    idx, w = kernel_taps(n, output_length(n, scale), scale, antialias)
    if border in ("replicate", "symmetric"):
        src = pad_indices(idx, n, border)
    elif border == "reflect":
        folded = np.mod(idx, 2 * n - 2)
        src = np.where(folded < n, folded, 2 * n - 2 - folded)
    elif border == "wrap":
        src = np.mod(idx, n)
    else:  # zero
        w = np.where((idx >= 0) & (idx < n), w, 0.0)
        w, src = w / w.sum(axis=1, keepdims=True), np.clip(idx, 0, n - 1)
    mat = np.zeros((idx.shape[0], n))
    np.add.at(mat, (np.repeat(np.arange(idx.shape[0]), idx.shape[1]), src.ravel()), w.ravel())
    return mat


def downscale(hr: np.ndarray, s: int, border: str, order: str, rounding: str, antialias: bool) -> np.ndarray:
    """rounding: 'per-pass' (uint8 after each pass: MATLAB on uint8), 'once' (double image, rounded at the
    end: MATLAB on double / float ports)."""
    x = hr.astype(np.float64)
    for axis in (0, 1) if order == "H,W" else (1, 0):
        mat = border_matrix(x.shape[axis], 1.0 / s, border, antialias)
        x = np.moveaxis(np.tensordot(mat, np.moveaxis(x, axis, 0), axes=1), 0, axis)
        if rounding == "per-pass":
            x = np.floor(np.clip(x, 0, 255) + 0.5)  # half away from zero, as MATLAB
    return np.floor(np.clip(x, 0, 255) + 0.5).astype(np.uint8)


def rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def kit_cases():
    for s, v in itertools.product((2, 4), (0, 1)):
        yield (
            f"kit x{s} v{v}",
            [(rgb(KIT / "hr" / "0001" / f"hr{v}.png"), rgb(KIT / f"lr_x{s}" / "0001" / f"lr{v}.png"), s)],
        )


def rcan_case():
    pairs = []
    for s in (2, 3, 4):
        for hr in sorted((RCAN / "HR" / "Set5" / f"x{s}").glob("*.png")):
            lr = RCAN / "LR" / "LRBI" / "Set5" / f"x{s}" / hr.name.replace("_HR_", "_LRBI_")
            pairs.append((rgb(hr), rgb(lr), s))
    return "RCAN Set5 x2-4", pairs


def score(pairs, **rule) -> str:
    same = total = worst = 0
    for hr, lr, s in pairs:
        diff = np.abs(downscale(hr, s, **rule).astype(int) - lr.astype(int))
        same, total, worst = same + int((diff == 0).sum()), total + diff.size, max(worst, int(diff.max()))
    return f"{100 * same / total:8.4f}% / {worst:<2d}"


def main() -> None:
    cases = ([*kit_cases()] if KIT.is_dir() else []) + ([rcan_case()] if RCAN.is_dir() else [])
    if not cases:
        raise SystemExit(f"no kit files under {DATA}")
    rules = [
        dict(border=b, order=o, rounding=r, antialias=True)
        for b, o, r in itertools.product(
            ("replicate", "symmetric", "reflect", "wrap", "zero"), ("H,W", "W,H"), ("per-pass", "once")
        )
    ]
    rules += [dict(border=b, order="H,W", rounding="per-pass", antialias=False) for b in ("replicate", "symmetric")]
    print("| border | order | rounding | antialias | " + " | ".join(name for name, _ in cases) + " |")
    print("|---" * (4 + len(cases)) + "|")
    for rule in rules:
        cells = " | ".join(score(pairs, **rule) for _, pairs in cases)
        print(f"| {rule['border']} | {rule['order']} | {rule['rounding']} | {rule['antialias']} | {cells} |")
    print("cells: % of identical uint8 values / largest difference")


if __name__ == "__main__":
    main()
