"""`msinet upscale`: super-resolve a stereo pair, a folder of pairs, or the offline demo pair."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from .model_options import add_weights_options, load_cli_model

HELP = "super-resolve stereo pairs: LEFT RIGHT, a folder (--input DIR) or the offline demo (--demo)"

GENERIC_VIEW_STEMS = {"left", "hr0", "im0", "lr0"}  # a scene's view file: name the output after its folder


def add_arguments(p):
    p.add_argument("left", nargs="?", help="left view image, or one MPO, video or image with --layout")
    p.add_argument("right", nargs="?", help="right view image")
    p.add_argument(
        "--input",
        metavar="DIR",
        help="a folder of pairs (NAME_L/NAME_R, left/+right/, SCENE/{left,right|hr0,hr1|im0,im1|lr0,lr1})",
    )
    p.add_argument(
        "--demo",
        action="store_true",
        help="run offline on the Middlebury Motorcycle pair shipped with scikit-image and write a comparison figure",
    )
    p.add_argument("-o", "--output", metavar="OUTDIR", help="output folder (default for --demo: demo_output)")
    p.add_argument(
        "--model",
        default=None,
        metavar="NAME|PATH",
        help="registry name, msinet .safetensors or foreign .pth (default: the packaged default model)",
    )
    p.add_argument(
        "--scale",
        type=int,
        default=None,
        choices=(2, 3, 4),
        help="upscaling factor (default: the model's); picks the x2/x3/x4 variant of a registry name",
    )
    p.add_argument("--device", default="auto", help="auto, cpu, cuda[:N] or mps (default auto)")
    p.add_argument(
        "--precision",
        default="fp32",
        choices=("fp32", "bf16", "fp16"),
        help="inference precision; a tile with NaN/Inf output is recomputed in fp32 (default fp32)",
    )
    p.add_argument(
        "--tile",
        default="auto",
        metavar="auto|ROWS",
        help="LR rows per tile (tiles split rows only); auto sizes them to the device memory",
    )
    p.add_argument(
        "--context",
        default="auto",
        metavar="auto|ROWS",
        help="extra LR rows each tile sees above and below (default auto)",
    )
    p.add_argument(
        "--cuda-graphs",
        default="auto",
        choices=("auto", "on", "off"),
        help="replay tiles of one shape from a CUDA graph (auto: on CUDA, from a shape's 2nd tile; "
        "eager elsewhere or when the model cannot be captured; default auto)",
    )
    p.add_argument(
        "--pad-common",
        action="store_true",
        help="views of different sizes: pad both to a common frame and crop each result back",
    )
    p.add_argument(
        "--alpha",
        default="upscale",
        choices=("upscale", "drop"),
        help="RGBA inputs: upscale the alpha channel separately (bicubic) or drop it",
    )
    p.add_argument(
        "--save-disparity",
        action="store_true",
        help="also write the left-view disparity from the last DEAM's transport plan, at HR: "
        "<stem>_disp.png (16-bit, value/256 = pixels, KITTI style) and <stem>_disp_color.png",
    )
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument(
        "--skip-existing",
        action="store_true",
        help="resume: skip pairs whose outputs all exist, write only the missing outputs of the others "
        "(existing files are kept)",
    )
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
    return stem[:-2] if stem.upper().endswith("_L") and len(stem) > 2 else stem


RESUME_HINT = ", or --skip-existing to keep it and compute only what is missing"


def _outputs(name: str, outdir: Path, args) -> list[Path]:
    out = [outdir / f"{name}_L.png", outdir / f"{name}_R.png"]
    if args.save_disparity:
        out += [outdir / f"{name}_disp.png", outdir / f"{name}_disp_color.png"]
    return out


def _refuse_inputs_as_outputs(name: str, left: Path, right: Path, outdir: Path, args) -> None:
    inputs = {left.resolve(), right.resolve()}
    for path in _outputs(name, outdir, args):
        if path.resolve() in inputs:  # even with --overwrite: an input is never replaced by its own result
            raise FileExistsError(f"{path} is an input of this pair; choose another -o OUTDIR")


def _upscale_one(
    model,
    name: str,
    left: Path,
    right: Path,
    outdir: Path,
    args,
    options: dict,
    row_progress: bool = False,
    finished=frozenset(),
) -> tuple[str, list[Path]]:
    """("written", paths), ("skipped", []) or ("finished", paths): one pair, its outputs landing together
    (io/landing.py). "finished": all its outputs are the files of a landing that the pre-flight completed
    (`finished`, resolved paths): an interrupted job had computed the pair, and this job put it in place."""
    from ..data.image_io import encode_png, read_image, refuse_existing
    from ..infer.disparity import colourise, encode_kitti_png16
    from ..infer.upscale import upscale_pair
    from ..io.landing import land
    from .preflight import output_marker

    out = _outputs(name, outdir, args)
    _refuse_inputs_as_outputs(name, left, right, outdir, args)
    if finished and all(p.exists() and p.resolve() in finished for p in out):
        return "finished", out
    if args.skip_existing:
        out = [p for p in out if not p.exists()]
        if not out:
            return "skipped", []
    else:
        refuse_existing(out, args.overwrite, RESUME_HINT)  # before any work: never compute what we may not write
    views = [read_image(left), read_image(right)]
    for path, view in zip((left, right), views):
        if view.ndim == 3 and view.shape[2] == 4 and not args.quiet:
            what = "upscaled separately (bicubic)" if args.alpha == "upscale" else "dropped (--alpha drop)"
            print(f"note: {path} has an alpha channel; it is {what}", file=sys.stderr)
    bar = RowProgress(model, name, max(v.shape[0] for v in views)) if row_progress else None
    try:
        results = upscale_pair(
            model, *views, return_disparity=args.save_disparity, on_tile=None if bar is None else bar.on_tile, **options
        )
    finally:
        if bar is not None:
            bar.close()
    images = dict(zip(_outputs(name, outdir, args), results[:2]))
    if args.save_disparity:
        images.update(zip(_outputs(name, outdir, args)[2:], (encode_kitti_png16(results[2]), colourise(results[2]))))
    files = {p: encode_png(images[p], p) for p in out}  # the folder becomes msinet's with its first result
    return "written", land(files, overwrite=args.overwrite, companions=output_marker(outdir))


class RowProgress:
    """A bar over the LR rows of one large pair. Whole tiles are counted as they finish (on_tile), and inside a
    tile each block the network runs moves it by its share (model.repeated_blocks / block_applications), so even
    a pair that is a single tile shows progress. Appears after a second."""

    def __init__(self, model, name: str, rows: int):
        from ..runtime.progress import progress_bar

        self.bar = progress_bar(
            total=rows, unit="row", desc=name, delay=1.0, leave=False, file=sys.stderr, dynamic_ncols=True
        )
        self.done, self.position, self.next_rows = 0, 0.0, rows  # the first tile's size is not known: all rows
        runs = model.block_applications()
        self.share = 1.0 / runs if runs else 0.0
        self.hooks = [m.register_forward_hook(self._tick) for m in model.repeated_blocks()]

    def _tick(self, *_):
        self.position = min(self.position + self.next_rows * self.share, self.done + self.next_rows)
        self._show(int(self.position))

    def on_tile(self, tile, tile_rows: int) -> None:
        self.done = self.position = tile.core1
        self.next_rows = max(0, min(tile_rows, self.bar.total - tile.core1))
        self._show(tile.core1)

    def _show(self, n: int) -> None:
        if n != self.bar.n:
            self.bar.update(n - self.bar.n)

    def close(self) -> None:
        for hook in self.hooks:
            hook.remove()
        self.bar.close()


def _run_demo(model, args, options) -> int:
    from ..infer.demo import run_demo

    outdir = Path(args.output or "demo_output")
    res = run_demo(model, outdir, overwrite=args.overwrite, **options)
    h, w = res["lr_size"]
    print(f"demo: Middlebury Motorcycle (scikit-image), LR {w}x{h} -> x{model.scale} with {res['model']}")
    print(
        f"PSNR (RGB, mean of both views): bicubic {res['psnr_bicubic']:.2f} dB, "
        f"{res['model']} {res['psnr_model']:.2f} dB"
    )
    for key in ("L", "R", "comparison"):
        print(f"wrote {res['paths'][key]}")
    return 0


def run(args) -> int:
    modes = sum([args.left is not None, args.input is not None, args.demo])
    if modes != 1:
        raise ValueError("give exactly one of: LEFT RIGHT, --input DIR, --demo")
    if args.skip_existing and args.overwrite:
        raise ValueError("--skip-existing keeps existing outputs and --overwrite replaces them: give one")
    media = None
    if args.left is not None and args.right is None:
        from .upscale_media import input_kind

        media = input_kind(Path(args.left)) or ("layout" if args.layout is not None else None)
        if media is None:
            raise ValueError("missing RIGHT: give both views, LEFT RIGHT (or one MPO, video, or image with --layout)")
    if not args.demo and args.output is None:
        raise ValueError("missing -o OUTDIR: where to write the results")
    t0 = time.perf_counter()
    pairs, finished = _preflight(args, media)  # before the model loads: a job that cannot write fails at once
    model = _load_model(args)
    options = dict(
        tile=args.tile,
        context=args.context,
        precision=args.precision,
        device=args.device,
        pad_common=args.pad_common,
        alpha=args.alpha,
        cuda_graphs=args.cuda_graphs,
    )
    from ..runtime.devices import resolve_device

    options["device"] = resolve_device(args.device)  # fail early on an absent device
    if args.cuda_graphs == "on" and options["device"].type != "cuda":
        print(f"note: --cuda-graphs needs a CUDA device; running eagerly on {options['device']}", file=sys.stderr)
        options["cuda_graphs"] = "off"
    if not args.quiet:
        _warn_slow_settings(args, options["device"])
        _warn_seams(model, pairs, args, options)
    if args.demo:
        return _run_demo(model, args, options)
    from ..runtime.distributed import close_world

    world = _join_world(options)
    try:
        if media is not None:
            from .upscale_media import run_media

            return run_media(model, Path(args.left), media, args, options, world)
        return _run_pairs(model, pairs, args, options, world, t0, finished)
    finally:
        close_world()


def _preflight(args, media):
    """Check the output location (and, for folders, find the pairs) before any model is loaded: every refusal
    comes before any work, and leaves the file system as it was. Returns (pairs or None, the files of
    interrupted landings the check finished: see _upscale_one)."""
    from .preflight import check_output_folder

    finished: set[Path] = set()
    if args.demo:
        check_output_folder(args.output or "demo_output", quiet=args.quiet)
        return None, finished
    if media is not None:
        from .upscale_media import preflight_media

        if media != "video":
            _refuse_folder_of_pairs(Path(args.output))
        preflight_media(Path(args.left), media, args)
        return None, finished
    from ..infer.pairs import StereoPair

    outdir = Path(args.output)
    if args.input is not None:
        if outdir.exists() and Path(args.input).is_dir() and outdir.resolve() == Path(args.input).resolve():
            raise ValueError(
                f"-o {outdir} is the --input folder: results would mix with the inputs; choose another "
                "folder (a new sub-folder of the input is fine: msinet's output folders are not scanned)"
            )
        _refuse_folder_of_pairs(outdir)  # before the notes of the scan
        pairs = _scan_input(Path(args.input), outdir)
    else:
        left, right = Path(args.left), Path(args.right)
        for view in (left, right):  # before the model loads, like every other refusal
            if not view.exists():
                raise FileNotFoundError(f"image not found: {view}")
        pairs = [StereoPair(_output_stem(left), left, right)]
        _refuse_inputs_as_outputs(pairs[0].name, left, right, outdir, args)
        _refuse_folder_of_pairs(outdir)
    check_output_folder(outdir, _expected_bytes(pairs, args), quiet=args.quiet, finished=finished)
    return pairs, finished


def _scan_input(root: Path, outdir: Path):
    """The pairs under --input; one line on stderr for everything it leaves out (rank 0 under torchrun)."""
    from ..data.pair_scan import OUTPUT_MARKER
    from ..infer.pairs import search_pairs
    from ..io.mpo import MPO_SUFFIXES

    found = search_pairs(root, exclude=[outdir])
    if _is_main_rank():
        for path in found.unpaired:
            print(f"unpaired (skipped): {path}", file=sys.stderr)
        for folder, why in found.skipped:
            what = (
                "it is the output folder (-o)"
                if why == "excluded"
                else f"msinet wrote results there (it holds {OUTPUT_MARKER}; delete that file to read it as input)"
            )
            print(f"skipped folder {folder}: {what}", file=sys.stderr)
        for path in found.media:
            mpo = path.suffix.lower() in MPO_SUFFIXES
            how = f"msinet upscale {path} -o OUTDIR" + ("" if mpo else " --layout LAYOUT")
            print(f"skipped {path}: {'an MPO' if mpo else 'a video'} is upscaled on its own: {how}", file=sys.stderr)
    if not found.pairs:
        raise ValueError(
            f"no stereo pairs found in {root} (expected NAME_L/NAME_R, left/+right/, "
            "image_2/+image_3/, SCENE/{left,right|hr0,hr1|im0,im1|lr0,lr1})"
        )
    return found.pairs


def _refuse_folder_of_pairs(outdir: Path) -> None:
    """-o must not be a folder of the user's own stereo pairs: the folder msinet writes to becomes its output
    folder (preflight.output_marker), which --input scans skip, so those pairs would drop out of later
    scans. A folder msinet made already (marked) is fine. Only the folder and its direct sub-folders are looked
    at (-o may be a big tree); a later scan names any folder it skips."""
    from ..infer.pairs import search_pairs
    from .preflight import is_output_folder

    if not outdir.is_dir() or is_output_folder(outdir):
        return
    try:
        pairs = search_pairs(outdir, recursive=False).pairs
    except OSError:  # an unreadable folder: the write check that follows reports on it
        return
    if pairs:
        more = f", and {len(pairs) - 1} more pair(s)" if len(pairs) > 1 else ""
        raise ValueError(
            f"-o {outdir} holds stereo pairs that msinet did not write ({pairs[0].left} + "
            f"{pairs[0].right.name}{more}): results would mix with them, and later --input scans skip "
            "msinet's output folders; choose another -o (a new folder)"
        )


def _is_main_rank() -> bool:
    import os

    return os.environ.get("RANK", "0") == "0"


def _expected_scale(args) -> int:
    """The scale the outputs will have, for the disk-space check: --scale, a registered name's own, else x4 (the
    largest: a weights file's scale is known only once it is read)."""
    from ..registry import get_entry, list_models

    if args.scale:
        return args.scale
    if args.model is None or args.model not in list_models():
        return 4
    return get_entry(args.model).scale


def _lr_size(path: Path) -> tuple[int, int]:
    """(height, width) from the file header; (0, 0) where it cannot be read (the pair then fails on its own)."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            return img.height, img.width
    except Exception:  # noqa: BLE001 - any unreadable file is reported when its pair runs
        return 0, 0


def _expected_bytes(pairs, args) -> int:
    from .preflight import png_bytes_estimate

    s2 = _expected_scale(args) ** 2
    per_view = 2 + (2 if args.save_disparity else 0)  # disparity: 16-bit gray + colour, about one view more
    total = 0
    for pair in pairs:
        h, w = _lr_size(pair.left)
        total += per_view * png_bytes_estimate(h * w * s2)
    return total


def _warn_slow_settings(args, device) -> None:
    """Settings known to be slow on this device: a warning, never an error."""
    from ..infer.tiling import MIN_TILE_ROWS

    if args.precision == "fp16" and device.type == "cpu":
        print(
            "warning: --precision fp16 on CPU is emulated and several times slower than fp32 (7x measured); "
            "use fp32 or bf16 on CPU",
            file=sys.stderr,
        )
    if str(args.tile).isdigit() and 0 < int(args.tile) < MIN_TILE_ROWS:
        print(
            f"warning: --tile {args.tile}: tiles under {MIN_TILE_ROWS} rows recompute their context rows over and "
            "over and run many times slower (70x measured for --tile 1); use --tile auto",
            file=sys.stderr,
        )


def _join_world(options):
    """Under torchrun: join the process group; each rank takes its own GPU (cuda:LOCAL_RANK)."""
    import torch

    from ..runtime.distributed import init_world

    world = init_world(options["device"].type)
    if world.distributed and options["device"].type == "cuda" and options["device"].index is None:
        options["device"] = torch.device("cuda", world.local_rank)
    return world


def _largest_plan(model, pairs, args, options):
    """(pair, (h, w), tile rows, context rows) for the largest pair this job computes, or None."""
    from ..infer.tiling import auto_tile_rows, default_context
    from ..infer.upscale import _parse_rows

    if args.skip_existing:  # only the pairs that will be computed
        pairs = [p for p in pairs if not all(o.exists() for o in _outputs(p.name, Path(args.output), args))]
    if not pairs:
        return None
    sizes = [(_lr_size(p.left), p) for p in pairs]
    (h, w), pair = max(sizes, key=lambda s: s[0][0] * s[0][1])
    if h * w == 0:
        return None
    context = _parse_rows(options["context"], "context")
    context = default_context(model) if context in (None, "auto") else context
    tile = _parse_rows(options["tile"], "tile")
    if tile is None or tile == "auto":
        tile = auto_tile_rows(model, h, w, options["device"], context)
    return pair, (h, w), tile, context


def _announce_cost(model, pairs, args, options) -> None:
    """One line before a job whose largest pair the tiler estimates at over a minute."""
    from ..infer.cost import estimate_pair_seconds, format_seconds

    plan = _largest_plan(model, pairs, args, options)
    if plan is None:
        return
    pair, (h, w), tile, context = plan
    seconds = estimate_pair_seconds(model, h, w, tile, context, options["device"], options["precision"])
    if seconds is None or seconds < 60:
        return
    many = f"; {len(pairs)} pairs: up to {format_seconds(seconds * len(pairs))}" if len(pairs) > 1 else ""
    print(
        f"estimate: about {format_seconds(seconds)} for {pair.name} ({w}x{h} LR) on {options['device']}{many}; "
        "time grows with the square of the width (docs/usage.md, 'Cost')",
        file=sys.stderr,
    )


def _warn_seams(model, pairs, args, options) -> None:
    """--context 0 on a pair cut into tiles: each tile sees nothing beyond its own rows, and the cuts show."""
    from ..infer.upscale import _parse_rows

    if _parse_rows(options["context"], "context") != 0:
        return
    if pairs is not None:
        plan = _largest_plan(model, pairs, args, options)
        tallest = max((_lr_size(p.left)[0] for p in pairs), default=0)
        if plan is None or plan[2] >= tallest:  # one tile per pair: no seams
            return
    print(
        "warning: --context 0: the tiles see no rows beyond their own, so the cuts between them show as seams "
        "(rows that differ from an untiled result by tens of grey levels); use --context auto",
        file=sys.stderr,
    )


def _run_pairs(model, pairs, args, options, world, t0: float, finished=frozenset()) -> int:
    from ..infer.tiling import OutOfMemory
    from ..runtime.distributed import all_mean
    from ..runtime.interrupts import signal_name
    from ..runtime.progress import progress_bar
    from .preflight import describe

    outdir = Path(args.output)
    batch = args.input is not None
    show = world.is_main and not args.quiet
    if show:
        _announce_cost(model, pairs, args, options)
    mine = pairs[world.rank :: world.size]  # torchrun: rank r takes pairs r, r + N, ...
    total, counts = len(pairs), {"written": 0, "skipped": 0, "failed": 0}
    # a bar on a terminal; elsewhere (a log, a pipe) the one line per pair below is the progress
    bar = progress_bar(
        total=len(mine),
        unit="pair",
        desc="upscale",
        file=sys.stderr,
        dynamic_ncols=True,
        delay=1.0,
        disable=not (show and batch),
        plain_every=None,
    )

    def say(line: str, stream=sys.stdout) -> None:  # above the bar, where there is one
        bar.write(line, file=stream)

    k, pair = 0, None
    try:
        for k, pair in enumerate(mine, 1):
            t1 = time.perf_counter()
            try:
                status, written = _upscale_one(
                    model,
                    pair.name,
                    pair.left,
                    pair.right,
                    outdir,
                    args,
                    options,
                    row_progress=show and len(pairs) == 1,
                    finished=finished,
                )
            except (ValueError, OSError, OutOfMemory, RuntimeError) as exc:
                if not batch and not isinstance(exc, OutOfMemory):
                    raise  # main() prints it and exits 2
                say(f"msinet upscale: error: pair {pair.name}: {describe(exc)}", sys.stderr)
                counts["failed"] += 1
                bar.update(1)
                continue
            counts["written" if status == "finished" else status] += 1
            bar.update(1)
            if show:
                where = f"[{k}/{len(mine)}] " if batch else ""
                if status == "skipped":
                    say(f"{where}{pair.name}: skipped (all outputs exist)")
                elif status == "finished":
                    say(
                        f"{where}{pair.name}: finished writing {', '.join(str(p) for p in written)} (computed by "
                        "an interrupted job)"
                    )
                else:
                    say(
                        f"{where}{pair.name}: wrote {', '.join(str(p) for p in written)} "
                        f"({time.perf_counter() - t1:.1f} s)"
                    )
    except KeyboardInterrupt as exc:
        bar.close()
        if world.is_main and pair is not None:
            when = (
                f"after pair {k} of {len(mine)} ({pair.name}) was written"
                if getattr(exc, "landed", None)
                else f"during pair {k} of {len(mine)} ({pair.name}), which is not complete"
            )
            print(
                f"msinet upscale: interrupted ({signal_name(exc)}) {when}; every pair written is complete: rerun "
                "with --skip-existing to resume",
                file=sys.stderr,
            )
            exc.explained = True  # main() adds no second line
        raise
    bar.close()
    if world.distributed:
        counts = {k: round(all_mean(v, world, options["device"]) * world.size) for k, v in counts.items()}
        if world.is_main and not args.quiet:
            print(f"{total} pair(s) shared out over {world.size} processes")
    if world.is_main and batch and (not args.quiet or counts["failed"]):
        print(
            f"msinet upscale: {total} pair(s): {counts['written']} written, {counts['skipped']} skipped, "
            f"{counts['failed']} failed in {time.perf_counter() - t0:.1f} s",
            file=sys.stderr,
        )
    if counts["failed"]:
        return 2 if not batch else 1
    return 0
