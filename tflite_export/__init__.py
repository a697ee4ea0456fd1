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
from tflite_export._errors import ExportError
from tflite_export.modes import MODES
from tflite_export.tflite import ConversionResult as ConversionResult
from tflite_export.tflite import EvaluationReport as EvaluationReport
from tflite_export.tflite import FileMetadata as FileMetadata
from tflite_export.tflite import InputContract as InputContract
from tflite_export.tflite import SizeBreakdown as SizeBreakdown
from tflite_export.tflite import TensorInfo as TensorInfo
from tflite_export.tflite import check_file_options as check_file_options
from tflite_export.tflite import comparison_figure as comparison_figure
from tflite_export.tflite import comparison_html as comparison_html
from tflite_export.tflite import comparison_markdown as comparison_markdown
from tflite_export.tflite import comparison_png as comparison_png
from tflite_export.tflite import comparison_table as comparison_table
from tflite_export.tflite import convert as convert
from tflite_export.tflite import evaluate as evaluate
from tflite_export.tflite import evaluation_rows as evaluation_rows
from tflite_export.tflite import file_labels as file_labels
from tflite_export.tflite import image_pixels as image_pixels
from tflite_export.tflite import read_metadata as read_metadata
from tflite_export.tflite import reference_outputs as reference_outputs
from tflite_export.tflite import sidecar_path as sidecar_path
from tflite_export.tflite import size_breakdown as size_breakdown
from tflite_export.tflite import tflite_file as tflite_file
from tflite_export.tflite import top1_accuracy as top1_accuracy
from tflite_export.tfmot import TFMOTResult
from tflite_export.tfmot import prune_distill
from tflite_export.tfmot import quantization_aware_distill

# Its own names and the tfmot entry points, then every name of `tflite`: that
# list is kept in one place, `tflite_export.tflite.__all__` (its names are
# imported above with `as`, the explicit re-export linters and type checkers
# read).
__all__ = [
    "ExportError",
    "MODES",
    "TFMOTResult",
    "modes",
    "prune_distill",
    "quantization_aware_distill",
    "tflite",
    *tflite.__all__,
]
