"""Training checkpoints: a folder per step, written under a temporary name and renamed when complete.

    <run>/checkpoints/step_00001000/
        model.safetensors   the trained weights (+ model config: loadable by msinet.load_model)
        ema.safetensors     the EMA weights, when EMA is on
        state.pt            optimizer, scheduler, grad scaler, EMA counters, RNG states, step, best metric

A crash while saving leaves only a `.tmp` folder, which is ignored and cleaned up later: the previous
checkpoint is never touched until the new one is complete. `--resume auto` takes the highest complete step.
"""

from __future__ import annotations

import os
import random
import re
import shutil
from pathlib import Path

import torch

from ..models.weights import save_weights

STEP_DIR = re.compile(r"^step_(\d{8})$")
REQUIRED = ("model.safetensors", "state.pt")


def checkpoint_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "checkpoints"


def rng_state() -> dict:
    state = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(run_dir: Path, step: int, model, state: dict, ema_model=None, keep: int = 3) -> Path:
    """Write checkpoint `step` atomically (temporary folder, then rename); keep the `keep` newest."""
    root = checkpoint_dir(run_dir)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step_{step:08d}"
    tmp = root / f"step_{step:08d}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    meta = {"step": step}
    save_weights(model, tmp / "model.safetensors", extra_metadata=meta)
    if ema_model is not None:
        save_weights(ema_model, tmp / "ema.safetensors", extra_metadata=meta)
    torch.save(state, tmp / "state.pt")
    _fsync_dir(tmp)
    if final.exists():  # re-saving the same step (e.g. a resumed run stopped again at once)
        old = root / f"step_{step:08d}.old"
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old)
    else:
        os.replace(tmp, final)
    _fsync_dir(root)
    for stale in complete_checkpoints(run_dir)[:-keep]:
        shutil.rmtree(stale)
    return final


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def complete_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoint folders of a run, oldest first (half-written `.tmp` folders are skipped)."""
    root = checkpoint_dir(run_dir)
    if not root.is_dir():
        return []
    found = [
        p for p in root.iterdir() if p.is_dir() and STEP_DIR.match(p.name) and all((p / f).is_file() for f in REQUIRED)
    ]
    return sorted(found, key=lambda p: int(STEP_DIR.match(p.name).group(1)))


def resolve_resume(resume: str | None, run_dir: Path) -> Path | None:
    """'auto' -> the latest complete checkpoint of the run (None if there is none); a path -> that checkpoint."""
    if resume is None:
        return None
    if resume == "auto":
        found = complete_checkpoints(run_dir)
        return found[-1] if found else None
    path = Path(resume)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint to resume from not found: {path}")
    if path.is_file():
        path = path.parent
    missing = [f for f in REQUIRED if not (path / f).is_file()]
    if missing:
        raise ValueError(f"{path} is not a complete training checkpoint (missing {', '.join(missing)})")
    return path


def load_state(path: Path) -> dict:
    try:
        return torch.load(Path(path) / "state.pt", map_location="cpu", weights_only=True)
    except Exception as exc:  # a damaged or foreign file
        raise ValueError(f"{path}/state.pt: not a readable training state ({exc})") from None
