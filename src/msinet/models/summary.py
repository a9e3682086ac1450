"""Per-component parameter counts of a stereo SR model (the table in docs/architecture.md)."""

from __future__ import annotations

from collections import OrderedDict

from torch import nn


def _count(module: nn.Module | None) -> int:
    return 0 if module is None else sum(p.numel() for p in module.parameters())


def parameter_breakdown(model: nn.Module) -> list[tuple[str, int]]:
    """Rows (component, parameters) summing to the model's total; block rows are summed over all blocks."""
    from .stereo_sr import StereoSRNet

    if not isinstance(model, StereoSRNet):
        return _by_module(model) if list(model.parameters()) else [("total", 0)]
    rows: OrderedDict[str, int] = OrderedDict()
    rows["shallow 3x3 conv (intro)"] = _count(model.intro)
    for block in model.blocks:
        mixer = block.intra.mixer
        parts = {
            "MSCAM: LayerNorm + 1x1 expand + 3x3 depthwise": _count(mixer.norm)
            + _count(mixer.expand)
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


def _by_module(model: nn.Module) -> list[tuple[str, int]]:
    """Other architectures: a row per top-level module, a list of blocks split into its blocks' components
    (summed over the blocks); each parameter is counted once, where it is first met (tied weights)."""
    seen: set[int] = set()

    def count(module: nn.Module) -> int:
        fresh = [p for p in module.parameters() if id(p) not in seen]
        seen.update(id(p) for p in fresh)
        return sum(p.numel() for p in fresh)

    rows: OrderedDict[str, int] = OrderedDict()
    for name, child in model.named_children():
        if isinstance(child, nn.ModuleList):
            for block in child:
                for path, part in _components(block):
                    key = f"{type(part).__name__} ({name}.*.{path})"
                    rows[key] = rows.get(key, 0) + count(part)
        else:
            rows[f"{type(child).__name__} ({name})"] = count(child)
    rows["other parameters"] = count(model)
    rows = OrderedDict((k, v) for k, v in rows.items() if v)
    rows["total"] = _count(model)
    assert sum(v for k, v in rows.items() if k != "total") == rows["total"]
    return list(rows.items())


def _components(block: nn.Module):
    """(path, module) of a block's parts, one level into its intra-view block."""
    for name, child in block.named_children():
        grandchildren = list(child.named_children()) if name == "intra" else []
        if grandchildren and not list(child.parameters(recurse=False)):
            yield from ((f"{name}.{sub}", m) for sub, m in grandchildren)
        else:
            yield name, child
