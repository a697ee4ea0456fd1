"""Pruning-aware distillation of a Keras 3 student, through TFMOT.

`prune_distill` clones the student into tf-keras, wraps it with TFMOT's
`prune_low_magnitude` under a polynomial-decay schedule that raises the
share of zeroed weights from 0 to `target_sparsity`, fine-tunes it under the
soft-target loss plus the hard loss (the teacher guides the recovery),
strips the wrappers and converts the result. The zeros do not shrink the
`.tflite` file itself but make it compress well (`gzip_bytes`), which is
what an app download pays for.
"""

import math
import os
from collections.abc import Mapping
from collections.abc import Sequence

import keras
import numpy as np

from tflite_export import modes as modes_lib
from tflite_export.tfmot import _bridge
from tflite_export.tfmot import _distill
from tflite_export.tfmot import _train

# The sparsity reaches its target after this share of the steps; the rest
# lets the student recover at the final sparsity.
_RAMP_SHARE = 0.7


def prune_distill(
    student: keras.Model,
    teacher: keras.Model | np.ndarray | None,
    x: np.ndarray,
    y: np.ndarray | None = None,
    output_path: str | os.PathLike = "student_pruned.tflite",
    target_sparsity: float = 0.8,
    quantization: str | None = None,
    epochs: int = 2,
    temperature: float = 4.0,
    alpha: float = 0.1,
    learning_rate: float = 1e-3,
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
    """Prunes `student` to `target_sparsity` with `teacher` watching.

    Runs in a TensorFlow subprocess (TFMOT needs tf-keras), so it works from
    a Keras 3 process on any backend; the teacher's targets are computed
    here, on that backend.

    Args:
        student, teacher, x: As in `quantization_aware_distill`.
        y: Optional integer labels.
        output_path: Where the `.tflite` is written.
        target_sparsity: Share of the Dense and convolution kernel weights
            to zero, strictly between 0 and 1.
        quantization: Conversion mode of the pruned model, a mode of
            `tflite_export.MODES` (`None`: float32).
        epochs: Fine-tuning epochs; the sparsity ramps up over the first
            70% of the steps.
        learning_rate: Adam learning rate.
        temperature, alpha, batch_size, validation_data, teacher_outputs,
            seed, verbose: As in `quantization_aware_distill` (the same
            fine-tuning, checked in one place).
        labels, normalization, image_input, probabilities, metadata: The
            file's options, as in `quantization_aware_distill`.

    Returns:
        A `TFMOTResult`; `sparsity` is measured on the stripped weights and
        `student` is the pruned student as a Keras 3 model.

    Example:

    Illustrative (trains in a TensorFlow child process; see
    `benchmarks/tfmot.py` for a full run):

    >>> result = tflite_export.prune_distill(  # doctest: +SKIP
    ...     student, teacher, x_train, y_train, "student_pruned.tflite",
    ...     target_sparsity=0.8, epochs=2)
    >>> round(result.sparsity, 2)  # doctest: +SKIP
    0.8
    """
    if not isinstance(target_sparsity, (int, float)) or not 0.0 < target_sparsity < 1.0:
        raise ValueError(
            "`target_sparsity` is the share of weights set to zero and must "
            "lie strictly between 0 and 1 (e.g. 0.8 keeps one weight in "
            f"five). Received: target_sparsity={target_sparsity!r}"
        )
    modes_lib.get(quantization)
    fine_tuning = _distill.FineTuning.of(locals())
    file_options = _distill.file_options(locals())
    return _distill.run(
        "prune",
        student,
        teacher,
        x,
        y,
        output_path,
        quantization,
        fine_tuning,
        file_options,
        target_sparsity=float(target_sparsity),
    )


def pruning_schedule(target_sparsity, num_samples, batch_size, epochs):
    """A `PolynomialDecay` from 0 to `target_sparsity` over the ramp.

    The end step is a multiple of the pruning frequency, so the last
    update lands exactly on the target.
    """
    import tensorflow_model_optimization as tfmot

    total_steps = epochs * math.ceil(num_samples / batch_size)
    ramp = max(1, int(total_steps * _RAMP_SHARE))
    frequency = max(1, min(100, ramp // 10))
    return tfmot.sparsity.keras.PolynomialDecay(
        initial_sparsity=0.0,
        final_sparsity=target_sparsity,
        begin_step=0,
        end_step=(ramp // frequency) * frequency,
        frequency=frequency,
    )


def wrap_for_pruning(model, schedule):
    """Wraps each layer TFMOT can prune; leaves the others as they are.

    TFMOT's whole-model `prune_low_magnitude` refuses weightless layers it
    does not list (e.g. tf-keras' `Rescaling`); layer by layer, they are
    simply left alone.
    """
    import tensorflow_model_optimization as tfmot
    import tf_keras
    from tensorflow_model_optimization.python.core.sparsity.keras import prune_registry

    def wrap(layer):
        if isinstance(layer, tf_keras.Model):
            return tf_keras.models.clone_model(layer, clone_function=wrap)
        if prune_registry.PruneRegistry.supports(layer) and layer.weights:
            return tfmot.sparsity.keras.prune_low_magnitude(layer, pruning_schedule=schedule)
        return layer

    return tf_keras.models.clone_model(model, clone_function=wrap)


def measured_sparsity(wrapped):
    """Share of zeros in the weights the pruning wrappers prune."""
    zeros = total = 0
    for layer in wrapped.submodules:
        for weight, _, _ in getattr(layer, "pruning_vars", ()):
            values = weight.numpy()
            zeros += int(np.sum(values == 0))
            total += values.size
    return zeros / total if total else 0.0


def run_in_tensorflow(clone, run):
    """The pruning recipe, in the TensorFlow worker.

    Args:
        clone: The student as a tf-keras model.
        run: The child's `Run`: the data, the settings and the measurements.

    Returns:
        The fields of a `TFMOTResult`, as a dict.
    """
    import tensorflow_model_optimization as tfmot

    training, quantization = run.training, run.job.quantization
    outcome = run.baseline(clone, quantization)
    schedule = pruning_schedule(
        training.target_sparsity, len(run.x), training.batch_size, training.epochs
    )
    wrapped = wrap_for_pruning(clone, schedule)
    outcome["history"] = _train.fine_tune(
        wrapped,
        run.x,
        run.packed,
        training,
        callbacks=[tfmot.sparsity.keras.UpdatePruningStep()],
        verbose=run.verbose,
    )
    outcome["sparsity"] = measured_sparsity(wrapped)
    stripped = tfmot.sparsity.keras.strip_pruning(wrapped)
    run.save_weights(_bridge.layer_weights(stripped))
    outcome.update(run.finish(stripped, quantization))
    return outcome
