"""Post-training conversion to `.tflite` and its measurement in LiteRT.

`convert` (calibration, the TensorFlow converter, the JSON sidecar),
`evaluate` (the LiteRT interpreter), `tflite_file` (what a file holds),
`read_metadata` (the TFLite Model Metadata `convert` embeds) and
the report tables and figures that compare several files.
"""

from tflite_export.tflite import tflite_file
from tflite_export.tflite._contract import image_pixels
from tflite_export.tflite._convert import check_file_options
from tflite_export.tflite._convert import convert
from tflite_export.tflite._evaluate import EvaluationReport
from tflite_export.tflite._evaluate import evaluate
from tflite_export.tflite._evaluate import reference_outputs
from tflite_export.tflite._evaluate import top1_accuracy
from tflite_export.tflite._metadata import FileMetadata
from tflite_export.tflite._metadata import InputContract
from tflite_export.tflite._metadata import read_metadata
from tflite_export.tflite._report import comparison_figure
from tflite_export.tflite._report import comparison_html
from tflite_export.tflite._report import comparison_markdown
from tflite_export.tflite._report import comparison_png
from tflite_export.tflite._report import comparison_table
from tflite_export.tflite._report import evaluation_rows
from tflite_export.tflite._report import file_labels
from tflite_export.tflite._result import ConversionResult
from tflite_export.tflite._sidecar import sidecar_path
from tflite_export.tflite.tflite_file import SizeBreakdown
from tflite_export.tflite.tflite_file import TensorInfo
from tflite_export.tflite.tflite_file import size_breakdown

__all__ = [
    "ConversionResult",
    "EvaluationReport",
    "FileMetadata",
    "InputContract",
    "SizeBreakdown",
    "TensorInfo",
    "check_file_options",
    "comparison_figure",
    "comparison_html",
    "comparison_markdown",
    "comparison_png",
    "comparison_table",
    "convert",
    "evaluate",
    "evaluation_rows",
    "file_labels",
    "image_pixels",
    "read_metadata",
    "reference_outputs",
    "sidecar_path",
    "size_breakdown",
    "tflite_file",
    "top1_accuracy",
]
