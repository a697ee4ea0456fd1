"""Decoupled knowledge distillation, DKD (Zhao et al., CVPR 2022)."""

from keras import ops

from keras_kd import hyperparameters
from keras_kd.checks import check_non_negative
from keras_kd.checks import validate_temperature
from keras_kd.losses._numerics import softmax_kl_divergence
from keras_kd.losses.base import DistillationLoss
from keras_kd.losses.registry import register

# Stands in for log(0) of the masked target class; finite so no NaN appears.
_MASKED = -1e30


def target_mask(y, num_classes, positions=()):
    """A float `(batch, *positions, classes)` mask of the true classes.

    Args:
        y: Sparse integer labels `(batch, *positions)` (a trailing axis of
            size 1 allowed), or one-hot (or soft) labels
            `(batch, *positions, classes)`, whose argmax is taken.
        num_classes: Number of classes.
        positions: The outputs' positions, `()` for one class per sample,
            `(time,)` for a sequence, `(height, width)` per pixel.

    Returns:
        Float32 tensor `(batch, *positions, classes)` with one 1 per row.

    Example:

    >>> import numpy as np
    >>> ops.convert_to_numpy(target_mask(np.array([2, 0]), 3)).tolist()
    [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    """
    y = ops.convert_to_tensor(y)
    # One-hot labels have an axis more than the positions: sparse labels of
    # a sequence as long as there are classes are not one-hot.
    one_hot = len(y.shape) == 2 + len(positions) and y.shape[-1] == num_classes
    if one_hot and num_classes > 1:
        y = ops.argmax(y, axis=-1)
    y = ops.reshape(ops.cast(y, "int32"), (-1,) + tuple(positions))
    return ops.one_hot(y, num_classes, dtype="float32")


def _split(log_p, mask):
    """Binary (target, rest) log-probabilities and non-target-only logits."""
    log_target = ops.sum(log_p * mask, axis=-1)
    non_target = ops.where(mask > 0, _MASKED, log_p)
    log_rest = ops.logsumexp(non_target, axis=-1)
    return ops.stack([log_target, log_rest], axis=-1), non_target


def decoupled_kd(teacher_log_p, student_log_p, mask, alpha, beta, temperature):
    """DKD from tempered log-probabilities, one value per sample.

    `T^2 * (alpha * TCKD + beta * NCKD)`: TCKD is the KL divergence between
    the binary distributions (target class, all others) of teacher and
    student; NCKD the KL divergence between their distributions over the
    non-target classes, renormalized. Both use the KL divergence of
    `SoftTargetKD`, which stays accurate when the distributions are close.

    Args:
        teacher_log_p: `log softmax(z_t / T)`, float32 `(batch, classes)`
            or `(batch, *positions, classes)`.
        student_log_p: `log softmax(z_s / T)`, same shape.
        mask: One-hot mask of the true classes, same shape.
        alpha: Weight of TCKD.
        beta: Weight of NCKD.
        temperature: The `T` used for the log-probabilities.

    Returns:
        Float32 tensor `(batch, *positions)`.

    Example:

    >>> import numpy as np
    >>> log_p = np.log(np.array([[0.7, 0.2, 0.1]], "float32"))
    >>> mask = target_mask(np.array([0]), 3)
    >>> value = decoupled_kd(log_p, log_p, mask, 1.0, 8.0, 4.0)
    >>> ops.convert_to_numpy(value).tolist()
    [0.0]
    """
    teacher_log_p = ops.cast(teacher_log_p, "float32")
    student_log_p = ops.cast(student_log_p, "float32")
    t_binary, t_non_target = _split(teacher_log_p, mask)
    s_binary, s_non_target = _split(student_log_p, mask)
    tckd = softmax_kl_divergence(t_binary, s_binary)
    nckd = softmax_kl_divergence(t_non_target, s_non_target)
    return (temperature**2) * (alpha * tckd + beta * nckd)


@register("dkd")
class DKD(DistillationLoss):
    """Decoupled knowledge distillation (Zhao et al., CVPR 2022).

    Splits soft-target KD into a target-class term (TCKD, weight `alpha`)
    and a non-target-class term (NCKD, weight `beta`), so the dark knowledge
    among the wrong classes is not suppressed when the teacher is confident.
    Needs the labels: sparse integer labels, or one-hot.

    The paper's official code (mdistiller) ramps the loss in linearly:
    at epoch `e`, counted from 1, it is multiplied by `min(e / 20, 1)` on
    CIFAR-100 (20 warm-up epochs). The loss itself has no notion of epochs
    and applies at full weight from the first step; pass
    `keras_kd.callbacks.DistillationWarmup(20)` to `fit()` to train as the
    paper does (see the example).

    Args:
        alpha: Weight of the target-class term (the paper uses 1.0).
        beta: Weight of the non-target term (the paper uses 8.0 on
            CIFAR-100, 0.5 on ImageNet).
        temperature: Softening temperature `T > 0`.
        weight: Multiplier in a weighted list of losses.
        name: Optional display name.

    Example:

    >>> loss = DKD(alpha=1.0, beta=8.0)
    >>> loss.requires_labels, loss.registered_name
    (True, 'dkd')
    >>> import keras, keras_kd
    >>> distiller = keras_kd.Distiller(teacher, student, distillation_loss=loss)
    >>> distiller.compile(
    ...     optimizer="sgd",
    ...     loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    >>> history = distiller.fit(
    ...     x_train, y_train, epochs=240, verbose=0,
    ...     callbacks=[keras_kd.callbacks.DistillationWarmup(20)])
    """

    requires_labels = True
    temperature = hyperparameters.Hyperparameter(validate_temperature)

    def __init__(self, alpha=1.0, beta=8.0, temperature=4.0, weight=1.0, name=None):
        super().__init__(weight=weight, name=name)
        self.alpha, self.beta = check_non_negative("DKD", alpha=alpha, beta=beta)
        self.temperature = temperature

    def call(self, teacher, student, y=None):
        t = hyperparameters.value(self, "temperature")
        teacher_log_p = teacher.log_probabilities(t)
        student_log_p = student.log_probabilities(t)
        mask = target_mask(y, student_log_p.shape[-1], tuple(ops.shape(student_log_p)[1:-1]))
        return decoupled_kd(teacher_log_p, student_log_p, mask, self.alpha, self.beta, t)

    def get_config(self):
        return {
            **super().get_config(),
            "alpha": self.alpha,
            "beta": self.beta,
            "temperature": self.temperature,
        }
