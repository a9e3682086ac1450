"""Printing and saving evaluation results: text tables, CSV and JSON."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from .paper import PAPER_PROTOCOL, paper_rows


def _fmt(psnr: float, ssim: float) -> str:
    p = "inf" if math.isinf(psnr) else f"{psnr:.2f}"
    return f"{p:>7s}  {ssim:.4f}"


def format_set_table(results: list, protocols: list, n_pairs: int, lr_note: str, verbose: bool = False) -> str:
    """One set: a row per (method, protocol) with the means, per-image rows if verbose, then the paper's rows."""
    first = results[0]
    lines = [f"== {first.set_name} (x{first.scale}, {n_pairs} pairs, LR {lr_note}) =="]
    for p in protocols:
        lines.append(f"   {p.name}: {p.describe()}")
    width = max(24, *(len(r.method) + 2 for r in results))
    lines.append(f"{'method':{width}s} {'protocol':18s} {'PSNR':>7s}  SSIM")
    for r in results:
        means = r.means()
        for p in protocols:
            lines.append(f"{r.method:{width}s} {p.name:18s} {_fmt(*means[p.name])}")
            if verbose:
                for img in r.images:
                    lines.append(f"{'  ' + img.name:{width}s} {p.name:18s} {_fmt(*img.scores[p.name])}")
    published = paper_rows(first.set_name, first.scale)
    if published:
        lines.append(f"-- published (MSINet paper, Table 1; protocol '{PAPER_PROTOCOL}', full test set) --")
        for method, params, psnr, ssim in published:
            lines.append(f"{method + ' (' + params + ')':{width}s} {PAPER_PROTOCOL:18s} {_fmt(psnr, ssim)}")
    return "\n".join(lines)


def write_csv(path: Path, all_results: list) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["set", "method", "scale", "image", "protocol", "psnr", "ssim"])
        for r in all_results:
            for img in r.images:
                for proto, (psnr, ssim) in img.scores.items():
                    w.writerow([r.set_name, r.method, r.scale, img.name, proto, f"{psnr:.6f}", f"{ssim:.6f}"])
            for proto, (psnr, ssim) in r.means().items():
                w.writerow([r.set_name, r.method, r.scale, "MEAN", proto, f"{psnr:.6f}", f"{ssim:.6f}"])


def results_dict(all_results: list, protocols: list, meta: dict) -> dict:
    sets: dict = {}
    for r in all_results:
        entry = sets.setdefault(
            r.set_name,
            {
                "pairs": len(r.images),
                "methods": {},
                "paper_table1": [
                    dict(zip(("method", "params", "psnr", "ssim"), row)) for row in paper_rows(r.set_name, r.scale)
                ],
            },
        )
        entry["methods"][r.method] = {
            "mean": {p: {"psnr": v[0], "ssim": v[1]} for p, v in r.means().items()},
            "images": [
                {"image": img.name, **{p: {"psnr": v[0], "ssim": v[1]} for p, v in img.scores.items()}}
                for img in r.images
            ],
        }
    return {
        **meta,
        "protocols": {
            p.name: {
                "description": p.describe(),
                "color": p.color,
                "shave": p.shave,
                "views": p.views,
                "ssim_window": p.window,
                "source": p.source,
            }
            for p in protocols
        },
        "sets": sets,
    }


def write_json(path: Path, data: dict) -> None:
    def clean(x):  # JSON has no inf: identical images score PSNR "inf"
        if isinstance(x, float) and math.isinf(x):
            return "inf"
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, list):
            return [clean(v) for v in x]
        return x

    path.write_text(json.dumps(clean(data), indent=2) + "\n")
