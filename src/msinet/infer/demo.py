"""The offline demo: the real Middlebury Motorcycle pair bundled with msinet (msinet/assets, from scikit-image).

The pair is taken as HR, cropped to a multiple of the scale, downscaled with the MATLAB-exact bicubic
of the stereo SR test kits (msinet.data.degradation "kit") and super-resolved; bicubic upscaling and the model are
then compared with the original on a crop (infer.compare, the figure of `msinet compare`), with PSNR/SSIM (RGB,
both views averaged, as in the literature).
"""

from __future__ import annotations

from pathlib import Path

from ..data.sample_pair import motorcycle_pair

CROP = (170, 300, 128, 192)  # (top, left, height, width) on the LR-grid-aligned HR image: the engine block


def run_demo(model, outdir, overwrite: bool = False, **upscale_options) -> dict:
    """Write demo_L.png, demo_R.png and demo_comparison.png to outdir; return their paths and the PSNRs."""
    from ..data.degradation import degrade
    from ..data.image_io import mod_crop, refuse_existing, write_png
    from ..data.imresize import imresize
    from .compare import compare_outputs, model_label
    from .upscale import upscale_pair

    outdir = Path(outdir)
    paths = {k: outdir / f"demo_{k}.png" for k in ("L", "R", "comparison")}
    refuse_existing(paths.values(), overwrite)
    scale = int(model.scale)
    hr_l, hr_r = (mod_crop(v, scale) for v in motorcycle_pair())
    lr_l, lr_r = (degrade(v, scale) for v in (hr_l, hr_r))
    sr_l, sr_r = upscale_pair(model, lr_l, lr_r, **upscale_options)
    bic_l, bic_r = (imresize(v, scale) for v in (lr_l, lr_r))
    name = model_label(model)
    bicubic = f"bicubic x{scale} (MATLAB imresize)"
    top, left, h, w = CROP
    crop = (max(0, min(top, hr_l.shape[0] - h)), max(0, min(left, hr_l.shape[1] - w)), h, w)
    result = compare_outputs(
        {bicubic: (bic_l, bic_r), name: (sr_l, sr_r)},
        (hr_l, hr_r),
        scale=scale,
        crop=crop,
        zoom=2,
        notes=(f"the demo: Middlebury 2014 Motorcycle; LR = HR downscaled x{scale} with the kits' MATLAB bicubic",),
    )
    write_png(paths["L"], sr_l, overwrite)
    write_png(paths["R"], sr_r, overwrite)
    write_png(paths["comparison"], result.figure, overwrite=True)  # refused above when it existed
    return {
        "paths": paths,
        "psnr_model": result.scores[name][0],  # the default protocol: stereo_psnr
        "psnr_bicubic": result.scores[bicubic][0],
        "lr_size": lr_l.shape[:2],
        "model": name,
    }
