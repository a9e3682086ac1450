"""Landing a result whole: all files of one result (both views, disparity, ...) appear together or not at all.

POSIX has no rename of several files at once, so a result lands in three steps, each one safe to interrupt:

    1. every file is written to a hidden temp sibling     .X_L.png.<pid>.tmp, .X_R.png.<pid>.tmp
    2. a journal naming the renames is put in place        .X_L.png.<pid>.land   (atomic: temp + os.replace)
    3. the temps are renamed over their names, the journal is deleted

Killed before step 2: only temps are left, and the next run deletes them (the names keep their previous state).
Killed during step 3: the journal says the temps are complete, and the next run finishes the renames (the
pair is then complete). SIGINT/SIGTERM are held back during step 3, which takes microseconds, so Ctrl-C never
lands in it; one that arrived there is raised when the renames are done, its KeyboardInterrupt carrying the
complete files as `.landed`. Interrupted in step 1 (an exception, KeyboardInterrupt, or SIGTERM where msinet's
command line turns it into one), the temps are deleted at once. `recover(folder)` is the clean-up after a kill;
run it on every folder before writing into it. A temp or journal of a process that is still running (another
rank of a torchrun job writing into the same folder) is left alone.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import threading
from pathlib import Path

_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.(?P<kind>tmp|land)$")


def _rename(src: Path, dst: Path) -> None:  # one place for every rename (tests interrupt here)
    os.replace(src, dst)


def temp_path(path: Path, kind: str = "tmp") -> Path:
    from ..files import temp_sibling

    return temp_sibling(path, kind)


def _stale(pid: int) -> bool:
    """A temp file of this process (left by an earlier, interrupted job in it) or of a process that is gone."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OSError):
        return False
    return False


@contextlib.contextmanager
def _signals_held():
    """Defer SIGINT/SIGTERM for the few microseconds of the renames: a handler notes them, and they are raised
    again once the renames are done (main thread only, where Python handles signals; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending = []
    held = [s for s in (signal.SIGINT, signal.SIGTERM)]
    before = {s: signal.signal(s, lambda signum, frame: pending.append(signum)) for s in held}
    try:
        yield
    finally:
        for s, handler in before.items():
            signal.signal(s, signal.SIG_DFL if handler is None else handler)
        if pending:
            signal.raise_signal(pending[0])


def land(files: dict, overwrite: bool = False, companions: dict | None = None) -> list[Path]:
    """Write {path: bytes} so that the files appear together; returns the paths written.

    Without overwrite, a name that exists is never replaced (FileExistsError before anything is written).
    `companions` ({path: bytes}, e.g. the output folder's marker) are written with the files where they do not
    exist yet: put in place just before the journal, so they never appear without the files unless the process
    is killed outright (SIGKILL) in the rename step."""
    files = {Path(p): data for p, data in files.items()}
    if not files:
        return []
    if not overwrite:
        for path in files:
            if path.exists():
                raise FileExistsError(f"{path} exists; pass --overwrite to replace it")
    extra = {Path(p): data for p, data in (companions or {}).items() if not Path(p).exists()}
    temps = {path: temp_path(path) for path in [*extra, *files]}
    journal = temp_path(next(iter(files)), "land")
    jtmp = temp_path(journal.with_name(journal.name[1:]))  # the journal's own temp
    committed = False
    try:
        for path, data in [*extra.items(), *files.items()]:
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                temps[path].write_bytes(data)
            except OSError as exc:  # name the file the user asked for, not our temp
                raise type(exc)(exc.errno, exc.strerror, str(path)) from None
        jtmp.write_text(json.dumps({"overwrite": overwrite, "renames": [[str(temps[p]), str(p)] for p in files]}))
        renamed = False
        try:
            with _signals_held():
                for path in extra:
                    _rename(temps[path], path)
                _rename(jtmp, journal)
                committed = True
                for path in files:
                    _rename(temps[path], path)
                journal.unlink()
                renamed = True
        except KeyboardInterrupt as exc:
            if renamed:  # a signal held back, raised now: the files are complete
                exc.landed = list(files)
            raise
    finally:
        if not committed:  # nothing was renamed: the names keep their previous state
            for tmp in temps.values():
                tmp.unlink(missing_ok=True)
            jtmp.unlink(missing_ok=True)
    return list(files)


def _finish(journal: Path) -> tuple[list[Path], list[Path]]:
    """Complete the renames of an interrupted landing; the files it names are complete temps.
    (renamed now, every file of the landing now in place)"""
    done, landed = [], []
    try:
        plan = json.loads(journal.read_text())
    except (OSError, ValueError):
        plan = {"renames": []}
    for tmp, final in plan.get("renames", []):
        tmp, final = Path(tmp), Path(final)
        if tmp.is_file():
            if final.exists() and not plan.get("overwrite", False):
                tmp.unlink()
            else:
                try:
                    _rename(tmp, final)
                    done.append(final)
                except FileNotFoundError:  # another process finished it first
                    pass
        if final.is_file():
            landed.append(final)
    journal.unlink(missing_ok=True)
    return done, landed


def recover(folder) -> dict:
    """Finish interrupted landings in `folder` and delete its stale temps: {"completed": files renamed now,
    "landed": every file of those landings (complete, some renamed before the interruption), "removed": temps}."""
    folder = Path(folder)
    out = {"completed": [], "landed": [], "removed": []}
    if not folder.is_dir():
        return out
    entries = sorted(folder.iterdir())
    for path in entries:  # journals first: they may still need their temps
        m = _TEMP.match(path.name)
        if m and m["kind"] == "land" and _stale(int(m["pid"])):
            done, landed = _finish(path)
            out["completed"] += done
            out["landed"] += landed
    for path in entries:
        m = _TEMP.match(path.name)
        if m and m["kind"] == "tmp" and _stale(int(m["pid"])) and path.is_file():
            path.unlink(missing_ok=True)
            out["removed"].append(path)
    return out
