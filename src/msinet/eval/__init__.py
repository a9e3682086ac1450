"""Benchmark evaluation: run a model over stereo test sets and score it under the literature's protocols."""

from .ensemble import ENSEMBLES, ensemble_forward
from .runner import ImageResult, SetResult, evaluate_set

__all__ = ["ENSEMBLES", "ensemble_forward", "evaluate_set", "ImageResult", "SetResult"]
