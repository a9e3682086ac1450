"""A stereo SR model as a `torch.export` program with dynamic height and width (the common step of every export).

What export has to take care of in our models:
- DEAM's Sinkhorn: the fast scaling path falls back per slice on data-dependent tests, so the plain
  log-domain path (`sinkhorn_log`, same plan to float rounding) is selected for the export, with the
  iteration count fixed (a model option; `sinkhorn_iters` overrides it for the exported graph).
- `sinkhorn_log` computes its constants (log 2W) as tensor ops, so the width stays symbolic.
- TLSC (layers/local_pool.py) branches on the image size (window covers the whole image -> global mean).
  The sample is taken larger than the window in both dimensions, so the traced branch is the box-mean
  path, which equals the global mean whenever the window covers the image: the graph is right at every
  size. torch.export records the branch as a minimum height (window height + 1) in the program's range
  constraints; ONNX graphs carry no such check (and need none).
- The batch dimension is fixed to 1 (one pair per call).
"""

from __future__ import annotations

from contextlib import contextmanager

import torch

EXPORT_INPUTS = ("left", "right")
EXPORT_OUTPUTS = ("sr_left", "sr_right")


@contextmanager
def export_settings(model: torch.nn.Module, sinkhorn_iters: int | None = None, plain_ops: bool = True):
    """Eval mode, the Sinkhorn iteration count fixed and (plain_ops) its log-domain path, for an export."""
    deams = model.transport_layers()
    saved = [(d.sinkhorn_iters, getattr(d, "sinkhorn_method", None)) for d in deams]
    was_training = model.training
    if sinkhorn_iters is not None and int(sinkhorn_iters) < 1:
        raise ValueError(f"sinkhorn_iters must be at least 1, got {sinkhorn_iters}")
    try:
        model.eval()
        for d in deams:
            if sinkhorn_iters is not None:
                d.sinkhorn_iters = int(sinkhorn_iters)
            if plain_ops and hasattr(d, "sinkhorn_method"):
                d.sinkhorn_method = "log"
        yield deams
    finally:
        model.train(was_training)
        for d, (iters, method) in zip(deams, saved):
            d.sinkhorn_iters = iters
            if method is not None:
                d.sinkhorn_method = method


def tlsc_window(model) -> tuple[int, int] | None:
    window = getattr(model, "config", {}).get("tlsc_window")
    return None if window is None else (int(window[0]), int(window[1]))


def sample_inputs(model, size: tuple[int, int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """A (1,3,h,w) pair to trace and verify with: by default larger than the TLSC window in both dimensions.
    A crop of a real stereo pair (Middlebury Motorcycle, bundled with msinet: offline), downscaled x2:
    uniform noise is no input these networks were made for, and some (CVHSSR) grow features to ~1e3 on it,
    where float rounding alone moves the outputs by far more than an export error would."""
    import numpy as np

    from ..data.imresize import imresize
    from ..data.sample_pair import motorcycle_pair

    if size is None:
        window = tlsc_window(model) or (30, 90)
        size = (window[0] + 3, window[1] + 5)
    h, w = (int(v) for v in size)
    if h < 2 or w < 2:
        raise ValueError(f"sample size must be at least 2x2, got {h}x{w}")
    views = []
    for view in motorcycle_pair():  # (500, 741, 3) uint8 each
        if h <= view.shape[0] // 2 and w <= view.shape[1] // 2:
            view = imresize(view, 0.5)
        view = np.pad(view, ((0, max(0, h - view.shape[0])), (0, max(0, w - view.shape[1])), (0, 0)), mode="reflect")
        top, left = (view.shape[0] - h) // 2, (view.shape[1] - w) // 2
        crop = np.ascontiguousarray(view[top : top + h, left : left + w])
        views.append(torch.from_numpy(crop).permute(2, 0, 1)[None].float().div(255))
    return views[0], views[1]


def export_program(
    model: torch.nn.Module, *, dynamic: bool = True, sample_size=None, sinkhorn_iters: int | None = None
) -> tuple[torch.export.ExportedProgram, tuple]:
    """torch.export of model(left, right) -> (sr_left, sr_right); dynamic H and W unless dynamic=False.

    Returns the program and the sample inputs it was traced with. Raises ValueError naming the dimension
    when the model cannot keep a dynamic size (e.g. a resize built for one size).
    """
    inputs = sample_inputs(model, sample_size)
    auto = torch.export.Dim.AUTO
    shapes = {name: {2: auto, 3: auto} for name in EXPORT_INPUTS} if dynamic else None
    name = getattr(model, "model_name", None) or type(model).__name__
    with export_settings(model, sinkhorn_iters):
        try:
            program = torch.export.export(model, inputs, dynamic_shapes=shapes, strict=False)
        except Exception as exc:  # torch.export's messages run to pages; the first line says what failed
            text = str(exc).strip()
            first = text.splitlines()[0] if text else type(exc).__name__
            hint = "; try a fixed size (--static --height H --width W)" if dynamic else ""
            raise ValueError(f"{name}: torch.export failed ({first}){hint}") from None
    if dynamic:
        frozen = [
            axis
            for axis, dim in (("height", 2), ("width", 3))
            if not isinstance(_input_shape(program, EXPORT_INPUTS[0])[dim], torch.SymInt)
        ]
        if frozen:
            raise ValueError(
                f"{name}: the {' and '.join(frozen)} of the input became fixed during export "
                "(the model computes with that size as a constant); export it with a fixed size "
                "instead (--static --height H --width W)"
            )
    return program, inputs


def _input_shape(program, name: str):
    for node in program.graph.nodes:
        if node.op == "placeholder" and node.name == name:
            return node.meta["val"].shape
    raise ValueError(f"the exported program has no input named {name!r}")


def minimum_size(program) -> tuple[int, int]:
    """Smallest (height, width) the program accepts (its range constraints on the input dimensions)."""
    shape = _input_shape(program, EXPORT_INPUTS[0])
    mins = []
    for dim in shape[2:]:
        if isinstance(dim, torch.SymInt):
            ranges = program.range_constraints.get(dim.node.expr)
            mins.append(int(ranges.lower) if ranges is not None else 1)
        else:
            mins.append(int(dim))
    return mins[0], mins[1]
