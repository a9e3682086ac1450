"""Quality side by side: every model with trained weights available on this machine, on real pairs.

    python benchmarks/bench_quality.py [--scales 4 2] [--threads 1] [--models NAME ...] [--peers ../shared/peers]

Models: every entry of the weights table whose file is here (shipped with msinet, or verified in the weights
cache), plus the peers' published checkpoints found in --peers (`<registry name>.pth`, as ../shared/peers holds
them), each loaded through `msinet.load_model`; bicubic is the baseline of every gain.
Pairs: the five held-out pairs of ../shared/data/stereo (HR cropped to a multiple of the scale, LR made by the
stereo-SR kits' bicubic rule, `degrade(hr, s, "kit")`) and the Flickr1024 test-kit scene of
../shared/data/testsets with its own published LR files. Scores: msinet's "stereo" protocol (RGB PSNR with no
border crop and SSIM with scikit-image's 7x7 window, per view, then the mean of the two views), outputs clamped
and rounded to uint8, as the authors' test scripts do. Seconds: one forward pass per pair on this CPU (the first
pass of each model is a warm-up on the smallest pair and is not counted). This is a report, not a model
selection: no model or setting is chosen on these pairs.
Figure: after each scale's table, one `msinet compare` figure (msinet.infer.compare) of the first held-out pair
(--figure-pair) from the outputs just scored: HR, bicubic and every model on the same zoomed crop (placed where
bicubic errs most), each titled with its PSNR/SSIM; written to --figures (default benchmarks/results/) as
quality_x<scale>_<pair>.png and linked under the table. --no-figure skips it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from benchlib import environment, markdown_table

import msinet
from msinet.data.degradation import degrade
from msinet.data.image_io import load_pair, write_png
from msinet.data.imresize import imresize
from msinet.data.train_patches import find_pairs
from msinet.infer.compare import compare_outputs
from msinet.metrics import stereo_scores
from msinet.models.weights import WeightsError
from msinet.train.heldout import HELD_OUT, mod_crop, super_resolve

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def pairs_for(scale: int, data: Path) -> list[tuple[str, list[np.ndarray], list[np.ndarray]]]:
    """[(pair name, [lr_left, lr_right], [hr_left, hr_right])] of the five held-out pairs and the kit scene."""
    out = []
    for name in HELD_OUT:
        ((left, right),) = find_pairs(data / "stereo" / name)[:1]
        hr = [mod_crop(v, scale) for v in load_pair(left, right)]
        out.append((name, [degrade(v, scale, "kit") for v in hr], hr))
    kit = data / "testsets" / "Flickr1024"
    if kit.is_dir():
        hr = list(load_pair(kit / "hr" / "0001" / "hr0.png", kit / "hr" / "0001" / "hr1.png"))
        lr = list(load_pair(kit / f"lr_x{scale}" / "0001" / "lr0.png", kit / f"lr_x{scale}" / "0001" / "lr1.png"))
        hr = [v[: lr[0].shape[0] * scale, : lr[0].shape[1] * scale] for v in hr]
        out.append(("flickr1024_kit_0001 (its LR files)", lr, hr))
    return out


def available_models(scale: int, peers: Path, only: list[str] | None) -> dict[str, str]:
    """{display name: spec for msinet.load_model} of the models with weights here, at `scale`."""
    from msinet.models.loading import cached_weights
    from msinet.models.pretrained import weights_table

    found = {}
    for name, record in sorted(weights_table().items()):
        if record.scale != scale:
            continue
        try:
            if record.source == "shipped" or cached_weights(record):
                found[name] = name
        except (WeightsError, OSError):
            continue
    if peers.is_dir():
        for path in sorted(peers.glob("*.pth")):
            if path.stem not in found and path.stem in msinet.list_models():
                if msinet.create_model(path.stem).scale == scale:
                    found[path.stem] = str(path)
    if only:
        found = {k: v for k, v in found.items() if k in only}
    return found


def run_scale(scale: int, specs: dict[str, str], data: Path, keep: str | None = None) -> tuple[list[list], dict]:
    """(table rows, the outputs of pair `keep` for its figure: {"hr": views, name: (sr_left, sr_right)})."""
    pairs = pairs_for(scale, data)
    bicubic, kept = {}, {}
    for name, lr, hr in pairs:
        bic = [imresize(v, float(scale)) for v in lr]
        bicubic[name] = stereo_scores(bic[0], bic[1], hr[0], hr[1], protocol="stereo", scale=scale)
        if name == keep:
            kept = {"hr": tuple(hr), f"bicubic_x{scale}": tuple(bic)}
    b_psnr, b_ssim = np.mean([bicubic[n] for n, _, _ in pairs], axis=0)
    rows = [[f"bicubic_x{scale}", "0", f"{b_psnr:.2f}", f"{b_ssim:.4f}", "+0.00", "-", "(baseline)"]]
    smallest = min(pairs, key=lambda p: p[1][0].size)
    for display, spec in specs.items():
        model = msinet.load_model(spec).eval()
        params = sum(p.numel() for p in model.parameters())
        super_resolve(model, *smallest[1], "cpu")  # warm-up
        scores, seconds = [], []
        for name, lr, hr in pairs:
            start = time.perf_counter()
            sr = super_resolve(model, lr[0], lr[1], "cpu")
            seconds.append(time.perf_counter() - start)
            scores.append(stereo_scores(sr[0], sr[1], hr[0], hr[1], protocol="stereo", scale=scale))
            if name == keep and kept:
                kept[display] = tuple(sr)
        psnr, ssim = np.mean(scores, axis=0)
        gains = [s[0] - bicubic[n][0] for s, (n, _, _) in zip(scores, pairs)]
        rows.append(
            [
                display,
                f"{params:,}",
                f"{psnr:.2f}",
                f"{ssim:.4f}",
                f"{np.mean(gains):+.2f}",
                f"{np.mean(seconds):.1f}",
                f"{min(gains):+.2f} .. {max(gains):+.2f}",
            ]
        )
        print(
            f"  x{scale} {display}: {psnr:.2f} dB ({np.mean(gains):+.2f}), {np.mean(seconds):.1f} s/pair",
            file=sys.stderr,
        )
    return rows, kept


def write_figure(kept: dict, scale: int, pair: str, folder: Path) -> Path | None:
    """The comparison figure of one pair from the outputs the table scored (msinet.infer.compare)."""
    if not kept:
        return None
    hr = kept.pop("hr")
    result = compare_outputs(
        kept,
        hr,
        scale=scale,
        protocol="stereo",
        notes=(f"benchmarks/bench_quality.py: {pair}, LR = HR downscaled x{scale} with the kits' MATLAB bicubic",),
    )
    folder.mkdir(parents=True, exist_ok=True)
    return write_png(folder / f"quality_x{scale}_{pair}.png", result.figure, overwrite=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", type=int, nargs="+", default=[4, 2], choices=[2, 4])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--models", nargs="+", default=None, help="only these (display names)")
    parser.add_argument("--data", type=Path, default=SHARED / "data", help="the shared data folder")
    parser.add_argument("--peers", type=Path, default=SHARED / "peers", help="folder of peers' .pth files")
    parser.add_argument(
        "--figures", type=Path, default=REPO / "benchmarks" / "results", help="folder of the comparison figures"
    )
    parser.add_argument("--figure-pair", default=HELD_OUT[0], choices=HELD_OUT, help="the held-out pair drawn")
    parser.add_argument("--no-figure", action="store_true", help="tables only")
    args = parser.parse_args(argv)
    if not (args.data / "stereo").is_dir():
        raise SystemExit(f"error: {args.data / 'stereo'} not found (pass --data)")
    torch.set_num_threads(args.threads)
    print(
        f"# Quality on real pairs (five held-out pairs + the Flickr1024 kit scene); {environment(torch.device('cpu'))}\n"  # noqa: E501
    )
    for scale in args.scales:
        specs = available_models(scale, args.peers, args.models)
        with torch.inference_mode():
            rows, kept = run_scale(scale, specs, args.data, None if args.no_figure else args.figure_pair)
        rows.sort(key=lambda r: -float(r[2]))
        print(f"## x{scale}\n")
        print(
            markdown_table(
                [
                    "model",
                    "parameters",
                    "PSNR (dB)",
                    "SSIM",
                    "gain over bicubic (dB)",
                    "s / pair (CPU)",
                    "gain range over pairs",
                ],
                rows,
            )
        )
        print()
        figure = write_figure(kept, scale, args.figure_pair, args.figures)
        if figure is not None:
            print(f"![x{scale}: {args.figure_pair}, the same crop from HR, bicubic and each model]({figure})\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
