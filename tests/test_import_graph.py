"""The house rules, read from the sources: layers only look down, no import cycle, one file name per job.

Every import counts, at module level or inside a function (a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
from pathlib import Path

import msinet

SRC = Path(msinet.__file__).resolve().parent


def _module(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _graph() -> dict[str, set[str]]:
    """{module: msinet modules it imports}; `from pkg import name` counts as pkg.name where that is a module."""
    modules = {_module(p): p for p in SRC.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                for alias in node.names:
                    deps.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in modules else target)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names)
        graph[name] = {d for d in deps if d in modules and d != name}
    return graph


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "msinet"


def test_no_import_cycle():
    graph = _graph()
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    assert cycles == []


FORBIDDEN = {  # package -> packages it must never import (the layers above it)
    "runtime": {"models", "layers", "registry", "infer", "train", "eval", "cli", "downstream", "export", "io", "data"},
    "layers": {"models", "registry", "infer", "train", "eval", "cli", "downstream", "export"},
    "registry": {"models", "infer", "train", "eval", "cli"},
    "models": {"infer", "train", "eval", "cli", "downstream", "export", "io"},
    "data": {"models", "registry", "infer", "train", "eval", "cli"},
    "infer": {"models", "registry", "train", "cli", "eval"},
    "io": {"models", "registry", "train", "cli", "infer", "eval"},
    "eval": {"train", "cli"},
    "export": {"train", "cli", "infer"},
    "train": {"cli", "infer", "eval"},
}


def test_layers_only_look_down():
    graph = _graph()
    # the reader sees real edges, lazy ones included (so the rules below are not checked against nothing)
    assert "msinet.runtime.devices" in graph["msinet.infer.upscale"]
    assert "msinet.models.foreign" in graph["msinet.models.loading"]  # imported inside a function
    wrong = sorted(
        (m, d)
        for m, deps in graph.items()
        for d in deps
        if _package(d) in FORBIDDEN.get(_package(m), ())
        or (_package(m) != "msinet" and _package(d) == "msinet" and _package(m) != "cli")
    )
    assert wrong == []


def test_one_file_name_per_job_outside_cli():
    names = [p.name for p in SRC.rglob("*.py") if "cli" not in p.parts and p.name not in ("__init__.py", "__main__.py")]
    assert sorted({n for n in names if names.count(n) > 1}) == []
