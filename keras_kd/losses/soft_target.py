"""Soft-target knowledge distillation (Hinton, Vinyals and Dean, 2015)."""

from keras import ops

from keras_kd import outputs as outputs_lib
from keras_kd.losses.base import DistillationLoss
from keras_kd.losses.base import register


def validate_temperature(temperature):
    """Raises a clear error unless `temperature` is a positive number."""
    if not isinstance(temperature, (int, float)) or temperature <= 0:
        raise ValueError(
            "The distillation temperature must be a number > 0 (typical "
            f"values are 1 to 20). Received: temperature={temperature!r}"
        )
    return float(temperature)


def kl_divergence_from_log_probabilities(log_p, log_q):
    """`KL(p || q) = sum p (log p - log q)` over the last axis.

    Terms where `p` underflows to 0 contribute exactly 0, so the result stays
    finite for arbitrarily confident teachers.
    """
    return ops.sum(ops.exp(log_p) * (log_p - log_q), axis=-1)


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

    >>> t = np.array([[2.0, 1.0, 0.1]])
    >>> soft_target_kd(t, t, temperature=4.0)  # identical outputs
    0.0
    """
    log_p_teacher = outputs_lib.tempered_log_probabilities(
        teacher_outputs, teacher_kind, temperature
    )
    log_p_student = outputs_lib.tempered_log_probabilities(
        student_outputs, student_kind, temperature
    )
    kl = kl_divergence_from_log_probabilities(log_p_teacher, log_p_student)
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

    >>> distiller = keras_kd.Distiller(
    ...     teacher, student,
    ...     distillation_loss=keras_kd.losses.SoftTargetKD(temperature=4.0))
    """

    def __init__(
        self,
        temperature=4.0,
        teacher_outputs=None,
        student_outputs=None,
        weight=1.0,
        name=None,
    ):
        super().__init__(weight=weight, name=name)
        self.temperature = validate_temperature(temperature)
        for argument, kind in (
            ("teacher_outputs", teacher_outputs),
            ("student_outputs", student_outputs),
        ):
            if kind is not None:
                outputs_lib.validate_output_kind(kind, argument)
        self.teacher_outputs = teacher_outputs
        self.student_outputs = student_outputs

    def call(self, teacher, student, y=None):
        return soft_target_kd(
            teacher.outputs,
            student.outputs,
            self.temperature,
            teacher_kind=self.teacher_outputs or teacher.kind,
            student_kind=self.student_outputs or student.kind,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "temperature": self.temperature,
            "teacher_outputs": self.teacher_outputs,
            "student_outputs": self.student_outputs,
        }
