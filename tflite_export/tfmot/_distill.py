"""The user's side of QAT and pruning: teacher targets here, TFMOT elsewhere.

The user's process may run Keras 3 on JAX or PyTorch, and TFMOT needs
tf-keras. So the teacher's soft targets are computed here, on the user's
backend, and turned into logits; the student is saved as `.keras`; and a
TensorFlow child process (`tflite_export._worker`, with
`TF_USE_LEGACY_KERAS=1`) clones it into tf-keras, fine-tunes it under
distillation and writes the `.tflite`. Its progress bar is streamed to this
process's stdout; its stderr is kept and shown in full if it fails.
"""

import dataclasses
import os
import tempfile

import keras
import numpy as np

from keras_kd import checks
from keras_kd import outputs as outputs_lib
from keras_kd.losses.soft_target import validate_temperature
from keras_kd.validation import check_alpha
from tflite_export import modes as modes_lib
from tflite_export._worker._job import Job
from tflite_export._worker._job import Training
from tflite_export._worker._runner import run_job
from tflite_export._worker._runner import terminate_as_exit
from tflite_export.tflite._calibration import check_finite
from tflite_export.tflite._convert import check_file_options
from tflite_export.tflite._convert import check_output_paths
from tflite_export.tfmot import _bridge
from tflite_export.tfmot import _targets


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
    quantization: str | None = None
    float_accuracy: float | None = None
    ptq_accuracy: float | None = None
    accuracy: float | None = None
    sparsity: float = 0.0
    bytes: int = 0
    gzip_bytes: int = 0
    history: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    student: keras.Model | None = dataclasses.field(default=None, repr=False)
    evaluated_on: str | None = None


@dataclasses.dataclass(frozen=True)
class FineTuning:
    """The fine-tuning arguments QAT and pruning share, checked in one place.

    `quantization_aware_distill` and `prune_distill` take them as keywords
    (documented there) and gather them with `FineTuning.of(locals())`.

    Attributes:
        epochs: Fine-tuning epochs, an int >= 1.
        temperature: Softening temperature of the soft-target loss.
        alpha: Weight in [0, 1] of the hard-label loss.
        learning_rate: Adam learning rate, > 0.
        batch_size: Fine-tuning batch size, an int >= 1.
        validation_data: Optional `(x_val, y_val)` the accuracies are
            measured on; else `(x, y)`.
        teacher_outputs: `"auto"`, `"logits"` or `"probabilities"`.
        seed: Random seed of the fine-tuning, an int >= 0.
        verbose: 0 silent, 1 progress bar, 2 one line per epoch.
    """

    epochs: int
    temperature: float
    alpha: float
    learning_rate: float
    batch_size: int
    validation_data: tuple | None = None
    teacher_outputs: str = "auto"
    seed: int = 0
    verbose: int = 1

    @classmethod
    def of(cls, arguments):
        """The `FineTuning` among a public function's `arguments` (its `locals()`)."""
        return cls(**{field.name: arguments[field.name] for field in dataclasses.fields(cls)})

    def __post_init__(self):
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be an integer >= 1. Received: {value!r}")
        if not isinstance(self.learning_rate, (int, float)) or self.learning_rate <= 0:
            raise ValueError(
                f"`learning_rate` must be a number > 0. Received: {self.learning_rate!r}"
            )
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"`seed` must be an integer >= 0. Received: {self.seed!r}")
        object.__setattr__(self, "temperature", validate_temperature(self.temperature))
        object.__setattr__(self, "alpha", check_alpha(self.alpha))
        object.__setattr__(self, "learning_rate", float(self.learning_rate))

    def training(self, student, **recipe):
        """The worker's `Training` settings for `student`, with the recipe's own."""
        return Training(
            seed=self.seed,
            epochs=self.epochs,
            batch_size=self.batch_size,
            temperature=self.temperature,
            alpha=self.alpha,
            learning_rate=self.learning_rate,
            student_kind=outputs_lib.detect_output_kind(student),
            **recipe,
        )


FILE_OPTIONS = ("labels", "normalization", "image_input", "probabilities", "metadata")


def file_options(arguments):
    """The file options among a public function's `arguments` (its `locals()`)."""
    return {name: arguments[name] for name in FILE_OPTIONS}


def run(
    task, student, teacher, x, y, output_path, quantization, fine_tuning, file_options, **recipe
):
    """Computes the teacher targets here and runs `task` in TensorFlow.

    Args:
        task: `"qat"` or `"prune"` (the recipe the child runs).
        student, teacher, x, y, output_path: As in
            `quantization_aware_distill` / `prune_distill`.
        quantization: The mode of the `.tflite` written (`None`: float32).
        fine_tuning: The `FineTuning` settings.
        file_options: The `.tflite` file's options (`file_options`), checked
            here against the student before any work.
        **recipe: The recipe's own `Training` fields (`target_sparsity`).

    Returns:
        A `TFMOTResult`.

    Raises:
        ExportError: The work failed in the TensorFlow child process.
    """
    mode = modes_lib.get(quantization).name
    # As `convert` checks them (the child converts with a sidecar): neither
    # the output nor its sidecar may be the label file, nor end in .json.
    labels = file_options["labels"]
    label_file = labels if isinstance(labels, (str, os.PathLike)) else None
    output_path = check_output_paths(output_path, [label_file], sidecar=True)
    _bridge.check_bridgeable(student)
    x = np.asarray(x, dtype="float32")
    if len(x) == 0:
        raise ValueError("x is empty: fine-tuning needs at least one sample.")
    check_finite(x, "x")
    _check_output_rank(student)
    _check_labels(student, x, y, fine_tuning.validation_data)
    training = fine_tuning.training(student, **recipe)
    inputs = {"x": x}
    if fine_tuning.validation_data is not None:
        inputs["validation_data"] = fine_tuning.validation_data[0]
    options = check_file_options(
        student, mode, output_kind=training.student_kind, **file_options, x=inputs
    )
    if teacher is None:
        packed = _targets.labels_only(x, y, student)
        training = dataclasses.replace(training, alpha=1.0)
    else:
        logits = _targets.teacher_logits(teacher, x, student, fine_tuning.teacher_outputs)
        packed = _targets.pack_targets(logits, y)
    x_eval, y_eval, evaluated_on = _evaluation_data(x, y, fine_tuning.validation_data)
    arrays = {"x": x, "packed": packed, "x_eval": x_eval}
    if y_eval is not None:
        arrays["y_eval"] = np.asarray(y_eval).reshape(-1)
    with terminate_as_exit(), tempfile.TemporaryDirectory(prefix="keras_kd_tfmot_") as folder:
        job = Job(
            task,
            folder,
            os.path.join(folder, "student.keras"),
            output_path,
            mode,
            verbose=fine_tuning.verbose,
            training=training,
            file_options=_json_ready(options),
        )
        student.save(job.model)
        outcome = run_job(job, "runs TFMOT", arrays)
        pruned = _student_from_weights(student, job.weights_path)
    outcome["quantization"] = modes_lib.public_name(outcome["quantization"])
    return TFMOTResult(**outcome, student=pruned, evaluated_on=evaluated_on)


def _check_output_rank(student):
    """Refuses outputs without a units axis: the engine packs the teacher's
    outputs `(samples, units)` with the labels, and reads a one-unit head's
    column as two-class logits."""
    shape = student.output_shape
    if isinstance(shape, tuple) and len(shape) < 2:
        raise ValueError(
            "The TFMOT engine reads the student's outputs as (samples, units), but "
            f"'{student.name}' outputs shape {shape} (one score per sample, its unit "
            "axis squeezed). Remove the final Reshape or squeeze, so that a one-unit "
            "head outputs (samples, 1); or use the native engine (keras_kd.compression)."
        )


def _check_labels(student, x, y, validation_data):
    """Labels the student's head cannot read, refused before the child
    starts: one integer class per sample (the child packs them as floats
    and reads them as classes: 0.5 would become class 0, NaN no label), in
    range, 0 and 1 for a one-unit head (read as two-class logits `[0, z]`)."""
    units = student.output_shape[-1]
    sets = {} if y is None else {"y": (y, len(x))}
    if validation_data is not None:
        sets["validation_data's labels"] = (validation_data[1], len(validation_data[0]))
    for what, (labels, samples) in sets.items():
        checks.check_class_labels(labels, units, samples, what)


def _json_ready(options):
    """`check_file_options`' dict as the job's JSON carries it (NumPy numbers
    of a normalization as floats, a NumPy bool as a bool)."""
    normalization = options["normalization"]
    if normalization is not None:
        normalization = {
            key: np.asarray(value, "float64").tolist() for key, value in normalization.items()
        }
    # A NumPy bool (e.g. `probabilities=flags.any()`) is no JSON value.
    return {
        **options,
        "normalization": normalization,
        "probabilities": bool(options["probabilities"]),
    }


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
    _bridge.set_layer_weights(fresh, {k: [v[i] for i in sorted(v)] for k, v in weights.items()})
    return fresh
