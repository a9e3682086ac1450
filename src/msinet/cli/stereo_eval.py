"""`msinet stereo-eval`: how much does each SR method help a stereo matcher (paper section 3.2)?"""

from __future__ import annotations

from .model_options import add_weights_options, load_cli_model

HELP = "downstream evaluation: disparity error (EPE, bad-1/3) of a stereo matcher on SR pairs vs HR and bicubic"


def add_arguments(p):
    p.add_argument(
        "--models",
        default="bicubic",
        help="comma-separated registry names or weights files, e.g. bicubic,nafssr_s,msinet_x4 "
        "(bicubic and the HR upper bound are always included)",
    )
    p.add_argument(
        "--data",
        required=True,
        help="folder of scenes with ground truth (<scene>/left.png, right.png, disp_left.pfm|png), "
        "or left/ right/ disparity/ folders; see docs/downstream.md",
    )
    p.add_argument(
        "--matcher",
        default="sgbm",
        help="sgbm (OpenCV, default), raft-stereo, or a plug-in path/to/file.py:factory | module:factory",
    )
    p.add_argument("--matcher-checkpoint", default=None, help="weights of a learned matcher (never downloaded)")
    p.add_argument("--matcher-code", default=None, help="code folder of a learned matcher (raft-stereo: its clone)")
    p.add_argument("--scale", type=int, default=4, choices=[2, 3, 4], help="downsampling factor (default 4)")
    p.add_argument(
        "--max-disparity",
        default="auto",
        help="search range in HR pixels for SGBM; auto = 1.1 x the ground truth's maximum per scene",
    )
    p.add_argument(
        "--only", default=None, metavar="PATTERN", help="only scenes whose name matches this fnmatch pattern"
    )
    p.add_argument("--device", default="auto", help="auto, cpu, cuda[:N] or mps (SR models and learned matchers)")
    p.add_argument("-o", "--out", default="stereo_eval_results", help="output folder (default stereo_eval_results)")
    p.add_argument("--save-disparity", action="store_true", help="also write every disparity map (KITTI 16-bit PNG)")
    p.add_argument("--no-figure", action="store_true", help="skip the disparity figure")
    p.add_argument("--overwrite", action="store_true", help="replace existing result files")
    p.add_argument(
        "--skip-existing",
        action="store_true",
        help="resume: results that exist already: the job is skipped; disparity maps that exist are kept "
        "(only the missing ones are written)",
    )
    add_weights_options(p)


def _method_name(spec: str) -> str:
    from pathlib import Path

    return Path(spec).stem if ("/" in spec or spec.endswith((".safetensors", ".pth", ".pt"))) else spec


def run(args) -> int:
    import fnmatch
    import sys
    from pathlib import Path

    from ..data.image_io import refuse_existing
    from ..downstream.evaluate import BICUBIC, HR, evaluate_scene, load_methods, mean_rows
    from ..downstream.matchers import build_matcher
    from ..downstream.outputs import encode_disparity_png, format_table, save_figure, write_csv
    from ..downstream.scenes import find_scenes
    from ..io.landing import land
    from ..runtime.devices import resolve_device
    from .preflight import check_output_folder, output_marker

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
            raise ValueError(
                f"--max-disparity must be 'auto' or a positive integer, got {args.max_disparity!r}"
            ) from None
        if max_disp < 1:
            raise ValueError(f"--max-disparity must be positive, got {max_disp}")
    if args.skip_existing and args.overwrite:
        raise ValueError("--skip-existing keeps existing outputs and --overwrite replaces them: give one")
    out = Path(args.out)
    targets = [out / "stereo_eval.csv"] + ([] if args.no_figure else [out / "stereo_eval.png"])
    if args.skip_existing and all(t.exists() for t in targets):
        log(f"stereo-eval: {', '.join(map(str, targets))} exist: skipped (--skip-existing)")
        return 0
    for target in targets:
        if target.exists() and not args.overwrite and not args.skip_existing:
            raise FileExistsError(f"{target} exists (pass --overwrite to replace it, or --skip-existing to keep it)")
    check_output_folder(out)  # before any model or matcher loads: the results can be written

    scenes = find_scenes(args.data)
    if args.only:
        scenes = [s for s in scenes if fnmatch.fnmatch(s.name, args.only)]
        if not scenes:
            raise ValueError(f"no scene in {args.data} matches --only {args.only!r}")
    device = resolve_device(args.device)
    matcher = build_matcher(
        args.matcher, checkpoint=args.matcher_checkpoint, device=str(device), code=args.matcher_code
    )
    loaded = load_methods(specs, args.scale, load=lambda spec: load_cli_model(spec, args))
    methods = {_method_name(spec): model for spec, model in loaded.items()}
    if len(methods) != len(loaded):
        raise ValueError(f"two of --models {args.models} would get the same name in the results; rename a file")
    disparity_files = (
        {scene.name: [out / "disparity" / scene.name / f"{m}.png" for m in [HR, *methods]] for scene in scenes}
        if args.save_disparity
        else {}
    )
    if not args.overwrite and not args.skip_existing:  # before the work: every map may be written
        refuse_existing(
            [p for paths in disparity_files.values() for p in paths], False, ", or --skip-existing to keep it"
        )
    log(
        f"stereo-eval: {len(scenes)} scene(s), matcher {getattr(matcher, 'name', args.matcher)}, "
        f"x{args.scale}, methods: {HR}, {', '.join(methods)}"
    )

    results = []
    for scene in scenes:
        try:
            results.append(evaluate_scene(scene, methods, matcher, args.scale, max_disp, device, log=log))
        except ValueError as exc:
            message = str(exc)
            raise ValueError(message if scene.name in message else f"scene {scene.name}: {message}") from None
    rows = [r for res in results for r in res.scores]
    means = mean_rows(rows)

    out.mkdir(parents=True, exist_ok=True)
    if args.save_disparity:  # one scene's maps land together; with --skip-existing existing maps are kept
        for res in results:
            folder = check_output_folder(out / "disparity" / res.scene, quiet=True)
            land(
                {
                    folder / f"{m}.png": encode_disparity_png(d, folder / f"{m}.png")
                    for m, d in res.disparities.items()
                    if args.overwrite or not (folder / f"{m}.png").exists()
                },
                overwrite=args.overwrite,
                companions=output_marker(folder),
            )  # msinet's folder, never an input
    if not (args.skip_existing and (out / "stereo_eval.csv").exists()):
        write_csv(rows + means, out / "stereo_eval.csv")
    names = [HR, BICUBIC] + [m for m in methods if m != BICUBIC]
    if not args.no_figure and not (args.skip_existing and (out / "stereo_eval.png").exists()):
        save_figure(results, out / "stereo_eval.png", names)
    print(format_table(means if len(results) > 1 else rows))
    print(f"results: {out / 'stereo_eval.csv'}" + ("" if args.no_figure else f", figure: {out / 'stereo_eval.png'}"))
    return 0
