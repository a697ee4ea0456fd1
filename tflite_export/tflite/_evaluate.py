"""`tflite_export.evaluate`: what a `.tflite` file does in the LiteRT runtime.

Runs the file in `ai_edge_litert`'s interpreter, the runtime Android uses,
feeding int8 inputs quantized by the file's own scale and zero point and
reading outputs back in real numbers. Reports accuracy, agreement with the
float Keras model it came from, the largest output difference, latency per
sample at batch 1, and the file's size.
"""

import dataclasses
import os
import time

import keras
import numpy as np

from keras_kd import checks
from keras_kd.files import load_keras_model
from tflite_export.tflite import tflite_file
from tflite_export.tflite._calibration import check_finite
from tflite_export.tflite._metadata import FileMetadata
from tflite_export.tflite._metadata import read_metadata
from tflite_export.tflite._sidecar import read_output_kind


@dataclasses.dataclass
class EvaluationReport:
    """What `evaluate` measured.

    Attributes:
        path: The `.tflite` file.
        bytes: Its size in bytes.
        samples: How many samples were run.
        accuracy: Top-1 accuracy against `y` (`None` without `y`).
        agreement: Fraction of samples whose top-1 class equals the reference
            model's (`None` without `reference`).
        max_abs_diff: Largest absolute difference between the file's
            (dequantized) outputs and the reference's (`None` without it).
        latency_ms: Mean milliseconds per sample at batch 1, after warm-up.
        latency_p90_ms: 90th percentile of the same.
        num_threads: Interpreter threads (`None`: LiteRT's default).
        metadata: The file's TFLite Model Metadata (a `FileMetadata`, from
            `read_metadata`), or `None`.
        outputs: The file's outputs for `x`, dequantized (not printed).
    """

    path: str
    bytes: int
    samples: int
    accuracy: float | None = None
    agreement: float | None = None
    max_abs_diff: float | None = None
    latency_ms: float | None = None
    latency_p90_ms: float | None = None
    num_threads: int | None = None
    metadata: FileMetadata | None = None
    outputs: np.ndarray | None = dataclasses.field(default=None, repr=False)


def evaluate(
    path: str | os.PathLike,
    x: np.ndarray,
    y: np.ndarray | None = None,
    reference: keras.Model | str | os.PathLike | np.ndarray | None = None,
    batch_size: int = 256,
    num_threads: int | None = None,
    latency_samples: int = 100,
    warmup: int = 10,
) -> EvaluationReport:
    """Runs a `.tflite` file on `x` in the LiteRT interpreter and measures it.

    Args:
        path: The `.tflite` file.
        x: Inputs as float values, the way the Keras model takes them (int8
            files get them quantized by the file's own parameters); for a
            file with a uint8 image input (`image_input="uint8_rgb"`), the
            raw RGB pixels.
        y: Integer class labels, for accuracy (a one-unit head's class is
            read by the threshold of what the file outputs, as its metadata
            or its sidecar names it: logit > 0 or probability > 0.5).
        reference: The float Keras model (or the `.keras` path, or its outputs
            on `x` as an array), for agreement and output difference.
        batch_size: Samples per interpreter call for accuracy and agreement.
        num_threads: Interpreter threads (`None`: LiteRT's default).
        latency_samples: Samples timed one by one at batch 1 (0 to skip).
        warmup: Untimed calls before the latency is measured.

    Returns:
        An `EvaluationReport`.

    Example:

    >>> import os, tempfile, keras, numpy as np, tflite_export
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny.tflite")
    >>> _ = tflite_export.convert(model, path, sidecar=False, verbose=0)
    >>> x = np.random.default_rng(0).normal(size=(50, 4)).astype("float32")
    >>> report = tflite_export.evaluate(path, x, reference=model, latency_samples=5)
    >>> report.samples, report.agreement, report.max_abs_diff < 1e-5
    (50, 1.0, True)
    """
    if not os.path.isfile(path):
        raise ValueError(f"No such .tflite file: {path}")
    _check_count(batch_size, "batch_size", 1)
    _check_count(latency_samples, "latency_samples", 0)
    _check_count(warmup, "warmup", 0)
    x = np.asarray(x)
    if x.ndim == 0 or len(x) == 0:
        raise ValueError(
            f"x holds no samples (shape {x.shape}). Pass at least one input, "
            "shaped (n,) + the model's input shape."
        )
    check_finite(x, "x")
    runner = _Runner(path, num_threads)
    if (
        reference is not None
        and runner.takes_raw_integers()
        and not isinstance(reference, np.ndarray)
    ):
        raise ValueError(
            "The file takes raw uint8 pixels and converts them itself "
            "(image_input='uint8_rgb'), but a Keras model takes the converted "
            "inputs: pass reference=model.predict(x_model) (its outputs on the "
            "same images as the model takes them) instead of the model."
        )
    outputs = runner.run(x, batch_size)
    report = EvaluationReport(
        path=os.path.abspath(path),
        bytes=os.path.getsize(path),
        samples=len(x),
        num_threads=num_threads,
        metadata=read_metadata(path),
        outputs=outputs,
    )
    if y is not None:
        report.accuracy = top1_accuracy(outputs, y, _score_kind(path, report.metadata))
    if reference is not None:
        expected = reference_outputs(reference, x)
        if expected.shape != outputs.shape:
            raise ValueError(
                f"The reference outputs have shape {expected.shape} but the file's "
                f"outputs have shape {outputs.shape}. Pass the float model the "
                "file was converted from, or its outputs on x (model.predict(x))."
            )
        report.agreement = float(np.mean(_top1(outputs) == _top1(expected)))
        report.max_abs_diff = float(np.max(np.abs(outputs - expected)))
    if latency_samples:
        times = runner.latencies(x, latency_samples, warmup)
        report.latency_ms = float(np.mean(times))
        report.latency_p90_ms = float(np.percentile(times, 90))
    return report


def top1_accuracy(outputs: np.ndarray, y: np.ndarray, output_kind: str = "auto") -> float:
    """Fraction of rows whose arg-max (or threshold for one unit) equals `y`.

    A one-unit head's class is `probability > 0.5` or `logit > 0`. With
    `output_kind="auto"` outputs all in `[0, 1]` are read as probabilities:
    logits that happen to lie there (a barely trained head) are misread, so
    pass the head's kind when it is known.

    Args:
        outputs: The model's outputs, `(n, classes)`, or `(n, 1)` or `(n,)`
            for a one-unit head.
        y: Integer class labels, `(n,)` or `(n, 1)`.
        output_kind: `"logits"`, `"probabilities"` or `"auto"`.

    Returns:
        The accuracy, a float in `[0, 1]`.

    Example:

    >>> import numpy as np
    >>> logits = np.array([[0.2], [0.9]])
    >>> top1_accuracy(logits, [1, 1], output_kind="logits")
    1.0
    >>> top1_accuracy(logits, [1, 1])  # read as probabilities
    0.5
    """
    checks.validate_output_kind(output_kind, "output_kind")
    outputs = np.asarray(outputs)
    if outputs.ndim == 1:  # One score per sample: a one-unit head, squeezed.
        outputs = outputs[:, None]
    if outputs.ndim != 2 or len(outputs) == 0:
        raise ValueError(
            "top1_accuracy reads one row of class scores per sample, shape "
            f"(samples, classes) with at least one sample. Received: outputs of "
            f"shape {outputs.shape}. Per-position outputs: reshape them and their "
            "labels to (samples * positions, classes) and (samples * positions,)."
        )
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or len(y) != len(outputs):
        raise ValueError(
            f"y has {len(y)} labels but x has {len(outputs)} samples: y must hold "
            f"one integer class label per sample, shape ({len(outputs)},). "
            f"Received: shape {y.shape}. One-hot labels: pass y.argmax(-1)."
        )
    classes = max(2, np.shape(outputs)[-1])
    if y.dtype.kind not in "iub" and not (
        y.dtype.kind == "f" and np.isfinite(y).all() and (y == np.round(y)).all()
    ):
        raise ValueError(
            f"y must hold integer class labels. Received: dtype {y.dtype}, e.g. {y[:3].tolist()}."
        )
    if len(y) and (y.min() < 0 or y.max() >= classes):
        raise ValueError(
            f"y holds labels from {y.min()} to {y.max()}, but the model has "
            f"{classes} classes (labels 0 to {classes - 1}). Check that the "
            "labels belong to this model."
        )
    return float(np.mean(_top1(outputs, output_kind) == y))


def _check_count(value, name, least):
    """Raises unless `value` is an integer of at least `least` (not a bool)."""
    integer = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    if not integer or value < least:
        raise ValueError(f"{name} must be an integer of at least {least}. Received: {value!r}")


def _score_kind(path, metadata):
    """What the file outputs, as its metadata or its keras-kd sidecar names
    it (a one-unit head's threshold), else `"auto"`."""
    if metadata is not None and metadata.score_kind in checks.OUTPUT_KINDS:
        return metadata.score_kind
    return read_output_kind(path) or "auto"


def _top1(outputs, output_kind="auto"):
    outputs = np.asarray(outputs)
    if outputs.shape[-1] == 1:  # one sigmoid unit: logit > 0 or probability > 0.5
        if output_kind == "auto":
            probabilities = outputs.min() >= 0 and outputs.max() <= 1
        else:
            probabilities = output_kind == checks.PROBABILITIES
        threshold = 0.5 if probabilities else 0.0
        return (outputs[..., 0] > threshold).astype(int)
    return np.argmax(outputs, axis=-1)


def reference_outputs(
    reference: keras.Model | str | os.PathLike | np.ndarray, x: np.ndarray
) -> np.ndarray:
    """The reference's float32 outputs on `x`, computed once.

    Args:
        reference: A Keras model, the path of a `.keras` file, or outputs
            already computed (a NumPy array, returned as float32).
        x: The inputs.

    Returns:
        A float32 array with one row per sample of `x`.
    """
    if isinstance(reference, np.ndarray):
        expected = reference
    else:
        if isinstance(reference, (str, os.PathLike)):
            reference = load_keras_model(reference)
        expected = reference.predict(x, batch_size=256, verbose=0)
    expected = np.asarray(expected, dtype="float32")
    if len(expected) != len(x):
        raise ValueError(f"The reference outputs have {len(expected)} rows but x has {len(x)}.")
    return expected


class _Runner:
    """One interpreter, its single input and output, (de)quantized I/O."""

    def __init__(self, path, num_threads):
        self.litert = tflite_file.interpreter(path, num_threads)
        inputs = self.litert.get_input_details()
        if len(inputs) != 1:
            raise ValueError(f"evaluate runs files with one input; {path} has {len(inputs)}.")
        self.input = inputs[0]
        self.output_index = self.litert.get_output_details()[0]["index"]
        self.batch = None

    def takes_raw_integers(self):
        """Whether the input is an integer tensor without quantization (pixels)."""
        integer = np.issubdtype(self.input["dtype"], np.integer)
        return integer and self.input["quantization"][0] == 0.0

    def _resize(self, batch):
        if batch != self.batch:
            shape = [batch] + list(self.input["shape"][1:])
            self.litert.resize_tensor_input(self.input["index"], shape, strict=False)
            self.litert.allocate_tensors()
            self.output = self.litert.get_output_details()[0]
            self.batch = batch

    def _quantize(self, x):
        dtype = self.input["dtype"]
        expected = tuple(int(d) for d in self.input["shape"][1:])
        if tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"x has samples of shape {tuple(x.shape[1:])}, but the file expects {expected}."
            )
        if np.issubdtype(dtype, np.floating):
            return x.astype(dtype)
        scale, zero_point = self.input["quantization"]
        info = np.iinfo(dtype)
        if scale == 0.0:  # raw integers, e.g. the pixels of a uint8 image input
            if not np.array_equal(x, np.round(x)) or x.min() < info.min or x.max() > info.max:
                raise ValueError(
                    f"The file takes {np.dtype(dtype).name} values as they are (e.g. "
                    f"pixels 0-255), but x holds values outside {info.min}..{info.max} "
                    "or fractions. Pass the raw images, not normalized ones."
                )
            return x.astype(dtype)
        q = np.round(x.astype("float32") / scale) + zero_point
        return np.clip(q, info.min, info.max).astype(dtype)

    def _dequantize(self, values):
        scale, zero_point = self.output["quantization"]
        if scale == 0.0:
            return values.astype("float32")
        return (values.astype("float32") - zero_point) * scale

    def _invoke(self, batch):
        self._resize(len(batch))
        self.litert.set_tensor(self.input["index"], self._quantize(batch))
        self.litert.invoke()
        return self.litert.get_tensor(self.output_index)

    def run(self, x, batch_size):
        chunks = [
            self._dequantize(self._invoke(x[i : i + batch_size]))
            for i in range(0, len(x), batch_size)
        ]
        return np.concatenate(chunks)

    def latencies(self, x, count, warmup):
        """Milliseconds per call at batch 1, over `count` samples of `x`."""
        for i in range(warmup):
            self._invoke(x[i % len(x)][None])
        times = []
        for i in range(count):
            sample = x[i % len(x)][None]
            start = time.perf_counter()
            self._invoke(sample)
            times.append((time.perf_counter() - start) * 1000.0)
        return np.array(times)
