"""Distillation fine-tuning of a tf-keras model, with keras_kd's own loss.

TFMOT's wrapped models train with tf-keras' own `fit`. Its loss is built
from `keras_kd.losses.soft_target_kd` and `keras_kd.outputs`, written in
`keras.ops`: in the TensorFlow child Keras 3 runs on the TensorFlow backend,
so the same functions act on tf-keras' tensors, with the same accurate
numerics as `keras_kd.Distiller`. With labels, the loss is
`alpha * cross_entropy(y, s) + (1 - alpha) * T^2 * KL(teacher || student)`.
Teacher logits and labels travel to `fit` packed into one `y` array
(`[logits | label]`, label -1 when missing), so any tf-keras model and
callback work unchanged.
"""

import numpy as np
from keras import ops

from keras_kd import outputs as outputs_lib
from keras_kd.losses import soft_target_kd


def distillation_loss(temperature, alpha, student_kind="logits"):
    """A tf-keras loss `fn(packed_y, student_outputs)`, per sample.

    Samples whose label is -1 (unlabeled) get the soft-target loss only,
    with weight 1; labeled ones `alpha * hard + (1 - alpha) * soft`.

    Args:
        temperature: Softening temperature `T > 0`.
        alpha: Weight in [0, 1] of the hard-label cross-entropy.
        student_kind: `"logits"` or `"probabilities"`: the student's head.

    Returns:
        The loss function.

    Example:

    >>> import numpy as np
    >>> logits = np.array([[2.0, 0.0, -1.0]], "float32")
    >>> packed = np.array([[2.0, 0.0, -1.0, -1.0]], "float32")  # no label
    >>> loss = distillation_loss(temperature=4.0, alpha=0.1)(packed, logits)
    >>> float(ops.convert_to_numpy(loss)[0])  # the student matches the teacher
    0.0
    """

    def loss(packed, student_outputs):
        teacher_logits, labels = packed[:, :-1], packed[:, -1]
        student_logits = outputs_lib.as_logits(student_outputs, student_kind)
        soft = soft_target_kd(teacher_logits, student_logits, temperature)
        labeled = labels >= 0
        hard = ops.sparse_categorical_crossentropy(
            ops.cast(ops.where(labeled, labels, 0.0), "int32"),
            student_logits,
            from_logits=True,
        )
        mixed = alpha * hard + (1.0 - alpha) * soft
        return ops.where(labeled, mixed, soft)

    loss.__name__ = "distillation_loss"
    return loss


def label_accuracy(student_kind="logits"):
    """A tf-keras metric: accuracy on the labeled samples of a packed batch."""

    def accuracy(packed, student_outputs):
        labels = packed[:, -1]
        logits = outputs_lib.as_logits(student_outputs, student_kind)
        predicted = ops.cast(ops.argmax(logits, axis=-1), "float32")
        labeled = ops.cast(labels >= 0, "float32")
        hits = ops.cast(ops.equal(predicted, labels), "float32") * labeled
        return ops.sum(hits) / ops.maximum(ops.sum(labeled), 1.0)

    return accuracy


def fine_tune(model, x, packed, training, callbacks=(), verbose=1):
    """Compiles `model` with the distillation loss and fits it.

    Args:
        model: A tf-keras model (possibly TFMOT-wrapped).
        x: Inputs, NumPy.
        packed: `pack_targets(teacher_logits, y)`.
        training: The job's `Training` settings.
        callbacks: Extra tf-keras callbacks (e.g. TFMOT's pruning step).
        verbose: Keras progress display (0, 1 or 2).

    Returns:
        `{"loss": [...], ...}`, the per-epoch history.
    """
    import tf_keras

    has_labels = bool(np.any(packed[:, -1] >= 0))
    model.compile(
        optimizer=tf_keras.optimizers.Adam(training.learning_rate),
        loss=distillation_loss(training.temperature, training.alpha, training.student_kind),
        metrics=[label_accuracy(training.student_kind)] if has_labels else [],
    )
    history = model.fit(
        x,
        packed,
        epochs=training.epochs,
        batch_size=training.batch_size,
        callbacks=list(callbacks),
        shuffle=True,
        verbose=verbose,
    )
    return {k: [float(v) for v in values] for k, values in history.history.items()}
