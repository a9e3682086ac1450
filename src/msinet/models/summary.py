"""Per-component parameter counts of a stereo SR model (the table in docs/architecture.md)."""

from __future__ import annotations

from collections import OrderedDict

from torch import nn


def _count(module: nn.Module | None) -> int:
    return 0 if module is None else sum(p.numel() for p in module.parameters())


def parameter_breakdown(model: nn.Module) -> list[tuple[str, int]]:
    """Rows (component, parameters) summing to the model's total: the network's own rows where it declares them
    (StereoSRModel.parameter_rows), else a row per top-level module, block lists split into components."""
    rows = model.parameter_rows() if hasattr(model, "parameter_rows") else None
    if rows is None:
        return _by_module(model) if list(model.parameters()) else [("total", 0)]
    rows = OrderedDict((k, v) for k, v in rows if v)
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
