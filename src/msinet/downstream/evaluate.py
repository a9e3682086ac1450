"""Downstream evaluation (paper section 3.2): does super-resolution help a stereo matcher?

For every pair with ground truth: HR pair (mod-cropped to the scale) -> the kits' bicubic degradation ->
each method's SR pair (uint8, as a user would save it) -> matcher -> EPE / bad-1 / bad-3 against the
ground truth, on all pixels with known disparity and on non-occluded ones where the data has a mask.
The HR pair itself gives the upper bound, bicubic upsampling the floor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..data.degradation import degrade
from ..data.image_io import load_pair, mod_crop
from .gt import read_disparity, read_nonocc_mask, read_occlusion_mask
from .metrics import disparity_errors
from .scenes import StereoScene

HR = "hr"
BICUBIC = "bicubic"
METRICS = ("epe", "bad1", "bad3", "density")


@dataclass
class SceneResult:
    scene: str
    left: np.ndarray  # HR left view (H, W, 3) uint8, for the figure
    gt: np.ndarray  # (H, W) float32, NaN = unknown
    disparities: dict = field(default_factory=dict)  # method -> (H, W) float32, NaN = no match
    scores: list = field(default_factory=list)  # rows: scene, method, region, epe, bad1, bad3, ...


def read_mask(scene: StereoScene) -> np.ndarray | None:
    """Non-occlusion mask (True = visible in both views) of a scene, or None."""
    if scene.mask is None:
        return None
    return read_nonocc_mask(scene.mask) if scene.mask_kind == "nonocc" else read_occlusion_mask(scene.mask)


def auto_max_disparity(gt: np.ndarray) -> int:
    """Search range from the ground truth, as Middlebury's calib.txt `ndisp` does: 10% above its maximum."""
    return 16 * max(1, math.ceil(float(np.nanmax(gt)) * 1.1 / 16))


def load_methods(models, scale: int, load=None) -> dict:
    """{method name: model} for bicubic and each requested model (name, .safetensors or .pth path);
    `load` (default msinet.load_model) loads one spec, e.g. under a command's weights options."""
    from ..models.loading import load_model
    from ..registry import get_entry, list_models

    load = load or load_model
    methods = {BICUBIC: load_model(f"bicubic_x{scale}")}
    for name in models:
        if name in (BICUBIC, f"bicubic_x{scale}"):
            continue
        if name in list_models() and get_entry(name).kwargs.get("scale") not in (None, scale):  # before any download
            raise ValueError(
                f"model {name} upscales x{get_entry(name).kwargs['scale']}, but this evaluation is x{scale} (--scale)"
            )
        model = load(name)
        if int(model.scale) != scale:
            raise ValueError(f"model {name} upscales x{model.scale}, but this evaluation is x{scale} (--scale)")
        methods[name] = model
    return methods


def evaluate_scene(
    scene: StereoScene, methods: dict, matcher, scale: int = 4, max_disparity=None, device=None, log=None
) -> SceneResult:
    """Disparity and scores of the HR pair and of every method's SR pair for one scene."""
    left, right = load_pair(scene.left, scene.right)
    gt = read_disparity(scene.disparity)
    mask = read_mask(scene)
    if gt.shape != left.shape[:2] or (mask is not None and mask.shape != gt.shape):
        raise ValueError(
            f"scene {scene.name}: image {left.shape[1]}x{left.shape[0]}, ground truth "
            f"{gt.shape[1]}x{gt.shape[0]}"
            + ("" if mask is None else f", mask {mask.shape[1]}x{mask.shape[0]}")
            + " differ in size"
        )
    left, right, gt = mod_crop(left, scale), mod_crop(right, scale), mod_crop(gt, scale)
    mask = None if mask is None else mod_crop(mask, scale)
    if not np.isfinite(gt).any():
        raise ValueError(f"scene {scene.name}: the ground truth has no known disparity")
    max_disp = auto_max_disparity(gt) if max_disparity is None else int(max_disparity)
    lr_left, lr_right = degrade(left, scale), degrade(right, scale)

    result = SceneResult(scene.name, left, gt)
    pairs = [(HR, lambda: (left, right))]
    pairs += [(name, lambda m=model: m.upscale(lr_left, lr_right, device=device)) for name, model in methods.items()]
    for method, make_pair in pairs:
        sr_left, sr_right = make_pair()
        if sr_left.shape != left.shape:
            raise ValueError(
                f"{method} returned {sr_left.shape[1]}x{sr_left.shape[0]} for a {left.shape[1]}x{left.shape[0]} pair"
            )
        disp = matcher(sr_left, sr_right, max_disp)
        result.disparities[method] = disp
        regions = [("all", None)] + ([("nonocc", mask)] if mask is not None else [])
        for region, region_mask in regions:
            scores = disparity_errors(disp, gt, region_mask)
            result.scores.append({"scene": scene.name, "method": method, "region": region, **scores})
        if log is not None:
            s = result.scores[-len(regions)]
            log(f"{scene.name:36s} {method:24s} EPE {s['epe']:7.3f}  bad-1 {s['bad1']:6.2f}%  bad-3 {s['bad3']:6.2f}%")
    return result


def mean_rows(rows: list[dict]) -> list[dict]:
    """Mean over scenes of each (method, region), in first-seen order; scene = 'mean', plus the scene count."""
    groups: dict = {}
    for row in rows:
        groups.setdefault((row["method"], row["region"]), []).append(row)
    means = []
    for (method, region), group in groups.items():
        mean = {"scene": "mean", "method": method, "region": region}
        mean.update({k: float(np.mean([g[k] for g in group])) for k in METRICS})
        mean["pixels"] = int(sum(g["pixels"] for g in group))
        mean["scenes"] = len(group)
        means.append(mean)
    return means
