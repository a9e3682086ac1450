"""`msinet upscale`: super-resolve a stereo pair, a folder of pairs, or the offline demo pair."""
from __future__ import annotations

import sys
import time
from pathlib import Path

HELP = "super-resolve stereo pairs: LEFT RIGHT, a folder (--input DIR) or the offline demo (--demo)"
from .model_options import add_weights_options, load_cli_model

GENERIC_VIEW_STEMS = {"left", "hr0", "im0", "lr0"}  # a scene's view file: name the output after its folder


def add_arguments(p):
    p.add_argument("left", nargs="?", help="left view image, or one MPO, video or image with --layout")
    p.add_argument("right", nargs="?", help="right view image")
    p.add_argument("--input", metavar="DIR", help="a folder of pairs (NAME_L/NAME_R, left/+right/, "
                                                  "SCENE/{left,right|hr0,hr1|im0,im1|lr0,lr1})")
    p.add_argument("--demo", action="store_true", help="run offline on the Middlebury Motorcycle pair shipped "
                                                       "with scikit-image and write a comparison figure")
    p.add_argument("-o", "--output", metavar="OUTDIR", help="output folder (default for --demo: demo_output)")
    p.add_argument("--model", default=None, metavar="NAME|PATH",
                   help="registry name, msinet .safetensors or foreign .pth (default: the packaged default model)")
    p.add_argument("--scale", type=int, default=None, choices=(2, 3, 4),
                   help="upscaling factor (default: the model's); picks the x2/x3/x4 variant of a registry name")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda[:N] or mps (default auto)")
    p.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "fp16"),
                   help="inference precision; a tile with NaN/Inf output is recomputed in fp32 (default fp32)")
    p.add_argument("--tile", default="auto", metavar="auto|ROWS",
                   help="LR rows per tile (tiles split rows only); auto sizes them to the device memory")
    p.add_argument("--context", default="auto", metavar="auto|ROWS",
                   help="extra LR rows each tile sees above and below (default auto)")
    p.add_argument("--cuda-graphs", default="auto", choices=("auto", "on", "off"),
                   help="replay bands of one shape from a CUDA graph (auto: on CUDA, from a shape's 2nd band; "
                        "eager elsewhere or when the model cannot be captured; default auto)")
    p.add_argument("--pad-common", action="store_true",
                   help="views of different sizes: pad both to a common frame and crop each result back")
    p.add_argument("--alpha", default="upscale", choices=("upscale", "drop"),
                   help="RGBA inputs: upscale the alpha channel separately (bicubic) or drop it")
    p.add_argument("--save-disparity", action="store_true",
                   help="also write the left-view disparity from the last DEAM's transport plan, at HR: "
                        "<stem>_disp.png (16-bit, value/256 = pixels, KITTI style) and <stem>_disp_color.png")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("--quiet", "-q", action="store_true", help="only errors")
    add_weights_options(p)
    from .upscale_media import add_media_arguments

    add_media_arguments(p)


def _load_model(args):
    return load_cli_model(args.model, args, scale=args.scale)


def _output_stem(left: Path) -> str:
    stem = left.stem
    if stem.lower() in GENERIC_VIEW_STEMS and left.parent.name:
        return left.resolve().parent.name
    return stem[:-2] if stem.endswith("_L") and len(stem) > 2 else stem


def _upscale_one(model, name: str, left: Path, right: Path, outdir: Path, args, options: dict) -> list[Path]:
    from ..infer.disparity import colourise, encode_kitti_png16
    from ..data.image_io import read_image, refuse_existing, write_png
    from ..infer.upscale import upscale_pair

    out = [outdir / f"{name}_L.png", outdir / f"{name}_R.png"]
    if args.save_disparity:
        out += [outdir / f"{name}_disp.png", outdir / f"{name}_disp_color.png"]
    inputs = {left.resolve(), right.resolve()}
    for path in out:
        if path.resolve() in inputs:  # even with --overwrite: an input is never replaced by its own result
            raise FileExistsError(f"{path} is an input of this pair; choose another -o OUTDIR")
    refuse_existing(out, args.overwrite)  # before any work: never compute what we may not write
    views = [read_image(left), read_image(right)]
    for path, view in zip((left, right), views):
        if view.ndim == 3 and view.shape[2] == 4 and not args.quiet:
            what = "upscaled separately (bicubic)" if args.alpha == "upscale" else "dropped (--alpha drop)"
            print(f"note: {path} has an alpha channel; it is {what}", file=sys.stderr)
    results = upscale_pair(model, *views, return_disparity=args.save_disparity, **options)
    write_png(out[0], results[0], args.overwrite)
    write_png(out[1], results[1], args.overwrite)
    if args.save_disparity:
        write_png(out[2], encode_kitti_png16(results[2]), args.overwrite)
        write_png(out[3], colourise(results[2]), args.overwrite)
    return out


def _run_demo(model, args, options) -> int:
    from ..infer.demo import run_demo

    outdir = Path(args.output or "demo_output")
    res = run_demo(model, outdir, overwrite=args.overwrite, **options)
    h, w = res["lr_size"]
    print(f"demo: Middlebury Motorcycle (scikit-image), LR {w}x{h} -> x{model.scale} with {res['model']}")
    print(f"PSNR (RGB, mean of both views): bicubic {res['psnr_bicubic']:.2f} dB, "
          f"{res['model']} {res['psnr_model']:.2f} dB")
    for key in ("L", "R", "comparison"):
        print(f"wrote {res['paths'][key]}")
    return 0


def run(args) -> int:
    modes = sum([args.left is not None, args.input is not None, args.demo])
    if modes != 1:
        raise ValueError("give exactly one of: LEFT RIGHT, --input DIR, --demo")
    media = None
    if args.left is not None and args.right is None:
        from .upscale_media import input_kind

        media = input_kind(Path(args.left)) or ("layout" if args.layout is not None else None)
        if media is None:
            raise ValueError("missing RIGHT: give both views, LEFT RIGHT (or one MPO, video, or image with --layout)")
    if not args.demo and args.output is None:
        raise ValueError("missing -o OUTDIR: where to write the results")
    model = _load_model(args)
    options = dict(tile=args.tile, context=args.context, precision=args.precision, device=args.device,
                   pad_common=args.pad_common, alpha=args.alpha, cuda_graphs=args.cuda_graphs)
    from ..infer.devices import resolve_device

    options["device"] = resolve_device(args.device)  # fail early on an absent device
    if args.cuda_graphs == "on" and options["device"].type != "cuda":
        print(f"note: --cuda-graphs needs a CUDA device; running eagerly on {options['device']}", file=sys.stderr)
        options["cuda_graphs"] = "off"
    if args.demo:
        return _run_demo(model, args, options)
    from ..train.distributed import close_world

    world = _join_world(options)
    try:
        if media is not None:
            from .upscale_media import run_media

            return run_media(model, Path(args.left), media, args, options, world)
        return _run_pairs(model, args, options, world)
    finally:
        close_world()


def _join_world(options):
    """Under torchrun: join the process group; each rank takes its own GPU (cuda:LOCAL_RANK)."""
    import torch

    from ..train.distributed import init_world

    world = init_world(options["device"].type)
    if world.distributed and options["device"].type == "cuda" and options["device"].index is None:
        options["device"] = torch.device("cuda", world.local_rank)
    return world


def _run_pairs(model, args, options, world) -> int:
    from ..infer.pairs import StereoPair, find_pairs
    from ..infer.tiling import OutOfMemory
    from ..train.distributed import all_mean

    outdir = Path(args.output)
    if args.input is not None:
        pairs, unpaired = find_pairs(args.input)
        for path in unpaired if world.is_main else ():
            print(f"unpaired (skipped): {path}", file=sys.stderr)
        if not pairs:
            raise ValueError(f"no stereo pairs found in {args.input} (expected NAME_L/NAME_R, left/+right/, "
                             "or SCENE/{left,right|hr0,hr1|im0,im1|lr0,lr1})")
    else:
        left, right = Path(args.left), Path(args.right)
        pairs = [StereoPair(_output_stem(left), left, right)]
    batch = args.input is not None
    total, failed = len(pairs), 0
    for pair in pairs[world.rank::world.size]:  # torchrun: rank r takes pairs r, r + N, ...
        t0 = time.perf_counter()
        try:
            written = _upscale_one(model, pair.name, pair.left, pair.right, outdir, args, options)
        except (ValueError, OSError, OutOfMemory) as exc:
            if not batch and not isinstance(exc, OutOfMemory):
                raise  # main() prints it and exits 2
            print(f"msinet upscale: error: {exc}", file=sys.stderr)
            failed += 1
            continue
        if not args.quiet and world.is_main:
            print(f"{pair.name}: wrote {', '.join(str(p) for p in written)} ({time.perf_counter() - t0:.1f} s)")
    if world.distributed:
        failed = round(all_mean(failed, world, options["device"]) * world.size)
        if world.is_main and not args.quiet:
            print(f"{total} pair(s) shared out over {world.size} processes")
    if failed:
        if world.is_main:
            print(f"msinet upscale: {failed} of {total} pair(s) failed", file=sys.stderr)
        return 2 if not batch else 1
    return 0
