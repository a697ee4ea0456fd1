"""`ConversionResult`: what `convert` wrote, read back from the file."""

import dataclasses
import os

import numpy as np

from tflite_export.tflite import tflite_file
from tflite_export.tflite._metadata import FileMetadata


@dataclasses.dataclass
class ConversionResult:
    """What `convert` wrote.

    Attributes:
        path: Absolute path of the `.tflite` file.
        bytes: Its size in bytes.
        mode: The quantization mode (`None` for float32).
        inputs: `TensorInfo` of each input: name, shape, dtype, scale and
            zero point (`None` for float tensors).
        outputs: `TensorInfo` of each output.
        ops: The set of TFLite op names in the file.
        output_kind: `"logits"`, `"probabilities"` or `"unknown"`.
        calibration_samples: How many samples calibrated the ranges (0 for
            modes without calibration).
        sidecar_path: Path of the JSON sidecar, or `None`.
        metadata: The file's TFLite Model Metadata as `read_metadata` reads
            it (a `FileMetadata`), or `None` when none was embedded.
    """

    path: str
    bytes: int
    mode: str | None
    inputs: list[tflite_file.TensorInfo]
    outputs: list[tflite_file.TensorInfo]
    ops: frozenset[str]
    output_kind: str = "unknown"
    calibration_samples: int = 0
    sidecar_path: str | None = None
    metadata: FileMetadata | None = None

    @property
    def input_dtype(self) -> str:
        return self.inputs[0].dtype

    @property
    def output_dtype(self) -> str:
        return self.outputs[0].dtype

    def __str__(self):
        def tensor(t):
            quant = "" if t.scale is None else f" (scale {t.scale:.6g}, zero point {t.zero_point})"
            return f"{t.name} {list(t.shape)} {t.dtype}{quant}"

        return "\n".join(
            [
                f"{self.path}: {self.bytes:,} bytes, {self.mode or 'float32'}",
                "  inputs:  " + "; ".join(tensor(t) for t in self.inputs),
                "  outputs: " + "; ".join(tensor(t) for t in self.outputs),
                "  ops:     " + ", ".join(sorted(self.ops)),
            ]
            + (
                []
                if self.metadata is None
                else [f"  {label}: {value}" for label, value in self.metadata.rows()]
            )
        )


def describe(path, mode, output_kind="unknown", calibration_samples=0, path_name=None):
    """A `ConversionResult` for a `.tflite` file, read with LiteRT.

    Args:
        path: The file, or its content as bytes (then `path_name` is the
            path it is going to be written to).
        mode, output_kind, calibration_samples: Recorded as given.
        path_name: The file's path when `path` is its content.
    """
    litert = tflite_file.interpreter(path)
    inputs, outputs = tflite_file.signature_tensors(litert)
    content = isinstance(path, (bytes, bytearray))
    return ConversionResult(
        path=os.path.abspath(path_name if content else path),
        bytes=len(path) if content else os.path.getsize(path),
        mode=mode,
        inputs=inputs,
        outputs=outputs,
        ops=frozenset(tflite_file.op_names(litert)),
        output_kind=output_kind,
        calibration_samples=calibration_samples,
    )


def integer_activations(content):
    """How many quantized int8 or int16 tensors ops write in a `.tflite`.

    Zero in a file whose integer mode was silently skipped by the converter.
    """
    litert = tflite_file.interpreter(content)
    return sum(
        1
        for d in litert.get_tensor_details()
        if str(np.dtype(d["dtype"])) in ("int8", "int16") and d["quantization"][0] != 0.0
    )
