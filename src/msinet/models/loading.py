"""`msinet.load_model`: the one place a model is built from a name or a weights file.

load_model(spec, scale)
  -> resolve.resolve: a registry name (default of the scale, alias, x2/x4 variant) or a file
  -> a file: load_file (format by suffix: msinet .safetensors, or an authors' .pth read by models/foreign.py)
  -> a name: its record in the weights table -> fetch.local_file (shipped / cached / downloaded, verified;
     a download is structure-checked by building the model here, once) -> the model
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..registry import architecture_difference, build_arch, create_model
from .pretrained import WeightsRecord, record_for
from .resolve import resolve, trained_hint
from .weights import NoWeightsError, WeightsError, config_of, load_state_strict, read_safetensors

__all__ = [
    "NoWeightsError",
    "cached_weights",
    "fetch_weights",
    "load_file",
    "load_into",
    "load_model",
    "load_registered",
    "load_weights",
]


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


def load_file(path, format: str | None = None, **overrides) -> torch.nn.Module:
    """The model in a weights file of `format` (default: the file's suffix): msinet's .safetensors, else an
    authors' checkpoint (.pth)."""
    path = Path(path)
    if (format or path.suffix) == ".safetensors":
        return load_weights(path, **overrides)
    from .foreign import load_foreign

    return load_foreign(path, **overrides).eval()


def load_into(model: torch.nn.Module, path) -> torch.nn.Module:
    """Load the weights of a safetensors file into an existing model (shapes must match)."""
    state, _ = read_safetensors(path)
    load_state_strict(model, state, path)
    return model


def _no_weights_message(name: str, scale: int) -> str:
    return (
        f"{name} has no trained weights ({trained_hint(scale)}; or pass a weights file: .safetensors or an "
        "authors' .pth); random weights only with --random-init / random_init=True, for development"
    )


def _record_model(record: WeightsRecord, path: Path, **overrides) -> torch.nn.Module:
    """The model in `path`, checked to be the record's network (every key and shape)."""
    model = load_file(path, record.format, **overrides)
    difference = None if overrides else architecture_difference(model.config, record.name)
    if difference is not None:
        raise WeightsError(f"{record.name}: {path} holds a different network ({difference}) than {record.name}")
    return model


def cached_weights(record: WeightsRecord) -> Path | None:
    """The record's verified file in the cache (downloaded or placed by hand; a first file without a published
    hash is structure-checked by building its model), or None; a file that fails verification raises."""
    from . import fetch

    return fetch.cached_file(record, check=lambda p: _record_model(record, p))[0]


def fetch_weights(name: str, download: bool = True, progress: bool = True) -> Path:
    """The verified local file of a registry name's trained weights (downloaded now if missing and `download`)."""
    from . import fetch  # lazy: keeps `import msinet` free of the download machinery

    record = record_for(name)
    if record is None:
        raise NoWeightsError(_no_weights_message(name, create_model(name).scale))
    return fetch.local_file(record, download, progress, check=lambda p: _record_model(record, p))[0]


def load_registered(
    name: str, download: bool = False, random_init: bool = False, progress: bool = True, **overrides
) -> torch.nn.Module:
    """A registry name with its trained weights (shipped, cached, or downloaded now if `download`);
    a parameter-free model (bicubic) as is; random weights only if `random_init`."""
    record = None if random_init else record_for(name)
    if record is None:
        model = create_model(name, **overrides).eval()
        if not any(True for _ in model.parameters()):
            return model
        if random_init:
            model.random_init = True  # callers can warn: nothing of this model was trained
            return model
        raise NoWeightsError(_no_weights_message(name, model.scale))
    from . import fetch

    path, model = fetch.local_file(record, download, progress, check=lambda p: _record_model(record, p))
    if model is None or overrides:  # not already built by the download's structure check
        model = _record_model(record, path, **overrides)
    return model.eval()


def load_model(
    name_or_path: str | Path | None = None,
    *,
    scale: int | None = None,
    download: bool = False,
    random_init: bool = False,
    progress: bool = True,
    **overrides,
) -> torch.nn.Module:
    """A model in eval mode, with trained weights:

    - a registry name: its shipped weights, or its downloaded ones (`msinet weights pull NAME`, or here with
      download=True; a progress bar unless progress=False); a name without trained weights raises
      NoWeightsError unless random_init=True (development only); bicubic_x* need no weights;
    - a msinet .safetensors file, or a foreign checkpoint (.pth) of the authors' codes;
    - None: the shipped default model of `scale` (x4 when not given): `load_model(scale=2)`.
    With `scale`, a registry name stands for its network at that scale (`load_model("nafssr_s", scale=2)`), and
    a file must hold a model of that scale.
    """
    target = resolve(name_or_path, scale, random_init)
    if target.is_file:
        model = load_file(target.path, **overrides)
        if scale is not None and model.scale != scale:
            raise ValueError(f"model {target.path} upscales x{model.scale}, not x{scale}")
        if model.model_name is None:  # a foreign loader names a published network after its registry entry
            model.model_name = target.name
    else:
        model = load_registered(target.name, download=download, random_init=random_init, progress=progress, **overrides)
        model.model_name = target.name
    return model.eval()
