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


class NoWeightsError(WeightsError):
    """A registry name whose trained weights are not available here; the message says how to get some."""


def _no_weights_message(name: str, scale: int) -> str:
    from .pretrained import weights_table

    family = name.split("_")[0]
    trained = sorted((n for n, r in weights_table().items() if r.scale == scale),
                     key=lambda n: (not n.startswith(family), n))
    hint = f"trained x{scale} models: {', '.join(trained[:4])} (`msinet weights`); " if trained else ""
    return (f"{name} has no trained weights ({hint}or pass a weights file: .safetensors or an authors' .pth); "
            "random weights only with --random-init / random_init=True, for development")


def load_registered(name: str, download: bool = False, random_init: bool = False, progress: bool = True,
                    **overrides) -> torch.nn.Module:
    """A registry name with its trained weights (shipped, cached, or downloaded now if `download`);
    a parameter-free model (bicubic) as is; random weights only if `random_init`."""
    from .fetch import load_file, weights_file
    from .pretrained import record_for

    record = None if random_init else record_for(name)
    if record is None:
        model = create_model(name, **overrides).eval()
        if not any(True for _ in model.parameters()):
            return model
        if random_init:
            model.random_init = True  # callers can warn: nothing of this model was trained
            return model
        raise NoWeightsError(_no_weights_message(name, model.scale))
    model = load_file(record, weights_file(record, download, progress), **overrides)
    model.model_name = name
    return model


def load_model(name_or_path: str | Path | None = None, *, download: bool = False, random_init: bool = False,
               progress: bool = True, **overrides) -> torch.nn.Module:
    """A model in eval mode, with trained weights:

    - a registry name: its shipped weights, or its downloaded ones (`msinet weights pull NAME`, or here with
      download=True; a progress bar unless progress=False); a name without trained weights raises
      NoWeightsError unless random_init=True (development only); bicubic_x* need no weights;
    - a msinet .safetensors file, or a foreign checkpoint (.pth) of the authors' codes;
    - None: the shipped default model (of `scale=` when given: `load_model(scale=2)`).
    """
    if name_or_path is None:
        from .pretrained import default_model_name

        name_or_path = default_model_name(overrides.pop("scale", None))
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
        return load_registered(text, download=download, random_init=random_init, progress=progress, **overrides)
    raise ValueError(f"{text!r} is neither a registered model nor an existing weights file")
