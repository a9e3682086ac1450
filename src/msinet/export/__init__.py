"""Exporting stereo SR models: ONNX (dynamic height and width) and torch.export programs (.pt2)."""

from .onnx import OnnxExport, export_onnx, run_onnx, verify_onnx
from .program import export_program, minimum_size

__all__ = ["OnnxExport", "export_onnx", "export_program", "minimum_size", "run_onnx", "verify_onnx"]
