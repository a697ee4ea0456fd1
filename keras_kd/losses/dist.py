"""DIST: distillation from a stronger teacher (Huang et al., NeurIPS 2022)."""

from keras import ops

from keras_kd import hyperparameters
from keras_kd.checks import check_non_negative
from keras_kd.checks import validate_temperature
from keras_kd.losses._numerics import safe_sqrt
from keras_kd.losses.base import DistillationLoss
from keras_kd.losses.registry import register


def _pearson(a, b, axis, eps=1e-8):
    """Pearson correlation along `axis`, with the official code's epsilon."""
    a = a - ops.mean(a, axis=axis, keepdims=True)
    b = b - ops.mean(b, axis=axis, keepdims=True)
    norms = safe_sqrt(ops.sum(a * a, axis=axis)) * safe_sqrt(ops.sum(b * b, axis=axis))
    return ops.sum(a * b, axis=axis) / (norms + eps)


def _weighted_pearson(a, b, weights, eps=1e-8):
    """Pearson correlation along axis 0, each row weighted by `weights`."""
    weights = ops.expand_dims(weights, -1)
    total = ops.maximum(ops.sum(weights, axis=0), eps)
    a = a - ops.sum(weights * a, axis=0) / total
    b = b - ops.sum(weights * b, axis=0) / total
    norms = safe_sqrt(ops.sum(weights * a * a, axis=0)) * safe_sqrt(
        ops.sum(weights * b * b, axis=0)
    )
    return ops.sum(weights * a * b, axis=0) / (norms + eps)


def dist_loss(teacher_probs, student_probs, beta=1.0, gamma=1.0, temperature=1.0, mask=None):
    """DIST on softened probabilities, one value for the batch.

    `T^2 * (beta * (1 - mean_i rho(p_t[i], p_s[i]))
    + gamma * (1 - mean_c rho(p_t[:, c], p_s[:, c])))`, where `rho` is the
    Pearson correlation: the inter-class relation compares each sample's
    class distribution, the intra-class relation each class's scores
    across the batch.

    Outputs with positions, `(batch, *positions, classes)` (sequences,
    per-pixel heads), are read as one row per position. With a `mask`,
    rows that do not count are left out of both relations: the
    inter-class term averages the counted rows, the intra-class
    correlations weigh each row by the mask, and a batch where no row
    counts gives 0. One counted row has no spread across the batch: its
    intra-class correlation is 0 (as in the official code), with a zero
    gradient, never NaN.

    Args:
        teacher_probs: `softmax(z_t / T)`, float32 `(batch, classes)` or
            `(batch, *positions, classes)`.
        student_probs: `softmax(z_s / T)`, same shape.
        beta: Weight of the inter-class relation.
        gamma: Weight of the intra-class relation.
        temperature: The `T` used for the probabilities.
        mask: `None`, or `(batch, *positions)`, 1 for the rows that count
            and 0 for padding.

    Returns:
        A float32 scalar.

    Example:

    >>> import numpy as np
    >>> p = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]], "float32")
    >>> # Perfectly correlated, though not equal: no loss.
    >>> round(float(dist_loss(p, 2.0 * p + 0.1)), 4)
    0.0
    """
    classes = ops.shape(student_probs)[-1]
    # Positions (tokens, pixels) are the rows the relations compare.
    teacher_probs = ops.reshape(ops.cast(teacher_probs, "float32"), (-1, classes))
    student_probs = ops.reshape(ops.cast(student_probs, "float32"), (-1, classes))
    if mask is None:
        inter = 1.0 - ops.mean(_pearson(student_probs, teacher_probs, axis=1))
        intra = 1.0 - ops.mean(_pearson(student_probs, teacher_probs, axis=0))
    else:
        rows = ops.reshape(ops.cast(mask, "float32"), (-1,))
        inter_rows = _pearson(student_probs, teacher_probs, axis=1)
        inter = 1.0 - ops.divide_no_nan(ops.sum(rows * inter_rows), ops.sum(rows))
        intra = 1.0 - ops.mean(_weighted_pearson(student_probs, teacher_probs, rows))
        # No row counts (an all-padded batch): nothing to relate.
        counted = ops.cast(ops.sum(rows) > 0, "float32")
        inter, intra = inter * counted, intra * counted
    return (temperature**2) * (beta * inter + gamma * intra)


@register("dist")
class DIST(DistillationLoss):
    """DIST (Huang et al., NeurIPS 2022): match relations, not values.

    Asks the student to correlate with the teacher rather than to copy its
    probabilities exactly, which helps when the teacher is much stronger.
    A batch-level loss (the intra-class relation compares samples), so
    sample weights do not apply to it; positions that do not count (a
    Keras mask, a per-position sample weight of 0) are left out.

    Args:
        beta: Weight of the inter-class relation (paper: 1.0 on ImageNet,
            2.0 on CIFAR-100).
        gamma: Weight of the intra-class relation (same defaults).
        temperature: Softening temperature `T > 0` (paper: 1 on ImageNet,
            4 on CIFAR-100).
        weight: Multiplier in a weighted list of losses.
        name: Optional display name.

    Example:

    >>> loss = DIST(beta=2.0, gamma=2.0, temperature=4.0)  # CIFAR settings
    >>> loss.get_config()["temperature"]
    4.0
    """

    temperature = hyperparameters.Hyperparameter(validate_temperature)

    def __init__(self, beta=1.0, gamma=1.0, temperature=1.0, weight=1.0, name=None):
        super().__init__(weight=weight, name=name)
        self.beta, self.gamma = check_non_negative("DIST", beta=beta, gamma=gamma)
        self.temperature = temperature

    def call(self, teacher, student, y=None):
        t = hyperparameters.value(self, "temperature")
        return dist_loss(
            ops.exp(teacher.log_probabilities(t)),
            ops.exp(student.log_probabilities(t)),
            self.beta,
            self.gamma,
            t,
            mask=student.mask,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "beta": self.beta,
            "gamma": self.gamma,
            "temperature": self.temperature,
        }
