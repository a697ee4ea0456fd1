"""Quantization-aware distillation of a Keras 3 student, through TFMOT.

Post-training int8 quantization loses accuracy on small students. Training
with the quantization simulated (TFMOT's fake-quant wrappers) lets the
weights adapt, and the teacher's soft targets are the richest signal to
adapt to. `quantization_aware_distill` clones the student into tf-keras,
wraps it with `tfmot.quantization.keras`, fine-tunes it under
`T^2 * KL(teacher || student)` plus the hard loss, and converts it to an
int8 `.tflite`; the int8 post-training file of the same student is measured
alongside, so the gain is on record.
"""

import os
from collections.abc import Mapping
from collections.abc import Sequence

import keras
import numpy as np

from tflite_export.tfmot import _distill
from tflite_export.tfmot import _train


def quantization_aware_distill(
    student: keras.Model,
    teacher: keras.Model | np.ndarray | None,
    x: np.ndarray,
    y: np.ndarray | None = None,
    output_path: str | os.PathLike = "student_qat_int8.tflite",
    epochs: int = 2,
    temperature: float = 4.0,
    alpha: float = 0.1,
    learning_rate: float = 1e-4,
    batch_size: int = 64,
    validation_data: tuple[np.ndarray, np.ndarray] | None = None,
    teacher_outputs: str = "auto",
    seed: int = 0,
    verbose: int = 1,
    labels: "Sequence[str] | Mapping[int, str] | str | os.PathLike | None" = None,
    normalization: "Mapping[str, float | Sequence[float]] | tuple[float, float] | None" = None,
    image_input: str | None = None,
    probabilities: bool = False,
    metadata: "bool | Mapping[str, str] | None" = None,
) -> _distill.TFMOTResult:
    """Quantization-aware training of `student` with `teacher` watching.

    Runs in a TensorFlow subprocess (TFMOT needs tf-keras), so it works
    from a Keras 3 process on any backend; the teacher's targets are
    computed here, on that backend.

    Args:
        student: A trained Keras 3 Sequential or Functional model.
        teacher: A Keras model (any backend), an array of the teacher's
            outputs on `x` (logits or probabilities), or `None` to fine-tune
            on the labels alone (the baseline without distillation).
        x: Fine-tuning inputs, NumPy.
        y: Optional integer labels; without them only the soft targets
            teach (`alpha` is then ignored).
        output_path: Where the int8 `.tflite` is written.
        epochs: Fine-tuning epochs.
        temperature: Softening temperature of the soft-target loss.
        alpha: Weight in [0, 1] of the hard-label loss.
        learning_rate: Adam learning rate (small: the student is trained).
        batch_size: Fine-tuning batch size.
        validation_data: Optional `(x_val, y_val)` the accuracies are
            measured on; else `(x, y)`.
        teacher_outputs: `"auto"`, `"logits"` or `"probabilities"`.
        seed: Random seed of the fine-tuning (shuffling, initial
            quantizer state); the same seed and data give the same file.
        verbose: 0 silent, 1 progress bar, 2 one line per epoch.
        labels, normalization, image_input, probabilities, metadata: The
            file's options, as in `tflite_export.convert` (e.g.
            `labels=names, normalization=(0, 255), image_input="uint8_rgb",
            probabilities=True` for a file MediaPipe Tasks'
            `ImageClassifier` loads). Checked before the fine-tuning starts;
            with `image_input`, the accuracies of the files are measured on
            the inputs turned back into pixels (`tflite_export.image_pixels`).

    Returns:
        A `TFMOTResult` with `path`, `float_accuracy`, `ptq_accuracy` (int8
        post-training), `accuracy` (the QAT file), `bytes`, `gzip_bytes`.

    Example:

    Illustrative (trains in a TensorFlow child process; see
    `benchmarks/tfmot.py` for a full run):

    >>> result = tflite_export.quantization_aware_distill(  # doctest: +SKIP
    ...     student, teacher, x_train, y_train, "student_qat.tflite",
    ...     epochs=2, validation_data=(x_test, y_test))
    >>> result.accuracy >= result.ptq_accuracy  # doctest: +SKIP
    True
    """
    fine_tuning = _distill.FineTuning.of(locals())
    file_options = _distill.file_options(locals())
    return _distill.run(
        "qat", student, teacher, x, y, output_path, "int8", fine_tuning, file_options
    )


def quantize_for_training(model):
    """Wraps every layer TFMOT's default 8-bit scheme supports.

    Layers it does not support (e.g. `Rescaling`) stay float during
    training; the int8 converter still quantizes them, calibrated on the
    representative data.

    Args:
        model: A tf-keras model.

    Returns:
        `(quantized model, names of the layers left unwrapped)`.
    """
    import tensorflow_model_optimization as tfmot
    import tf_keras
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (  # noqa: E501
        default_8bit_quantize_registry,
    )

    registry = default_8bit_quantize_registry.Default8BitQuantizeRegistry()
    skipped = []

    def annotate(layer):
        if registry.supports(layer):
            return tfmot.quantization.keras.quantize_annotate_layer(layer)
        if not isinstance(layer, tf_keras.layers.InputLayer):
            skipped.append(layer.name)
        return layer

    annotated = tf_keras.models.clone_model(model, clone_function=annotate)
    with tfmot.quantization.keras.quantize_scope():
        quantized = tfmot.quantization.keras.quantize_apply(annotated)
    return quantized, skipped


def run_in_tensorflow(clone, run):
    """The QAT recipe, in the TensorFlow worker: PTQ baseline, QAT, export.

    Args:
        clone: The student as a tf-keras model.
        run: The child's `Run`: the data, the settings and the measurements.

    Returns:
        The fields of a `TFMOTResult`, as a dict.
    """
    outcome = run.baseline(clone, "int8")
    quantized, skipped = quantize_for_training(clone)
    if skipped and run.verbose:
        print(f"Left in float during QAT (quantized after): {', '.join(skipped)}")
    outcome["history"] = _train.fine_tune(
        quantized, run.x, run.packed, run.training, verbose=run.verbose
    )
    outcome.update(run.finish(quantized, "int8"))
    return outcome
