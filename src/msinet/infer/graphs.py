"""CUDA graph replay of a model's inference forward at fixed input shapes.

A forward of MSINet launches thousands of small kernels; on a fast GPU the CPU's launch latency, not the
arithmetic, sets the pace. A captured CUDA graph replays all of them with one launch. Graphs need fixed
shapes (tiling.run_tiled(same_shape=True) feeds every tile with the same number of rows) and a forward
that never waits for the host: before capturing, one run is watched for operations that synchronise with
the host (reading a device value in Python, data-dependent shapes); if there is one, or capture fails,
the forward stays eager and a one-line notice says why. The first capture per device is also replayed once on
its own inputs and compared with the warm-up's eager outputs (msinet.fastpath): on a mismatch, one warning
line and eager execution for the rest of the process.

    graphed = GraphedForward(model, capture_after=2)   # capture a shape the 2nd time it is seen
    sr_l, sr_r = graphed(left, right)                   # copies in, replays, clones out

Outputs are clones: they stay valid after the next replay overwrites the graph's own buffers.
"""

from __future__ import annotations

import sys
import weakref
from collections import OrderedDict
from contextlib import nullcontext
from typing import Callable, Sequence

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from .. import fastpath

MODES = ("auto", "on", "off")
# ops that make the host wait for the device (or whose output shape depends on device data)
SYNCING_OPS = {
    "aten::_local_scalar_dense",
    "aten::is_nonzero",
    "aten::nonzero",
    "aten::equal",
    "aten::masked_select",
    "aten::unique",
    "aten::_unique2",
    "aten::unique_consecutive",
}


class HostSyncWatch(TorchDispatchMode):
    """Records the ops of SYNCING_OPS run inside it."""

    def __init__(self):
        super().__init__()
        self.seen: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func._schema.name
        if name in SYNCING_OPS and name not in self.seen and not fastpath.in_check():  # a check's reads are its own
            self.seen.append(name)
        return func(*args, **(kwargs or {}))


def _cuda_capture(fn: Callable, static_inputs: Sequence[torch.Tensor]):
    """Capture fn(*static_inputs) in a CUDA graph; returns (static outputs, replay)."""
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        outputs = fn(*static_inputs)
    return list(outputs), graph.replay


def eager_capture(fn: Callable, static_inputs: Sequence[torch.Tensor]):
    """A stand-in for `_cuda_capture` with the same contract (static output buffers rewritten by replay):
    lets the runner's logic be tested where there is no CUDA."""
    outputs = [t.clone() for t in fn(*static_inputs)]

    def replay():
        for buf, new in zip(outputs, fn(*static_inputs)):
            buf.copy_(new)

    return outputs, replay


class GraphedForward:
    """fn(*inputs) -> sequence of tensors, replayed from a captured graph per input shape (at most
    `max_graphs` kept, least recently used dropped); eager when capture is impossible."""

    def __init__(
        self,
        fn: Callable,
        capture_after: int = 2,
        max_graphs: int = 2,
        capture=None,
        notify: Callable[[str], None] | None = None,
    ):
        self.fn = fn
        self.capture_after = capture_after
        self.max_graphs = max_graphs
        self.capture = capture or _cuda_capture
        self.notify = notify or (lambda text: print(text, file=sys.stderr))
        self.graphs: OrderedDict[tuple, tuple] = OrderedDict()
        self.seen: dict[tuple, int] = {}
        self.disabled: str | None = None  # why graphs are off, once found out
        self.replays = 0

    def _key(self, inputs) -> tuple:
        autocast = torch.is_autocast_enabled("cuda"), torch.get_autocast_dtype("cuda")
        return tuple((tuple(x.shape), x.dtype, x.device) for x in inputs) + (
            autocast,
            torch.is_inference_mode_enabled(),
        )

    def __call__(self, *inputs: torch.Tensor) -> list[torch.Tensor]:
        if self.disabled is not None:
            return list(self.fn(*inputs))
        key = self._key(inputs)
        entry = self.graphs.get(key)
        if entry is None:
            self.seen[key] = self.seen.get(key, 0) + 1
            if self.seen[key] < self.capture_after:
                return list(self.fn(*inputs))
            entry = self._capture(key, inputs)
            if entry is None:
                return list(self.fn(*inputs))
        self.graphs.move_to_end(key)
        static_inputs, static_outputs, replay = entry
        for buf, x in zip(static_inputs, inputs):
            buf.copy_(x)
        replay()
        self.replays += 1
        return [t.clone() for t in static_outputs]

    def _capture(self, key, inputs):
        device = inputs[0].device
        if GRAPH_REPLAY.known(device) is False:  # found wrong on this device earlier (and said so then)
            return self._give_up("graph replay failed its check on this device", quiet=True)
        static_inputs = [x.clone() for x in inputs]
        watch = HostSyncWatch()
        side = torch.cuda.Stream() if static_inputs[0].is_cuda else None
        if side is not None:  # warm-up on a side stream, as torch requires before capture
            side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side) if side is not None else nullcontext(), watch:
            eager = list(self.fn(*static_inputs))
        if side is not None:
            torch.cuda.current_stream().wait_stream(side)
        if GRAPH_REPLAY.known(device) is not None:
            eager = None  # checked already: do not hold a second set of outputs through the capture
        if watch.seen:
            return self._give_up(f"the model's forward synchronises with the host ({', '.join(watch.seen)})")
        try:
            static_outputs, replay = self.capture(self.fn, static_inputs)
        except RuntimeError as exc:
            return self._give_up(f"capture failed ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})")
        # the first capture on this device: replay checked against the warm-up (the one warning comes from there)
        if eager is not None and not _replay_checked(device, static_outputs, replay, eager):
            return self._give_up("graph replay differs from the eager forward", quiet=True)
        entry = (static_inputs, static_outputs, replay)
        self.graphs[key] = entry
        while len(self.graphs) > self.max_graphs:
            self.graphs.popitem(last=False)
        return entry

    def _give_up(self, reason: str, quiet: bool = False):
        self.disabled = reason
        self.graphs.clear()
        if not quiet:
            self.notify(f"note: CUDA graphs off, running eagerly: {reason}")
        return None


def _replay_checked(device: torch.device, static_outputs, replay, eager) -> bool:
    """The first capture per device: one replay on the capture's own inputs (still in the static buffers)
    against the warm-up's eager outputs for those inputs (msinet.fastpath)."""

    def replayed():
        replay()
        return [t.clone() for t in static_outputs]

    return GRAPH_REPLAY.enabled(device, replayed, lambda: eager)


def _graph_available(device: torch.device) -> str | None:
    return None if device.type == "cuda" else "needs CUDA"


def _graph_probe(device: torch.device):
    """An MSCAB + DEAM stack (MSINet's block and fusion with their default paths: fused LSKA, Triton Sinkhorn)
    on a 24 x 40 pair of 16-channel features, replayed from a captured graph vs run eagerly. Built from layers:
    the inference layer never imports the models."""
    from ..layers import DEAM, MSCAB

    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(19)
        block, fusion = MSCAB(16).to(device).eval(), DEAM(16).to(device).eval()
        for p in fusion.parameters():  # zero-initialised scales would hide the fusion's output
            torch.nn.init.normal_(p, std=0.2)
        pair = [torch.rand(1, 16, 24, 40, device=device) for _ in range(2)]

    def fn(left, right):
        with torch.no_grad():
            return list(fusion(block(left), block(right)))

    def fast():
        static = [x.clone() for x in pair]
        side = torch.cuda.Stream(device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side):
            fn(*static)  # warm-up before capture, as torch requires
        torch.cuda.current_stream(device).wait_stream(side)
        outputs, replay = _cuda_capture(fn, static)
        replay()
        return [t.clone() for t in outputs]

    def reference():
        return fn(*pair)

    return fast, reference


GRAPH_REPLAY = fastpath.register(
    fastpath.FastPath(
        "cuda-graph-replay",
        "a model forward replayed from a captured CUDA graph vs run eagerly",
        rtol=1e-4,
        atol=1e-5,
        available=_graph_available,
        probe=_graph_probe,
    )
)


_RUNNERS: "weakref.WeakKeyDictionary[torch.nn.Module, tuple]" = weakref.WeakKeyDictionary()


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"cuda_graphs must be one of {', '.join(MODES)}, got {mode!r}")
    return mode


def graphed_model(
    model: torch.nn.Module, device: torch.device, mode: str, capture=None, notify: Callable[[str], None] | None = None
) -> GraphedForward | None:
    """The model's GraphedForward for `device` (kept with the model, so a folder of same-sized pairs reuses
    its graphs), or None for eager. mode: "auto" = on CUDA, a shape captured when seen a second time;
    "on" = CUDA graphs asked for (a notice elsewhere); "off"."""
    check_mode(mode)
    if mode == "off" or (device.type != "cuda" and capture is None):
        if mode == "on":
            (notify or (lambda text: print(text, file=sys.stderr)))(
                f"note: CUDA graphs need a CUDA device; running eagerly on {device}"
            )
        return None
    # weights replaced or changed in place (load_state_dict), or the configuration changed (e.g. the TLSC
    # window): the old graphs, and weights cached inside them (fused LSKA), are stale
    state = (tuple((p.data_ptr(), p._version) for p in model.parameters()), repr(getattr(model, "config", None)), mode)
    cached = _RUNNERS.get(model)
    if cached is not None and cached[0] == state:
        return cached[1]
    runner = GraphedForward(model, capture_after=2 if mode == "auto" else 1, capture=capture, notify=notify)
    _RUNNERS[model] = (state, runner)
    return runner
