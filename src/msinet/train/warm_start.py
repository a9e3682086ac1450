"""`model.init`: start training from existing weights (a registry name with trained weights, a msinet
.safetensors file, or an authors' .pth checkpoint), instead of a random initialisation."""

from __future__ import annotations

from pathlib import Path

import torch


def trained_source(spec: str) -> torch.nn.Module:
    """The trained network that `spec` names (a registered name's weights are downloaded when missing);
    one-line errors for a name without trained weights or a bad file."""
    from ..models.loading import load_model
    from ..models.weights import WeightsError
    from ..registry import list_models

    if spec not in list_models() and not Path(spec).is_file():
        raise FileNotFoundError(f"config: 'model.init': no such registered model or weights file: {spec}")
    try:
        return load_model(spec, download=True)
    except WeightsError as exc:
        raise ValueError(f"config: 'model.init': {exc}") from None


def warm_start(model: torch.nn.Module, spec: str, partial: bool = False) -> list[str]:
    """Copy the weights that `spec` names into `model`. Every key and shape must match, or with
    partial=True the keys whose shapes match are copied and the others keep their initialisation (e.g. an x4
    model's body into an x2 model, whose reconstruction head differs). Returns the keys not copied."""
    source = trained_source(spec).state_dict()
    own = model.state_dict()
    skipped = [k for k, v in own.items() if k not in source or tuple(source[k].shape) != tuple(v.shape)]
    unused = [k for k in source if k not in own]
    if not partial and (skipped or unused):
        key = (skipped or unused)[0]
        why = (
            "is missing from it"
            if key not in source
            else "is not in the model being trained"
            if key not in own
            else f"has shape {tuple(source[key].shape)} there, {tuple(own[key].shape)} here"
        )
        raise ValueError(
            f"config: 'model.init' {spec}: its architecture does not match the model being trained "
            f"(key {key!r} {why}); set model.init_partial=true to copy only the matching weights"
        )
    if len(skipped) == len(own):
        raise ValueError(f"config: 'model.init' {spec}: no weight fits the model being trained")
    with torch.no_grad():
        for key, value in own.items():
            if key not in skipped:
                value.copy_(source[key])
    return skipped
