"""The evaluation loop: LR pair -> model -> uint8 SR (clamped, rounded) -> scores under each protocol."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..data.image_io import to_tensor, to_uint8
from ..metrics.protocols import Protocol, mean_scores
from .ensemble import ensemble_forward


@dataclass
class ImageResult:
    name: str
    scores: dict  # protocol name -> (psnr, ssim)


@dataclass
class SetResult:
    set_name: str
    method: str
    scale: int
    images: list = field(default_factory=list)  # ImageResult

    def means(self) -> dict:
        """protocol name -> (mean PSNR, mean SSIM) over the images."""
        if not self.images:
            return {}
        return {p: mean_scores([img.scores[p] for img in self.images]) for p in self.images[0].scores}


def evaluate_set(
    model,
    stereo_set,
    protocols: list[Protocol],
    device="cpu",
    self_ensemble: str = "off",
    method: str | None = None,
    progress: bool = True,
    on_output=None,
    world=None,
    forward=None,
) -> SetResult:
    """Score `model` on every pair of `stereo_set`. on_output(sample, sr_left, sr_right) sees each uint8 result.

    world (msinet.runtime.distributed.World, under torchrun): rank r scores pairs r, r + N, ...; every rank gets
    the whole result back, in the set's order.
    forward: what computes the model's outputs, if not the model itself (e.g. infer.graphs.GraphedForward).
    """
    import torch

    from ..runtime.distributed import World, all_gather_objects
    from ..runtime.progress import progress_bar

    if model.scale != stereo_set.scale:
        raise ValueError(f"the model upscales x{model.scale} but the set is evaluated at x{stereo_set.scale}")
    result = SetResult(stereo_set.name, method or getattr(model, "model_name", None) or "model", stereo_set.scale)
    world = world or World()
    bar = progress_bar(
        range(world.rank, len(stereo_set), world.size),
        unit="pair",
        leave=False,
        desc=f"{result.method} on {stereo_set.name}",
        disable=not (progress and world.is_main),
    )
    for i in bar:
        sample = stereo_set[i]
        left = to_tensor(sample.lr_left).to(device)
        right = to_tensor(sample.lr_right).to(device)
        with torch.no_grad():
            sr_l, sr_r = ensemble_forward(forward or model, left, right, self_ensemble)
        sr_left, sr_right = to_uint8(sr_l), to_uint8(sr_r)
        if sr_left.shape != sample.hr_left.shape:
            raise ValueError(f"{sample.name}: model output {sr_left.shape} does not match HR {sample.hr_left.shape}")
        if on_output is not None:
            on_output(sample, sr_left, sr_right)
        scores = {
            p.name: p.score(sr_left, sr_right, sample.hr_left, sample.hr_right, stereo_set.scale) for p in protocols
        }
        result.images.append(ImageResult(sample.name, scores))
    if world.distributed:  # rank r holds pairs r, r + N, ...: interleave them back into the set's order
        shares = all_gather_objects(result.images, world)
        result.images = [shares[i % world.size][i // world.size] for i in range(len(stereo_set))]
    return result
