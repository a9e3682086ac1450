"""Checkpoints written by other codes (the authors' MSINet and NAFSSR .pth files)."""
from __future__ import annotations

from pathlib import Path

from .weights import WeightsError


def load_foreign(path: Path, **overrides):
    raise WeightsError(f"{path}: loading foreign .pth checkpoints is not supported yet")
