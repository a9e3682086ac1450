"""Saving and loading weights as safetensors, with the model's config embedded in the file's metadata."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

CONFIG_KEY = "msinet_config"


class WeightsError(ValueError):
    """A weights file that cannot be used: the message names the file and the first problem."""


class NoWeightsError(WeightsError):
    """A registry name whose trained weights are not available here; the message says how to get some."""


def save_weights(model: nn.Module, path, overwrite: bool = False, extra_metadata: dict | None = None) -> Path:
    """Write the model's weights and config to `path` (.safetensors); never replaces an existing file
    unless overwrite=True, and writes through a temporary file so a crash leaves no half-written file; the file
    gets the umask's mode, as every file msinet writes (msinet.files)."""
    from safetensors.torch import save

    from ..files import write_atomic

    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; refusing to overwrite it (overwrite=True replaces it)")
    metadata = {CONFIG_KEY: json.dumps(getattr(model, "config", {}))}
    metadata.update({k: str(v) for k, v in (extra_metadata or {}).items()})
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    return write_atomic(path, save(state, metadata=metadata))  # safetensors' own save_file makes files 0600


def read_safetensors(path) -> tuple[dict[str, torch.Tensor], dict]:
    """(state dict, metadata) of a safetensors file; a damaged file raises WeightsError naming it."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            state = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # safetensors raises several types for damaged files
        raise WeightsError(f"{path}: not a readable safetensors file ({exc})") from None
    return state, metadata


def config_of(metadata: dict, path) -> dict | None:
    raw = metadata.get(CONFIG_KEY)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        raise WeightsError(f"{path}: the embedded model config is not valid JSON") from None


def load_state_strict(model: nn.Module, state: dict[str, torch.Tensor], source) -> None:
    """Load `state` into `model`, failing with one line naming the first key that does not fit."""
    own = model.state_dict()
    for key, expected in own.items():  # in the model's own (structural) order
        if key not in state:
            raise WeightsError(f"{source}: missing key {key!r}")
        if tuple(expected.shape) != tuple(state[key].shape):
            raise WeightsError(
                f"{source}: key {key!r} has shape {tuple(state[key].shape)}, the model expects {tuple(expected.shape)}"
            )
    for key in state:
        if key not in own:
            raise WeightsError(f"{source}: unexpected key {key!r} (not in {type(model).__name__})")
    model.load_state_dict(state, strict=True)
