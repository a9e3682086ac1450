"""Shared by the tests/test_train_*.py files: synthetic stereo pairs and tiny training configs."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_synthetic_pairs(root: Path, count: int = 2, size=(72, 216), shift: int = 5, seed: int = 0) -> list[str]:
    """`count` pair folders of smooth random texture, the right view shifted by `shift` pixels."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    folders = []
    h, w = size
    for i in range(count):
        coarse = rng.integers(0, 256, size=(h // 4 + 1, (w + shift) // 4 + 1, 3)).astype(np.uint8)
        big = np.asarray(Image.fromarray(coarse).resize(((w + shift) // 4 * 4 + 4, h // 4 * 4 + 4), Image.BICUBIC))[
            :h, : w + shift
        ]
        folder = Path(root) / f"pair{i}"
        folder.mkdir(parents=True)
        Image.fromarray(np.ascontiguousarray(big[:, shift:])).save(folder / "left.png")
        Image.fromarray(np.ascontiguousarray(big[:, :w])).save(folder / "right.png")
        folders.append(str(folder))
    return folders


def tiny_config(train_dirs, out_dir, **sections) -> dict:
    """A config small enough for a 2-core CI machine: 1-block, 8-channel MSINet, 8x24 LR patches."""
    base = {
        "name": "t",
        "model": {"name": "msinet_tiny_x4", "options": {"num_blocks": 1, "channels": 8}},
        "data": {"train": list(train_dirs), "lr_patch": [8, 24], "workers": 0},
        "optim": {"name": "lion", "lr": 1.0e-3},
        "scheduler": {"eta_min": 1.0e-6},
        "train": {"steps": 4, "batch_size": 2, "seed": 3},
        "log": {"out_dir": str(out_dir), "every": 1, "tensorboard": False, "progress": False},
        "checkpoint": {"every": 100, "keep": 3},
    }
    for section, values in sections.items():
        base.setdefault(section, {}).update(values)
    return base
