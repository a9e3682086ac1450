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
    for block in model.blocks:
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
