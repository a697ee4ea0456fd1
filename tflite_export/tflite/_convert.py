"""`tflite_export.convert`: a Keras model, on any backend, to a `.tflite` file.

The model is traced into a `serving_default` signature with named tensors and
converted with post-training quantization. Where the calling process runs
Keras on JAX or PyTorch, the model is saved to a temporary `.keras` file and
converted in a TensorFlow child process. Calibration samples are drawn here,
on the caller's backend, so every data form works the same everywhere.
"""

import dataclasses
import json
import os
import tempfile

import keras
import numpy as np

from keras_kd import outputs as outputs_lib
from tflite_export import calibration as calibration_lib
from tflite_export import sidecar as sidecar_lib
from tflite_export import tflite_file
from tflite_export.atomic import atomic_write
from tflite_export.atomic import check_destination
from tflite_export.tf_subprocess import run_tensorflow_worker

MODES = (None, "dynamic", "float16", "int8", "int8_io", "int16x8")


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
    """

    path: str
    bytes: int
    mode: str
    inputs: list
    outputs: list
    ops: frozenset
    output_kind: str = "unknown"
    calibration_samples: int = 0
    sidecar_path: str = None

    @property
    def input_dtype(self):
        return self.inputs[0].dtype

    @property
    def output_dtype(self):
        return self.outputs[0].dtype

    def __str__(self):
        def tensor(t):
            quant = "" if t.scale is None else f" (scale {t.scale:.6g}, zero point {t.zero_point})"
            return f"{t.name} {list(t.shape)} {t.dtype}{quant}"

        return "\n".join([
            f"{self.path}: {self.bytes:,} bytes, {self.mode or 'float32'}",
            "  inputs:  " + "; ".join(tensor(t) for t in self.inputs),
            "  outputs: " + "; ".join(tensor(t) for t in self.outputs),
            "  ops:     " + ", ".join(sorted(self.ops)),
        ])


def convert(
    model,
    path,
    quantization=None,
    representative_data=None,
    num_calibration_samples=calibration_lib.DEFAULT_NUM_CALIBRATION_SAMPLES,
    allow_select_tf_ops=False,
    sidecar=True,
    labels=None,
    normalization=None,
    output_kind="auto",
    verbose=1,
):
    """Converts a Keras model to a TFLite (LiteRT) file, optionally quantized.

    Args:
        model: A built Keras model (Sequential or Functional; any backend), or
            the path of a `.keras` file.
        path: Where to write the `.tflite`. Its folder must exist. The write
            is atomic: a failure leaves no partial file and keeps an existing
            one untouched.
        quantization: `None` (float32), `"dynamic"` (int8 weights, float
            activations), `"float16"` (float16 weights), `"int8"` (int8
            weights and activations, float input and output), `"int8_io"`
            (int8 input and output too) or `"int16x8"` (int16 activations,
            int8 weights).
        representative_data: Typical inputs for calibration, required by
            `"int8"`, `"int8_io"` and `"int16x8"`: a NumPy array, a list of
            arrays for several inputs, a `tf.data.Dataset`, a
            `keras.utils.PyDataset` or an iterable of samples or batches.
        num_calibration_samples: At most this many samples are drawn (the
            first ones), and fed to the converter one at a time.
        allow_select_tf_ops: Keep TensorFlow ops that have no built-in TFLite
            kernel (the app then needs the Flex delegate). Off by default.
        sidecar: Whether to write the JSON sidecar (`student.json` beside
            `student.tflite`) for the Android app.
        labels: Class names for the sidecar, one per output class.
        normalization: `{"mean": m, "std": s}`: the model is fed
            `(raw - mean) / std`; recorded in the sidecar.
        output_kind: `"auto"` (detect a softmax or sigmoid head), `"logits"`
            or `"probabilities"`; names the output tensor and goes in the
            sidecar.
        verbose: 0 silent, 1 shows a calibration progress bar.

    Returns:
        A `ConversionResult`.

    Example:

    >>> result = tflite_export.convert(student, "student_int8.tflite",
    ...     quantization="int8", representative_data=x_train[:500])
    >>> result.bytes, result.input_dtype
    (32496, 'float32')
    """
    mode = check_mode(quantization)
    path = check_destination(path)
    model, model_file = _load(model)
    shapes = calibration_lib.input_shapes(model)
    kind = _output_kind(model, output_kind)
    normalization = sidecar_lib.check_normalization(normalization)
    labels = sidecar_lib.check_labels(labels, _num_classes(model))
    samples = _calibration(mode, representative_data, shapes, num_calibration_samples)
    settings = {
        "mode": mode,
        "allow_select_tf_ops": bool(allow_select_tf_ops),
        "output_name": kind if kind in outputs_lib.OUTPUT_KINDS else "output",
        "verbose": bool(verbose),
    }
    if _converts_here(model):
        from tflite_export.tflite_converter import to_tflite_bytes

        content = to_tflite_bytes(model, calibration=samples, **settings)
    else:
        content = _convert_in_child(model, model_file, samples, settings)
    atomic_write(path, content)
    result = describe(path, mode, kind, 0 if samples is None else len(samples[0]))
    if sidecar:
        result.sidecar_path = sidecar_lib.write_sidecar(result, kind, normalization, labels)
    return result


def check_mode(quantization):
    """Returns the mode; raises naming the valid ones."""
    if quantization in ("float32", "none"):
        return None
    if quantization not in MODES:
        raise ValueError(
            "quantization must be one of None (float32), 'dynamic', 'float16', "
            f"'int8', 'int8_io' or 'int16x8'. Received: quantization={quantization!r}"
        )
    return quantization


def describe(path, mode, output_kind="unknown", calibration_samples=0):
    """A `ConversionResult` for an existing `.tflite` file, read with LiteRT."""
    litert = tflite_file.interpreter(path)
    inputs, outputs = tflite_file.signature_tensors(litert)
    return ConversionResult(
        path=os.path.abspath(path),
        bytes=os.path.getsize(path),
        mode=mode,
        inputs=inputs,
        outputs=outputs,
        ops=frozenset(tflite_file.op_names(litert)),
        output_kind=output_kind,
        calibration_samples=calibration_samples,
    )


def load_model_file(path):
    """Loads a `.keras` file, or raises an error that says what is wrong."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"No such model file: {path}. Pass a Keras model or the path of a .keras file.")
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as error:
        raise ValueError(
            f"{path} is not a Keras model file that can be loaded "
            f"({type(error).__name__}: {error}). Pass a file written by "
            "model.save('model.keras'), or the model object itself."
        ) from None
    if not isinstance(model, keras.Model):
        raise ValueError(f"{path} holds a {type(model).__name__}, not a Keras model.")
    return model


def _load(model):
    if isinstance(model, (str, os.PathLike)):
        return load_model_file(model), os.fspath(model)
    if _is_tf_keras(model) or isinstance(model, keras.Model):
        return model, None
    raise ValueError(
        "model must be a Keras model or the path of a .keras file. "
        f"Received: {type(model).__name__}"
    )


def _is_tf_keras(model):
    """A tf-keras (Keras 2) model, as the TFMOT worker converts."""
    return type(model).__module__.startswith("tf_keras")


def _converts_here(model):
    """TensorFlow-backend and tf-keras models convert in this process."""
    return _is_tf_keras(model) or keras.backend.backend() == "tensorflow"


def _output_kind(model, output_kind):
    if output_kind != "auto":
        return outputs_lib.validate_output_kind(output_kind, "output_kind")
    if _is_tf_keras(model):
        return "unknown"
    return outputs_lib.detect_output_kind(model)


def _num_classes(model):
    shape = model.outputs[0].shape if getattr(model, "outputs", None) else None
    return None if not shape or shape[-1] is None else int(shape[-1])


def _calibration(mode, representative_data, shapes, limit):
    if mode not in calibration_lib.NEEDS_CALIBRATION:
        return None
    if representative_data is None:
        raise ValueError(
            f"quantization={mode!r} needs representative_data: a few hundred "
            "typical inputs to calibrate the integer ranges, e.g. "
            "representative_data=x_train[:500] (CLI: --calibration calib.npz). "
            "Without data, use quantization='dynamic' or 'float16'."
        )
    return calibration_lib.draw_samples(representative_data, shapes, limit)


def _convert_in_child(model, model_file, samples, settings):
    """Converts in a TensorFlow process; returns the `.tflite` bytes."""
    with tempfile.TemporaryDirectory(prefix="keras_kd_convert_") as tmp:
        if model_file is None:
            model_file = os.path.join(tmp, "model.keras")
            model.save(model_file)
        job = dict(
            settings,
            model=os.path.abspath(model_file),
            calibration=None,
            output=os.path.join(tmp, "model.tflite"),
            result=os.path.join(tmp, "result.json"),
        )
        if samples is not None:
            job["calibration"] = os.path.join(tmp, "calibration.npz")
            np.savez(job["calibration"], *samples)
        job_path = os.path.join(tmp, "job.json")
        with open(job_path, "w") as f:
            json.dump(job, f)
        run_tensorflow_worker(
            "tflite_export.convert_worker", job_path, tmp, "converts the model to TFLite"
        )
        with open(job["result"]) as f:
            outcome = json.load(f)
        if "error" in outcome:
            raise ValueError(outcome["error"])
        with open(job["output"], "rb") as f:
            return f.read()
