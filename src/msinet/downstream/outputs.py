"""Outputs of stereo-eval: a text table, a CSV of every score, disparity maps side by side (paper Figure 4)
and, optionally, each disparity map as a KITTI 16-bit PNG."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from .metrics import fill_holes

CSV_FIELDS = ("scene", "method", "region", "epe", "bad1", "bad3", "density", "pixels")


def format_table(rows: list[dict]) -> str:
    lines = [
        f"{'scene':36s} {'method':24s} {'region':7s} {'EPE':>8s} {'bad-1 %':>8s} {'bad-3 %':>8s} {'density %':>10s}"
    ]
    for r in rows:
        lines.append(
            f"{r['scene']:36s} {r['method']:24s} {r['region']:7s} {r['epe']:8.3f} {r['bad1']:8.2f} "
            f"{r['bad3']:8.2f} {r['density']:10.1f}"
        )
    return "\n".join(lines)


def write_csv(rows: list[dict], path) -> Path:
    path = Path(path)
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for r in rows:
            writer.writerow({k: (f"{r[k]:.6f}" if isinstance(r[k], float) else r[k]) for k in CSV_FIELDS})
    return path


def save_figure(results, path, methods: list[str]) -> Path:
    """One row per scene: left view, ground truth, then each method's (hole-filled) disparity with its EPE."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    cols = 2 + len(methods)
    fig = Figure(figsize=(2.6 * cols, 1.9 * len(results) + 0.3), dpi=110)
    axes = fig.subplots(len(results), cols, squeeze=False)
    cmap = matplotlib.colormaps["magma"].with_extremes(bad="black")  # black: unknown ground truth
    for row, res in zip(axes, results):
        vmax = float(np.nanmax(res.gt))
        scores = {s["method"]: s for s in res.scores if s["region"] == "all"}
        row[0].imshow(res.left)
        row[0].set_title(res.scene, fontsize=7)
        row[1].imshow(res.gt, cmap=cmap, vmin=0, vmax=vmax, interpolation="nearest")
        row[1].set_title("ground truth", fontsize=7)
        for ax, method in zip(row[2:], methods):
            ax.imshow(fill_holes(res.disparities[method]), cmap=cmap, vmin=0, vmax=vmax)
            ax.set_title(f"{method}  EPE {scores[method]['epe']:.2f}", fontsize=7)
        for ax in row:
            ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(path)
    return Path(path)


def write_disparity_png(disp: np.ndarray, path) -> Path:
    """KITTI convention: uint16 = round(256 * d), 0 = no match (NaN) or d <= 0."""
    from ..data.image_io import write_bytes_atomic

    return write_bytes_atomic(path, encode_disparity_png(disp, path))


def encode_disparity_png(disp: np.ndarray, path="disparity") -> bytes:
    """The KITTI 16-bit PNG of a disparity map (uint16 = round(256 * d), 0 = no match or d <= 0)."""
    from ..data.image_io import encode_png

    values = np.where(np.isfinite(disp), np.round(np.clip(disp, 0, 255.99) * 256.0), 0).astype(np.uint16)
    return encode_png(values, path)
