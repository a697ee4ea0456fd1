"""The user's side of QAT and pruning: teacher targets here, TFMOT elsewhere.

The user's process may run Keras 3 on JAX or PyTorch, and TFMOT needs
tf-keras. So the teacher's soft targets are computed here, on the user's
backend, and turned into logits; the student is saved as `.keras`; and a
TensorFlow child process (`python -m tflite_export.tfmot_worker`, with
`TF_USE_LEGACY_KERAS=1`) clones it into tf-keras, fine-tunes it under
distillation and writes the `.tflite`. Its progress bar is streamed to this
process's stdout; its stderr is kept and shown in full if it fails.
"""

import dataclasses
import json
import os
import tempfile

import keras
import numpy as np

from keras_kd import outputs as outputs_lib
from keras_kd.losses.soft_target import validate_temperature
from keras_kd.validation import check_alpha
from tflite_export import tfmot_bridge
from tflite_export.tf_subprocess import run_tensorflow_worker

NO_LABEL = -1.0


@dataclasses.dataclass
class TFMOTResult:
    """What a quantization-aware or pruning-aware distillation produced.

    Attributes:
        path: The `.tflite` file written.
        quantization: Its conversion mode (`None` for float32).
        float_accuracy: The student before fine-tuning, float32, in tf-keras.
        ptq_accuracy: The student before fine-tuning after post-training
            quantization in the same mode, in LiteRT (`None` without
            quantization).
        accuracy: The final `.tflite` file in LiteRT.
        sparsity: Share of zeros in the prunable weights (Dense and
            convolution kernels) of the exported model.
        bytes: Size of the `.tflite` file.
        gzip_bytes: Its size gzip-compressed (what pruning shrinks).
        history: Per-epoch fine-tuning metrics.
        student: For pruning, the pruned student as a Keras 3 model;
            `None` for QAT.
        evaluated_on: `"validation_data"`, `"training data"` or `None`
            (no labels, no accuracies).
    """

    path: str
    quantization: str = None
    float_accuracy: float = None
    ptq_accuracy: float = None
    accuracy: float = None
    sparsity: float = 0.0
    bytes: int = 0
    gzip_bytes: int = 0
    history: dict = dataclasses.field(default_factory=dict)
    student: object = dataclasses.field(default=None, repr=False)
    evaluated_on: str = None


def teacher_logits(teacher, x, student, teacher_outputs="auto", batch_size=256):
    """The teacher's outputs on `x` as logits (NumPy), checked against the student.

    Args:
        teacher: A Keras model (any backend) or an array of its outputs on `x`.
        x: The inputs.
        student: The student, whose output shape the teacher must share.
        teacher_outputs: `"auto"`, `"logits"` or `"probabilities"`.
        batch_size: Batch size of the teacher's forward passes.

    Returns:
        Float32 array `(len(x), max(classes, 2))`.
    """
    outputs_lib.validate_output_kind(teacher_outputs, "teacher_outputs")
    if isinstance(teacher, keras.Model):
        values = teacher.predict(x, batch_size=batch_size, verbose=0)
        model = teacher
    elif isinstance(teacher, np.ndarray) or hasattr(teacher, "__array__"):
        values, model = np.asarray(teacher, dtype="float32"), None
    else:
        raise ValueError(
            "`teacher` must be a Keras model or a NumPy array of the "
            "teacher's outputs on `x`. Received: an object of type "
            f"{type(teacher).__name__}."
        )
    _check_teacher_shape(values, x, student)
    kind = teacher_outputs
    if kind == "auto":
        kind = outputs_lib.detect_output_kind(model, sample_outputs=values)
    return keras.ops.convert_to_numpy(outputs_lib.as_logits(values, kind))


def pack_targets(teacher_logits, y=None):
    """`[teacher logits | label]` rows: the `y` given to tf-keras `fit`.

    Args:
        teacher_logits: Float array `(n, classes)`.
        y: Optional integer labels `(n,)`; missing labels are stored as -1.

    Returns:
        Float32 array `(n, classes + 1)`.
    """
    teacher_logits = np.asarray(teacher_logits, dtype="float32")
    labels = np.full((len(teacher_logits), 1), NO_LABEL, dtype="float32")
    if y is not None:
        labels[:, 0] = np.asarray(y).reshape(-1)
    return np.concatenate([teacher_logits, labels], axis=-1)


def _check_teacher_shape(values, x, student):
    student_shape = tuple(student.output_shape[1:])
    if values.shape[1:] != student_shape or len(values) != len(x):
        raise ValueError(
            "The teacher's outputs must match the student's, one row per "
            f"sample of `x`: expected shape ({len(x)},) + {student_shape} "
            f"(student '{student.name}'), received {values.shape}. Give the "
            "student the teacher's number of classes, and pass the "
            "teacher's outputs on exactly `x`."
        )


def common_settings(epochs, batch_size, temperature, alpha, learning_rate, seed=0):
    """Checks and gathers the fine-tuning settings shared by QAT and pruning."""
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"`epochs` must be an integer >= 1. Received: {epochs!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(
            f"`batch_size` must be an integer >= 1. Received: {batch_size!r}"
        )
    if not isinstance(learning_rate, (int, float)) or learning_rate <= 0:
        raise ValueError(
            f"`learning_rate` must be a number > 0. Received: {learning_rate!r}"
        )
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"`seed` must be an integer >= 0. Received: {seed!r}")
    return {
        "seed": seed,
        "epochs": epochs,
        "batch_size": batch_size,
        "temperature": validate_temperature(temperature),
        "alpha": check_alpha(alpha),
        "learning_rate": float(learning_rate),
    }


def run(mode, student, teacher, x, y, validation_data, output_path, settings,
        teacher_outputs="auto", verbose=1):
    """Computes the teacher targets here and runs `mode` in TensorFlow.

    Args:
        mode: `"qat"` or `"prune"` (the recipe the worker runs).
        student, teacher, x, y, validation_data, output_path: As in
            `quantization_aware_distill` / `prune_distill`.
        settings: Dict of the recipe's settings (`common_settings` plus its
            own), passed to the worker as JSON.
        teacher_outputs: `"auto"`, `"logits"` or `"probabilities"`.
        verbose: 0 silent, 1 progress bar, 2 one line per epoch.

    Returns:
        A `TFMOTResult`.
    """
    tfmot_bridge.check_bridgeable(student)
    x = np.asarray(x, dtype="float32")
    settings = dict(settings, student_kind=outputs_lib.detect_output_kind(student))
    if teacher is None:
        packed, settings["alpha"] = _labels_only(x, y, student), 1.0
    else:
        logits = teacher_logits(teacher, x, student, teacher_outputs)
        packed = pack_targets(logits, y)
    x_eval, y_eval, evaluated_on = _evaluation_data(x, y, validation_data)
    with tempfile.TemporaryDirectory(prefix="keras_kd_tfmot_") as tmp:
        job = {
            "mode": mode,
            "student": os.path.join(tmp, "student.keras"),
            "data": os.path.join(tmp, "data.npz"),
            "result": os.path.join(tmp, "result.json"),
            "weights": os.path.join(tmp, "weights.npz"),
            "output_path": os.path.abspath(os.fspath(output_path)),
            "verbose": verbose,
            "settings": settings,
        }
        student.save(job["student"])
        arrays = {"x": x, "packed": packed, "x_eval": x_eval}
        if y_eval is not None:
            arrays["y_eval"] = np.asarray(y_eval).reshape(-1)
        np.savez(job["data"], **arrays)
        with open(os.path.join(tmp, "job.json"), "w") as f:
            json.dump(job, f)
        _run_worker(os.path.join(tmp, "job.json"), tmp)
        with open(job["result"]) as f:
            outcome = json.load(f)
        if "error" in outcome:
            raise ValueError(outcome["error"])
        pruned = _student_from_weights(student, job["weights"])
    outcome.pop("weights", None)
    return TFMOTResult(**outcome, student=pruned, evaluated_on=evaluated_on)


def _labels_only(x, y, student):
    """Targets for fine-tuning without a teacher: the labels alone."""
    if y is None:
        raise ValueError(
            "Without a teacher (teacher=None) the student can only be "
            "fine-tuned on labels, but y is None. Pass the labels, or a "
            "teacher model or its outputs."
        )
    classes = max(int(student.output_shape[-1]), 2)
    return pack_targets(np.zeros((len(x), classes), "float32"), y)


def _evaluation_data(x, y, validation_data):
    if validation_data is not None:
        x_val, y_val = validation_data
        return np.asarray(x_val, "float32"), np.asarray(y_val), "validation_data"
    if y is None:
        return x, None, None
    return x, np.asarray(y), "training data"


def _student_from_weights(student, path):
    if not os.path.exists(path):
        return None
    with np.load(path) as stored:
        weights = {}
        for key in stored.files:
            name, index = key.rsplit("/", 1)
            weights.setdefault(name, {})[int(index)] = stored[key]
    fresh = keras.models.clone_model(student)
    tfmot_bridge.set_layer_weights(
        fresh, {k: [v[i] for i in sorted(v)] for k, v in weights.items()}
    )
    return fresh


def _run_worker(job_path, tmp):
    run_tensorflow_worker(
        "tflite_export.tfmot_worker", job_path, tmp, "runs TFMOT", legacy_keras=True
    )
