"""Visual comparison of stereo SR results, the way stereo-SR papers show it: the same zoomed crop from every
model side by side, with the HR crop and each model's PSNR/SSIM when the pair has ground truth.

    compose_figure   the one figure composer (`msinet compare`, the demo, benchmarks/bench_quality.py)
    auto_crop        where to look when no crop is given
    compare_outputs  scores, crop and figure from outputs already computed
    compare_models   one pair (LR, or HR degraded with the kits' bicubic) through every model, then compare_outputs

Figure layout (all in figure pixels; PAD and LINE_H below):

    PAD | header lines, wrapped to the figure width                                          |
        | overview title | title of panel 1 | title of panel 2 | ...  (the tallest title block) |
    PAD | overview       | crop x zoom      | crop x zoom      | ...                      | PAD |

width = PAD + overview width + PAD + n * (crop width * zoom + PAD); the panels end PAD above the bottom edge.
The overview is the whole view scaled to the panels' height (at most two panels wide), the crop outlined.
The crops are enlarged by nearest neighbour, so each figure pixel is one output pixel.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..metrics.protocols import DEFAULT_PROTOCOL, Protocol, get_protocol
from ..metrics.psnr import psnr
from ..metrics.ssim import ssim

PAD = 8  # figure pixels between and around panels
LINE_H = 14  # one line of text (Pillow's default font)
OUTLINE = (0, 200, 255)  # the crop's outline in the overview
PANEL_TARGET = 320  # auto zoom: the largest whole factor that keeps a panel's longer side within this
MIN_CROP = 16  # HR pixels: room for the 7x7 (11x11) SSIM window after a scale-sized shave
MAX_AUTO_SIDE = 128  # the automatic crop is square, a third of the shorter image side, within [32, 128]
MIN_AUTO_SIDE = 32
VIEWS = ("left", "right")


@dataclass(frozen=True)
class Panel:
    image: np.ndarray  # uint8 HxWx3: the whole view; the figure shows its crop
    title: tuple[str, ...]  # lines, each wrapped to the panel width


@dataclass
class Comparison:
    figure: np.ndarray  # uint8 HxWx3
    crop: tuple[int, int, int, int]  # (top, left, height, width) in HR pixels of `view`
    crop_reason: str  # how the crop was chosen, in words
    zoom: int
    scale: int
    view: str
    protocol: Protocol
    names: list[str]  # the models, in panel order (the baseline first)
    scores: dict = field(default_factory=dict)  # name -> (PSNR, SSIM) of the whole pair under `protocol`
    crop_scores: dict = field(default_factory=dict)  # name -> (PSNR, SSIM) of the crop of `view`
    lr_size: tuple[int, int] | None = None  # (height, width) of the LR views, when compare_models made them


# ---- crops ---------------------------------------------------------------------------------------------------


def parse_crop(text: str | None):
    """'TOP,LEFT,HEIGHT,WIDTH' -> a 4-tuple, 'HEIGHT,WIDTH' -> a 2-tuple (size only: placed automatically),
    None -> None (size and place automatic). ValueError with the expected form otherwise."""
    if text is None:
        return None
    parts = [p.strip() for p in str(text).replace("x", ",").split(",")]
    form = "--crop TOP,LEFT,HEIGHT,WIDTH (or HEIGHT,WIDTH: that size, placed automatically), in HR pixels"
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        raise ValueError(f"bad crop {text!r}: expected {form}") from None
    if len(values) not in (2, 4) or any(v < 0 for v in values):
        raise ValueError(f"bad crop {text!r}: expected {form}")
    return values


def check_crop(crop, image_hw: tuple[int, int], what: str = "the image") -> None:
    """A crop (2- or 4-tuple, HR pixels) that fits `image_hw` and is large enough to score; ValueError if not."""
    if crop is None:
        return
    h, w = crop[-2:]
    if h < MIN_CROP or w < MIN_CROP:
        raise ValueError(f"crop height {h}, width {w} is too small: at least {MIN_CROP} HR pixels each")
    H, W = image_hw
    top, left = crop[:2] if len(crop) == 4 else (0, 0)
    if top + h > H or left + w > W:
        where = f"top {top}, left {left}, " if len(crop) == 4 else ""
        raise ValueError(
            f"crop {where}height {h}, width {w} does not fit {what} (width {W}, height {H} HR pixels); "
            "--crop is TOP,LEFT,HEIGHT,WIDTH in HR pixels"
        )


def default_crop_size(image_hw: tuple[int, int], scale: int) -> tuple[int, int]:
    """The automatic crop's size: square, a third of the shorter side within [32, 128] (and within the image),
    a multiple of the scale (whole LR pixels)."""
    side = min(MAX_AUTO_SIDE, max(MIN_AUTO_SIDE, min(image_hw) // 3), *image_hw)
    side = max(scale, side - side % scale)
    return side, side


def window_sums(energy: np.ndarray, h: int, w: int, stride: int = 1, margin: int = 0):
    """(sums, tops, lefts): the sum of `energy` (HxW) over every h x w window whose corner lies on the `stride`
    grid, `margin` pixels clear of the border where the image leaves room (an integral image: one pass)."""
    H, W = energy.shape
    if H < h + 2 * margin or W < w + 2 * margin:
        margin = 0
    integral = np.zeros((H + 1, W + 1), dtype=np.float64)
    integral[1:, 1:] = energy.astype(np.float64).cumsum(0).cumsum(1)
    tops = np.arange(margin, H - h - margin + 1, stride)
    lefts = np.arange(margin, W - w - margin + 1, stride)
    t, lft = tops[:, None], lefts[None, :]
    sums = integral[t + h, lft + w] - integral[t, lft + w] - integral[t + h, lft] + integral[t, lft]
    return sums, tops, lefts


def auto_crop(energy: np.ndarray, size: tuple[int, int], scale: int = 1) -> tuple[int, int, int, int]:
    """The `size` window of largest total `energy` (HxW, e.g. the bicubic error), its corner on the LR grid (a
    multiple of `scale`) and kept 2 LR pixels off the border, where border padding rather than the model
    decides the pixels; the first such window on ties."""
    h, w = size
    sums, tops, lefts = window_sums(energy, h, w, stride=max(1, scale), margin=2 * scale)
    i, j = np.unravel_index(int(np.argmax(sums)), sums.shape)
    return int(tops[i]), int(lefts[j]), h, w


def _squared_error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = a.astype(np.float64) - b.astype(np.float64)
    return (d * d).reshape(*d.shape[:2], -1).sum(-1)


def _gradient_energy(img: np.ndarray) -> np.ndarray:
    g = img.astype(np.float64).reshape(*img.shape[:2], -1)
    energy = np.zeros(img.shape[:2])
    energy[:, 1:] += (np.diff(g, axis=1) ** 2).sum(-1)
    energy[1:, :] += (np.diff(g, axis=0) ** 2).sum(-1)
    return energy


def choose_crop(outputs: dict, baseline: str, hr, v: int, size, scale: int) -> tuple[tuple, str]:
    """(crop, how it was chosen). With HR: the window of largest bicubic (baseline) error; without: where the
    models depart most from bicubic (the squared difference, averaged over the models); with bicubic alone:
    the most detailed window of the bicubic view (squared gradients)."""
    base = outputs[baseline][v]
    others = [out[v] for name, out in outputs.items() if name != baseline]
    if hr is not None:
        energy, why = _squared_error(base, hr[v]), f"where {baseline} errs most (squared error vs HR)"
    elif others:
        energy = sum(_squared_error(o, base) for o in others) / len(others)
        why = f"where the models differ most from {baseline}"
    else:
        energy, why = _gradient_energy(base), f"the most detailed window of {baseline}"
    crop = auto_crop(energy, size, scale)
    return crop, f"auto: {why}"


# ---- the figure ----------------------------------------------------------------------------------------------


def auto_zoom(crop_hw: tuple[int, int]) -> int:
    """The largest whole zoom that keeps a panel's longer side within PANEL_TARGET pixels (at least 1)."""
    return max(1, PANEL_TARGET // max(crop_hw))


def overview_size(view_hw: tuple[int, int], panel_hw: tuple[int, int]) -> tuple[int, int]:
    """(height, width) of the overview: the whole view scaled to the panels' height, at most two panels wide."""
    (H, W), (ph, pw) = view_hw, panel_hw
    f = min(ph / H, 2 * pw / W)
    return max(1, round(H * f)), max(1, round(W * f))


def _wrap(draw, text: str, width: int) -> list[str]:
    """`text` broken at spaces (inside a word where a word alone is too wide) into lines of at most `width`."""
    lines: list[str] = []
    for word in text.split(" "):
        if lines and draw.textlength(f"{lines[-1]} {word}") <= width:
            lines[-1] = f"{lines[-1]} {word}"
            continue
        while len(word) > 1 and draw.textlength(word) > width:
            cut = 1
            while cut < len(word) and draw.textlength(word[: cut + 1]) <= width:
                cut += 1
            lines.append(word[:cut])
            word = word[cut:]
        lines.append(word)
    return lines or [""]


def compose_figure(
    panels: list[Panel],
    crop: tuple[int, int, int, int],
    zoom: int | None = None,
    overview: np.ndarray | None = None,
    overview_title: tuple[str, ...] = (),
    header: tuple[str, ...] = (),
) -> np.ndarray:
    """One row: a small overview of the whole view (`overview`, default the first panel's image) with the crop
    outlined, then each panel's crop enlarged `zoom` times (nearest neighbour; default auto_zoom), each under
    its title; `header` lines above all. Returns the figure as uint8 HxWx3 (see the module docstring)."""
    from PIL import Image, ImageDraw

    top, left, h, w = crop
    zoom = zoom or auto_zoom((h, w))
    view = panels[0].image if overview is None else overview
    ph, pw = h * zoom, w * zoom
    oh, ow = overview_size(view.shape[:2], (ph, pw))
    width = PAD + ow + PAD + len(panels) * (pw + PAD)
    draw = ImageDraw.Draw(Image.new("RGB", (1, 1)))  # to measure text before the canvas exists
    header_lines = [line for text in header for line in _wrap(draw, text, width - 2 * PAD)]
    titles = [[line for text in t for line in _wrap(draw, text, pw)] for t in (p.title for p in panels)]
    titles.append([line for text in overview_title for line in _wrap(draw, text, ow)])
    header_h = len(header_lines) * LINE_H + (PAD if header_lines else 0)
    title_h = max(len(t) for t in titles) * LINE_H + PAD // 2
    y0 = PAD + header_h + title_h  # the top of the overview and of the panels
    canvas = Image.new("RGB", (width, y0 + ph + PAD), "white")
    draw = ImageDraw.Draw(canvas)
    for k, line in enumerate(header_lines):
        draw.text((PAD, PAD + k * LINE_H), line, fill="black")

    def title_at(x: int, lines: list[str]) -> None:
        for k, line in enumerate(lines):
            draw.text((x, PAD + header_h + k * LINE_H), line, fill="black")

    small = Image.fromarray(np.ascontiguousarray(view)).resize((ow, oh), Image.LANCZOS)
    canvas.paste(small, (PAD, y0))
    fy, fx = oh / view.shape[0], ow / view.shape[1]
    x1, y1 = PAD + int(left * fx), y0 + int(top * fy)
    x2, y2 = PAD + int(np.ceil((left + w) * fx)) - 1, y0 + int(np.ceil((top + h) * fy)) - 1
    draw.rectangle((x1, y1, max(x1, x2), max(y1, y2)), outline=OUTLINE, width=2)
    title_at(PAD, titles[-1])
    for i, panel in enumerate(panels):
        x0 = PAD + ow + PAD + i * (pw + PAD)
        part = np.ascontiguousarray(panel.image[top : top + h, left : left + w])
        canvas.paste(Image.fromarray(part).resize((pw, ph), Image.NEAREST), (x0, y0))
        title_at(x0, titles[i])
    return np.asarray(canvas)


# ---- scores and the whole comparison -------------------------------------------------------------------------


def crop_score(sr: np.ndarray, hr: np.ndarray, crop, protocol: Protocol, scale: int) -> tuple[float, float]:
    """(PSNR, SSIM) of one view's crop with the protocol's colour, shave and SSIM window."""
    top, left, h, w = crop
    a, b = sr[top : top + h, left : left + w], hr[top : top + h, left : left + w]
    y, shave = protocol.color == "y", (0 if protocol.shave == "0" else int(scale))
    return psnr(a, b, y, shave), ssim(a, b, y, shave, protocol.window)


def _size(img_or_shape) -> str:
    """'WIDTHxHEIGHT' of an image or a shape."""
    shape = getattr(img_or_shape, "shape", img_or_shape)
    return f"{shape[1]}x{shape[0]}"


def _fmt(value: float, digits: int) -> str:
    return "inf" if not np.isfinite(value) else f"{value:.{digits}f}"


def format_scores(scores: tuple[float, float]) -> str:
    """'27.05 dB / 0.8057'."""
    return f"{_fmt(scores[0], 2)} dB / {_fmt(scores[1], 4)}"


def compare_outputs(
    outputs: dict,
    hr=None,
    *,
    scale: int,
    view: str = "left",
    crop=None,
    protocol: str | Protocol = DEFAULT_PROTOCOL,
    zoom: int | None = None,
    baseline: str | None = None,
    notes: tuple[str, ...] = (),
) -> Comparison:
    """Scores, crop and figure of results already computed.

    outputs: {name: (sr_left, sr_right)} of uint8 HxWx3 views, in panel order; `baseline` (default the first
      name, which should be bicubic) is shown first after HR and picks the automatic crop.
    hr: (hr_left, hr_right) of the same size, or None (no scores).
    crop: (top, left, height, width) in HR pixels of `view`, (height, width) to place that size automatically,
      or None (default_crop_size, placed automatically: see choose_crop).
    protocol: a metrics protocol name or Protocol: the whole pair is scored with it, the crop with its colour,
      shave and SSIM window on `view` alone.
    notes: lines added to the figure's header (e.g. how the LR was made)."""
    if view not in VIEWS:
        raise ValueError(f"view must be left or right, got {view!r}")
    if not outputs:
        raise ValueError("nothing to compare: no outputs")
    protocol = get_protocol(protocol) if isinstance(protocol, str) else protocol
    baseline = baseline or next(iter(outputs))
    v = VIEWS.index(view)
    shape = (hr[0] if hr is not None else outputs[baseline][0]).shape
    for name, out in outputs.items():
        for side, img in zip(VIEWS, out):
            if img.shape != shape:
                raise ValueError(
                    f"{name}: the {side} output is {img.shape[1]}x{img.shape[0]}, not {shape[1]}x{shape[0]}"
                )
    if hr is not None and hr[1].shape != shape:
        raise ValueError(f"the HR views differ in size: {_size(shape)} and {_size(hr[1])}")
    check_crop(crop, shape[:2], f"the {view} view")
    if crop is not None and len(crop) == 4:
        crop, reason = tuple(crop), "given"
    else:
        size = default_crop_size(shape[:2], scale) if crop is None else tuple(crop)
        crop, reason = choose_crop(outputs, baseline, hr, v, size, scale)
    zoom = zoom or auto_zoom(crop[2:])
    order = [baseline, *(n for n in outputs if n != baseline)]
    scores, crop_scores = {}, {}
    if hr is not None:
        for name in order:
            sr_l, sr_r = outputs[name]
            scores[name] = protocol.score(sr_l, sr_r, hr[0], hr[1], scale)
            crop_scores[name] = crop_score(outputs[name][v], hr[v], crop, protocol, scale)
    panels = [Panel(hr[v], ("HR (ground truth)",))] if hr is not None else []
    for name in order:
        title = (name,)
        if hr is not None:
            title += (f"image {format_scores(scores[name])}", f"crop {format_scores(crop_scores[name])}")
        panels.append(Panel(outputs[name][v], title))
    top, left, h, w = crop
    header = (
        f"x{scale}; crop top {top}, left {left}, height {h}, width {w} of the {view} view ({reason}); shown x{zoom}",
    )
    if hr is not None:
        header += (
            f"PSNR / SSIM, protocol '{protocol.name}' ({protocol.describe()}): 'image' = the whole pair as "
            f"evaluated, 'crop' = this crop of the {view} view",
        )
    else:
        header += ("no ground truth, so no PSNR / SSIM (compare --hr takes an HR pair and makes the LR)",)
    overview = hr[v] if hr is not None else outputs[baseline][v]
    figure = compose_figure(
        panels,
        crop,
        zoom,
        overview,
        (f"{view} view, {_size(shape)}",),
        header + tuple(notes),
    )
    return Comparison(figure, crop, reason, zoom, scale, view, protocol, order, scores, crop_scores)


def model_label(model) -> str:
    return getattr(model, "model_name", None) or type(model).__name__


def compare_models(
    models: list,
    left: np.ndarray,
    right: np.ndarray,
    *,
    hr: bool = False,
    view: str = "left",
    crop=None,
    protocol: str | Protocol = DEFAULT_PROTOCOL,
    zoom: int | None = None,
    on_model=None,
    **upscale_options,
) -> Comparison:
    """Run every model on one stereo pair (uint8 HxWx3 views) and compare them (compare_outputs).

    models: loaded models of one scale, the first a bicubic one (the baseline; the caller loads it: `msinet
      compare` adds bicubic_x<s>). hr: `left`/`right` are HR ground truth: cropped to a multiple of the scale
      and degraded with the stereo kits' MATLAB bicubic (data.degradation "kit") to make the LR pair, as the
      demo does; otherwise they are the LR input and nothing is scored.
    on_model(name, seconds) is called after each model; upscale_options go to upscale_pair (device, tile, ...).
    """
    import time

    from ..data.degradation import degrade
    from ..data.image_io import mod_crop
    from .upscale import upscale_pair

    scales = {model_label(m): int(m.scale) for m in models}
    if len(set(scales.values())) > 1:
        raise ValueError(
            "the models upscale by different factors: "
            + ", ".join(f"{n} x{s}" for n, s in scales.items())
            + "; compare models of one scale"
        )
    scale = next(iter(scales.values()))
    if left.shape != right.shape:
        raise ValueError(f"left and right views differ in size: {_size(left)} and {_size(right)}")
    notes: tuple[str, ...] = ()
    if hr:
        hr_views = (mod_crop(left, scale), mod_crop(right, scale))
        lr = tuple(degrade(v, scale, "kit") for v in hr_views)
        cut = " (HR cropped to a multiple of the scale)" if hr_views[0].shape != left.shape else ""
        notes = (f"LR = the HR pair downscaled x{scale} with the stereo kits' MATLAB bicubic{cut}",)
    else:
        hr_views, lr = None, (left, right)
    outputs = {}
    for model in models:
        name = model_label(model)
        while name in outputs:  # two files of one stem
            name += "'"
        start = time.perf_counter()
        outputs[name] = tuple(upscale_pair(model, lr[0], lr[1], **upscale_options))
        if on_model is not None:
            on_model(name, time.perf_counter() - start)
    result = compare_outputs(
        outputs,
        hr_views,
        scale=scale,
        view=view,
        crop=crop,
        protocol=protocol,
        zoom=zoom,
        baseline=next(iter(outputs)),
        notes=notes,
    )
    result.lr_size = lr[0].shape[:2]
    return result
