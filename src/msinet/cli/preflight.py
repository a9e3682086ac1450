"""Pre-flight of an output location, before a model loads: the folder is created and test-written, and free space
is checked against what the job will write, so that a job that cannot finish fails in its first second with one
line naming the path and the reason in words (not after an hour of computing, not with bare errno text).

It also tidies up after an interrupted job (io/landing.py: half-landed results completed, stale temps removed).
A folder becomes msinet's (OUTPUT_MARKER, so that `msinet upscale --input` never takes it for input) only when
the first result lands in it (output_marker): a job that refuses leaves the file system as it found it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sys
from pathlib import Path

from ..data.pair_scan import OUTPUT_MARKER

_CREATED: list[Path] = []  # folders the pre-flight created in this process (topmost new one of each path)

_REASONS = {
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exhausted",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EEXIST: "a file of that name exists",
    errno.ENOENT: "no such file or folder",
    errno.ENAMETOOLONG: "the name is too long",
}


def in_words(exc: OSError) -> str:
    return _REASONS.get(exc.errno) or (exc.strerror or type(exc).__name__).lower()


def describe(exc: BaseException) -> str:
    """One line for an error: an OSError from the system as 'PATH: reason in words', anything else as is."""
    if isinstance(exc, OSError) and exc.errno is not None and exc.filename is not None:
        return f"{exc.filename}: {in_words(exc)}"
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def check_output_folder(folder, need_bytes: int = 0, *, quiet: bool = False, finished: set | None = None) -> Path:
    """Create `folder`, prove it writable (a probe file, removed again), check the free space against
    `need_bytes`, and finish or clean up what an interrupted job left there (the files of a landing finished
    now or before are added to `finished`). ValueError if not."""
    from ..io.landing import recover

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(
            f"cannot write into {folder}: it is an existing file, not a folder; choose another output folder"
        )
    new = [p for p in (folder, *folder.parents) if not p.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if new:
            _CREATED.append(new[-1])
    except OSError as exc:  # ENOENT from mkdir: a place that holds no new folders (/proc, /sys)
        why = "folders cannot be created there" if exc.errno == errno.ENOENT else in_words(exc)
        raise ValueError(f"cannot create the output folder {folder}: {why}; choose another output folder") from None
    probe = folder / f".msinet-write-test.{os.getpid()}"
    try:
        _probe_write(probe)
    except OSError as exc:  # ENOENT on an existing folder: a place that holds no new files (/proc)
        why = "files cannot be created there" if exc.errno == errno.ENOENT else in_words(exc)
        raise ValueError(f"cannot write into {folder}: {why}; choose another output folder") from None
    finally:
        with contextlib.suppress(OSError):  # a read-only file system refuses even to unlink a missing file
            probe.unlink(missing_ok=True)
    free = shutil.disk_usage(folder).free
    if need_bytes > free:
        raise ValueError(
            f"not enough free space in {folder}: the outputs need about {human_bytes(need_bytes)}, "
            f"{human_bytes(free)} are free; free some space or choose another output folder"
        )
    tidy = recover(folder)
    if finished is not None:
        finished.update(p.resolve() for p in tidy["landed"])
    if not quiet and (tidy["completed"] or tidy["removed"]):
        done = f"finished writing {', '.join(p.name for p in tidy['completed'])}; " if tidy["completed"] else ""
        print(
            f"note: {folder} held an interrupted job's files: {done}removed {len(tidy['removed'])} temp file(s)",
            file=sys.stderr,
        )
    return folder


def check_output_file(path, overwrite: bool = False, hint: str = "") -> Path:
    """A single output file (weights, ONNX, a program): its name free (or `overwrite`), not a folder, and its
    folder writable (check_output_folder), before any work is done. ValueError / FileExistsError if not."""
    from ..data.image_io import refuse_existing

    path = Path(path)
    refuse_existing_file(path)
    refuse_existing([path], overwrite, hint)
    check_output_folder(path.parent if str(path.parent) else Path("."), quiet=True)
    return path


def is_output_folder(folder) -> bool:
    """Whether msinet wrote results into `folder` (it holds OUTPUT_MARKER)."""
    return (Path(folder) / OUTPUT_MARKER).is_file()


def output_marker(folder) -> dict:
    """{marker path: bytes}: the companion of every result landing in `folder` (io/landing.land, companions=),
    so that the folder is marked as msinet's exactly when its first result appears; a later
    `msinet upscale --input` then skips it."""
    return {Path(folder) / OUTPUT_MARKER: MARKER_TEXT.encode()}


def discard_unused_folders() -> None:
    """After a job that failed before writing anything: remove the folders its pre-flight created (a refused job
    leaves no trace). A folder that holds anything but the marker is kept as it is."""
    while _CREATED:
        top = _CREATED.pop()
        for folder in sorted((p for p in [top, *top.rglob("*")] if p.is_dir()), key=lambda p: -len(p.parts)):
            if {p.name for p in folder.iterdir()} <= {OUTPUT_MARKER}:
                (folder / OUTPUT_MARKER).unlink(missing_ok=True)
                folder.rmdir()


MARKER_TEXT = (
    "msinet wrote results into this folder: `msinet upscale --input` does not read it as input.\n"
    "Delete this file to have it read as input again.\n"
)


def _probe_write(path: Path) -> None:
    with open(path, "w") as f:
        f.write("msinet checks that it can write here; this file is removed at once\n")


def refuse_existing_file(path) -> None:
    """An output that must be a file (a video, a CSV) whose name is taken by a folder."""
    if Path(path).is_dir():
        raise ValueError(f"cannot write {path}: it is an existing folder, not a file; choose another -o")


def png_bytes_estimate(pixels: int, channels: int = 3) -> int:
    """What a PNG of a photo takes, roughly: half its raw size (to size the free-space check, not exactly)."""
    return pixels * channels // 2
