"""Optional dependencies: the core install (torch, numpy, safetensors, pillow, pyyaml, platformdirs, tqdm) upscales,
loads, converts and lists weights; the rest comes with a named extra (`pip install 'msinet[train]'`).

`require(module)` imports an optional module or raises ModuleNotFoundError whose one-line message names the
extra to install; the command line prints that line (cli/main.py).
"""

from __future__ import annotations

import importlib

# import name -> (distribution on PyPI, the extra that installs it, what needs it)
OPTIONAL = {
    "cv2": ("opencv-python-headless", "png16", "16-bit PNG reading"),
    "lion_pytorch": ("lion-pytorch", "train", "training with the Lion optimizer"),
    "tensorboard": ("tensorboard", "train", "TensorBoard logs"),
    "matplotlib": ("matplotlib", "train", "training curves"),
    "onnx": ("onnx", "export", "ONNX export"),
    "onnxscript": ("onnxscript", "export", "ONNX export"),
    "onnxruntime": ("onnxruntime", "export", "ONNX verification"),
    "av": ("av", "video", "video files"),
}


class MissingExtra(ModuleNotFoundError):
    """An optional dependency is missing; the message names the extra that installs it."""


def missing_extra_message(module: str, purpose: str | None = None, extra: str | None = None) -> str | None:
    """The one-line advice for a missing optional module, or None when it is not one of msinet's extras.
    `extra` names the extra to suggest instead of the module's own (a command's extra holds all it needs)."""
    top = module.split(".")[0]
    if top not in OPTIONAL:
        return None
    dist, own_extra, what = OPTIONAL[top]
    return f"{purpose or what} needs {dist}, which is not installed: pip install 'msinet[{extra or own_extra}]'"


def require(module: str, purpose: str | None = None):
    """The imported module; MissingExtra (a ModuleNotFoundError) naming the extra when it is missing."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        message = missing_extra_message(module, purpose)
        if message is None or (exc.name or "").split(".")[0] != module.split(".")[0]:
            raise
        raise MissingExtra(message, name=exc.name) from None
