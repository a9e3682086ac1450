"""msinet: stereo image super-resolution (MSINet and its peers)."""
from .models.loading import load_model, load_weights
from .models.weights import save_weights
from .registry import create_model, list_models

__version__ = "0.1.0"

__all__ = ["create_model", "list_models", "load_model", "load_weights", "save_weights", "__version__"]


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
