"""Per-class binary soft targets for multi-label (sigmoid) heads."""

from keras import ops

from keras_kd import hyperparameters
from keras_kd.checks import validate_temperature
from keras_kd.losses import _numerics
from keras_kd.losses._numerics import softmax_kl_divergence
from keras_kd.losses.base import DistillationLoss
from keras_kd.losses.registry import register
from keras_kd.losses.regression import weighted_members


def _two_class_logits(values, kind):
    """`(..., classes, 2)` float32 logits `[0, z_c]`: class `c` on or off.

    A sigmoid probability `p` becomes the stable logit `log p - log1p(-p)`,
    clipped to the float32 range where it stays finite.
    """
    return _numerics.as_logits(ops.expand_dims(values, -1), kind)


def binary_kd(
    teacher_outputs,
    student_outputs,
    temperature=1.0,
    teacher_kind="logits",
    student_kind="logits",
):
    """Soft-target KD for multi-label heads, one value per sample.

    Each class `c` is its own yes/no distribution,
    `Bernoulli(sigmoid(z_c / T))`. The loss is

    `T^2 * sum_c KL(Bernoulli(sigmoid(t_c / T)) || Bernoulli(sigmoid(s_c / T)))`,

    the KL divergence between the teacher's and the student's distributions
    over label sets (the classes being independent), just as soft-target KD
    is one KL divergence per sample. Each term equals the binary cross-entropy
    `BCE(sigmoid(t_c / T), sigmoid(s_c / T))` minus the teacher's entropy (a
    constant): same gradients, and 0 when the student matches. Computed in
    float32 as a two-class softmax KL of logits `[0, z_c / T]`, finite and
    accurate for logits of +-1e4.

    Args:
        teacher_outputs: Tensor `(batch, ..., classes)`.
        student_outputs: Tensor of the same shape.
        temperature: Positive float.
        teacher_kind: `"logits"`, or `"probabilities"` for a sigmoid head.
        student_kind: Same, for the student.

    Returns:
        Float32 tensor `(batch, ...)`.

    Example:

    >>> import numpy as np
    >>> t = np.array([[2.0, -1.0, 0.0]])
    >>> s = np.array([[2.0, -1.0, 0.0]])
    >>> ops.convert_to_numpy(binary_kd(t, s, temperature=2.0)).tolist()
    [0.0]
    >>> p = np.array([[0.5]])  # A sigmoid head's probability.
    >>> value = binary_kd(p, np.array([[0.0]]), teacher_kind="probabilities")
    >>> ops.convert_to_numpy(value).tolist()
    [0.0]
    """
    teacher_logits = _two_class_logits(teacher_outputs, teacher_kind)
    student_logits = _two_class_logits(student_outputs, student_kind)
    kl = softmax_kl_divergence(teacher_logits / temperature, student_logits / temperature)
    return temperature**2 * ops.sum(kl, axis=-1)


def ensemble_binary_logits(members, temperature):
    """Logits of the weighted mean of several heads' sigmoid probabilities.

    `logit(sum_i w_i sigmoid(z_i / T)) * T`, computed from log-sigmoids with
    log-sum-exp, so it stays finite for logits of +-1e4.

    Args:
        members: List of `(outputs, kind, weight)`, weights summing to 1.
        temperature: Positive float.

    Returns:
        Float32 tensor `(batch, ..., classes)`: logits whose `sigmoid(z / T)`
        is the mixture.
    """
    log_on, log_off = [], []
    for outputs, kind, weight in members:
        if weight <= 0:
            continue
        z = _two_class_logits(outputs, kind)[..., 1] / temperature
        log_weight = ops.log(ops.cast(weight, "float32"))
        log_on.append(log_weight - ops.softplus(-z))  # log w + log sigmoid(z)
        log_off.append(log_weight - ops.softplus(z))  # log w + log sigmoid(-z)
    on = ops.logsumexp(ops.stack(log_on, axis=0), axis=0)
    off = ops.logsumexp(ops.stack(log_off, axis=0), axis=0)
    return (on - off) * temperature


@register("binary_kd")
class BinaryKD(DistillationLoss):
    """Per-class binary soft-target KD, for multi-label (sigmoid) heads.

    The loss to use when a head ends in a sigmoid over several units
    (tagging, detection), or outputs the logits of one: each class is
    softened and matched as its own yes/no distribution. An ensemble
    teacher's targets are the weighted mean of its heads' softened
    probabilities.

    Args:
        temperature: Softening temperature `T > 0`; `1` matches the heads'
            probabilities as they are.
        weight: Multiplier in a weighted list of losses.
        name: Optional display name.

    Example:

    >>> loss = keras_kd.losses.get("binary_kd")
    >>> type(loss).__name__, loss.temperature
    ('BinaryKD', 1.0)
    >>> BinaryKD.from_config(BinaryKD(temperature=2.0).get_config()).temperature
    2.0
    """

    # Compares outputs unit by unit and never soft-maxes them over classes:
    # `keras_kd.outputs.check_heads` lets such losses read multi-label heads.
    per_unit = True
    temperature = hyperparameters.Hyperparameter(validate_temperature)

    def __init__(self, temperature=1.0, weight=1.0, name=None):
        super().__init__(weight=weight, name=name)
        self.temperature = temperature

    def call(self, teacher, student, y=None):
        t = hyperparameters.value(self, "temperature")
        members = weighted_members(teacher)
        if len(members) == 1:
            return binary_kd(teacher.outputs, student.outputs, t, teacher.kind, student.kind)
        return binary_kd(
            ensemble_binary_logits(members, t),
            student.outputs,
            t,
            "logits",
            student.kind,
        )

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature}
