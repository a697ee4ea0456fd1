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
        metrics: The metrics when `labelled`: a list (or one metric, by
            name, as an object or a function; `None` for none). For a
            one-unit head, `"accuracy"`, `"acc"` and `"binary_accuracy"`
            become `keras.metrics.BinaryAccuracy` at the head's threshold (0
            for a logit, 0.5 for a sigmoid); `"precision"` and `"recall"`
            read that threshold, and `"auc"` reads a logit as a logit.

    Returns:
        `distiller`, compiled.

    Raises:
        ValueError: for a multi-label student (a sigmoid over several
            units), which reads multi-hot labels, not class labels; for
            metrics given as a dict; for a categorical accuracy by name on a
            one-unit head (it arg-maxes one unit).

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
    metrics = _metric_list(metrics)
    if outputs_lib.one_score_per_sample(distiller.student):
        hard = keras.losses.BinaryCrossentropy(from_logits=from_logits)
        # Keras' "accuracy" thresholds a score at 0.5 (a logit is read at 0)
        # and, on outputs squeezed to (samples,), arg-maxes over the batch.
        # "binary_accuracy" reads 0.5 whatever the head; the categorical
        # accuracies arg-max one unit (always class 0).
        threshold = 0.0 if from_logits else 0.5
        metrics = [_binary_metric(metric, threshold, distiller.student) for metric in metrics]
    else:
        hard = keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)
    distiller.compile(optimizer, loss=hard, metrics=metrics)
    return distiller


# Accuracies that arg-max the outputs over their classes, by name.
_CATEGORICAL_ACCURACIES = (
    "sparse_categorical_accuracy",
    "categorical_accuracy",
    "SparseCategoricalAccuracy",
    "CategoricalAccuracy",
)


def _binary_metric(metric, threshold, student):
    """`metric` for a one-unit head: an accuracy given by name becomes
    `BinaryAccuracy` at the head's `threshold` (precision and recall too,
    and an AUC reads logits as logits); a categorical accuracy by name,
    which arg-maxes one unit, is refused."""
    if not isinstance(metric, str):
        return metric
    if metric in ("accuracy", "acc", "binary_accuracy", "BinaryAccuracy"):
        # Keras' BinaryAccuracy reads 0.5 whatever the head; named as asked
        # ("acc" as "accuracy", as Keras names it).
        name = "accuracy" if metric == "acc" else metric
        return keras.metrics.BinaryAccuracy(name=name, threshold=threshold)
    if metric.lower() == "auc":  # Keras' AUC reads probabilities unless told.
        return keras.metrics.AUC(from_logits=threshold == 0.0, name=metric)
    if metric.lower() in ("precision", "recall"):  # Keras' threshold: 0.5.
        cls = keras.metrics.Precision if metric.lower() == "precision" else keras.metrics.Recall
        return cls(thresholds=threshold, name=metric)
    if metric in _CATEGORICAL_ACCURACIES:
        raise ValueError(
            f"The metric {metric!r} arg-maxes the outputs over their classes, but the "
            f"student '{student.name}' has one output unit (a binary classifier): it "
            "would read class 0 for every sample. Pass metrics=['accuracy'] (a "
            "binary accuracy at the head's threshold: 0 for a logit, 0.5 for a "
            "sigmoid)."
        )
    return metric


def _metric_list(metrics):
    """`metrics` as a list: one metric (a name, a `keras.metrics.Metric`, a
    metric function) is wrapped, not iterated (a name's letters are no
    metrics); a dict (metrics per output, for a student of one output) is
    refused."""
    if isinstance(metrics, dict):
        raise ValueError(
            "compile_classifier() reads the metrics of the student's one output as a "
            f"list, but received a dict (keys {sorted(map(str, metrics))}). Pass a "
            "list, e.g. metrics=['accuracy']."
        )
    if metrics is None:  # As Keras' compile(metrics=None): none.
        return []
    if isinstance(metrics, str) or callable(metrics):  # Metric objects included.
        return [metrics]
    return list(metrics)
