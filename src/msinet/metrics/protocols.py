"""Evaluation protocols of stereo (and single-image) SR papers: which pixels, which channel, which SSIM.

A protocol fixes four choices:
  color  "rgb" | "y"        RGB, or Y of MATLAB rgb2ycbcr
  shave  "0" | "s"          border cut per side: none, or the scale factor
  views  "mean"             (score(L) + score(R)) / 2
         "pooled"           one score over both views (PSNR from the MSE of the 6-channel pair)
         "left"             left view only
         "left-crop64"      left view with its 64 leftmost columns cut (StereoSR, iPASSR)
  window "uniform"|"gaussian"  SSIM window (see metrics.ssim)
Sources of each named protocol are in docs/evaluation.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .psnr import mse, psnr, psnr_from_mse
from .ssim import WINDOWS, ssim

COLORS = ("rgb", "y")
SHAVES = ("0", "s")
VIEWS = ("mean", "pooled", "left", "left-crop64")
LEFT_CROP = 64


@dataclass(frozen=True)
class Protocol:
    name: str
    color: str = "rgb"
    shave: str = "0"
    views: str = "mean"
    window: str = "uniform"
    source: str = ""

    def __post_init__(self):
        for field, value, allowed in (
            ("color", self.color, COLORS),
            ("shave", self.shave, SHAVES),
            ("views", self.views, VIEWS),
            ("window", self.window, WINDOWS),
        ):
            if value not in allowed:
                raise ValueError(f"protocol {field} must be one of {', '.join(allowed)}, got {value!r}")

    def describe(self) -> str:
        view = {
            "mean": "mean of L and R",
            "pooled": "pooled over L+R",
            "left": "left view",
            "left-crop64": "left view, 64 left columns cut",
        }[self.views]
        shave = "no shave" if self.shave == "0" else "shave = scale"
        return f"{self.color.upper()}, {shave}, {view}, SSIM {self.window}"

    def score(self, sr_left, sr_right, hr_left, hr_right, scale: int) -> tuple[float, float]:
        """(PSNR, SSIM) of one stereo pair of uint8 HxWx3 images under this protocol."""
        y, shave = self.color == "y", (0 if self.shave == "0" else int(scale))
        if self.views in ("left", "left-crop64"):
            if self.views == "left-crop64":
                if hr_left.shape[1] <= LEFT_CROP + 2 * shave:
                    raise ValueError(f"image width {hr_left.shape[1]} too small for the 64-column left crop")
                sr_left, hr_left = sr_left[:, LEFT_CROP:], hr_left[:, LEFT_CROP:]
            return psnr(sr_left, hr_left, y, shave), ssim(sr_left, hr_left, y, shave, self.window)
        s_l = ssim(sr_left, hr_left, y, shave, self.window)
        s_r = ssim(sr_right, hr_right, y, shave, self.window)
        if self.views == "pooled":
            pooled = (mse(sr_left, hr_left, y, shave) + mse(sr_right, hr_right, y, shave)) / 2  # equal sizes
            return psnr_from_mse(pooled), (s_l + s_r) / 2
        return (psnr(sr_left, hr_left, y, shave) + psnr(sr_right, hr_right, y, shave)) / 2, (s_l + s_r) / 2


PROTOCOLS: dict[str, Protocol] = {
    p.name: p
    for p in (
        Protocol(
            "stereo",
            "rgb",
            "0",
            "mean",
            "uniform",
            "iPASSR / NAFSSR / MSINet Python evaluation: RGB, no crop, (L+R)/2, skimage SSIM",
        ),
        Protocol(
            "stereo-pooled",
            "rgb",
            "0",
            "pooled",
            "uniform",
            "BasicSR/NAFSSR validation: PSNR over the stacked 6-channel pair",
        ),
        Protocol(
            "stereo-gaussian", "rgb", "0", "mean", "gaussian", "as 'stereo' with Wang et al.'s 11x11 Gaussian SSIM"
        ),
        Protocol("left", "rgb", "0", "left", "uniform", "left view only (StereoSR, PASSRnet)"),
        Protocol(
            "left-crop64",
            "rgb",
            "0",
            "left-crop64",
            "uniform",
            "StereoSR / iPASSR: left view with the 64 leftmost columns removed",
        ),
        Protocol(
            "y-shave",
            "y",
            "s",
            "mean",
            "gaussian",
            "single-image SR convention (RCAN, EDSR): Y, shave = scale, Gaussian SSIM; (L+R)/2",
        ),
        Protocol("y-shave-left", "y", "s", "left", "gaussian", "single-image SR convention on the left view only"),
    )
}
DEFAULT_PROTOCOL = "stereo"


def get_protocol(spec: str) -> Protocol:
    """A registered name, or a custom 'color=y,shave=s,views=left,window=gaussian' (omitted keys: defaults)."""
    spec = spec.strip()
    if spec in PROTOCOLS:
        return PROTOCOLS[spec]
    if "=" not in spec:
        raise ValueError(
            f"unknown protocol {spec!r}; choose from {', '.join(PROTOCOLS)}, 'all', "
            "or give 'color=...,shave=...,views=...,window=...'"
        )
    fields = {}
    for part in spec.split(","):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or key not in ("color", "shave", "views", "window"):
            raise ValueError(f"bad protocol field {part!r}: use color=, shave=, views=, window=")
        fields[key] = value.strip()
    return Protocol(name=spec.replace(" ", ""), source="custom", **fields)


def parse_protocols(spec: str | None) -> list[Protocol]:
    """'all', one protocol, or several separated by ';' (custom specs use commas inside)."""
    if spec is None or spec == "":
        return [PROTOCOLS[DEFAULT_PROTOCOL]]
    if spec == "all":
        return list(PROTOCOLS.values())
    return [get_protocol(part) for part in spec.split(";") if part.strip()]


def mean_scores(rows: list[tuple[float, float]]) -> tuple[float, float]:
    """Mean PSNR and SSIM over images (the convention of every table: per-image scores averaged)."""
    arr = np.asarray(rows, dtype=np.float64)
    return float(arr[:, 0].mean()), float(arr[:, 1].mean())
