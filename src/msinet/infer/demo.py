"""The offline demo: the real Middlebury Motorcycle pair that scikit-image ships in its wheel.

The pair is taken as HR, cropped to a multiple of the scale, downscaled with the MATLAB-exact bicubic
of the stereo SR test kits (msinet.data.degradation "kit") and super-resolved; bicubic upscaling and the model are
then compared with the original on crops, with PSNR (RGB, both views averaged, as in the literature).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

CROP = (170, 300, 128, 192)  # (top, left, height, width) on the LR-grid-aligned HR image: the engine block


def motorcycle_pair() -> tuple[np.ndarray, np.ndarray]:
    """(left, right) uint8 HxWx3 of Middlebury 2014 Motorcycle at 741x500, bundled with scikit-image."""
    from skimage.data import stereo_motorcycle

    left, right, _ = stereo_motorcycle()
    return left, right


def comparison_figure(path: Path, hr: np.ndarray, bicubic: np.ndarray, sr: np.ndarray, model_name: str,
                      psnr_bicubic: float, psnr_model: float, scale: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    top, left, h, w = CROP
    top, left = min(top, hr.shape[0] - h), min(left, hr.shape[1] - w)
    crop = (slice(max(0, top), top + h), slice(max(0, left), left + w))
    panels = [(hr, "HR (original)"), (bicubic, f"bicubic x{scale} (MATLAB imresize): {psnr_bicubic:.2f} dB"),
              (sr, f"{model_name}: {psnr_model:.2f} dB")]
    fig, axes = plt.subplots(2, 3, figsize=(12, 6.4), gridspec_kw={"height_ratios": [1, 1.4]})
    for ax, (img, title) in zip(axes[0], panels):
        ax.imshow(img)
        ax.add_patch(matplotlib.patches.Rectangle((crop[1].start, crop[0].start), w, h, fill=False, color="cyan"))
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    for ax, (img, _) in zip(axes[1], panels):
        ax.imshow(img[crop], interpolation="nearest")
        ax.axis("off")
    fig.suptitle("Middlebury Motorcycle, left view (PSNR: RGB, mean of both views)", fontsize=11)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(path)


def run_demo(model, outdir, overwrite: bool = False, **upscale_options) -> dict:
    """Write demo_L.png, demo_R.png and demo_comparison.png to outdir; return their paths and the PSNRs."""
    from ..data.image_io import mod_crop
    from ..data.degradation import degrade
    from ..data.imresize import imresize
    from ..metrics import stereo_psnr
    from ..data.image_io import refuse_existing, write_png
    from .upscale import upscale_pair

    outdir = Path(outdir)
    paths = {k: outdir / f"demo_{k}.png" for k in ("L", "R", "comparison")}
    refuse_existing(paths.values(), overwrite)
    scale = int(model.scale)
    hr_l, hr_r = (mod_crop(v, scale) for v in motorcycle_pair())
    lr_l, lr_r = (degrade(v, scale) for v in (hr_l, hr_r))
    sr_l, sr_r = upscale_pair(model, lr_l, lr_r, **upscale_options)
    bic_l, bic_r = (imresize(v, scale) for v in (lr_l, lr_r))
    psnr_model = stereo_psnr(sr_l, sr_r, hr_l, hr_r)
    psnr_bicubic = stereo_psnr(bic_l, bic_r, hr_l, hr_r)
    write_png(paths["L"], sr_l, overwrite)
    write_png(paths["R"], sr_r, overwrite)
    name = getattr(model, "model_name", None) or type(model).__name__
    comparison_figure(paths["comparison"], hr_l, bic_l, sr_l, name, psnr_bicubic, psnr_model, scale)
    return {"paths": paths, "psnr_model": psnr_model, "psnr_bicubic": psnr_bicubic, "lr_size": lr_l.shape[:2],
            "model": name}
