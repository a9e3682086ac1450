"""SIGTERM gets what SIGINT gets: `kill PID`, a batch scheduler's time limit or a container stop raise
`Terminated` (a KeyboardInterrupt) where Ctrl-C raises KeyboardInterrupt, so the same clean-up runs (temporary
files deleted, half results never named, io/landing.py) and the same message is printed; the exit status
is the shell's 128 + signal number (130 for SIGINT, 143 for SIGTERM).
"""

from __future__ import annotations

import contextlib
import signal
import threading


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised as a KeyboardInterrupt."""


def _raise_terminated(signum, frame):
    raise Terminated(f"signal {signum}")


@contextlib.contextmanager
def sigterm_as_interrupt():
    """Within the block, SIGTERM raises Terminated (main thread only, where Python handles signals)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if before is None else before)


def signal_name(exc: BaseException) -> str:
    return "SIGTERM" if isinstance(exc, Terminated) else "SIGINT"


def exit_status(exc: BaseException) -> int:
    """128 + the signal's number, as a shell reports a process the signal ended."""
    return 128 + int(signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT)
