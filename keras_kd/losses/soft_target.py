"""Soft-target knowledge distillation (Hinton, Vinyals and Dean, 2015)."""

from keras_kd import hyperparameters
from keras_kd.losses import _numerics
from keras_kd.losses._numerics import softmax_kl_divergence
from keras_kd.losses._numerics import validate_temperature
from keras_kd.losses.base import DistillationLoss
from keras_kd.losses.registry import register


def soft_target_kd(
    teacher_outputs,
    student_outputs,
    temperature=4.0,
    teacher_kind="logits",
    student_kind="logits",
):
    """Hinton's soft-target loss, one value per sample.

    `T^2 * KL(softmax(t / T) || softmax(s / T))`, where `t` and `s` are the
    teacher's and student's logits. Probabilities are first turned into
    log-probabilities (logits up to a constant), so a softmax head is never
    mistaken for logits. The `T^2` factor keeps gradient magnitudes
    comparable across temperatures. Computed in float32 from log-softmax,
    stable for logits of +-1e4 and temperatures from 0.5 to 50.

    Args:
        teacher_outputs: Tensor `(batch, ..., classes)`.
        student_outputs: Tensor of the same shape.
        temperature: Positive float.
        teacher_kind: `"logits"` or `"probabilities"`.
        student_kind: `"logits"` or `"probabilities"`.

    Returns:
        Float32 tensor `(batch, ...)`.

    Example:

    >>> import numpy as np
    >>> t = np.array([[2.0, 1.0, 0.1]])
    >>> s = np.array([[0.1, 1.0, 2.0]])
    >>> value = soft_target_kd(t, s, temperature=4.0)
    >>> tuple(value.shape), round(float(value[0]), 3)
    ((1,), 1.197)
    """
    teacher_logits = _numerics.as_logits(teacher_outputs, teacher_kind)
    student_logits = _numerics.as_logits(student_outputs, student_kind)
    kl = softmax_kl_divergence(
        teacher_logits / temperature, student_logits / temperature
    )
    return (temperature**2) * kl


@register("kd")
class SoftTargetKD(DistillationLoss):
    """Soft-target knowledge distillation (Hinton et al., 2015).

    Args:
        temperature: Softening temperature `T > 0`.
        teacher_outputs: `None` (use what the Distiller detected from the
            teacher's head), `"logits"` or `"probabilities"`.
        student_outputs: Same, for the student.
        weight: Multiplier in a weighted list of losses.
        name: Optional display name.

    Example:

    >>> loss = SoftTargetKD(temperature=4.0)
    >>> loss.registered_name, loss.get_config()["temperature"]
    ('kd', 4.0)
    >>> distiller = keras_kd.Distiller(
    ...     teacher, student, distillation_loss=loss)
    """

    temperature = hyperparameters.Hyperparameter(validate_temperature)

    def __init__(
        self,
        temperature=4.0,
        teacher_outputs=None,
        student_outputs=None,
        weight=1.0,
        name=None,
    ):
        super().__init__(weight=weight, name=name)
        self.temperature = temperature
        for argument, kind in (
            ("teacher_outputs", teacher_outputs),
            ("student_outputs", student_outputs),
        ):
            if kind is not None:
                _numerics.validate_output_kind(kind, argument)
        self.teacher_outputs = teacher_outputs
        self.student_outputs = student_outputs

    def call(self, teacher, student, y=None):
        # `teacher.logits` is the soft target of one teacher or an ensemble.
        t = hyperparameters.value(self, "temperature")
        return soft_target_kd(
            teacher.logits(t, self.teacher_outputs),
            student.outputs,
            t,
            teacher_kind="logits",
            student_kind=self.student_outputs or student.kind,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "temperature": self.temperature,
            "teacher_outputs": self.teacher_outputs,
            "student_outputs": self.student_outputs,
        }
