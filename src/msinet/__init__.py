"""msinet: stereo image super-resolution (MSINet and its peers).

`import msinet` is light (no torch): the model API is imported on first use, so `msinet --help` starts at once.
"""

__version__ = "0.1.0"

__all__ = [
    "StereoSRModel",
    "create_model",
    "degrade",
    "imresize",
    "list_models",
    "load_model",
    "load_weights",
    "save_weights",
    "upscale",
    "__version__",
]


def upscale(model, left, right, **options):
    """Super-resolve one stereo pair given as numpy arrays, PIL images or tensors; returns the same kind
    (msinet.infer.upscale.upscale_pair: tiling, precision, devices). Also `model.upscale(left, right)`."""
    from .infer.upscale import upscale_pair

    return upscale_pair(model, left, right, **options)


def _model_api() -> dict:
    """The torch-backed API; the package root composes the layers here (models offer `.upscale` without
    importing the inference layer)."""
    from .models.base import StereoSRModel
    from .models.loading import load_model, load_weights
    from .models.weights import save_weights
    from .registry import create_model, list_models

    StereoSRModel.upscale = upscale
    return {
        "StereoSRModel": StereoSRModel,
        "create_model": create_model,
        "list_models": list_models,
        "load_model": load_model,
        "load_weights": load_weights,
        "save_weights": save_weights,
    }


def __getattr__(name):
    if name in ("StereoSRModel", "create_model", "list_models", "load_model", "load_weights", "save_weights"):
        api = _model_api()
        globals().update(api)  # later lookups are plain attributes
        return api[name]
    if name == "imresize":
        from .data.imresize import imresize

        return imresize
    if name == "degrade":
        from .data.degradation import degrade

        return degrade
    if name in ("metrics", "io", "models", "registry"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'msinet' has no attribute {name!r}")
