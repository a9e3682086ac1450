"""`msinet compare`: one figure of the same zoomed crop from several models (and HR, with PSNR/SSIM, given --hr)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

HELP = "compare models on one stereo pair: a figure of the same zoomed crop from each (PSNR/SSIM with --hr)"


def add_arguments(p) -> None:
    from ..metrics.protocols import DEFAULT_PROTOCOL

    p.add_argument("left", help="left view: the LR input, or the HR ground truth with --hr")
    p.add_argument("right", help="right view (the same size as LEFT)")
    p.add_argument(
        "--models",
        required=True,
        metavar="NAME[,NAME...]",
        help="registry names with trained weights, or weights files (.safetensors, an authors' .pth), "
        "comma-separated; bicubic_x<scale> is always added as the baseline ('bicubic' alone: just it)",
    )
    p.add_argument("-o", "--output", required=True, metavar="FIGURE.png", help="the figure to write (PNG)")
    p.add_argument(
        "--hr",
        action="store_true",
        help="LEFT RIGHT are HR ground truth: they are cropped to a multiple of the scale and downscaled with "
        "the stereo kits' MATLAB-exact bicubic to make the LR pair, and every model gets PSNR/SSIM",
    )
    p.add_argument(
        "--crop",
        default=None,
        metavar="TOP,LEFT,HEIGHT,WIDTH",
        help="the crop, in HR (output) pixels of the chosen view; HEIGHT,WIDTH alone: that size placed "
        "automatically (default: a square third of the shorter side, 32 to 128 pixels, where bicubic errs most "
        "with --hr, else where the models differ most from bicubic)",
    )
    p.add_argument("--view", default="left", choices=("left", "right"), help="the view shown (default left)")
    p.add_argument(
        "--scale",
        type=int,
        default=None,
        choices=(2, 3, 4),
        help="upscaling factor: picks the x2/x3/x4 variant of each registry name (default: the models' own, "
        "which must agree)",
    )
    p.add_argument(
        "--zoom",
        type=int,
        default=None,
        metavar="N",
        help="enlarge the crop N times, nearest neighbour (default: the largest N keeping a panel within 320 pixels)",
    )
    p.add_argument(
        "--protocol",
        default=DEFAULT_PROTOCOL,
        help=f"PSNR/SSIM protocol, as `msinet eval --protocol` (default {DEFAULT_PROTOCOL}: RGB, no shave, "
        "mean of both views, scikit-image SSIM); the crop is scored on the chosen view alone",
    )
    p.add_argument("--device", default="auto", help="auto, cpu, cuda[:N] or mps (default auto)")
    p.add_argument(
        "--precision",
        default="fp32",
        choices=("fp32", "bf16", "fp16"),
        help="inference precision (default fp32)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing figure")
    p.add_argument(
        "--no-download",
        action="store_true",
        help="never download weights: fail with the path where a manual download is picked up",
    )
    p.add_argument("--quiet", "-q", action="store_true", help="only errors")


def model_specs(text: str) -> list[str]:
    """'a, b,,c' -> ['a', 'b', 'c'] in order, each once; 'bicubic' (as in `msinet stereo-eval`) is left out:
    bicubic_x<scale> is always added."""
    specs = []
    for part in text.split(","):
        part = part.strip()
        if part and part not in specs:
            specs.append(part)
    if not specs:
        raise ValueError("--models is empty: give registry names or weights files, comma-separated")
    return [s for s in specs if s != "bicubic"]


def _known_scales(specs: list[str], scale: int | None) -> dict[str, int]:
    """{name: scale} of the registry names among `specs` (resolved at `scale`), before anything loads: an
    unknown name or a mix of scales fails at once. Weights files are checked once loaded."""
    from ..models.resolve import resolve
    from ..registry import get_entry

    scales = {}
    for spec in specs:
        target = resolve(spec, scale)
        if not target.is_file:
            scales[target.name] = get_entry(target.name).scale
    _refuse_mixed_scales(scales)
    return scales


def _refuse_mixed_scales(scales: dict[str, int]) -> None:
    if len(set(scales.values())) > 1:
        listed = ", ".join(f"{name} x{s}" for name, s in scales.items())
        raise ValueError(
            f"the models upscale by different factors ({listed}); compare models of one scale "
            "(--scale N picks the xN variant of each registry name)"
        )


def _read_pair(args):
    from ..data.image_io import load_pair

    left, right = Path(args.left), Path(args.right)
    for view in (left, right):
        if not view.exists():
            raise FileNotFoundError(f"image not found: {view}")
    return load_pair(left, right)  # uint8 RGB; views of different sizes: one line naming both


def _preflight(args) -> Path:
    from .preflight import check_output_file

    out = Path(args.output)
    if out.suffix.lower() != ".png":
        raise ValueError(f"-o {out}: the figure is written as PNG; give a name ending in .png")
    for view in (args.left, args.right):
        if Path(view).exists() and Path(view).resolve() == out.resolve():
            raise ValueError(f"-o {out} is an input image; choose another -o")
    check_output_file(out, args.overwrite)
    if args.zoom is not None and args.zoom < 1:
        raise ValueError(f"--zoom must be a whole number from 1, got {args.zoom}")
    return out


def run(args) -> int:
    from ..data.image_io import write_png
    from ..infer.compare import compare_models, format_scores, parse_crop
    from ..metrics.protocols import get_protocol
    from ..runtime.devices import resolve_device

    t0 = time.perf_counter()
    out = _preflight(args)  # before anything loads: a job that cannot write its figure fails at once
    protocol = get_protocol(args.protocol)
    crop = parse_crop(args.crop)
    specs = model_specs(args.models)
    known = _known_scales(specs, args.scale)
    left, right = _read_pair(args)
    if known or args.scale or not specs:  # the scale is known before loading: check the crop against it now
        _check_crop_for(crop, left.shape[:2], args.scale or next(iter(known.values()), 4), args.hr, args.view)
    device = resolve_device(args.device)
    models = _load_models(specs, args)
    scale = int(models[0].scale)
    _check_crop_for(crop, left.shape[:2], scale, args.hr, args.view)
    say = (lambda *a: None) if args.quiet else (lambda line: print(line, file=sys.stderr))
    result = compare_models(
        models,
        left,
        right,
        hr=args.hr,
        view=args.view,
        crop=crop,
        protocol=protocol,
        zoom=args.zoom,
        on_model=lambda name, seconds: say(f"{name}: {seconds:.1f} s"),
        device=device,
        precision=args.precision,
    )
    write_png(out, result.figure, overwrite=args.overwrite)
    if args.quiet:
        return 0
    lr_h, lr_w = result.lr_size
    top, left_px, h, w = result.crop
    what = "HR ground truth, LR made with the kits' bicubic" if args.hr else "LR input"
    print(f"compare: {Path(args.left).name} + {Path(args.right).name} ({what}); LR {lr_w}x{lr_h} -> x{scale}")
    print(
        f"crop: top {top}, left {left_px}, height {h}, width {w} of the {result.view} view ({result.crop_reason}); "
        f"shown x{result.zoom}"
    )
    if result.scores:
        print(f"PSNR / SSIM, protocol '{protocol.name}' ({protocol.describe()}); crop: the {result.view} view's crop")
        width = max(len(n) for n in result.names)
        for name in result.names:
            print(
                f"  {name:<{width}}  image {format_scores(result.scores[name])}  "
                f"crop {format_scores(result.crop_scores[name])}"
            )
    else:
        print(f"models: {', '.join(result.names)} (no ground truth: pass --hr with an HR pair for PSNR/SSIM)")
    print(f"wrote {out} ({result.figure.shape[1]}x{result.figure.shape[0]}) in {time.perf_counter() - t0:.1f} s")
    return 0


def _check_crop_for(crop, input_hw, scale: int, hr: bool, view: str) -> None:
    """The crop against the size of the outputs: the HR cropped to a multiple of the scale, or LR x scale."""
    from ..infer.compare import check_crop

    h, w = input_hw
    out_hw = (h - h % scale, w - w % scale) if hr else (h * scale, w * scale)
    check_crop(crop, out_hw, f"the {view} view at x{scale}")


def _load_models(specs: list[str], args) -> list:
    """The models, bicubic_x<scale> first (added when not named): one scale, trained weights only."""
    from ..infer.compare import model_label
    from .model_options import load_cli_model

    models = [load_cli_model(spec, args, scale=args.scale) for spec in specs]
    _refuse_mixed_scales({model_label(m): int(m.scale) for m in models})
    scale = int(models[0].scale) if models else args.scale or 4  # bicubic alone: --scale, else x4
    bicubic = [m for m in models if getattr(m, "arch_name", None) == "bicubic"]
    if not bicubic:
        bicubic = [load_cli_model(f"bicubic_x{scale}", args)]
    return bicubic[:1] + [m for m in models if m not in bicubic]  # one bicubic panel
