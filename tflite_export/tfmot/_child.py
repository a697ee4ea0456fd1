"""The TensorFlow side of QAT and pruning: `python -m tflite_export.tfmot_worker JOB`.

Started by `tfmot_runner.run` with `TF_USE_LEGACY_KERAS=1` and
`KERAS_BACKEND=tensorflow`. Loads the Keras 3 student, clones it into
tf-keras, runs the recipe (`qat` or `prune`), writes the `.tflite` through
`tflite_export.convert` and a JSON result. A `ValueError` (bad input) is
reported in the result for the parent to re-raise; anything else fails the
process, whose stderr the parent shows.
"""

import gzip
import json
import os
import sys
import tempfile

os.environ["TF_USE_LEGACY_KERAS"] = "1"  # before TensorFlow is imported

import numpy as np  # noqa: E402


def float_accuracy(model, x, y, student_kind):
    """Accuracy of a tf-keras model on `(x, y)`, or `None` without labels."""
    if y is None:
        return None
    from tflite_export.tfmot_train import as_logits

    logits = as_logits(model.predict(x, batch_size=256, verbose=0), student_kind)
    return float(np.mean(np.argmax(logits.numpy(), axis=-1) == y))


def export(model, path, quantization, representative, output_kind):
    """Converts a tf-keras model to `path`; returns `(bytes, gzip bytes)`."""
    from tflite_export.convert import convert

    convert(
        model,
        path,
        quantization=quantization,
        representative_data=representative,
        output_kind=output_kind,
        verbose=0,
    )
    with open(path, "rb") as f:
        content = f.read()
    return len(content), len(gzip.compress(content))


def tflite_accuracy(path, x, y):
    """Accuracy of a `.tflite` file in the LiteRT interpreter."""
    if y is None:
        return None
    from tflite_export.evaluate import evaluate

    return evaluate(path, x, y, latency_samples=0).accuracy


class Job:
    """One run's inputs, as the parent wrote them."""

    def __init__(self, spec):
        self.spec = spec
        self.settings = spec["settings"]
        self.output_path = spec["output_path"]
        self.verbose = spec["verbose"]
        with np.load(spec["data"]) as data:
            self.x = data["x"]
            self.packed = data["packed"]
            self.x_eval = data["x_eval"]
            self.y_eval = data["y_eval"] if "y_eval" in data.files else None
        self.representative = self.x[:200]
        self.output_kind = self.settings["student_kind"]

    def baseline(self, model, quantization):
        """Float and post-training accuracies of the student before tuning."""
        outcome = {
            "quantization": quantization,
            "float_accuracy": float_accuracy(
                model, self.x_eval, self.y_eval, self.settings["student_kind"]
            ),
        }
        if quantization is not None:
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "post_training.tflite")
                export(model, path, quantization, self.representative, self.output_kind)
                outcome["ptq_accuracy"] = tflite_accuracy(path, self.x_eval, self.y_eval)
        return outcome

    def finish(self, model, quantization):
        """Writes the final `.tflite` and measures it."""
        size, gzip_size = export(
            model, self.output_path, quantization, self.representative, self.output_kind
        )
        return {
            "path": self.output_path,
            "bytes": size,
            "gzip_bytes": gzip_size,
            "accuracy": tflite_accuracy(self.output_path, self.x_eval, self.y_eval),
        }

    def save_weights(self, weights):
        """Stores `{layer: [arrays]}` for the parent (the pruned student)."""
        flat = {
            f"{name}/{i}": array
            for name, arrays in weights.items()
            for i, array in enumerate(arrays)
        }
        np.savez(self.spec["weights"], **flat)


def main(job_path):
    with open(job_path) as f:
        spec = json.load(f)
    import keras

    from tflite_export import pruning
    from tflite_export import qat
    from tflite_export import tfmot_bridge
    from tflite_export.tf_subprocess import write_outcome

    recipe = {"qat": qat.run_in_tensorflow, "prune": pruning.run_in_tensorflow}
    import tf_keras

    # The same job gives the same file.
    tf_keras.utils.set_random_seed(spec["settings"]["seed"])

    def work():
        student = keras.saving.load_model(spec["student"], compile=False)
        clone = tfmot_bridge.to_tf_keras(student)
        return recipe[spec["mode"]](clone, Job(spec))

    write_outcome(spec["result"], work)


if __name__ == "__main__":
    main(sys.argv[1])
