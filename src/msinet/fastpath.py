"""Fast paths that check themselves: the first use on a device is compared with the reference path.

A fast path (a fused kernel, a replayed CUDA graph) computes what a plainer reference path computes, faster.
It may still be wrong on a device where it has never run: a compiler or driver bug, an instruction the GPU
lacks, a capture that missed a side effect. So each one is a `FastPath`, and its caller asks
`path.enabled(device, fast, reference)` before taking it:

    first call on device D                                     every later call on D
    fast(probe) ──┐                                            one dict lookup: the cached verdict
    reference(probe) ──┴─► |fast - ref| <= atol + rtol * max|ref| ?
                           ├─ yes ─────────────────────► the fast path for the rest of the process
                           └─ no, or an exception ─────► ONE warning line on stderr; the reference path
                                                          for the rest of the process

The probe is small: a slice of the caller's real input (one epipolar line of Sinkhorn scores, a corner of
an LSKA feature map) or what the fast path computed anyway (the warm-up run before a CUDA graph capture).
Nothing is checked while tracing, exporting, compiling or capturing a CUDA graph (a check reads values on
the host): a path whose verdict is unknown then takes the reference path, without recording a verdict.

`msinet doctor` runs each registered path's own fixed probe on every device (`FastPath.verify`). Paths
register at import of their module; `all_paths()` lists those registered (`msinet doctor` imports them all).
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Callable, Sequence

import torch

# a check of half-precision outputs allows at least this relative deviation (a few ulps after many ops)
LOW_PRECISION_RTOL = {torch.float16: 1e-2, torch.bfloat16: 4e-2}

Outputs = Sequence[torch.Tensor]


@dataclass(frozen=True)
class Verdict:
    """The outcome of one comparison. deviation / allowed: the worst output's max |fast - ref| and its bound."""

    ok: bool
    deviation: float | None = None
    allowed: float | None = None
    error: str | None = None
    seconds: float = 0.0

    def describe(self) -> str:
        if self.error is not None:
            return f"raised {self.error}"
        return f"max deviation {self.deviation:.1e} (allowed {self.allowed:.1e})"


class FastPath:
    """One fast path: name, tolerance, per-device verdicts; optionally a fixed probe for `verify`.

    available(device) -> None, or why the path cannot run there (e.g. "needs CUDA").
    probe(device) -> (fast, reference): two zero-argument callables returning sequences of tensors.
    """

    def __init__(
        self,
        name: str,
        summary: str,
        rtol: float,
        atol: float,
        available: Callable[[torch.device], str | None] | None = None,
        probe: Callable[[torch.device], tuple[Callable[[], Outputs], Callable[[], Outputs]]] | None = None,
    ):
        self.name, self.summary, self.rtol, self.atol = name, summary, rtol, atol
        self.available = available or (lambda device: None)
        self.probe = probe
        self.verdicts: dict[str, Verdict] = {}

    def known(self, device: torch.device, variant: str = "") -> bool | None:
        """The cached verdict's ok for (device, variant), None when not checked yet."""
        verdict = self.verdicts.get(_key(device, variant))
        return None if verdict is None else verdict.ok

    def enabled(
        self, device: torch.device, fast: Callable[[], Outputs], reference: Callable[[], Outputs], variant: str = ""
    ) -> bool:
        """May the caller take the fast path on `device`? Checks (and warns) the first time only."""
        key = _key(device, variant)
        verdict = self.verdicts.get(key)
        if verdict is not None:
            return verdict.ok
        if not can_check_now():
            return False
        verdict = self.verdicts[key] = self.compare(fast, reference)
        if not verdict.ok:
            notify(
                f"warning: {self.name} on {key} {verdict.describe()} against the reference; "
                "using the reference path for the rest of this process"
            )
        return verdict.ok

    def compare(self, fast: Callable[[], Outputs], reference: Callable[[], Outputs]) -> Verdict:
        """Run both (without autograd unless they enable it) and compare; an exception in either is a failure."""
        start = time.perf_counter()
        try:
            with checking(), torch.no_grad():
                got, want = list(fast()), list(reference())
                deviation, allowed = self.deviation(got, want)
        except Exception as exc:  # noqa: BLE001 - any failure of the fast path means: do not use it
            return Verdict(False, error=error_line(exc), seconds=time.perf_counter() - start)
        return Verdict(deviation <= allowed, deviation, allowed, seconds=time.perf_counter() - start)

    def deviation(self, got: Outputs, want: Outputs) -> tuple[float, float]:
        """(max |fast - ref|, its bound atol + rtol * max|ref|) of the output furthest out of its bound."""
        if len(got) != len(want):
            raise ValueError(f"the fast path returned {len(got)} outputs, the reference {len(want)}")
        worst = (0.0, self.atol)
        for g, w in zip(got, want):
            if g.shape != w.shape:
                raise ValueError(f"the fast path returned shape {tuple(g.shape)}, the reference {tuple(w.shape)}")
            rtol = max(self.rtol, LOW_PRECISION_RTOL.get(g.dtype, 0.0), LOW_PRECISION_RTOL.get(w.dtype, 0.0))
            g, w = g.detach().double(), w.detach().to(g.device, torch.float64)
            finite = torch.isfinite(w)
            scale = float(w[finite].abs().max()) if finite.any() else 0.0
            if not torch.equal(torch.isfinite(g), finite):  # a NaN or Inf where the reference has none, or back
                dev = float("inf")
            else:
                dev = float((g - w)[finite].abs().max()) if finite.any() else 0.0
            allowed = self.atol + rtol * scale
            if dev / allowed >= worst[0] / worst[1]:
                worst = (dev, allowed)
        return worst

    def verify(self, device: torch.device) -> Verdict | str:
        """A fresh comparison on the fixed probe (the cache is neither read nor written), or why the path is
        not available on `device`."""
        device = torch.device(device)
        reason = self.available(device)
        if reason is not None:
            return reason
        if self.probe is None:
            return "no probe"
        with torch.cuda.device(device) if device.type == "cuda" else nullcontext():  # kernels launch on it
            try:
                fast, reference = self.probe(device)
            except Exception as exc:  # noqa: BLE001
                return Verdict(False, error=error_line(exc))
            return self.compare(fast, reference)


PATHS: dict[str, FastPath] = {}


def register(path: FastPath) -> FastPath:
    PATHS[path.name] = path
    return path


def all_paths() -> list[FastPath]:
    """Every fast path registered so far (a path registers when its module is imported: `msinet doctor` imports
    the modules that have them)."""
    return list(PATHS.values())


def reset() -> None:
    """Forget every verdict (tests; a later call checks again)."""
    for path in PATHS.values():
        path.verdicts.clear()


def notify(text: str) -> None:
    print(text, file=sys.stderr)


def error_line(exc: BaseException) -> str:
    """An exception as one line: 'Type: first line of its message'."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


_KEYS: dict = {}


def _key(device: torch.device, variant: str) -> str:
    """'cuda:0 (variant)': the verdicts' key; memoised (a lookup on every call), except for an index-less
    'cuda', which means the current device."""
    key = _KEYS.get((device, variant))
    if key is None:
        dev = torch.device(device)
        if dev.type == "cuda" and dev.index is None:
            return f"cuda:{torch.cuda.current_device()}" + (f" ({variant})" if variant else "")
        key = _KEYS[(device, variant)] = str(dev) + (f" ({variant})" if variant else "")
    return key


_DEPTH = [0]


@contextmanager
def checking():
    """Marks a running check: its host reads are the check's, not the model's (graphs.HostSyncWatch)."""
    _DEPTH[0] += 1
    try:
        yield
    finally:
        _DEPTH[0] -= 1


def in_check() -> bool:
    return _DEPTH[0] > 0


def plain_ops_required() -> bool:
    """True while tracing, scripting, exporting to ONNX or compiling: plain ops (no custom Function, kernel or
    data-dependent fast path) wanted."""
    return (
        torch.jit.is_tracing()
        or torch.jit.is_scripting()
        or torch.onnx.is_in_onnx_export()
        or torch.compiler.is_compiling()
    )


def can_check_now() -> bool:
    """False while tracing, scripting, exporting, compiling or capturing a CUDA graph."""
    if plain_ops_required():
        return False
    return not (torch.cuda.is_available() and torch.cuda.is_current_stream_capturing())
