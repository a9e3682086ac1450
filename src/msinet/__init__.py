"""msinet: stereo image super-resolution (MSINet and its peers)."""
from .models.base import StereoSRModel
from .models.loading import load_model, load_weights
from .models.weights import save_weights
from .registry import create_model, list_models

__version__ = "0.1.0"

__all__ = ["create_model", "list_models", "load_model", "load_weights", "save_weights", "upscale", "__version__"]


def upscale(model, left, right, **options):
    """Super-resolve one stereo pair given as numpy arrays, PIL images or tensors; returns the same kind
    (msinet.infer.upscale.upscale_pair: tiling, precision, devices). Also `model.upscale(left, right)`."""
    from .infer.upscale import upscale_pair  # lazy: keeps `import msinet` light

    return upscale_pair(model, left, right, **options)


# the package root composes the layers: models offer `.upscale` without importing the inference layer
StereoSRModel.upscale = upscale


def __getattr__(name):  # lazy: keep `import msinet` light
    if name == "imresize":
        from .data.imresize import imresize

        return imresize
    if name == "degrade":
        from .data.degradation import degrade

        return degrade
    if name in ("metrics", "io"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'msinet' has no attribute {name!r}")
