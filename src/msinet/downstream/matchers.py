"""Stereo matchers for the downstream evaluation: OpenCV SGBM built in, learned matchers as plug-ins.

A matcher is any callable `matcher(left, right, max_disparity) -> disparity` taking two uint8 RGB arrays
(H, W, 3) and returning the left-view disparity as float32 (H, W) in pixels, NaN where it found no match.

    build_matcher("sgbm")                                         # OpenCV semi-global matching, no weights
    build_matcher("raft-stereo", checkpoint="raftstereo-sceneflow.pth", code="path/to/RAFT-Stereo")
    build_matcher("my_matchers.py:build", checkpoint="net.pth")   # your own factory (file.py:function)
    build_matcher("my_package.stereo:build", checkpoint=...)      # or module:function

A factory is called as `factory(checkpoint=..., device=...)` (plus `code=` where given) and returns either a
matcher or a torch.nn.Module, which is wrapped in `TorchMatcher` (RAFT-Stereo's conventions: inputs
(1,3,H,W) float in [0, 255], sizes padded to a multiple of 32, output the last of a list/tuple). Nothing is
downloaded: a learned matcher runs only with the code and checkpoint the user names.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import sys
from pathlib import Path
from typing import Callable

import numpy as np

MATCHER_FACTORIES: dict[str, Callable] = {}


def register_matcher(name: str):
    """Decorator: register a matcher factory under `name` (used by `--matcher NAME`)."""

    def wrap(factory):
        MATCHER_FACTORIES[name] = factory
        return factory

    return wrap


class SGBMMatcher:
    """OpenCV StereoSGBM (Hirschmueller 2008) with settings that suit photographs; left-right consistency on.

    block_size: matching window (odd); smoothness penalties P1/P2 follow OpenCV's recommended 8/32 * 3 * b^2.
    """

    name = "sgbm"

    def __init__(self, block_size: int = 5, mode: str = "hh"):
        if block_size < 1 or block_size % 2 == 0:
            raise ValueError(f"SGBM block size must be a positive odd number, got {block_size}")
        modes = {"sgbm": 0, "hh": 1, "3way": 2}  # cv2.STEREO_SGBM_MODE_{SGBM, HH, SGBM_3WAY}
        if mode not in modes:
            raise ValueError(f"SGBM mode must be one of {', '.join(modes)}, got {mode!r}")
        self.block_size = block_size
        self.mode = modes[mode]

    def __call__(self, left: np.ndarray, right: np.ndarray, max_disparity: int) -> np.ndarray:
        import cv2

        check_pair(left, right)
        num_disp = 16 * max(1, math.ceil(max_disparity / 16))  # OpenCV wants a multiple of 16
        b = self.block_size
        sgbm = cv2.StereoSGBM_create(
            minDisparity=0,
            numDisparities=num_disp,
            blockSize=b,
            P1=8 * 3 * b * b,
            P2=32 * 3 * b * b,
            disp12MaxDiff=1,
            uniquenessRatio=10,
            speckleWindowSize=100,
            speckleRange=2,
            preFilterCap=63,
            mode=self.mode,
        )
        raw = sgbm.compute(left[:, :, ::-1].copy(), right[:, :, ::-1].copy())  # OpenCV wants BGR
        disp = raw.astype(np.float32) / 16.0  # fixed point with 4 fractional bits
        disp[raw < 0] = np.nan  # invalid = (minDisparity - 1) * 16
        return disp


@register_matcher("sgbm")
def _sgbm_factory(checkpoint=None, device=None, **options):
    if checkpoint is not None:
        raise ValueError("the sgbm matcher has no weights; drop --matcher-checkpoint")
    return SGBMMatcher(**options)


class TorchMatcher:
    """Wraps a torch stereo network as a matcher.

    input_scale: 255 feeds [0, 255] floats (RAFT-Stereo and most learned matchers), 1 feeds [0, 1].
    pad_to: replicate-pad height and width to a multiple of this, crop the output back.
    negate: the network returns x-flow (RAFT-Stereo: flow = -disparity) rather than disparity.
    call_kwargs: extra keyword arguments of forward, e.g. {"iters": 32, "test_mode": True}.
    """

    def __init__(
        self,
        net,
        *,
        input_scale: float = 255.0,
        pad_to: int = 32,
        negate: bool = False,
        device: str | None = None,
        call_kwargs: dict | None = None,
        name: str = "torch",
    ):
        import torch

        self.device = torch.device(device or "cpu")
        self.net = net.eval().to(self.device)
        self.input_scale = input_scale
        self.pad_to = max(1, int(pad_to))
        self.negate = negate
        self.call_kwargs = dict(call_kwargs or {})
        self.name = name

    def __call__(self, left: np.ndarray, right: np.ndarray, max_disparity: int) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        check_pair(left, right)
        h, w = left.shape[:2]
        ph, pw = -h % self.pad_to, -w % self.pad_to

        def prep(img):  # (H, W, 3) uint8 -> (1, 3, H + ph, W + pw) float
            x = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))).float()[None]
            x = x * (self.input_scale / 255.0)
            return F.pad(x, (0, pw, 0, ph), mode="replicate").to(self.device)

        with torch.inference_mode():
            out = self.net(prep(left), prep(right), **self.call_kwargs)
        while isinstance(out, (list, tuple)):  # iterative matchers return every refinement: keep the last
            out = out[-1]
        out = out.float().squeeze()
        if out.dim() == 3:  # (2, H, W) flow field: x component
            out = out[0]
        if out.dim() != 2:
            raise ValueError(f"matcher {self.name}: expected a disparity map, got output of shape {tuple(out.shape)}")
        disp = out[:h, :w].cpu().numpy().astype(np.float32)
        return -disp if self.negate else disp


def _strip_prefix(state: dict, prefix: str = "module.") -> dict:
    return {k[len(prefix) :] if k.startswith(prefix) else k: v for k, v in state.items()}


@register_matcher("raft-stereo")
def _raft_stereo_factory(checkpoint=None, device=None, code=None, iters: int = 32, **arch):
    """RAFT-Stereo (Lipson et al. 2021) from the user's clone of its repository and a checkpoint of it."""
    import argparse

    import torch

    if checkpoint is None or code is None:
        raise ValueError(
            "the raft-stereo matcher needs --matcher-code (a clone of princeton-vl/RAFT-Stereo) "
            "and --matcher-checkpoint (e.g. models/raftstereo-sceneflow.pth)"
        )
    code, checkpoint = Path(code), Path(checkpoint)
    if not (code / "core" / "raft_stereo.py").is_file():
        raise FileNotFoundError(f"{code}: not a RAFT-Stereo clone (core/raft_stereo.py is missing)")
    if not checkpoint.is_file():
        raise FileNotFoundError(f"matcher checkpoint not found: {checkpoint}")
    for folder in (str(code / "core"), str(code)):  # its modules import each other from core/
        if folder not in sys.path:
            sys.path.insert(0, folder)
    from raft_stereo import RAFTStereo  # noqa: E402  (the user's code)

    # the architecture options of its demo.py, with their defaults (override with matcher options)
    args = dict(
        hidden_dims=[128] * 3,
        corr_implementation="reg",
        shared_backbone=False,
        corr_levels=4,
        corr_radius=4,
        n_downsample=2,
        context_norm="batch",
        slow_fast_gru=False,
        n_gru_layers=3,
        mixed_precision=False,
    )
    args.update(arch)
    net = RAFTStereo(argparse.Namespace(**args))
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    net.load_state_dict(_strip_prefix(state.get("state_dict", state) if isinstance(state, dict) else state))
    return TorchMatcher(
        net,
        input_scale=255.0,
        pad_to=32,
        negate=True,
        device=device,
        call_kwargs={"iters": int(iters), "test_mode": True},
        name="raft-stereo",
    )


def _load_factory(spec: str) -> Callable:
    """'file.py:function' or 'package.module:function' -> the function."""
    target, _, attr = spec.rpartition(":")
    if not target or not attr:
        raise ValueError(
            f"unknown matcher {spec!r}; use one of {', '.join(sorted(MATCHER_FACTORIES))}, "
            "or a plug-in as path/to/file.py:function or package.module:function"
        )
    if target.endswith(".py"):
        path = Path(target)
        if not path.is_file():
            raise FileNotFoundError(f"matcher plug-in file not found: {path}")
        module_spec = importlib.util.spec_from_file_location(f"msinet_matcher_{path.stem}", path)
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(target)
        except ModuleNotFoundError as exc:
            raise ValueError(f"matcher plug-in module {target!r} cannot be imported: {exc}") from None
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise ValueError(f"matcher plug-in {spec!r}: {target} has no function {attr!r}")
    return factory


def build_matcher(spec: str = "sgbm", checkpoint=None, device=None, code=None, **options):
    """A matcher from a registered name or a plug-in spec; see the module docstring."""
    factory = MATCHER_FACTORIES.get(spec) or _load_factory(spec)
    kwargs = dict(checkpoint=checkpoint, device=device, **options)
    if code is not None:
        kwargs["code"] = code
    matcher = factory(**kwargs)
    try:
        import torch

        if isinstance(matcher, torch.nn.Module):
            matcher = TorchMatcher(matcher, device=device, name=spec)
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    if not callable(matcher):
        raise ValueError(f"matcher factory {spec!r} returned {type(matcher).__name__}, not a matcher")
    if not hasattr(matcher, "name"):
        try:
            matcher.name = spec
        except AttributeError:
            pass
    return matcher


def check_pair(left: np.ndarray, right: np.ndarray) -> None:
    for name, img in (("left", left), ("right", right)):
        if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f"matcher input {name} must be uint8 (H, W, 3), got {img.dtype} {img.shape}")
    if left.shape != right.shape:
        raise ValueError(f"matcher inputs differ in size: {left.shape} vs {right.shape}")
