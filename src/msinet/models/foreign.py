"""Checkpoints written by the authors' codes, for every family: read, recognise, rebuild, rename, check.

    read_checkpoint(path)        the state dict of a .pth (weights_only; BasicSR's params_ema / params, a
                                 `state_dict` entry, or the dict itself; DataParallel's `module.` removed)
    the family                   the one registered Family whose adapter `matches` the keys (models/family.py)
    adapter.inspect              a layout: what the keys and shapes say (size, scale, blocks...); its config()
                                 is our network reproducing the authors' forward pass
    adapter.their_key            every key of our network named in the authors' layout: a key of theirs with
                                 no place in ours, a key of ours missing in theirs, or a shape that differs is
                                 refused in one line naming it

The helpers below (key_shape, head_scale, split_param, rename, block_indices) are the pieces the families'
adapters share.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from .weights import WeightsError

SCALES = (2, 3, 4)


def split_param(path: str) -> tuple[str, str]:
    """'conv1.weight' -> ('conv1', '.weight'); a bare parameter such as 'beta' -> ('beta', '')."""
    module, _, leaf = path.rpartition(".")
    if leaf in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked") and module:
        return module, "." + leaf
    return path, ""


def rename(path: str, table: dict[str, str]) -> str:
    """Our module path -> the authors': the longest prefix of `path` found in `table` (ours -> theirs) is
    replaced ('mixer.lka.proj.weight' with {'mixer.lka.proj': 'sca1.conv1'} -> 'sca1.conv1.weight')."""
    for ours in sorted(table, key=len, reverse=True):
        if path == ours or path.startswith(ours + "."):
            return table[ours] + path[len(ours) :]
    raise KeyError(path)  # a module of ours with no counterpart: a bug in the family's tables


def key_shape(state: dict, key: str, source, family: str) -> tuple[int, ...]:
    """The shape of `key`, or WeightsError: 'missing key ...; not a complete <family> checkpoint'."""
    if key not in state:
        raise WeightsError(f"{source}: missing key {key!r}; not a complete {family} checkpoint")
    return tuple(state[key].shape)


def head_scale(state: dict, key: str, channels: int, source, family: str, per_scale: int = 3) -> int:
    """The scale s of a conv to per_scale*s^2 channels from `channels` before a PixelShuffle(s)."""
    shape = key_shape(state, key, source, family)
    scales = {per_scale * s * s: s for s in SCALES}
    if len(shape) != 4 or shape[0] not in scales or shape[1] != channels:
        raise WeightsError(
            f"{source}: key {key!r} has shape {shape}; expected ({per_scale}*s^2, {channels}, kh, kw) with s in 2, 3, 4"
        )
    return scales[shape[0]]


def intro_channels(state: dict, key: str, source, family: str, multiple: int = 1) -> int:
    """C of the first 3x3 conv (C, 3, 3, 3)."""
    shape = key_shape(state, key, source, family)
    if len(shape) != 4 or shape[1:] != (3, 3, 3) or shape[0] % multiple:
        what = "channels" if multiple == 1 else f"channels a multiple of {multiple}"
        raise WeightsError(f"{source}: key {key!r} has shape {shape}; expected (channels, 3, 3, 3), {what}")
    return shape[0]


def block_indices(state: dict, pattern: re.Pattern, source, prefix: str) -> int:
    """The number of blocks `<prefix><i>` numbered by group 1 of `pattern` (0..n-1, none missing)."""
    found = {int(m.group(1)) for m in map(pattern.match, state) if m is not None}
    if not found:
        raise WeightsError(f"{source}: no '{prefix}<i>' keys; not a complete checkpoint of this family")
    gaps = sorted(set(range(max(found) + 1)) - found)
    if gaps:
        raise WeightsError(f"{source}: block {prefix}{gaps[0]} of {max(found) + 1} has no weights")
    return max(found) + 1


def unwrap_state(obj, source) -> dict[str, torch.Tensor]:
    """The tensor dict inside a checkpoint: BasicSR's params_ema (preferred) or params, a `state_dict`
    entry, or the dict itself; a DataParallel `module.` prefix on every key is removed."""
    if not isinstance(obj, dict):
        raise WeightsError(f"{source}: not a state dict checkpoint (it holds a {type(obj).__name__})")
    for wrapper in ("params_ema", "params", "state_dict"):
        if isinstance(obj.get(wrapper), dict):
            obj = obj[wrapper]
            break
    for key, value in obj.items():
        if not isinstance(value, torch.Tensor):
            raise WeightsError(
                f"{source}: entry {key!r} is a {type(value).__name__}, not a tensor; "
                "expected a BasicSR checkpoint with 'params' or 'params_ema'"
            )
    if not obj:
        raise WeightsError(f"{source}: the checkpoint holds no tensors")
    if all(k.startswith("module.") for k in obj):
        obj = {k[len("module.") :]: v for k, v in obj.items()}
    return dict(obj)


def read_checkpoint(path) -> dict[str, torch.Tensor]:
    """The state dict of a .pth file, loaded without executing code (weights_only)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types (KeyError, OSError, IndexError, ...) for damaged files
        raise WeightsError(f"{path}: {_unreadable_reason(path, exc)}") from None
    return unwrap_state(obj, path)


def _unreadable_reason(path: Path, exc: Exception) -> str:
    """Why torch.load refused `path`, in words: judged from the file's first bytes and the refusal, never by
    passing on torch's own text (several lines, internals of its zip reader or unpickler)."""
    if "Unsupported global" in str(exc):  # a real pickle holding classes, as a training state with its optimizer
        return (
            "not a weights-only checkpoint: it holds Python objects besides tensors, which msinet does not "
            "load (it would run code); save the model's state_dict, or convert the file where it was made"
        )
    with open(path, "rb") as f:
        head = f.read(4)
    if not head:
        return "the file is empty; download or copy it again"
    if head == b"PK\x03\x04" or head[:1] == b"\x80":  # torch's zip format, or its older pickle format
        return (
            "a damaged or incomplete PyTorch checkpoint (it ends early or its data is corrupt); download or "
            "copy the file again"
        )
    return (
        "not a PyTorch checkpoint: the file is neither torch's zip format nor a pickle; give the .pth file "
        "the authors' code saved"
    )


def adapter_for(state: dict, source):
    """(family, adapter) of the one registered family whose authors' keys these are."""
    from ..registry import families

    found = [f for f in families() if f.adapter is not None and f.adapter.matches(state)]
    if not found:
        known = ", ".join(f.title for f in families() if f.adapter is not None)
        raise WeightsError(
            f"{source}: not a checkpoint of a known family (first key {next(iter(state))!r}; known: {known})"
        )
    if len(found) > 1:  # adapters must not overlap: a bug, reported as such
        raise WeightsError(f"{source}: the keys match several families ({', '.join(f.name for f in found)})")
    return found[0], found[0].adapter


def published_name(config: dict, arch: str, family) -> str | None:
    """The family's registered size this network is, runtime options aside (e.g. 'nafssr_s_x4'), or None."""
    from ..registry import same_architecture

    return next((s.name for s in family.sizes if same_architecture({"arch": arch, **config}, s.name)), None)


def load_foreign(path, **overrides) -> torch.nn.Module:
    """Our network holding the weights of an authors' .pth checkpoint of any registered family, in eval mode.

    The layout's config reproduces the authors' forward pass (e.g. their test-time local statistics, MSINet's
    released LSKA routing); `overrides` replace config values (`tlsc_window=None`: global pooling). Drop-path
    matters only when fine-tuning: a published size gets its published rate unless overridden."""
    path = Path(path)
    return model_from_state(read_checkpoint(path), path, **overrides)


def model_from_state(state: dict, source, **overrides) -> torch.nn.Module:
    """load_foreign for a state dict already read (`source` names it in errors)."""
    from ..registry import build_arch, get_entry

    family, adapter = adapter_for(state, source)
    layout = adapter.inspect(state, source)
    network = adapter.network(layout) if adapter.network else family.network
    if not network.supports_tlsc and "tlsc_window" in overrides:  # None (global pooling) is what it does anyway
        if overrides.pop("tlsc_window") is not None:
            raise WeightsError(
                f"{source}: {family.title} has no test-time local statistics (no global pooling); tlsc_window "
                "must be None"
            )
    config = {**layout.config(), **overrides}
    name = published_name(config, network.arch_name, family)
    if name and "drop_path_rate" not in overrides and "drop_path_rate" in get_entry(name).kwargs:
        config["drop_path_rate"] = get_entry(name).kwargs["drop_path_rate"]
    try:
        model = build_arch(network.arch_name, **config)
    except (TypeError, ValueError) as exc:
        raise WeightsError(f"{source}: {str(exc).splitlines()[0]}") from None
    model.load_state_dict(renamed_state(state, model, lambda k: adapter.their_key(k, model.config), source, layout))
    model.model_name = name
    model.foreign_layout = layout
    return model.eval()


def renamed_state(state: dict, model: torch.nn.Module, their_key, source, layout) -> dict[str, torch.Tensor]:
    """The authors' `state` under our keys, checked key for key and shape for shape (one line naming the first
    key that has no place, is missing or has the wrong shape)."""
    own = model.state_dict()
    ours_of = {their_key(k): k for k in own}
    out = {}
    for key, value in state.items():
        ours = ours_of.get(key)
        if ours is None:
            raise WeightsError(f"{source}: cannot place key {key!r} in the inferred model ({layout.describe()})")
        if tuple(value.shape) != tuple(own[ours].shape):
            raise WeightsError(
                f"{source}: key {key!r} has shape {tuple(value.shape)}; the inferred model expects "
                f"{tuple(own[ours].shape)}"
            )
        out[ours] = value.to(own[ours].dtype)
    for theirs, ours in ours_of.items():
        if ours not in out:
            raise WeightsError(f"{source}: missing key {theirs!r} (for {ours!r} of the inferred model)")
    return out
