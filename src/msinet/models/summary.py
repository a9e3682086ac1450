"""Per-component parameter counts of a stereo SR model (the table in docs/architecture.md)."""
from __future__ import annotations

from collections import OrderedDict

from torch import nn


def _count(module: nn.Module | None) -> int:
    return 0 if module is None else sum(p.numel() for p in module.parameters())


def parameter_breakdown(model: nn.Module) -> list[tuple[str, int]]:
    """Rows (component, parameters) summing to the model's total; block rows are summed over all blocks."""
    if not hasattr(model, "blocks"):
        return [("total", _count(model))]
    rows: OrderedDict[str, int] = OrderedDict()
    rows["shallow 3x3 conv (intro)"] = _count(model.intro)
    from .stereo_sr import StereoSRNet

    for block in model.blocks:
        if not isinstance(model, StereoSRNet):  # other architectures: each component of a block by its class
            parts = {f"{type(m).__name__} ({name})": _count(m) for name, m in _components(block)}
            for key, n in parts.items():
                rows[key] = rows.get(key, 0) + n
            continue
        mixer = block.intra.mixer
        parts = {
            "MSCAM: LayerNorm + 1x1 expand + 3x3 depthwise": _count(mixer.norm) + _count(mixer.expand)
            + _count(mixer.dwconv),
            "MSCAM: simplified channel attention": _count(mixer.sca),
            "MSCAM: multi-scale LSKA (all groups) + 1x1": _count(mixer.msa),
            "MSCAM: 1x1 merge (2C->C)": _count(mixer.merge),
            "MSCAM: 1x1 project + beta": _count(mixer.project) + mixer.beta.numel(),
            "SFFN": _count(block.intra.ffn),
            f"fusion ({type(block.fusion).__name__ if block.fusion is not None else 'none'})": _count(block.fusion),
        }
        for key, n in parts.items():
            rows[key] = rows.get(key, 0) + n
    rows["reconstruction 3x3 conv + PixelShuffle"] = _count(model.head)
    rows = OrderedDict((k, v) for k, v in rows.items() if v)
    rows["total"] = _count(model)
    assert sum(v for k, v in rows.items() if k != "total") == rows["total"]
    return list(rows.items())


def _components(block: nn.Module):
    """(path, module) of a block's parts: the children of its intra-view block, then its other children."""
    for name, child in block.named_children():
        grandchildren = list(child.named_children()) if name == "intra" else []
        if grandchildren and not list(child.parameters(recurse=False)):
            yield from ((f"{name}.{sub}", m) for sub, m in grandchildren)
        else:
            yield name, child
