"""Compiling a classification Distiller with the hard loss its student's head needs."""

from collections.abc import Sequence

import keras

from keras_kd import outputs as outputs_lib
from keras_kd.checks import LOGITS


def compile_classifier(
    distiller,
    optimizer: "str | keras.optimizers.Optimizer" = "adam",
    *,
    labelled: bool = True,
    metrics: Sequence = ("accuracy",),
):
    """Compiles `distiller` for integer class labels, reading the student's head.

    The hard loss is sparse categorical cross-entropy with `from_logits` set
    from the head keras-kd detects (`distiller.student_kind`): a logits head
    and a softmax head each get the loss that fits them. A one-unit head (a
    binary classifier, sigmoid or logit) gets binary cross-entropy on its
    0/1 labels instead (sparse cross-entropy over one class is 0 whatever
    the label: nothing was learned from them). The one place the command
    line, `keras_kd.apps.tuning` and `keras_kd.apps.recipes` compile a
    classification Distiller.

    Args:
        distiller: A `keras_kd.Distiller`.
        optimizer: A Keras optimizer or its name.
        labelled: `False` when the data has no labels: distillation only, no
            hard loss and no metrics.
        metrics: The metrics when `labelled`.

    Returns:
        `distiller`, compiled.

    Raises:
        ValueError: for a multi-label student (a sigmoid over several
            units), which reads multi-hot labels, not class labels.

    Example:

    >>> distiller = keras_kd.Distiller(teacher, student, distillation_loss="kd")
    >>> compile_classifier(distiller, keras.optimizers.Adam(1e-3)) is distiller
    True
    """
    if not labelled:
        distiller.compile(optimizer, loss=None)
        return distiller
    units = outputs_lib.multi_label_units(distiller.student)
    if units is not None:
        raise ValueError(
            f"The student '{distiller.student.name}' ends in a sigmoid over "
            f"{units} units (a multi-label head), which reads one 0/1 label per "
            "unit, not integer class labels: sparse cross-entropy would train "
            "its sigmoids as one distribution. Compile the Distiller yourself "
            "for multi-hot labels of shape (samples, "
            f"{units}): distiller.compile(optimizer, "
            "loss=keras.losses.BinaryCrossentropy(), metrics=['binary_accuracy']); "
            "or give the student a softmax head for single-label classes."
        )
    from_logits = distiller.student_kind == LOGITS
    metrics = list(metrics)
    if outputs_lib.one_score_per_sample(distiller.student):
        hard = keras.losses.BinaryCrossentropy(from_logits=from_logits)
        # Keras' "accuracy" thresholds a score at 0.5 (a logit is read at 0)
        # and, on outputs squeezed to (samples,), arg-maxes over the batch.
        threshold = 0.0 if from_logits else 0.5
        metrics = [
            keras.metrics.BinaryAccuracy(name="accuracy", threshold=threshold)
            if metric in ("accuracy", "acc")
            else metric
            for metric in metrics
        ]
    else:
        hard = keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)
    distiller.compile(optimizer, loss=hard, metrics=metrics)
    return distiller
