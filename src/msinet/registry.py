"""A registry of named model configurations (timm-style): a name maps to an architecture and its arguments.

It imports no model: each model module declares its family (models/family.py: network classes, sizes with
canonical names and aliases, the authors' checkpoint adapter) and calls `register_family` when imported;
`msinet.models` imports them all.
"""

from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass, field
from typing import Callable

import torch


@dataclass(frozen=True)
class ModelEntry:
    name: str  # the name asked for (canonical or an alias)
    arch: str
    kwargs: dict = field(default_factory=dict)
    description: str = ""
    canonical: str = ""  # the size's canonical name (the weights table's key)
    family: str = ""
    variant: str = ""  # the same variant at another scale is the same size (nafssr_s_x4 <-> nafssr_s_x2)

    @property
    def scale(self) -> int:
        return int(self.kwargs["scale"])


_REGISTRY: dict[str, ModelEntry] = {}
_ARCHS: dict[str, Callable[..., torch.nn.Module]] = {}
_FAMILIES: dict[str, object] = {}  # name -> models.family.Family


def _register_arch(cls) -> None:
    name = cls.arch_name
    if _ARCHS.get(name, cls) is not cls:
        raise ValueError(f"architecture {name!r} is registered twice")
    _ARCHS[name] = cls


def register_family(family) -> None:
    """Register a models.family.Family: its network classes (by their arch_name) and every size under its
    canonical name and declared aliases."""
    if family.name in _FAMILIES:
        raise ValueError(f"model family {family.name!r} is registered twice")
    for cls in family.networks():
        _register_arch(cls)
    for size in family.sizes:
        arch = family.network_of(size).arch_name
        for name in (size.name, *size.aliases):
            if name in _REGISTRY:
                raise ValueError(f"model {name!r} is registered twice")
            kwargs = {**size.kwargs, "scale": size.scale}
            _REGISTRY[name] = ModelEntry(name, arch, kwargs, size.description, size.name, family.name, size.variant)
    _FAMILIES[family.name] = family


def families() -> list:
    """The registered model families (models.family.Family), in registration order."""
    return list(_FAMILIES.values())


def family_of(name: str):
    """The Family of a registered name."""
    return _FAMILIES[get_entry(name).family]


def network_class(name: str):
    """The class a registered name builds (its capabilities are class attributes: models/base.py)."""
    return _ARCHS[get_entry(name).arch]


def list_models(pattern: str | None = None, canonical: bool = False) -> list[str]:
    """Names of the registered models, sorted; `pattern` is an optional fnmatch filter like 'msinet_*';
    canonical=True leaves the aliases out."""
    from fnmatch import fnmatch

    return sorted(
        n
        for n, e in _REGISTRY.items()
        if (pattern is None or fnmatch(n, pattern)) and (not canonical or n == e.canonical)
    )


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


def architecture_difference(config: dict, name: str) -> str | None:
    """How a model config ({"arch": ..., **kwargs}) differs from the registered model `name`, runtime options
    aside: the architecture, or the first option that differs ('channels 64, not 48'); None when it is `name`."""
    config = dict(config)
    arch = config.pop("arch", None)
    entry = get_entry(name)
    if arch != entry.arch:
        return f"architecture {arch}, not {entry.arch}"
    ours, theirs = weights_config(arch, config), weights_config(entry.arch, entry.kwargs)
    key = next((k for k in theirs if ours.get(k) != theirs[k]), None)
    return None if key is None else f"{key} {ours.get(key)}, not {theirs[key]}"


def same_architecture(config: dict, name: str) -> bool:
    """Whether a model config ({"arch": ..., **kwargs}) is the registered model `name`, runtime options aside."""
    return architecture_difference(config, name) is None


def aliases(name: str) -> list[str]:
    """The other registered names of the same size ('nafssr_s' <-> 'nafssr_s_x4'), sorted."""
    canonical = get_entry(name).canonical
    return sorted(n for n, e in _REGISTRY.items() if n != name and e.canonical == canonical)


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
