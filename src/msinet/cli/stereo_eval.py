"""`msinet stereo-eval`: how much does each SR method help a stereo matcher (paper section 3.2)?"""
from __future__ import annotations

from .model_options import add_weights_options, load_cli_model

HELP = "downstream evaluation: disparity error (EPE, bad-1/3) of a stereo matcher on SR pairs vs HR and bicubic"


def add_arguments(p):
    p.add_argument("--models", default="bicubic",
                   help="comma-separated registry names or weights files, e.g. bicubic,nafssr_s,msinet_x4 "
                        "(bicubic and the HR upper bound are always included)")
    p.add_argument("--data", required=True,
                   help="folder of scenes with ground truth (<scene>/left.png, right.png, disp_left.pfm|png), "
                        "or left/ right/ disparity/ folders; see docs/downstream.md")
    p.add_argument("--matcher", default="sgbm",
                   help="sgbm (OpenCV, default), raft-stereo, or a plug-in path/to/file.py:factory | module:factory")
    p.add_argument("--matcher-checkpoint", default=None, help="weights of a learned matcher (never downloaded)")
    p.add_argument("--matcher-code", default=None, help="code folder of a learned matcher (raft-stereo: its clone)")
    p.add_argument("--scale", type=int, default=4, choices=[2, 3, 4], help="downsampling factor (default 4)")
    p.add_argument("--max-disparity", default="auto",
                   help="search range in HR pixels for SGBM; auto = 1.1 x the ground truth's maximum per scene")
    p.add_argument("--only", default=None, metavar="PATTERN", help="only scenes whose name matches this fnmatch pattern")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda[:N] or mps (SR models and learned matchers)")
    p.add_argument("-o", "--out", default="stereo_eval_results", help="output folder (default stereo_eval_results)")
    p.add_argument("--save-disparity", action="store_true", help="also write every disparity map (KITTI 16-bit PNG)")
    p.add_argument("--no-figure", action="store_true", help="skip the disparity figure")
    p.add_argument("--overwrite", action="store_true", help="replace existing result files")
    add_weights_options(p)


def _method_name(spec: str) -> str:
    from pathlib import Path

    return Path(spec).stem if ("/" in spec or spec.endswith((".safetensors", ".pth", ".pt"))) else spec


def run(args) -> int:
    import fnmatch
    import sys
    from pathlib import Path

    from ..runtime.devices import resolve_device
    from ..downstream.evaluate import BICUBIC, HR, evaluate_scene, load_methods, mean_rows
    from ..downstream.matchers import build_matcher
    from ..downstream.outputs import format_table, save_figure, write_csv, write_disparity_png
    from ..downstream.scenes import find_scenes

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    specs = [s.strip() for s in args.models.split(",") if s.strip()]
    if not specs:
        raise ValueError("--models is empty")
    if args.max_disparity == "auto":
        max_disp = None
    else:
        try:
            max_disp = int(args.max_disparity)
        except ValueError:
            raise ValueError(f"--max-disparity must be 'auto' or a positive integer, got {args.max_disparity!r}") from None
        if max_disp < 1:
            raise ValueError(f"--max-disparity must be positive, got {max_disp}")
    out = Path(args.out)
    targets = [out / "stereo_eval.csv"] + ([] if args.no_figure else [out / "stereo_eval.png"])
    for target in targets:
        if target.exists() and not args.overwrite:
            raise FileExistsError(f"{target} exists (pass --overwrite to replace it)")

    scenes = find_scenes(args.data)
    if args.only:
        scenes = [s for s in scenes if fnmatch.fnmatch(s.name, args.only)]
        if not scenes:
            raise ValueError(f"no scene in {args.data} matches --only {args.only!r}")
    device = resolve_device(args.device)
    matcher = build_matcher(args.matcher, checkpoint=args.matcher_checkpoint, device=str(device),
                            code=args.matcher_code)
    loaded = load_methods(specs, args.scale, load=lambda spec: load_cli_model(spec, args))
    methods = {_method_name(spec): model for spec, model in loaded.items()}
    if len(methods) != len(loaded):
        raise ValueError(f"two of --models {args.models} would get the same name in the results; rename a file")
    log(f"stereo-eval: {len(scenes)} scene(s), matcher {getattr(matcher, 'name', args.matcher)}, "
        f"x{args.scale}, methods: {HR}, {', '.join(methods)}")

    results = []
    for scene in scenes:
        results.append(evaluate_scene(scene, methods, matcher, args.scale, max_disp, device, log=log))
    rows = [r for res in results for r in res.scores]
    means = mean_rows(rows)

    out.mkdir(parents=True, exist_ok=True)
    write_csv(rows + means, out / "stereo_eval.csv")
    names = [HR, BICUBIC] + [m for m in methods if m != BICUBIC]
    if not args.no_figure:
        save_figure(results, out / "stereo_eval.png", names)
    if args.save_disparity:
        for res in results:
            folder = out / "disparity" / res.scene
            folder.mkdir(parents=True, exist_ok=True)
            for method, disp in res.disparities.items():
                target = folder / f"{method}.png"
                if target.exists() and not args.overwrite:
                    raise FileExistsError(f"{target} exists (pass --overwrite to replace it)")
                write_disparity_png(disp, target)
    print(format_table(means if len(results) > 1 else rows))
    print(f"results: {out / 'stereo_eval.csv'}" + ("" if args.no_figure else f", figure: {out / 'stereo_eval.png'}"))
    return 0
