"""Files msinet writes, one way for every kind (images, MPOs, weights, ONNX, programs, downloads, markers).

A file is written to a hidden temporary sibling, `.NAME.<pid>.tmp`, and moved over its name only when complete
(os.replace), so a crash or a signal never leaves a half file under the name. The finished file gets the mode
the umask gives a new file (0644 under umask 022), whatever wrote it: libraries that create their files
0600 (safetensors, tempfile.mkstemp) do not decide it. An error while writing names the file asked for, not
the temporary one, and the temporary file is removed.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def umask_mode() -> int:
    """The mode a new file gets under the process's umask (os.umask can only be read by setting it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def temp_sibling(path, kind: str = "tmp") -> Path:
    """`.NAME.<pid>.<kind>` beside `path`: hidden, and owned by this process (io/landing.py tidies stale ones)."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.{kind}")


def settle(tmp, path) -> Path:
    """Give the complete file `tmp` the umask's mode and move it over `path` (atomic on one file system)."""
    os.chmod(tmp, umask_mode())
    os.replace(tmp, path)
    return Path(path)


def _naming(exc: OSError, tmp: Path, path: Path) -> OSError:
    """The same error about `path` where it names our temporary file."""
    if exc.filename is not None and Path(exc.filename).name == tmp.name:
        return type(exc)(exc.errno, exc.strerror, str(path))
    return exc


@contextlib.contextmanager
def atomic_target(path):
    """`with atomic_target(path) as tmp:` write the file at `tmp` (any writer); it takes the name `path` when the
    block ends without an error, and is removed otherwise (an exception, KeyboardInterrupt, SIGTERM)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_sibling(path)
    try:
        yield tmp
        settle(tmp, path)
    except OSError as exc:
        raise _naming(exc, tmp, path) from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def write_atomic(path, data: bytes) -> Path:
    """Write `data` as the file `path` through a temporary sibling (see the module docstring)."""
    with atomic_target(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)
