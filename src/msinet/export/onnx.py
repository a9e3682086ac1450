"""ONNX export of a stereo SR model: inputs `left`, `right` (1,3,height,width) float32 in [0,1], outputs
`sr_left`, `sr_right` (1,3,s*height,s*width); height and width dynamic; Sinkhorn iterations fixed.

The graph comes from torch.export (program.py) through the torch.onnx dynamo exporter. The symbolic sizes
are renamed to `height` / `width`, and the model's config goes into the metadata (`msinet.*` keys).
"""

from __future__ import annotations

import json
import logging
import re
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..files import atomic_target
from .program import EXPORT_INPUTS, EXPORT_OUTPUTS, export_program, minimum_size, tlsc_window

# largest |onnxruntime - PyTorch| accepted on the real sample pair (measured: 1e-6 to 3e-6 for every registered
# network; a wrong graph is off by tenths or more)
VERIFY_TOLERANCE = 1e-3


@dataclass
class OnnxExport:
    path: Path
    dynamic: bool
    sample_size: tuple[int, int]
    min_size: tuple[int, int]  # smallest (h, w) torch.export vouches for (the ONNX graph itself has no check)
    sinkhorn_iters: int | None
    opset: int
    max_abs_diff: float | None = None  # onnxruntime vs PyTorch on the sample pair, if verified


@contextmanager
def _quiet_exporter():
    """The exporter logs its missing optional packages (torchvision ops) and deprecations: not the user's business."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            yield
    finally:
        logger.setLevel(level)


def _sinkhorn_iters(model, override):
    if override is not None:
        return int(override)
    return getattr(model, "config", {}).get("sinkhorn_iters") if _has_deam(model) else None


def _has_deam(model) -> bool:
    return bool(model.transport_layers())


def _rename_dims(proto, names: dict[str, str]) -> None:
    """Replace symbolic dimension names (e.g. s95 -> height) everywhere, including expressions like 4*s95."""
    if not names:
        return
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b")
    graph = proto.graph
    for value in list(graph.input) + list(graph.output) + list(graph.value_info):
        for dim in value.type.tensor_type.shape.dim:
            if dim.HasField("dim_param"):
                dim.dim_param = pattern.sub(lambda m: names[m.group(1)], dim.dim_param)


def _symbol_names(proto) -> dict[str, str]:
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    names = {}
    for axis, label in ((2, "height"), (3, "width")):
        if dims[axis].HasField("dim_param") and re.fullmatch(r"\w+", dims[axis].dim_param):
            names[dims[axis].dim_param] = label
    return names


def export_onnx(
    model: torch.nn.Module,
    path,
    *,
    dynamic: bool = True,
    sample_size=None,
    sinkhorn_iters: int | None = None,
    opset: int | None = None,
    overwrite: bool = False,
    verify: bool = True,
    program=None,
) -> OnnxExport:
    """Write `model` as ONNX to `path`; see the module docstring for the interface of the graph.

    verify: run the exported graph in onnxruntime (when installed) on the sample pair and record the
    largest difference to PyTorch in the result.
    program: (ExportedProgram, sample inputs) from `export_program` with the same options, to reuse.
    """
    import onnx

    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists (pass --overwrite to replace it)")
    if path.suffix.lower() != ".onnx":
        raise ValueError(f"the ONNX file name should end in .onnx, got {path.name}")
    name = getattr(model, "model_name", None) or type(model).__name__
    if program is None:
        program = export_program(model, dynamic=dynamic, sample_size=sample_size, sinkhorn_iters=sinkhorn_iters)
    program, inputs = program
    with _quiet_exporter():
        onnx_program = torch.onnx.export(
            program,
            inputs,
            None,
            input_names=list(EXPORT_INPUTS),
            output_names=list(EXPORT_OUTPUTS),
            opset_version=opset,
            dynamo=True,
            verbose=False,
            optimize=True,
        )
    proto = onnx_program.model_proto
    _rename_dims(proto, _symbol_names(proto))
    iters = _sinkhorn_iters(model, sinkhorn_iters)
    window = tlsc_window(model)
    metadata = {
        "msinet.model": name,
        "msinet.config": json.dumps(getattr(model, "config", {})),
        "msinet.scale": str(int(model.scale)),
        "msinet.sinkhorn_iters": "" if iters is None else str(iters),
        "msinet.tlsc_window": "" if window is None else f"{window[0]}x{window[1]}",
        "msinet.io": "left, right: float32 (1,3,height,width) RGB in [0,1] -> sr_left, sr_right (1,3,s*height,s*width)",
    }
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    result = OnnxExport(
        path, dynamic, tuple(inputs[0].shape[-2:]), minimum_size(program), iters, int(proto.opset_import[0].version)
    )
    with atomic_target(path) as tmp:  # a hidden temporary sibling, named `path` when complete and verified
        onnx.save(proto, str(tmp))
        if verify:  # before the file takes its name: a graph that computes something else never lands
            result.max_abs_diff = verify_onnx(model, tmp, *inputs, sinkhorn_iters=sinkhorn_iters)
            if result.max_abs_diff is not None and not result.max_abs_diff <= VERIFY_TOLERANCE:
                raise ValueError(
                    f"{name}: the ONNX graph differs from PyTorch by {result.max_abs_diff:.3g} on the "
                    f"sample pair (tolerance {VERIFY_TOLERANCE:g}); nothing written"
                )
    return result


def run_onnx(path, left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Run an exported model in onnxruntime (CPU) on (1,3,h,w) float32 arrays."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    sr_left, sr_right = session.run(list(EXPORT_OUTPUTS), {"left": left, "right": right})
    return sr_left, sr_right


def verify_onnx(model, path, left: torch.Tensor, right: torch.Tensor, sinkhorn_iters=None) -> float | None:
    """Largest |onnxruntime - PyTorch| over both outputs, or None when onnxruntime is not installed."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return None
    from .program import export_settings

    with torch.no_grad(), export_settings(model, sinkhorn_iters, plain_ops=False):  # what users run in PyTorch
        ref = model(left, right)
    got = run_onnx(path, left.numpy(), right.numpy())
    return max(float(np.abs(g - r.numpy()).max()) for g, r in zip(got, ref))
