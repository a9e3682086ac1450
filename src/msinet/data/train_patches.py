"""On-the-fly training patches from HR stereo pairs (the iPASSR / NAFSSR / MSINet recipe).

A sample is drawn from the HR pairs by a generator seeded with (seed, sample index) alone, so sample k is
the same whatever process, worker or resumed run asks for it: resuming at step s and sharding a global
batch over ranks are just index arithmetic (see msinet.runtime.distributed.StepSampler).

    HR crop (s*ph, s*pw) at the same place in both views, on the s-pixel grid of the image (cropped to a
    multiple of s, as test kits crop their HR)
    -> LR = the same crop of degrade(whole image, s) (msinet.data.degradation; default "kit", the rule of the
       stereo-SR test kits' LR files), computed from the crop plus a margin wide enough for the bicubic kernel:
       the LR patch equals the whole-image LR bit for bit, image borders included, with no patch-edge artefacts
    -> augment: horizontal flip (mirrors both views AND swaps them, so the left view stays the left one),
       vertical flip, RGB channel permutation (the same for both views)
    -> lr_left, lr_right (3, ph, pw), hr_left, hr_right (3, s*ph, s*pw), float32 in [0, 1]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from .degradation import DEFAULT_DEGRADATION, check_degradation, degrade
from .image_io import load_pair
from .imresize import imresize
from .pair_scan import ScanPolicy, scan

# LR pixels of context around a patch: the antialiased bicubic kernel of a 1/s resize reaches 2 LR pixels
# (2s HR pixels) either side; one more for the taps MATLAB's index window adds
LR_MARGIN = 3

# training pairs: a folder holding one pair by view names, or Flickr1024-style NAME_L / NAME_R files; any depth
TRAINING_POLICY = ScanPolicy(
    view_names=(("left", "right"), ("hr0", "hr1"), ("im0", "im1")), suffix_tags=("_L", "_R"), recursive=True
)


def load_rgb_pair(left: Path, right: Path) -> tuple[np.ndarray, np.ndarray]:
    """HR training pair as two uint8 HxWx3 arrays (data.image_io.load_pair); the sizes must match."""
    return load_pair(left, right)


def find_pairs(path) -> list[tuple[Path, Path]]:
    """Stereo pairs under `path` (data/pair_scan.py with TRAINING_POLICY): a pair folder (left/right, hr0/hr1,
    im0/im1 images), a folder of such folders (searched recursively), or Flickr1024-style files `<name>_L.png` /
    `<name>_R.png`. In folder order."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"training data not found: {path}")
    if not path.is_dir():
        raise ValueError(f"training data must be a folder of stereo pairs, got file {path}")
    pairs = [(p.left, p.right) for p in scan(path, TRAINING_POLICY).pairs]  # the one pair scanner
    if not pairs:
        raise ValueError(f"no stereo pairs found under {path} (expected left.png/right.png or *_L.png/*_R.png)")
    return pairs


class StereoPatches(Dataset):
    """Random LR/HR patch pairs, a pure function of (seed, index); see the module docstring.

    images: list of (left, right) HxWx3 uint8 arrays (HR). hr_scales: each image also serves downscaled by
    these factors (MATLAB imresize), like the half-size Middlebury of the iPASSR set; 1.0 = as given.
    degradation: how LR patches are made from HR ones (a name of msinet.data.degradation.DEGRADATIONS).
    """

    def __init__(
        self,
        images,
        scale: int = 4,
        lr_patch=(30, 90),
        seed: int = 0,
        hflip: bool = True,
        vflip: bool = True,
        rgb_perm: bool = True,
        hr_scales=(1.0,),
        length: int = 2**62,
        degradation: str = DEFAULT_DEGRADATION,
    ):
        self.scale = int(scale)
        self.degradation = check_degradation(degradation)
        self.lr_patch = (int(lr_patch[0]), int(lr_patch[1]))
        self.seed = int(seed)
        self.hflip, self.vflip, self.rgb_perm = hflip, vflip, rgb_perm
        self.length = length
        ph, pw = self.lr_patch[0] * self.scale, self.lr_patch[1] * self.scale
        self.sources = []
        for i, (left, right) in enumerate(images):
            for f in hr_scales:
                pair = (left, right) if f == 1.0 else (imresize(left, f), imresize(right, f))
                h, w = pair[0].shape[:2]
                h, w = h - h % self.scale, w - w % self.scale  # HR cropped to a multiple of s, as test kits do
                pair = tuple(v[:h, :w] for v in pair)
                if h < ph or w < pw:
                    if f == 1.0:
                        raise ValueError(
                            f"training image {i} is {w}x{h}, smaller than the HR patch {pw}x{ph} "
                            f"(data.lr_patch x scale)"
                        )
                    continue  # a downscaled copy too small to crop from is simply not used
                self.sources.append(pair)
        # a pair is drawn with probability proportional to its number of crop positions (on the s grid)
        s = self.scale
        counts = np.array(
            [((p[0].shape[0] - ph) // s + 1) * ((p[0].shape[1] - pw) // s + 1) for p in self.sources], float
        )
        self.weights = counts / counts.sum()

    @classmethod
    def from_folders(cls, folders, **kwargs) -> "StereoPatches":
        pairs = [pair for folder in folders for pair in find_pairs(folder)]
        return cls([load_rgb_pair(l, r) for l, r in pairs], **kwargs)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int):
        rng = np.random.default_rng([self.seed, int(index)])
        left, right = self.sources[rng.choice(len(self.sources), p=self.weights)]
        ph, pw = self.lr_patch[0] * self.scale, self.lr_patch[1] * self.scale
        s = self.scale
        y = s * int(rng.integers(0, (left.shape[0] - ph) // s + 1))
        x = s * int(rng.integers(0, (left.shape[1] - pw) // s + 1))
        views = [
            (hr, lr_window(v, y, x, ph, pw, s, self.degradation))
            for v in (left, right)
            for hr in [v[y : y + ph, x : x + pw]]
        ]
        # flips and channel permutations act on HR and LR alike (they commute with the resize)
        if self.hflip and rng.random() < 0.5:
            # mirroring exchanges the roles of the cameras: the mirrored right view is the new left view
            views = [tuple(a[:, ::-1] for a in views[1]), tuple(a[:, ::-1] for a in views[0])]
        if self.vflip and rng.random() < 0.5:
            views = [tuple(a[::-1] for a in v) for v in views]
        if self.rgb_perm:
            perm = rng.permutation(3)
            views = [tuple(a[:, :, perm] for a in v) for v in views]
        (hr_l, lr_l), (hr_r, lr_r) = views
        # np.array: contiguous, writable copies (the cached image is read-only)
        lr_l, lr_r, hr_l, hr_r = (
            torch.from_numpy(np.array(v)).permute(2, 0, 1).float().div_(255.0) for v in (lr_l, lr_r, hr_l, hr_r)
        )
        return lr_l, lr_r, hr_l, hr_r


def lr_window(
    image: np.ndarray, y: int, x: int, ph: int, pw: int, s: int, kind: str = DEFAULT_DEGRADATION
) -> np.ndarray:
    """degrade(image, s, kind)[y/s : (y+ph)/s, x/s : (x+pw)/s] without degrading the whole image: degrade the HR
    window widened by LR_MARGIN LR pixels (clipped at the image's edges, where the rule pads as it does for
    the whole image) and crop. The image's sides, y, x, ph and pw are multiples of s."""
    m = LR_MARGIN * s
    y0, x0 = max(0, y - m), max(0, x - m)
    y1, x1 = min(image.shape[0], y + ph + m), min(image.shape[1], x + pw + m)
    lr = degrade(np.ascontiguousarray(image[y0:y1, x0:x1]), s, kind)
    top, lft = (y - y0) // s, (x - x0) // s
    return lr[top : top + ph // s, lft : lft + pw // s]
