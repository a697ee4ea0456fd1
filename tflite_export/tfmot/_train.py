"""Distillation fine-tuning of a tf-keras model, in TensorFlow ops.

TFMOT's wrapped models train with tf-keras' own `fit`, so the soft-target
loss of `keras_kd.losses.SoftTargetKD` is written here again in TensorFlow:
`T^2 * KL(softmax(t / T) || softmax(s / T))`, where `t` are the teacher's
logits (computed in the user's process and carried over as NumPy) and `s`
the student's. With labels, the loss is
`alpha * cross_entropy(y, s) + (1 - alpha) * soft_target`, as in
`keras_kd.Distiller`. Teacher logits and labels travel to `fit` packed into
one `y` array, so any tf-keras model and callback work unchanged.
"""

import numpy as np
import tensorflow as tf

# Probabilities that underflowed to 0 become this before the log (as in
# keras_kd.outputs).
_MIN_PROBABILITY = 1e-38


def as_logits(values, kind):
    """TensorFlow twin of `keras_kd.outputs.as_logits` for the student."""
    values = tf.cast(values, tf.float32)
    binary = values.shape[-1] == 1
    if kind == "probabilities":
        if not binary:
            return tf.math.log(tf.maximum(values, _MIN_PROBABILITY))
        p = tf.clip_by_value(values, _MIN_PROBABILITY, 1.0 - 1e-7)
        values = tf.math.log(p) - tf.math.log1p(-p)
    if binary:
        values = tf.concat([tf.zeros_like(values), values], axis=-1)
    return values


def soft_target_kd(teacher_logits, student_logits, temperature):
    """`T^2 * KL(softmax(t / T) || softmax(s / T))`, one value per sample."""
    log_p_teacher = tf.nn.log_softmax(teacher_logits / temperature, axis=-1)
    log_p_student = tf.nn.log_softmax(student_logits / temperature, axis=-1)
    kl = tf.reduce_sum(
        tf.exp(log_p_teacher) * (log_p_teacher - log_p_student), axis=-1
    )
    return temperature**2 * kl


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
    """

    def loss(packed, student_outputs):
        teacher_logits, labels = packed[:, :-1], packed[:, -1]
        student_logits = as_logits(student_outputs, student_kind)
        soft = soft_target_kd(teacher_logits, student_logits, temperature)
        labeled = labels >= 0
        hard = tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=tf.cast(tf.where(labeled, labels, 0.0), tf.int32),
            logits=student_logits,
        )
        mixed = alpha * hard + (1.0 - alpha) * soft
        return tf.where(labeled, mixed, soft)

    loss.__name__ = "distillation_loss"
    return loss


def label_accuracy(student_kind="logits"):
    """A tf-keras metric: accuracy on the labeled samples of a packed batch."""

    def accuracy(packed, student_outputs):
        labels = packed[:, -1]
        logits = as_logits(student_outputs, student_kind)
        predicted = tf.cast(tf.argmax(logits, axis=-1), tf.float32)
        labeled = tf.cast(labels >= 0, tf.float32)
        hits = tf.cast(tf.equal(predicted, labels), tf.float32) * labeled
        return tf.reduce_sum(hits) / tf.maximum(tf.reduce_sum(labeled), 1.0)

    return accuracy


def fine_tune(model, x, packed, settings, callbacks=(), verbose=1):
    """Compiles `model` with the distillation loss and fits it.

    Args:
        model: A tf-keras model (possibly TFMOT-wrapped).
        x: Inputs, NumPy.
        packed: `pack_targets(teacher_logits, y)`.
        settings: Dict with `temperature`, `alpha`, `student_kind`,
            `learning_rate`, `epochs`, `batch_size`.
        callbacks: Extra tf-keras callbacks (e.g. TFMOT's pruning step).
        verbose: Keras progress display (0, 1 or 2).

    Returns:
        `{"loss": [...], ...}`, the per-epoch history.
    """
    import tf_keras

    has_labels = bool(np.any(packed[:, -1] >= 0))
    model.compile(
        optimizer=tf_keras.optimizers.Adam(settings["learning_rate"]),
        loss=distillation_loss(
            settings["temperature"], settings["alpha"], settings["student_kind"]
        ),
        metrics=[label_accuracy(settings["student_kind"])] if has_labels else [],
    )
    history = model.fit(
        x,
        packed,
        epochs=settings["epochs"],
        batch_size=settings["batch_size"],
        callbacks=list(callbacks),
        shuffle=True,
        verbose=verbose,
    )
    return {k: [float(v) for v in values] for k, values in history.history.items()}
