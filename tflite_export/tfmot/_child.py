"""The TensorFlow side of QAT and pruning, run by the `_worker` entry point.

Runs with `TF_USE_LEGACY_KERAS=1` and `KERAS_BACKEND=tensorflow`: loads the
Keras 3 student, clones it into tf-keras, runs the job's recipe (`qat` or
`prune`), writes the `.tflite` through `tflite_export.convert` and returns
the measurements for the parent.
"""

import gzip
import os
import tempfile

import keras
import numpy as np

from keras_kd import outputs as outputs_lib
from tflite_export import modes as modes_lib
from tflite_export.tflite import convert
from tflite_export.tflite import evaluate
from tflite_export.tflite import image_pixels
from tflite_export.tfmot import _bridge


def float_accuracy(model, x, y, student_kind):
    """Accuracy of a tf-keras model on `(x, y)`, or `None` without labels."""
    if y is None:
        return None
    logits = outputs_lib.as_logits(model.predict(x, batch_size=256, verbose=0), student_kind)
    return float(np.mean(np.argmax(keras.ops.convert_to_numpy(logits), axis=-1) == y))


def export(model, path, quantization, representative, output_kind, file_options=None):
    """Converts a tf-keras model to `path` with the job's `file_options`
    (labels, metadata, ...); returns `(bytes, gzip bytes)`."""
    convert(
        model,
        path,
        quantization=quantization,
        representative_data=representative,
        output_kind=output_kind,
        verbose=0,
        **(file_options or {}),
    )
    with open(path, "rb") as f:
        content = f.read()
    return len(content), len(gzip.compress(content))


def tflite_accuracy(path, x, y, file_options=None):
    """Accuracy of a `.tflite` file in the LiteRT interpreter; a file that
    takes uint8 RGB images (`image_input`) is given `x` as pixels."""
    if y is None:
        return None
    options = file_options or {}
    if options.get("image_input"):
        x = image_pixels(x, options["normalization"])
    return evaluate(path, x, y, latency_samples=0).accuracy


class Run:
    """One QAT or pruning job's data and measurements, in the child."""

    def __init__(self, job):
        self.job = job
        self.training = job.training
        self.verbose = job.verbose
        arrays = job.read_arrays()
        self.x = arrays["x"]
        self.packed = arrays["packed"]
        self.x_eval = arrays["x_eval"]
        self.y_eval = arrays.get("y_eval")
        self.representative = self.x[:200]
        self.file_options = job.file_options

    def baseline(self, model, quantization):
        """Float and post-training accuracies of the student before tuning."""
        kind = self.training.student_kind
        outcome = {
            "quantization": quantization,
            "float_accuracy": float_accuracy(model, self.x_eval, self.y_eval, kind),
        }
        if quantization != modes_lib.FLOAT32:
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "post_training.tflite")
                export(model, path, quantization, self.representative, kind, self.file_options)
                outcome["ptq_accuracy"] = tflite_accuracy(
                    path, self.x_eval, self.y_eval, self.file_options
                )
        return outcome

    def finish(self, model, quantization):
        """Writes the final `.tflite` and measures it."""
        path = self.job.output
        size, gzip_size = export(
            model,
            path,
            quantization,
            self.representative,
            self.training.student_kind,
            self.file_options,
        )
        return {
            "path": path,
            "bytes": size,
            "gzip_bytes": gzip_size,
            "accuracy": tflite_accuracy(path, self.x_eval, self.y_eval, self.file_options),
        }

    def save_weights(self, weights):
        """Stores `{layer: [arrays]}` for the parent (the pruned student)."""
        flat = {
            f"{name}/{i}": array
            for name, arrays in weights.items()
            for i, array in enumerate(arrays)
        }
        np.savez(self.job.weights_path, **flat)


def run_tfmot_job(job):
    """Runs a `"qat"` or `"prune"` `Job`; returns the `TFMOTResult` fields."""
    import tf_keras

    from tflite_export.tfmot import _pruning
    from tflite_export.tfmot import _qat

    recipe = {"qat": _qat.run_in_tensorflow, "prune": _pruning.run_in_tensorflow}[job.task]
    tf_keras.utils.set_random_seed(job.training.seed)  # the same job gives the same file
    student = keras.saving.load_model(job.model, compile=False)
    return recipe(_bridge.to_tf_keras(student), Run(job))
