"""Progress of long work: a tqdm bar on a terminal, plain lines anywhere else.

Written to a log file or a pipe, a bar is noise: carriage-return redraws, cursor escapes (`ESC[A`) from nested
bars, and text printed after it glued onto its last frame. There, `progress_bar` returns a PlainProgress
instead: the same calls (update, write, close, set_postfix, iteration), no escape codes and no carriage
returns, and at most one line every `plain_every` seconds (none where the caller prints a line per item
itself: plain_every=None).
"""

from __future__ import annotations

import sys
import time

PLAIN_EVERY_S = 20.0  # a few lines a minute in a log


def is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def progress_bar(
    iterable=None,
    *,
    total=None,
    desc: str = "",
    unit: str = "it",
    file=None,
    disable: bool = False,
    plain_every: float | None = PLAIN_EVERY_S,
    **tqdm_options,
):
    """tqdm(iterable, total=..., desc=..., unit=..., file=..., **tqdm_options) on a terminal (and when disabled);
    a PlainProgress elsewhere."""
    file = sys.stderr if file is None else file
    if disable or is_terminal(file):
        from tqdm import tqdm

        return tqdm(iterable, total=total, desc=desc, unit=unit, file=file, disable=disable, **tqdm_options)
    return PlainProgress(
        iterable,
        total=total,
        desc=desc,
        unit=unit,
        file=file,
        plain_every=plain_every,
        initial=tqdm_options.get("initial", 0),
    )


def _clock(seconds: float) -> str:
    minutes, s = divmod(int(seconds), 60)
    h, m = divmod(minutes, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _amount(n: float, unit: str) -> str:
    """Bytes in B/KB/MB/GB (of 1024); any other unit as the number and the unit."""
    if unit == "B":
        for prefix in ("", "K", "M", "G"):
            if n < 1024:
                return f"{n:.0f} {prefix}B" if not prefix else f"{n:.1f} {prefix}B"
            n /= 1024
        return f"{n:.1f} TB"
    return f"{n:g} {unit}"


class PlainProgress:
    """tqdm's interface as used here, printing a plain line at most every `plain_every` seconds."""

    disable = False

    def __init__(
        self,
        iterable=None,
        *,
        total=None,
        desc: str = "",
        unit: str = "it",
        file=None,
        plain_every: float | None = PLAIN_EVERY_S,
        initial: int = 0,
    ):
        self.iterable, self.desc, self.unit = iterable, desc, unit
        self.total = total if total is not None or iterable is None else _len(iterable)
        self.file = sys.stderr if file is None else file
        self.every, self.n = plain_every, initial
        self.start = self.last = time.monotonic()
        self.postfix = ""

    def __iter__(self):
        for item in self.iterable:
            yield item
            self.update(1)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def update(self, n: float = 1) -> None:
        self.n += n
        self.refresh()

    def refresh(self) -> None:
        now = time.monotonic()
        if self.every is not None and now - self.last >= self.every:
            self.last = now
            self._line(now)

    def _line(self, now: float) -> None:
        if self.unit == "B":
            done = _amount(self.n, "B") + (f" of {_amount(self.total, 'B')}" if self.total else "")
        else:
            done = f"{self.n:g}" + (f"/{self.total:g}" if self.total else "") + f" {self.unit}s"
        if self.total:
            done += f" ({100 * self.n / self.total:.0f}%)"
        postfix = f", {self.postfix}" if self.postfix else ""
        print(f"{self.desc}: {done} after {_clock(now - self.start)}{postfix}", file=self.file, flush=True)

    def set_postfix(self, ordered_dict=None, refresh: bool = True, **kwargs) -> None:
        items = {**(ordered_dict or {}), **kwargs}
        self.postfix = ", ".join(f"{k}={v}" for k, v in items.items())

    def write(self, s: str, file=None, end: str = "\n") -> None:
        print(s, file=sys.stdout if file is None else file, end=end, flush=True)

    def close(self) -> None:
        pass


def _len(iterable):
    try:
        return len(iterable)
    except TypeError:
        return None
