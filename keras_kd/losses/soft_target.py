"""Soft-target knowledge distillation (Hinton, Vinyals and Dean, 2015)."""

from keras import ops

from keras_kd import hyperparameters
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


def softmax_kl_divergence(teacher_logits, student_logits):
    """`KL(softmax(t) || softmax(s))` over the last axis, from logits.

    Uses `KL = sum p_t d - log sum p_s exp(d)` with `d = t - s` (shifted by
    its maximum, which leaves the value unchanged). When the two
    distributions are close, as at high temperatures, the second term is
    computed as `log1p(sum p_s expm1(d))`, which keeps float32 accurate where
    differencing two log-softmaxes would cancel; otherwise as a
    log-sum-exp, which stays finite for logits of any size.

    Args:
        teacher_logits: Float32 tensor `(..., classes)`.
        student_logits: Float32 tensor of the same shape.

    Returns:
        Float32 tensor `(...)`, one divergence per distribution.
    """
    log_p_teacher = outputs_lib.log_softmax(teacher_logits)
    log_p_student = outputs_lib.log_softmax(student_logits)
    d = teacher_logits - student_logits
    d = d - ops.stop_gradient(ops.max(d, axis=-1, keepdims=True))
    p_student = ops.exp(log_p_student)
    near = ops.sum(p_student * ops.expm1(d), axis=-1)
    # Clipped so the branch that `where` discards stays finite (no NaN grads).
    log_ratio_near = ops.log1p(ops.maximum(near, -0.5))
    log_ratio_far = ops.logsumexp(log_p_student + d, axis=-1)
    log_ratio = ops.where(ops.abs(near) < 0.25, log_ratio_near, log_ratio_far)
    return ops.sum(ops.exp(log_p_teacher) * d, axis=-1) - log_ratio


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
    teacher_logits = outputs_lib.as_logits(teacher_outputs, teacher_kind)
    student_logits = outputs_lib.as_logits(student_outputs, student_kind)
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

    >>> distiller = keras_kd.Distiller(
    ...     teacher, student,
    ...     distillation_loss=keras_kd.losses.SoftTargetKD(temperature=4.0))
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
                outputs_lib.validate_output_kind(kind, argument)
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
