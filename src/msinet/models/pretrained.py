"""Weights shipped inside the package (src/msinet/weights), checked against their sha256."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
INDEX = WEIGHTS_DIR / "index.json"


def _index() -> dict:
    if not INDEX.is_file():
        return {"default": None, "models": {}}
    return json.loads(INDEX.read_text())


def default_model_name() -> str:
    """The model `msinet.load_model()` returns: the shipped trained model, else bicubic."""
    return _index().get("default") or "bicubic_x4"


def pretrained_path(name: str) -> Path | None:
    entry = _index()["models"].get(name)
    if entry is None:
        return None
    path = WEIGHTS_DIR / entry["file"]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != entry["sha256"]:
        raise ValueError(f"{path}: sha256 {digest} does not match the registry ({entry['sha256']}); reinstall msinet")
    return path
