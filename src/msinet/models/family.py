"""A model family, declared in one place (in the spirit of spandrel's architecture descriptors and timm's registry).

A family owns:
    network   its network class (a StereoSRModel whose `arch_name` names it in saved configs); a size may use
              another class of the family (`Size.network`), e.g. EHFSSR-S and the full EHFSSR
    sizes     every registered name: canonical name, scale, constructor arguments, declared aliases; the
              `variant` ties the x2 and x4 networks of one size together ("nafssr_s_x4" <-> "nafssr_s_x2")
    adapter   how its authors' checkpoints load: whether a state dict is theirs, what its keys and shapes say
              (a layout: the config reproducing their forward pass), and the name of each of our keys in their
              files for a given config (one direction: ours -> theirs; models/foreign.py does the rest, the same
              for every family)

What a network can do (tile context, memory per row, checkpointed blocks, transport plans, progress units,
test-time local statistics, CPU memory format) is declared on its class (models/base.py lists the capabilities)
and asked by every caller; no caller tests a model's class. Where its weights live is the weights table
(msinet/weights/index.json, models/pretrained.py), keyed by canonical name.

Adding a family = its module in msinet/models/ ending in `register_family(Family(...))`, one import line in
models/__init__.py, and its tests (docs/adding_a_model.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol

import torch


class Layout(Protocol):
    """What an authors' checkpoint says about its network."""

    family: str

    def config(self) -> dict:
        """Constructor arguments of our network that reproduce the authors' forward pass for this file."""

    def describe(self) -> str:
        """One line for `msinet convert`: 'CVHSSR (authors' code): x4, 48 channels, 16 blocks, CVIM'."""


@dataclass(frozen=True)
class Adapter:
    """The authors' checkpoints of a family.

    matches(state)          -> True when the keys are this family's (any size); families never overlap
    inspect(state, source)  -> a Layout, or WeightsError naming the first missing key or wrong shape
    their_key(ours, config) -> the authors' key of one of our state-dict keys, for our network of `config`
                               (model.config: what a layout builds, or a registered size)
    network                 -> the class a layout's config builds (default: the family's network)
    """

    matches: Callable[[dict], bool]
    inspect: Callable[[dict, object], Layout]
    their_key: Callable[[str, dict], str]
    network: Callable[[Layout], type] | None = None


@dataclass(frozen=True)
class Size:
    """One registered network: `name` is canonical (the weights table's key); `aliases` are other names of it."""

    name: str
    scale: int
    kwargs: dict = field(default_factory=dict)
    variant: str = ""
    aliases: tuple[str, ...] = ()
    description: str = ""
    network: type | None = None  # another class of the family (default: Family.network)


@dataclass(frozen=True)
class Family:
    name: str
    title: str
    network: type
    sizes: tuple[Size, ...]
    adapter: Adapter | None = None

    def network_of(self, size: Size) -> type:
        return size.network or self.network

    def networks(self) -> list[type]:
        classes = [self.network, *(s.network for s in self.sizes if s.network is not None)]
        return list(dict.fromkeys(classes))


def sizes_at_scales(
    prefix: str,
    description: str,
    scales=(2, 4),
    alias_scale: int | None = 4,
    variant: str = "",
    network: type | None = None,
    **kwargs,
) -> tuple[Size, ...]:
    """The same network at several scales: '<prefix>_x<s>', with '<prefix>' an alias of the `alias_scale` one."""
    return tuple(
        Size(
            f"{prefix}_x{s}",
            s,
            dict(kwargs),
            variant=variant or prefix,
            aliases=(prefix,) if s == alias_scale else (),
            description=f"{description} x{s}",
            network=network,
        )
        for s in scales
    )


def n_parameters(model: torch.nn.Module) -> int:
    """Learned parameters (buffers such as BatchNorm statistics excluded), tied weights counted once."""
    return sum(p.numel() for p in model.parameters())
