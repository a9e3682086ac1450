"""The offline demo: the real Middlebury Motorcycle pair bundled with msinet (msinet/assets, from scikit-image).

The pair is taken as HR, cropped to a multiple of the scale, downscaled with the MATLAB-exact bicubic
of the stereo SR test kits (msinet.data.degradation "kit") and super-resolved; bicubic upscaling and the model are
then compared with the original on crops, with PSNR (RGB, both views averaged, as in the literature).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data.sample_pair import motorcycle_pair

CROP = (170, 300, 128, 192)  # (top, left, height, width) on the LR-grid-aligned HR image: the engine block


def comparison_figure(
    path: Path,
    hr: np.ndarray,
    bicubic: np.ndarray,
    sr: np.ndarray,
    model_name: str,
    psnr_bicubic: float,
    psnr_model: float,
    scale: int,
) -> None:
    """HR, bicubic and the model side by side (top: whole left view with the crop outlined; bottom: the crop
    enlarged, nearest neighbour), each titled with its PSNR."""
    from PIL import Image, ImageDraw

    from ..data.image_io import write_png

    top, left, h, w = CROP
    top, left = max(0, min(top, hr.shape[0] - h)), max(0, min(left, hr.shape[1] - w))
    panels = [
        (hr, "HR (original)"),
        (bicubic, f"bicubic x{scale} (MATLAB imresize): {psnr_bicubic:.2f} dB"),
        (sr, f"{model_name}: {psnr_model:.2f} dB"),
    ]
    zoom = max(1, hr.shape[1] // w)
    title_h, pad = 18, 8
    width = hr.shape[1]
    canvas = Image.new("RGB", (3 * width + 4 * pad, title_h + hr.shape[0] + h * zoom + 3 * pad), "white")
    draw = ImageDraw.Draw(canvas)
    for i, (img, title) in enumerate(panels):
        x0 = pad + i * (width + pad)
        draw.text((x0, 3), title, fill="black")
        canvas.paste(Image.fromarray(np.ascontiguousarray(img)), (x0, title_h))
        draw.rectangle((x0 + left, title_h + top, x0 + left + w - 1, title_h + top + h - 1), outline=(0, 200, 255))
        crop = Image.fromarray(np.ascontiguousarray(img[top : top + h, left : left + w]))
        canvas.paste(crop.resize((w * zoom, h * zoom), Image.NEAREST), (x0, title_h + hr.shape[0] + 2 * pad))
    write_png(path, np.asarray(canvas), overwrite=True)  # run_demo refused existing outputs already


def run_demo(model, outdir, overwrite: bool = False, **upscale_options) -> dict:
    """Write demo_L.png, demo_R.png and demo_comparison.png to outdir; return their paths and the PSNRs."""
    from ..data.degradation import degrade
    from ..data.image_io import mod_crop, refuse_existing, write_png
    from ..data.imresize import imresize
    from ..metrics import stereo_psnr
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
    return {
        "paths": paths,
        "psnr_model": psnr_model,
        "psnr_bicubic": psnr_bicubic,
        "lr_size": lr_l.shape[:2],
        "model": name,
    }
