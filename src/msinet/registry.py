"""A registry of named model configurations (timm-style): a name maps to an architecture and its arguments.

It imports no model: each model module registers its architecture (`@register_arch`) and its named
configurations (`register_model`) when imported, and `msinet.models` imports them all (`import msinet` does).
"""

from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass, field
from typing import Callable

import torch


@dataclass(frozen=True)
class ModelEntry:
    name: str
    arch: str
    kwargs: dict = field(default_factory=dict)
    description: str = ""


_REGISTRY: dict[str, ModelEntry] = {}
_ARCHS: dict[str, Callable[..., torch.nn.Module]] = {}


def register_arch(name: str):
    """Register a model class under an architecture name (used to rebuild models from saved configs)."""

    def wrap(cls):
        _ARCHS[name] = cls
        cls.arch_name = name
        return cls

    return wrap


def register_model(name: str, arch: str, description: str = "", **kwargs) -> None:
    if name in _REGISTRY:
        raise ValueError(f"model {name!r} is registered twice")
    if arch not in _ARCHS:
        raise ValueError(f"model {name!r}: unknown architecture {arch!r}")
    _REGISTRY[name] = ModelEntry(name, arch, dict(kwargs), description)


def list_models(pattern: str | None = None) -> list[str]:
    """Names of the registered models, sorted; `pattern` is an optional fnmatch filter like 'msinet_*'."""
    from fnmatch import fnmatch

    return sorted(n for n in _REGISTRY if pattern is None or fnmatch(n, pattern))


def get_entry(name: str) -> ModelEntry:
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(list_models())}")
    return _REGISTRY[name]


# Options renamed since 0.1 (old name -> name now). Configs saved under the old name (weights files, checkpoints,
# exported metadata) keep loading as they are; a user who passes the old name is told once per call site.
RENAMED_OPTIONS = {"width": "channels"}  # one word for a channel count; "width" is the image's


def current_options(kwargs: dict, warn: bool = False) -> dict:
    """kwargs with renamed options under their current names (a FutureWarning per old name when `warn`)."""
    kwargs = dict(kwargs)
    for old, new in RENAMED_OPTIONS.items():
        if old not in kwargs:
            continue
        if new in kwargs:
            raise ValueError(f"give {new!r} only ({old!r} is its old name), not both")
        if warn:
            warnings.warn(
                f"model option {old!r} is now called {new!r}; the old name will stop working in 0.3",
                FutureWarning,
                stacklevel=3,
            )
        kwargs[new] = kwargs.pop(old)
    return kwargs


def build_arch(arch: str, **kwargs) -> torch.nn.Module:
    """Instantiate an architecture by name, naming the first unknown argument if any (saved configs may use an
    option's old name: see RENAMED_OPTIONS)."""
    if arch not in _ARCHS:
        raise ValueError(f"unknown architecture {arch!r}; known: {', '.join(sorted(_ARCHS))}")
    kwargs = current_options(kwargs)
    cls = _ARCHS[arch]
    accepted = inspect.signature(cls.__init__).parameters
    for key in kwargs:
        if key not in accepted:
            raise ValueError(
                f"{arch}: unknown option {key!r}; options: {', '.join(k for k in accepted if k != 'self')}"
            )
    return cls(**kwargs)


# options that change training or float rounding only, not the weights or what the network computes
RUNTIME_OPTIONS = ("drop_path_rate", "sinkhorn_method", "stack_views")


def weights_config(arch: str, kwargs: dict) -> dict:
    """The arguments that decide an architecture's weights and outputs: defaults filled in, runtime-only options
    dropped, tuples as lists (so a saved config and a registry entry compare equal)."""
    defaults = {
        k: p.default
        for k, p in inspect.signature(_ARCHS[arch].__init__).parameters.items()
        if p.default is not inspect.Parameter.empty
    }
    config = {k: v for k, v in {**defaults, **current_options(kwargs)}.items() if k not in RUNTIME_OPTIONS}
    return {k: list(v) if isinstance(v, tuple) else v for k, v in config.items()}


def same_architecture(config: dict, name: str) -> bool:
    """Whether a model config ({"arch": ..., **kwargs}) is the registered model `name`, runtime options aside."""
    config = dict(config)
    arch = config.pop("arch", None)
    entry = get_entry(name)
    return arch == entry.arch and weights_config(arch, config) == weights_config(entry.arch, entry.kwargs)


def aliases(name: str) -> list[str]:
    """The other registered names of the same configuration ('nafssr_s' <-> 'nafssr_s_x4'), sorted."""
    entry = get_entry(name)
    return sorted(n for n, e in _REGISTRY.items() if n != name and e.arch == entry.arch and e.kwargs == entry.kwargs)


def create_model(name: str, **overrides) -> torch.nn.Module:
    """Build the named model with randomly initialised weights; `overrides` replace config values.

    >>> model = create_model("msinet_x4", num_blocks=4, channels=32)
    >>> sr_left, sr_right = model(left, right)   # (B,3,h,w) in [0,1] -> (B,3,4h,4w)
    """
    entry = get_entry(name)
    kwargs = {**entry.kwargs, **current_options(overrides, warn=True)}
    model = build_arch(entry.arch, **kwargs)
    model.model_name = name
    return model
