"""`msinet upscale` on stereo as people have it: an MPO, one image holding both views (--layout), a stereo video.

Kept apart from cli/upscale.py, which calls add_media_arguments() and, for a single input, run_media().
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..io.layouts import LAYOUTS
from ..io.mpo import MPO_SUFFIXES, is_mpo
from ..io.video import VIDEO_SUFFIXES


def add_media_arguments(p) -> None:
    g = p.add_argument_group("MPO, side-by-side/top-bottom images and stereo video (one INPUT instead of LEFT RIGHT)")
    g.add_argument(
        "--layout",
        choices=(*LAYOUTS, "auto"),
        help="both views in one image or video frame: sbs (left|right), sbs-half (squeezed), tb "
        "(left over right), tb-half, cross (right|left); auto: sbs when width/height is twice "
        "16:9, 4:3 or 3:2, else an error",
    )
    g.add_argument(
        "--full",
        action="store_true",
        help="sbs-half/tb-half in: write the full-resolution sbs/tb layout (each view stretched back to "
        "its display aspect) instead of the same half layout at the model's scale",
    )
    g.add_argument(
        "--mpo-output",
        default="mpo",
        choices=("mpo", "png", "both"),
        help="MPO in: write <stem>.mpo (JPEG q95, EXIF of the first view kept), <stem>_L/_R.png, or both",
    )
    g.add_argument("--crf", type=int, default=18, help="video: H.264 quality, 0-51, lower is better (default 18)")
    g.add_argument("--lossless", action="store_true", help="video: lossless RGB H.264 (libx264rgb, crf 0)")
    g.add_argument(
        "--chunk", type=int, default=24, metavar="FRAMES", help="video: frames per resumable segment (default 24)"
    )


def input_kind(path: Path) -> str | None:
    """'video', 'mpo', or None (an image: needs --layout, or a RIGHT view)."""
    suffix = path.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return "video"
    if suffix in MPO_SUFFIXES or (suffix in (".jpg", ".jpeg") and path.is_file() and is_mpo(path)):
        return "mpo"
    return None


def _check_outputs(paths, source: Path, args) -> list[Path]:
    """The outputs to write: all of them, or with --skip-existing the missing ones; refuses existing ones else."""
    from ..data.image_io import refuse_existing

    for path in paths:
        if path.resolve() == source.resolve():
            raise FileExistsError(f"{path} is the input; choose another -o")
    if args.skip_existing:
        return [p for p in paths if not p.exists()]
    refuse_existing(paths, args.overwrite, ", or --skip-existing to keep it")
    return list(paths)


def _mpo_outputs(src: Path, outdir: Path, args) -> list[Path]:
    mpo = [outdir / f"{src.stem}.mpo"] if args.mpo_output in ("mpo", "both") else []
    return mpo + ([outdir / f"{src.stem}_L.png", outdir / f"{src.stem}_R.png"] if args.mpo_output != "mpo" else [])


def _upscale_mpo(model, src: Path, outdir: Path, args, options) -> list[Path]:
    from ..data.image_io import encode_png
    from ..infer.upscale import upscale_pair
    from ..io.landing import land
    from ..io.mpo import encode_mpo, read_mpo
    from .preflight import output_marker

    todo = _check_outputs(_mpo_outputs(src, outdir, args), src, args)
    if not todo:
        return []
    left, right, exif = read_mpo(src)
    sr_l, sr_r = upscale_pair(model, left, right, **options)
    files = {}
    for path in todo:  # the MPO and the PNGs land together
        if path.suffix == ".mpo":
            files[path] = encode_mpo(sr_l, sr_r, exif, path=path)
        else:
            files[path] = encode_png(sr_l if path.stem.endswith("_L") else sr_r, path)
    return land(files, overwrite=args.overwrite, companions=output_marker(outdir))  # marked: never rescanned


def _layout_for(args, width: int, height: int, src: Path) -> str:
    from ..io.layouts import guess_layout

    if args.layout is None:
        raise ValueError(
            f"{src} is one image: pass --layout {'|'.join(LAYOUTS)}|auto for both views in one "
            "image, or give LEFT RIGHT"
        )
    return guess_layout(width, height, str(src)) if args.layout == "auto" else args.layout


def _upscale_layout_image(model, src: Path, outdir: Path, args, options) -> list[Path]:
    from ..data.image_io import encode_png, read_image
    from ..infer.upscale import upscale_pair
    from ..io.landing import land
    from ..io.layouts import join, split, to_full
    from .preflight import output_marker

    out = outdir / f"{src.stem}.png"
    if not _check_outputs([out], src, args):
        return []
    image = read_image(src)
    layout = _layout_for(args, image.shape[1], image.shape[0], src)
    sr = join(*upscale_pair(model, *split(image, layout, str(src)), **options), layout)
    png = encode_png(to_full(sr, layout) if args.full else sr, out)
    return land({out: png}, overwrite=args.overwrite, companions=output_marker(outdir))  # marked: never rescanned


def _video_output(src: Path, output: Path) -> Path:
    """-o FILE.mp4|mkv|... is the output; -o a folder (existing, or a name without suffix) gets <stem>.mp4."""
    from ..io.video import container_format

    if output.suffix and not output.is_dir():
        container_format(output.suffix)  # a one-line error for a suffix we cannot write
        return output
    return output / f"{src.stem}{src.suffix.lower() if src.suffix.lower() in ('.mp4', '.mkv', '.mov') else '.mp4'}"


def _upscale_video(model, src: Path, output: Path, args, options, world) -> list[Path]:
    from ..infer.video_upscale import upscale_video
    from ..io.video import Encoding, probe_video

    info = probe_video(src)
    layout = _layout_for(args, info.width, info.height, src)
    if not 0 <= args.crf <= 51:
        raise ValueError(f"--crf must be within 0..51, got {args.crf}")
    dst = _video_output(src, output)
    if args.skip_existing and dst.exists():
        return []
    # what changes the frames, so that a resume with other settings is refused (the device may change)
    settings = {
        "model": getattr(model, "model_name", None) or str(args.model),
        "scale": int(model.scale),
        **{k: str(v) for k, v in options.items() if k != "device"},
    }
    res = upscale_video(
        model,
        src,
        dst,
        layout=layout,
        full=args.full,
        encoding=Encoding(args.crf, args.lossless),
        chunk=args.chunk,
        overwrite=args.overwrite,
        options=options,
        settings=settings,
        world=world,
        progress=not args.quiet,
    )
    if world.is_main and not args.quiet:
        resumed = f", {res['done_before']} resumed" if res["done_before"] else ""
        print(
            f"{src.name}: {res['frames']} frames{resumed}, {res['computed']} computed by this process at "
            f"{res['fps']:.3g} frames/s"
        )
    return [dst]


def preflight_media(src: Path, kind: str, args) -> None:
    """Before the model loads: the output's folder writable, its name free (or --overwrite / --skip-existing)."""
    from ..data.image_io import refuse_existing
    from .preflight import check_output_folder, refuse_existing_file

    if kind == "video":
        dst = _video_output(src, Path(args.output))
        refuse_existing_file(dst)
        if dst.resolve() == src.resolve():
            raise FileExistsError(f"{dst} is the input; choose another -o")
        if not args.skip_existing:
            refuse_existing([dst], args.overwrite, ", or --skip-existing to keep it")
        check_output_folder(dst.parent, quiet=args.quiet)
    else:
        if kind == "mpo":
            _note_extra_pictures(src, args)
        check_output_folder(Path(args.output), quiet=args.quiet)


def _note_extra_pictures(src: Path, args) -> None:
    from ..io.mpo import picture_count

    count = picture_count(src)
    if count > 2 and not args.quiet:
        print(
            f"note: {src} holds {count} pictures: the first two are upscaled as the left and right views, the "
            f"other {count - 2} are left out (extract them to upscale them as pairs of their own)",
            file=sys.stderr,
        )


def run_media(model, src: Path, kind: str | None, args, options, world) -> int:
    """Upscale one MPO, layout image or video; under torchrun a video is shared out, an image is rank 0's."""
    if args.save_disparity:
        raise ValueError("--save-disparity works with LEFT RIGHT pairs and --input folders only")
    if kind == "mpo" and args.layout is not None:
        raise ValueError(f"{src} is an MPO: its views are separate pictures; drop --layout")
    if kind == "video":
        written = _upscale_video(model, src, Path(args.output), args, options, world)
    elif world.is_main:
        outdir = Path(args.output)
        written = (_upscale_mpo if kind == "mpo" else _upscale_layout_image)(model, src, outdir, args, options)
    else:
        return 0
    if world.is_main and not args.quiet:
        print(
            f"{src.stem}: "
            + (f"wrote {', '.join(str(p) for p in written)}" if written else "skipped (all outputs exist)"),
            file=sys.stdout,
        )
    return 0
