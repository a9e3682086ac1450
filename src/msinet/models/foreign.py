"""Checkpoints written by the authors' codes: MSINet (github xu3385/msinet) and NAFSSR (megvii-research/NAFNet).

Both are BasicSR forks and save `.pth` files holding {"params": state} and/or {"params_ema": state} with the
layout of their `MSINetSSR` / `NAFSSR` classes:

    intro.{weight,bias}                                  3x3 conv, (channels, 3, 3, 3)
    body.<i>.module.blk.<intra-view block>               MSCA (MSINet) or NAFBlock (NAFSSR)
    body.<i>.module.fusion.<cross-view module>           DEAM (MSINet) or SCAM (NAFSSR), when block i fuses
    up.0.{weight,bias}                                   3x3 conv to 3*s^2 channels (then PixelShuffle)

The model is inferred from the keys and shapes alone (channels, depth, scale, LSKA kernels, which blocks fuse);
the keys are then renamed onto our StereoSRNet. DEAM and SCAM have identical parameters, so the fusion is
decided by the block: a multi-scale (MSCA) checkpoint gets DEAM, a NAFBlock checkpoint SCAM; pass
`fusion="deam"` to load e.g. a NAFBlock + DEAM ablation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from ..layers.lska import LSKA_DECOMPOSITION
from .weights import WeightsError

# the authors' released MSINet routes its 4th channel group through the k=23 LSKA (their `x4 = self.lska3(x4)`)
RELEASED_BRANCH_OF_GROUP = (0, 1, 2, 2)
# both reference codes convert global pooling at test time with train_size (1, 6, 30, 90): window 1.5x
REFERENCE_TLSC_WINDOW = (45, 135)

_TOP = {"intro": "intro", "up.0": "head.0"}
# intra-view block: the authors' module path -> ours (relative to blocks.<i>.intra)
_BLOCK = {
    "norm1": "mixer.norm",
    "conv1": "mixer.expand",
    "conv2": "mixer.dwconv",
    "sca.1": "mixer.sca.proj",
    "msattn.conv": "mixer.msa.proj",
    "convconcat": "mixer.merge",
    "conv3": "mixer.project",
    "beta": "mixer.beta",
    "norm2": "ffn.norm",
    "conv4": "ffn.expand",
    "conv5": "ffn.project",
    "gamma": "ffn.gamma",
}
_LSKA = {
    "conv0h": "local_h",
    "conv0v": "local_v",
    "conv_spatial_h": "dilated_h",
    "conv_spatial_v": "dilated_v",
    "conv1": "proj",
}
# cross-view module (relative to blocks.<i>.fusion); beta scales the right->left term added to the left view
_FUSION = {
    "norm_l": "norm_l",
    "norm_r": "norm_r",
    "l_proj1": "query_l",
    "r_proj1": "query_r",
    "l_proj2": "value_l",
    "r_proj2": "value_r",
    "beta": "scale_l",
    "gamma": "scale_r",
}

_BODY_KEY = re.compile(r"body\.(\d+)\.module\.(blk|fusion)\.(.+)")
_LSKA_KEY = re.compile(r"msattn\.lska(\d+)\.(\w+)")
_KERNEL_OF_SHAPES = {(k0, k1): k for k, (k0, k1, _) in LSKA_DECOMPOSITION.items()}


def _split_param(path: str) -> tuple[str, str]:
    """'conv1.weight' -> ('conv1', '.weight'); a bare parameter such as 'beta' -> ('beta', '')."""
    module, _, leaf = path.rpartition(".")
    if leaf in ("weight", "bias") and module:
        return module, "." + leaf
    return path, ""


def translate_key(key: str) -> str | None:
    """Our state-dict key for one key of the authors' layout, or None if it has no place in our model."""
    module, leaf = _split_param(key)
    if module in _TOP and leaf:
        return _TOP[module] + leaf
    m = _BODY_KEY.fullmatch(key)
    if m is None:
        return None
    index, part, rest = m.groups()
    module, leaf = _split_param(rest)
    if part == "fusion":
        ours = _FUSION.get(module)
        return None if ours is None else f"blocks.{index}.fusion.{ours}{leaf}"
    lska = _LSKA_KEY.fullmatch(module)
    if lska is not None:
        branch, conv = int(lska.group(1)) - 1, _LSKA.get(lska.group(2))
        if branch < 0 or conv is None:
            return None
        return f"blocks.{index}.intra.mixer.msa.branches.{branch}.{conv}{leaf}"
    ours = _BLOCK.get(module)
    return None if ours is None else f"blocks.{index}.intra.{ours}{leaf}"


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


@dataclass(frozen=True)
class ForeignLayout:
    """What the keys and shapes of a foreign checkpoint say about the network that wrote it."""

    family: str  # "msinet" (MSCA blocks, multi-scale LSKA) or "nafssr" (NAFBlocks)
    channels: int
    num_blocks: int
    scale: int
    fused_blocks: tuple[int, ...]
    lska_kernels: tuple[int, ...]

    def config(self) -> dict:
        """StereoSRNet arguments reproducing the reference code's forward pass (released behaviour)."""
        msinet = self.family == "msinet"
        if not self.fused_blocks:
            fusion = "none"
        else:
            fusion = "deam" if msinet else "scam"
        # stack_views=False: run each view on its own like the reference codes, hence their float rounding
        config = dict(
            scale=self.scale,
            channels=self.channels,
            num_blocks=self.num_blocks,
            fusion=fusion,
            multiscale=msinet,
            tlsc_window=REFERENCE_TLSC_WINDOW,
            stack_views=False,
        )
        if msinet:
            # the reference's log-domain Sinkhorn op for op, hence its float32 rounding too (the fast default
            # differs by ~1e-7 relative in the plan, which deep networks amplify to a few 1e-6 at the output)
            config["sinkhorn_method"] = "log"
            config["lska_kernels"] = self.lska_kernels
            if len(self.lska_kernels) == len(RELEASED_BRANCH_OF_GROUP):
                config["lska_branch_of_group"] = RELEASED_BRANCH_OF_GROUP
        return config

    def describe(self) -> str:
        name = "MSINet (authors' code)" if self.family == "msinet" else "NAFSSR (official code)"
        fusion = "no fusion" if not self.fused_blocks else ("DEAM" if self.family == "msinet" else "SCAM")
        return f"{name}: x{self.scale}, {self.channels} channels, {self.num_blocks} blocks, {fusion}"


def _shape(state, key, source) -> tuple[int, ...]:
    if key not in state:
        raise WeightsError(f"{source}: missing key {key!r}; not a checkpoint of the MSINet or NAFSSR codes")
    return tuple(state[key].shape)


def inspect_layout(state: dict[str, torch.Tensor], source) -> ForeignLayout:
    """Infer the reference network from a state dict of the authors' layout."""
    intro = _shape(state, "intro.weight", source)
    up = _shape(state, "up.0.weight", source)
    if len(intro) != 4 or intro[1] != 3:
        raise WeightsError(f"{source}: 'intro.weight' has shape {intro}; expected (channels, 3, 3, 3)")
    channels = intro[0]
    scales = {3 * s * s: s for s in (2, 3, 4)}
    if len(up) != 4 or up[0] not in scales or up[1] != channels:
        raise WeightsError(
            f"{source}: 'up.0.weight' has shape {up}; expected (3*s^2, {channels}, 3, 3) with s in 2, 3, 4"
        )
    blocks, fused, multiscale = set(), set(), set()
    for key in state:
        m = _BODY_KEY.fullmatch(key)
        if m is None:
            continue
        index = int(m.group(1))
        blocks.add(index)
        if m.group(2) == "fusion":
            fused.add(index)
        elif m.group(3).startswith("msattn."):
            multiscale.add(index)
    if not blocks:
        raise WeightsError(f"{source}: no 'body.<i>.module.blk' keys; not a checkpoint of the MSINet or NAFSSR codes")
    num_blocks = max(blocks) + 1
    missing = sorted(set(range(num_blocks)) - blocks)
    if missing:
        raise WeightsError(f"{source}: block {missing[0]} of {num_blocks} has no weights")
    if fused and len(fused) != num_blocks:
        first = min(set(range(num_blocks)) - fused)
        raise WeightsError(
            f"{source}: cross-view fusion in {len(fused)} of {num_blocks} blocks (none in block "
            f"{first}); msinet supports fusion after every block or none"
        )
    if multiscale and len(multiscale) != num_blocks:
        first = min(set(range(num_blocks)) - multiscale)
        raise WeightsError(f"{source}: block {first} lacks the multi-scale attention that other blocks have")
    kernels = _lska_kernels(state, source) if multiscale else ()
    return ForeignLayout(
        "msinet" if multiscale else "nafssr", channels, num_blocks, scales[up[0]], tuple(sorted(fused)), kernels
    )


def _lska_kernels(state, source) -> tuple[int, ...]:
    """LSKA kernel size of each branch of block 0, from its (1, k0) and dilated (1, k1) conv shapes."""
    kernels = []
    n = 1
    while f"body.0.module.blk.msattn.lska{n}.conv0h.weight" in state:
        prefix = f"body.0.module.blk.msattn.lska{n}."
        k0 = _shape(state, prefix + "conv0h.weight", source)[-1]
        k1 = _shape(state, prefix + "conv_spatial_h.weight", source)[-1]
        if (k0, k1) not in _KERNEL_OF_SHAPES:
            raise WeightsError(
                f"{source}: {prefix}conv0h/conv_spatial_h widths ({k0}, {k1}) match no LSKA "
                f"kernel size of {sorted(LSKA_DECOMPOSITION)}"
            )
        kernels.append(_KERNEL_OF_SHAPES[(k0, k1)])
        n += 1
    if not kernels:
        raise WeightsError(f"{source}: missing key 'body.0.module.blk.msattn.lska1.conv0h.weight'")
    return tuple(kernels)


def translate_state(state: dict[str, torch.Tensor], model: torch.nn.Module, source) -> dict[str, torch.Tensor]:
    """Rename every key onto `model`, naming the first key that has no place in it or the wrong shape."""
    own = model.state_dict()
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        ours = translate_key(key)
        if ours is None or ours not in own:
            raise WeightsError(f"{source}: cannot place key {key!r} in the inferred model")
        if tuple(value.shape) != tuple(own[ours].shape):
            raise WeightsError(
                f"{source}: key {key!r} has shape {tuple(value.shape)}; the inferred model expects "
                f"{tuple(own[ours].shape)}"
            )
        out[ours] = value.to(own[ours].dtype)
    for ours in own:
        if ours not in out:
            raise WeightsError(f"{source}: missing key {foreign_key(ours)!r} (for {ours!r} of the inferred model)")
    return out


def foreign_key(ours: str) -> str:
    """The authors' name of one of our state-dict keys (the inverse of translate_key)."""
    module, leaf = _split_param(ours)
    for theirs, mine in _TOP.items():
        if module == mine:
            return theirs + leaf
    index, _, rest = ours[len("blocks.") :].partition(".")
    part, _, rest = rest.partition(".")
    module, leaf = _split_param(rest)
    if part == "fusion":
        table = {v: k for k, v in _FUSION.items()}
        return f"body.{index}.module.fusion.{table[module]}{leaf}"
    branch = re.fullmatch(r"mixer\.msa\.branches\.(\d+)\.(\w+)", module)
    if branch is not None:
        conv = {v: k for k, v in _LSKA.items()}[branch.group(2)]
        return f"body.{index}.module.blk.msattn.lska{int(branch.group(1)) + 1}.{conv}{leaf}"
    table = {v: k for k, v in _BLOCK.items()}
    return f"body.{index}.module.blk.{table[module.removeprefix('intra.')]}{leaf}"


# Checkpoints of other authors' codes: each family's module (models/<family>.py) registers a recogniser.
# matches(state) -> bool: the keys are that family's (any size); load(state, source, **overrides) -> the model
# with those weights, or WeightsError naming the first key or shape that does not fit.
_FAMILIES: dict[str, tuple[Callable[[dict], bool], Callable[..., torch.nn.Module]]] = {}


def register_foreign(family: str, matches: Callable[[dict], bool], load: Callable[..., torch.nn.Module]) -> None:
    if family in _FAMILIES:
        raise ValueError(f"foreign checkpoint family {family!r} is registered twice")
    _FAMILIES[family] = (matches, load)


def load_renamed(
    arch: str, config: dict, state: dict[str, torch.Tensor], authors_key: Callable[[str], str], source, layout
) -> torch.nn.Module:
    """Build `arch` with `config` and load an authors' state into it, every key renamed by authors_key(our key) ->
    their key and checked (one line naming the first key that has no place, is missing or has the wrong shape);
    the model is named after the registered network it is (or None), and keeps the inferred `layout`."""
    from ..registry import build_arch

    try:
        model = build_arch(arch, **config)
    except (TypeError, ValueError) as exc:
        raise WeightsError(f"{source}: {str(exc).splitlines()[0]}") from None
    own = model.state_dict()
    ours_of = {authors_key(k): k for k in own}
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
    model.load_state_dict(out, strict=True)
    model.model_name = published_name(model._config, arch)
    model.foreign_layout = layout
    return model.eval()


def published_name(config: dict, arch: str = "stereo_sr") -> str | None:
    """The registered model with this architecture, runtime options aside (e.g. 'nafssr_s_x4', 'msinet_x4_released')."""
    from ..registry import list_models, same_architecture

    names = [n for n in list_models() if same_architecture({"arch": arch, **config}, n)]
    # 'nafssr_s_x4' rather than its alias 'nafssr_s'
    return max(names, key=lambda n: (n.endswith(f"_x{config['scale']}"), len(n)), default=None)


def load_foreign(path, **overrides):
    """A StereoSRNet holding the weights of an authors' .pth checkpoint (MSINet or NAFSSR), in eval mode.

    The inferred config reproduces the reference code's forward pass, including its test-time local
    statistics (window 45x135) and, for MSINet, the released LSKA routing; `overrides` replace config
    values, e.g. `lska_branch_of_group=None` (all four LSKA scales, as in the paper; changes the outputs)
    or `tlsc_window=None` (global pooling).
    """
    from ..registry import build_arch, get_entry

    path = Path(path)
    state = read_checkpoint(path)
    for matches, load in _FAMILIES.values():
        if matches(state):
            return load(state, path, **overrides).eval()
    layout = inspect_layout(state, path)
    config = {**layout.config(), **overrides}
    try:
        name = published_name(config)
        # drop-path only matters when fine-tuning: the published rate for a published size, else none
        if "drop_path_rate" not in overrides:
            config["drop_path_rate"] = get_entry(name).kwargs.get("drop_path_rate", 0.0) if name else 0.0
        model = build_arch("stereo_sr", **config)
    except ValueError as exc:
        raise WeightsError(f"{path}: {exc}") from None
    model.load_state_dict(translate_state(state, model, path), strict=True)
    model.model_name = name
    model.foreign_layout = layout
    return model.eval()
