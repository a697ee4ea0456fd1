"""tflite_export: the road from a distilled Keras student to a quantized
TFLite (LiteRT) file on Android.

- `modes`: the one table of quantization modes (`MODES`).
- `tflite`: post-training conversion (`convert`), measurement in LiteRT
  (`evaluate`), what a file holds (`tflite_file`), report tables and figures.
- `tfmot`: quantization-aware and pruning-aware distillation through TFMOT.

Importing it does not import TensorFlow: conversion from a JAX or PyTorch
process runs in a TensorFlow child process, and every failure on the
TensorFlow side is raised as `ExportError`. keras_kd never imports it.
"""

from tflite_export import modes
from tflite_export import tflite
from tflite_export._atomic import atomic_write
from tflite_export._atomic import check_destination
from tflite_export._errors import ExportError
from tflite_export.modes import MODES
from tflite_export.tflite import ConversionResult
from tflite_export.tflite import EvaluationReport
from tflite_export.tflite import SizeBreakdown
from tflite_export.tflite import TensorInfo
from tflite_export.tflite import comparison_figure
from tflite_export.tflite import comparison_html
from tflite_export.tflite import comparison_markdown
from tflite_export.tflite import comparison_png
from tflite_export.tflite import comparison_table
from tflite_export.tflite import convert
from tflite_export.tflite import evaluate
from tflite_export.tflite import evaluation_rows
from tflite_export.tflite import file_labels
from tflite_export.tflite import load_model_file
from tflite_export.tflite import markdown_table
from tflite_export.tflite import milliseconds
from tflite_export.tflite import percent
from tflite_export.tflite import reference_outputs
from tflite_export.tflite import require_matplotlib
from tflite_export.tflite import sidecar_path
from tflite_export.tflite import size_breakdown
from tflite_export.tflite import tflite_file
from tflite_export.tflite import top1_accuracy
from tflite_export.tflite import two_columns
from tflite_export.tfmot import TFMOTResult
from tflite_export.tfmot import prune_distill
from tflite_export.tfmot import quantization_aware_distill

__all__ = [
    "ConversionResult",
    "EvaluationReport",
    "ExportError",
    "MODES",
    "SizeBreakdown",
    "TFMOTResult",
    "TensorInfo",
    "atomic_write",
    "check_destination",
    "comparison_figure",
    "comparison_html",
    "comparison_markdown",
    "comparison_png",
    "comparison_table",
    "convert",
    "evaluate",
    "evaluation_rows",
    "file_labels",
    "load_model_file",
    "markdown_table",
    "milliseconds",
    "modes",
    "percent",
    "prune_distill",
    "quantization_aware_distill",
    "reference_outputs",
    "require_matplotlib",
    "sidecar_path",
    "size_breakdown",
    "tflite",
    "tflite_file",
    "top1_accuracy",
    "two_columns",
]
