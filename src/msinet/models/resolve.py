"""What a user named -> what to load: the one place that knows the default model of each scale, aliases and the
x2/x4 variants of a name. The CLIs and `msinet.load_model` ask it; none decides for itself.

    None              -> the shipped default of the scale (x4 when no scale is given)
    "nafssr_s"        -> "nafssr_s_x4"   (the alias's canonical name, declared by its family)
    "nafssr_s", x2    -> "nafssr_s_x2"   (the same network at the scale asked for)
    "mine.pth"        -> a file (its suffix or its existence says so)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import pretrained
from .weights import WeightsError

WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt")


@dataclass(frozen=True)
class Resolved:
    """A registry name (`name`, canonical) or a weights file (`path`; `name` = the file's stem)."""

    name: str
    path: Path | None = None

    @property
    def is_file(self) -> bool:
        return self.path is not None


def default_model_name(scale: int | None = None) -> str:
    """The model used when none is named: the shipped default of `scale` (of x4 when scale is None, falling
    back to bicubic_x4). A scale without a default is an error naming the trained models of that scale."""
    defaults = {r.scale: r.name for r in pretrained.weights_table().values() if r.default}
    if scale is None:
        return defaults.get(4) or next(iter(defaults.values()), "bicubic_x4")
    if scale in defaults:
        return defaults[scale]
    raise WeightsError(
        f"no default x{scale} model ships with msinet; pass --model NAME "
        f"({trained_hint(scale)}), a weights file, or --model bicubic_x{scale}"
    )


def trained_hint(scale: int) -> str:
    """'trained x2 models: a, b, c; `msinet weights` lists them' (every one of that scale)."""
    names = pretrained.trained_names(scale)
    if not names:
        return f"no trained x{scale} model is known; `msinet weights` lists the trained models"
    return f"trained x{scale} models: {', '.join(names)}; `msinet weights` lists them"


def canonical_name(name: str) -> str:
    """The canonical registered name an alias stands for (declared by its family: 'nafssr_s' -> 'nafssr_s_x4')."""
    from ..registry import get_entry

    return get_entry(name).canonical


def variant_for_scale(name: str, scale: int) -> str:
    """The registered x<scale> network of the same family and size as `name` (nafssr_s_x4 -> nafssr_s_x2)."""
    from ..registry import family_of, get_entry

    entry = get_entry(name)
    if entry.scale == scale:
        return entry.canonical
    for size in family_of(name).sizes:
        if size.variant == entry.variant and size.scale == scale:
            return size.name
    raise ValueError(
        f"no x{scale} variant of {entry.canonical!r} is registered; pass --model with a x{scale} model "
        f"({trained_hint(scale)})"
    )


def resolve(spec: str | Path | None = None, scale: int | None = None, random_init: bool = False) -> Resolved:
    """What to load for `spec` (registry name, weights file or None) at `scale` (None: the model's own).
    With random_init (development) and no spec, the x4 default's network stands in for any scale."""
    from ..registry import list_models

    if spec is None:
        name = default_model_name(None if random_init else scale)
        return Resolved(variant_for_scale(name, scale) if scale is not None else name)
    text = str(spec)
    path = Path(text)
    if path.suffix in WEIGHT_SUFFIXES or path.exists():
        if path.is_dir():
            raise ValueError(
                f"{path} is a folder, not a weights file; give a .safetensors or .pth file, or a "
                "registry name (`msinet models` lists them)"
            )
        if not path.is_file():
            raise FileNotFoundError(f"weights file not found: {path}")
        return Resolved(path.stem, path)
    if text not in list_models():
        raise ValueError(f"{text!r} is neither a registered model nor an existing weights file")
    return Resolved(canonical_name(text) if scale is None else variant_for_scale(text, scale))
