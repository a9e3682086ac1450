"""`msinet eval`: score a model on stereo SR benchmarks under the literature's protocols."""

from __future__ import annotations

from ..data.degradation import DEFAULT_DEGRADATION, DEGRADATIONS
from .model_options import add_weights_options, load_cli_model

HELP = "evaluate a model on stereo SR test sets (PSNR/SSIM under selectable protocols)"
DEFAULT_SETS = "KITTI2012,KITTI2015,Middlebury,Flickr1024"


def add_arguments(p):
    p.add_argument(
        "--model",
        default=None,
        help="registry name or weights file (.safetensors/.pth); default: the packaged default model",
    )
    p.add_argument("--data", required=True, help="folder holding the sets (or, with --sets custom, the set itself)")
    p.add_argument(
        "--sets",
        default=DEFAULT_SETS,
        help=f"comma-separated set folders under --data (default {DEFAULT_SETS}); 'custom' = --data itself",
    )
    p.add_argument("--scale", type=int, default=None, help="2, 3 or 4 (default: the model's scale)")
    p.add_argument(
        "--protocol",
        default="stereo",
        help="a protocol name, several joined by ';', 'all', or 'color=y,shave=s,views=left,window=gaussian' "
        "(names: stereo, stereo-pooled, stereo-gaussian, left, left-crop64, y-shave, y-shave-left)",
    )
    p.add_argument(
        "--self-ensemble",
        nargs="?",
        const="x4",
        default="off",
        choices=["off", "x4", "x8"],
        help="average over flips (x4: vertical flip, horizontal flip + view swap; x8 adds transposes, "
        "which break epipolar geometry). Bare flag = x4",
    )
    p.add_argument("--device", default="auto", help="auto, cpu, cuda[:N] or mps")
    p.add_argument(
        "--cuda-graphs",
        default="auto",
        choices=("auto", "on", "off"),
        help="replay the model from a CUDA graph per image size (auto: on CUDA, from a size's 2nd "
        "image; eager elsewhere or when the model cannot be captured; default auto)",
    )
    p.add_argument("--out", default="eval_results", help="folder for the CSV and JSON (default eval_results)")
    p.add_argument("--save-sr", default=None, metavar="DIR", help="also write the super-resolved views here")
    p.add_argument("--overwrite", action="store_true", help="replace existing result files / SR images")
    p.add_argument(
        "--skip-existing",
        action="store_true",
        help="resume: keep SR images that exist (write only the missing ones); results that exist "
        "already: the job is skipped",
    )
    p.add_argument("--no-bicubic", action="store_true", help="skip the bicubic baseline row")
    p.add_argument("--only", default=None, metavar="PATTERN", help="only pairs whose name matches this fnmatch pattern")
    p.add_argument("--limit", type=int, default=None, help="only the first N pairs of each set")
    p.add_argument(
        "--degradation",
        default=DEFAULT_DEGRADATION,
        choices=list(DEGRADATIONS),
        help="how LR is made where a set has no LR files: kit = the stereo-SR kits' rule (default), "
        "rcan = RCAN's (MATLAB bicubic; they differ only on the outer 1-2 LR pixels)",
    )
    p.add_argument(
        "--cache-dir",
        default=None,
        help="where generated LR views are cached (default: lr/ in msinet's cache, $MSINET_CACHE or ~/.cache/msinet)",
    )
    p.add_argument("--no-cache", action="store_true", help="do not read or write the LR cache")
    p.add_argument("--verbose", "-v", action="store_true", help="per-image rows")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    add_weights_options(p)


def _device(name: str):
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda requested but CUDA is not available")
    if name == "mps" and not torch.backends.mps.is_available():
        raise ValueError("--device mps requested but MPS is not available")
    try:
        return torch.device(name)
    except RuntimeError:
        raise ValueError(f"--device must be auto, cpu, cuda[:N] or mps, got {name!r}") from None


def _method_name(spec, model) -> str:
    from pathlib import Path

    if spec is None:
        return getattr(model, "model_name", None) or "default"
    return Path(spec).stem if ("/" in spec or spec.endswith((".safetensors", ".pth", ".pt"))) else spec


def _sr_paths(folder, name: str) -> list:
    from pathlib import Path

    return [Path(folder) / f"{name.replace('/', '_')}_{view}.png" for view in ("L", "R")]


def run(args) -> int:
    import torch

    from ..metrics.protocols import parse_protocols
    from ..runtime.distributed import close_world, init_world

    protocols = parse_protocols(args.protocol)
    if args.skip_existing and args.overwrite:
        raise ValueError("--skip-existing keeps existing outputs and --overwrite replaces them: give one")
    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit must be at least 1, got {args.limit}")
    device = _device(args.device)
    world = init_world(device.type)  # torchrun: each rank scores its share of every set, rank 0 reports
    if world.distributed and device.type == "cuda" and device.index is None:
        device = torch.device("cuda", world.local_rank)
    try:
        return _run(args, protocols, device, world)
    finally:
        close_world()


def _run(args, protocols, device, world) -> int:
    import fnmatch
    import sys
    from pathlib import Path

    import msinet

    from ..data.image_io import encode_png, refuse_existing
    from ..data.stereo_sets import open_set
    from ..eval.runner import evaluate_set
    from ..eval.tables import format_set_table, results_dict, write_csv, write_json
    from ..io.landing import land
    from .preflight import check_output_folder, output_marker

    if world.is_main:  # before the model loads: where results go is writable
        for folder in [args.out] + ([args.save_sr] if args.save_sr else []):
            check_output_folder(folder, quiet=args.quiet)
    model = load_cli_model(args.model, args, scale=args.scale).to(device).eval()
    scale = model.scale
    method = _method_name(args.model, model) + ("" if args.self_ensemble == "off" else f" +SE{args.self_ensemble}")
    set_names = [s.strip() for s in args.sets.split(",") if s.strip()]
    if not set_names:
        raise ValueError("--sets is empty")
    sets = [
        open_set(
            args.data, name, scale, cache_dir=args.cache_dir, use_cache=not args.no_cache, degradation=args.degradation
        )
        for name in set_names
    ]  # all sets found before any long run starts
    out = Path(args.out)
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in method.replace(" +SE", "_se"))
    csv_path, json_path = out / f"{stem}_x{scale}.csv", out / f"{stem}_x{scale}.json"
    if args.skip_existing and csv_path.exists() and json_path.exists():
        print(f"eval: {csv_path} and {json_path} exist: skipped (--skip-existing)", file=sys.stderr)
        return 0
    for path in (csv_path, json_path):
        if path.exists() and not args.overwrite and not args.skip_existing:
            raise FileExistsError(f"{path} exists (pass --overwrite to replace it, or --skip-existing to keep it)")
    from ..infer.graphs import graphed_model

    if args.cuda_graphs == "on" and device.type != "cuda":
        print(f"note: --cuda-graphs needs a CUDA device; running eagerly on {device}", file=sys.stderr)
    graphed = graphed_model(model, device, "off" if device.type != "cuda" else args.cuda_graphs)
    baseline = None if args.no_bicubic else msinet.create_model(f"bicubic_x{scale}").to(device).eval()

    for stereo_set in sets:
        if args.only:
            stereo_set.pairs = [p for p in stereo_set.pairs if fnmatch.fnmatch(p.name, args.only)]
            if not stereo_set.pairs:
                raise ValueError(f"no pair of {stereo_set.name} matches --only {args.only!r}")
        if args.limit:
            stereo_set.pairs = stereo_set.pairs[: args.limit]
    if args.save_sr and world.is_main:  # before the work: every saved image may be written
        for stereo_set in sets:
            folder = check_output_folder(Path(args.save_sr) / stereo_set.name, quiet=args.quiet)
            if not args.skip_existing:
                refuse_existing(
                    [p for pair in stereo_set.pairs for p in _sr_paths(folder, pair.name)],
                    args.overwrite,
                    ", or --skip-existing to keep it",
                )

    all_results = []
    for stereo_set in sets:
        save = None
        if args.save_sr:
            folder = Path(args.save_sr) / stereo_set.name

            def save(sample, sr_l, sr_r, folder=folder):  # both views land together; existing ones are kept
                todo = {
                    p: img
                    for p, img in zip(_sr_paths(folder, sample.name), (sr_l, sr_r))
                    if args.overwrite or not p.exists()
                }
                land(
                    {p: encode_png(img, p) for p, img in todo.items()},
                    overwrite=args.overwrite,
                    companions=output_marker(folder),
                )  # msinet's folder: `upscale --input` never reads it

        set_results = [
            evaluate_set(
                model,
                stereo_set,
                protocols,
                device,
                args.self_ensemble,
                method,
                progress=not args.quiet,
                on_output=save,
                world=world,
                forward=graphed,
            )
        ]
        if baseline is not None:
            set_results.append(
                evaluate_set(
                    baseline,
                    stereo_set,
                    protocols,
                    device,
                    "off",
                    f"bicubic_x{scale}",
                    progress=not args.quiet,
                    world=world,
                )
            )
        if not world.is_main:
            continue
        sources = {stereo_set[i].lr_source for i in range(min(1, len(stereo_set)))}
        lr_note = "from files" if sources == {"files"} else "made with MATLAB-exact bicubic"
        print(format_set_table(set_results, protocols, len(stereo_set), lr_note, args.verbose))
        print()
        all_results.extend(set_results)

    if not world.is_main:
        return 0
    out.mkdir(parents=True, exist_ok=True)
    if not (args.skip_existing and csv_path.exists()):
        write_csv(csv_path, all_results)
    meta = {
        "model": args.model,
        "method": method,
        "scale": scale,
        "self_ensemble": args.self_ensemble,
        "device": str(device),
        "data": str(Path(args.data).resolve()),
        "msinet_version": msinet.__version__,
    }
    if not (args.skip_existing and json_path.exists()):
        write_json(json_path, results_dict(all_results, protocols, meta))
    print(f"wrote {csv_path} and {json_path}", file=sys.stderr)
    return 0
