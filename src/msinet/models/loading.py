"""`msinet.load_model`: a model ready to use from a registry name or a weights file."""
from __future__ import annotations

from pathlib import Path

import torch

from ..registry import build_arch, create_model, list_models
from .weights import WeightsError, config_of, load_state_strict, read_safetensors


def load_weights(path, **overrides) -> torch.nn.Module:
    """Rebuild a model from a .safetensors file written by msinet (config in its metadata)."""
    path = Path(path)
    state, metadata = read_safetensors(path)
    config = config_of(metadata, path)
    if config is None:
        raise WeightsError(f"{path}: no msinet config in the metadata; pass a model name to load it into")
    config = dict(config)
    arch = config.pop("arch", None)
    try:
        model = build_arch(arch, **{**config, **overrides})
    except ValueError as exc:
        raise WeightsError(f"{path}: {exc}") from None
    load_state_strict(model, state, path)
    return model.eval()


def load_into(model: torch.nn.Module, path) -> torch.nn.Module:
    """Load the weights of a safetensors file into an existing model (shapes must match)."""
    state, _ = read_safetensors(path)
    load_state_strict(model, state, path)
    return model


def load_model(name_or_path: str | Path | None = None, **overrides) -> torch.nn.Module:
    """A model in eval mode: a registry name (random init, or shipped weights where the package has them),
    a msinet .safetensors file, or a foreign checkpoint (.pth) of the authors' codes."""
    if name_or_path is None:
        from .pretrained import default_model_name

        name_or_path = default_model_name()
    text = str(name_or_path)
    path = Path(text)
    if path.suffix in (".safetensors", ".pth", ".pt") or path.exists():
        if not path.is_file():
            raise FileNotFoundError(f"weights file not found: {path}")
        if path.suffix == ".safetensors":
            return load_weights(path, **overrides)
        from .foreign import load_foreign

        return load_foreign(path, **overrides).eval()
    if text in list_models():
        from .pretrained import pretrained_path

        shipped = pretrained_path(text)
        if shipped is not None:
            return load_weights(shipped, **overrides)
        return create_model(text, **overrides).eval()
    raise ValueError(f"{text!r} is neither a registered model nor an existing weights file")
