"""Soft-target knowledge distillation (Hinton, Vinyals and Dean, 2015), with
the divergences used for language models: forward KL, reverse KL (MiniLLM,
Gu et al., 2024) and the generalized Jensen-Shannon divergence (GKD,
Agarwal et al., 2024)."""

import numpy as np

from keras_kd import checks
from keras_kd import hyperparameters
from keras_kd.checks import validate_temperature
from keras_kd.losses import _numerics
from keras_kd.losses._numerics import softmax_generalized_jsd
from keras_kd.losses._numerics import softmax_kl_divergence
from keras_kd.losses.base import DistillationLoss
from keras_kd.losses.registry import register

FORWARD = "forward"
REVERSE = "reverse"
JSD = "jsd"
DIVERGENCES = (FORWARD, REVERSE, JSD)


def validate_divergence(divergence, beta, owner="SoftTargetKD"):
    """Checks a `divergence` name and its `beta`; returns `(divergence, beta)`.

    Args:
        divergence: One of `"forward"`, `"reverse"` or `"jsd"`.
        beta: Number in [0, 1] (read by `"jsd"` only, checked always).
        owner: Who takes them, for the error message.

    Returns:
        `(divergence, float(beta))`.

    Example:

    >>> validate_divergence("jsd", 0.9)
    ('jsd', 0.9)
    """
    checks.check_one_of(owner, "divergence", divergence, DIVERGENCES)
    beta = checks.check_number(
        owner,
        "beta",
        beta,
        0,
        1,
        role="is the mixture weight of the generalized Jensen-Shannon divergence and",
        hint="0 gives forward KL, 1 reverse KL, 0.5 the symmetric JSD.",
    )
    return divergence, beta


def validate_standardize(standardize, owner="SoftTargetKD"):
    """Returns `standardize` after checking it is a boolean.

    Example:

    >>> validate_standardize(True)
    True
    """
    if not isinstance(standardize, (bool, np.bool_)):
        raise ValueError(
            f"{owner} `standardize` must be True or False: True z-scores each "
            "row of teacher and student logits before the tempered softmax "
            "(logit standardization, Sun et al. 2024). Received: "
            f"standardize={standardize!r} of type {type(standardize).__name__}."
        )
    return bool(standardize)


class StandardizedLogitsCheck:
    """Mixin of the losses with a `standardize` setting: `check_classes`
    (called by `outputs.check_heads` when a Distiller is built) refuses a
    head of fewer than 3 classes, whose standardized logits carry only the
    argmax."""

    def check_classes(self, classes, model_name):
        """Raises if the model's `classes` cannot be read by this loss:
        standardization needs 3 or more."""
        if self.standardize:
            _numerics.check_standardizable(
                classes, f"{type(self).__name__}(standardize=True) on model '{model_name}'"
            )


def soft_target_kd(
    teacher_outputs,
    student_outputs,
    temperature=4.0,
    teacher_kind="logits",
    student_kind="logits",
    divergence=FORWARD,
    beta=0.5,
    standardize=False,
):
    """Soft-target loss, one value per sample (or per position).

    With `p_t = softmax(t / T)` and `p_s = softmax(s / T)`, where `t` and
    `s` are the teacher's and student's logits, the loss is `T^2 * D`:

    - `divergence="forward"` (Hinton et al., 2015): `D = KL(p_t || p_s)`;
      mass-covering, the student spreads over every mode of the teacher.
    - `"reverse"` (MiniLLM): `D = KL(p_s || p_t)`; mode-seeking, the student
      is punished for mass where the teacher has little.
    - `"jsd"` (GKD): `D = beta KL(p_t || m) + (1 - beta) KL(p_s || m)` with
      `m = beta p_t + (1 - beta) p_s`, TRL's convention: `beta=0.5` is the
      symmetric Jensen-Shannon divergence, `beta=0` is exactly forward KL
      and `beta=1` exactly reverse KL (the limits of the divergence divided
      by `beta`, respectively `1 - beta`; in between it tends to 0 near
      either end, so small `beta` is not "almost forward KL" in scale).

    With `standardize=True` (logit standardization, Sun et al., CVPR 2024)
    each row of `t` and of `s` is first z-scored, `z = (x - mean(x)) /
    (std(x) + 1e-7)`, and the softmaxes are `softmax(z / T)`: the student
    matches the shape of the teacher's logits, not their scale or shift.
    The `T^2` factor is kept, as in the paper's code (`kd_loss` multiplies
    by `temperature**2` with or without standardization).

    Probabilities are first turned into log-probabilities (logits up to a
    constant), so a softmax head is never mistaken for logits; the z-score
    removes that per-row constant, so a softmax head standardizes exactly
    as the logits behind it. The `T^2`
    factor keeps gradient magnitudes comparable across temperatures.
    Computed in float32 from log-softmax (log-sum-exp for the mixture),
    finite for logits of +-1e4 and temperatures from 0.5 to 50.

    Args:
        teacher_outputs: Tensor `(batch, ..., classes)`, e.g.
            `(batch, time, classes)` for a language model.
        student_outputs: Tensor of the same shape.
        temperature: Positive float.
        teacher_kind: `"logits"` or `"probabilities"`.
        student_kind: `"logits"` or `"probabilities"`.
        divergence: `"forward"`, `"reverse"` or `"jsd"`.
        beta: Mixture weight in [0, 1] of `"jsd"`.
        standardize: Whether to z-score each row of logits first.

    Returns:
        Float32 tensor `(batch, ...)`: one value per distribution.

    Example:

    >>> import numpy as np
    >>> t = np.array([[2.0, 1.0, 0.1]])
    >>> s = np.array([[0.1, 1.0, 2.0]])
    >>> value = soft_target_kd(t, s, temperature=4.0)
    >>> tuple(value.shape), round(float(value[0]), 3)
    ((1,), 1.197)
    >>> jsd = soft_target_kd(t, s, temperature=4.0, divergence="jsd")
    >>> round(float(jsd[0]), 3)
    0.296
    >>> standardized = soft_target_kd(t, s, temperature=2.0, standardize=True)
    >>> round(float(standardized[0]), 3)
    1.29
    """
    divergence, beta = validate_divergence(divergence, beta)
    standardize = validate_standardize(standardize)
    return _soft_target_kd(
        teacher_outputs,
        student_outputs,
        temperature,
        teacher_kind,
        student_kind,
        divergence,
        beta,
        standardize,
    )


def _soft_target_kd(
    teacher_outputs,
    student_outputs,
    temperature,
    teacher_kind,
    student_kind,
    divergence,
    beta,
    standardize,
):
    """`soft_target_kd` on arguments already checked (`SoftTargetKD` checks
    them once, when constructed, not in every step)."""
    teacher_logits = _numerics.as_logits(teacher_outputs, teacher_kind)
    student_logits = _numerics.as_logits(student_outputs, student_kind)
    if standardize:
        teacher_logits = _numerics.standardize(teacher_logits)
        student_logits = _numerics.standardize(student_logits)
    teacher_logits = teacher_logits / temperature
    student_logits = student_logits / temperature
    if divergence == FORWARD:
        value = softmax_kl_divergence(teacher_logits, student_logits)
    elif divergence == REVERSE:
        value = softmax_kl_divergence(student_logits, teacher_logits)
    else:
        value = softmax_generalized_jsd(teacher_logits, student_logits, beta)
    return (temperature**2) * value


@register("kd")
class SoftTargetKD(StandardizedLogitsCheck, DistillationLoss):
    """Soft-target knowledge distillation (Hinton et al., 2015) and the
    divergences of language-model distillation.

    See `soft_target_kd` for the formulas. Outputs shaped
    `(batch, time, classes)` are distilled position by position.

    Args:
        temperature: Softening temperature `T > 0`.
        teacher_outputs: `None` (use what the Distiller detected from the
            teacher's head), `"logits"` or `"probabilities"`.
        student_outputs: Same, for the student.
        weight: Multiplier in a weighted list of losses.
        name: Optional display name.
        divergence: `"forward"` (`KL(teacher || student)`, the default),
            `"reverse"` (`KL(student || teacher)`, MiniLLM) or `"jsd"`
            (generalized Jensen-Shannon, GKD).
        beta: The mixture weight of `"jsd"`, in [0, 1], TRL's convention:
            0 is forward KL, 1 is reverse KL, 0.5 the symmetric JSD.
        standardize: `True` for logit standardization (Sun et al., CVPR
            2024): each row of teacher and student logits is z-scored
            before the tempered softmax, so the student learns the
            teacher's ranking and relative gaps, not its logit scale. The
            paper pairs it with a larger weight on the distillation term
            (its KD recipes use `T=2`, weight 9 against 1 for labels). A
            softmax head's log-probabilities standardize exactly as its
            logits; an ensemble's (or a top-k cache's) soft-target logits
            at `T` are standardized as one teacher's. Needs 3 or more
            classes (refused for a binary head, whose two logits always
            z-score to +-0.71).

    Example:

    >>> loss = SoftTargetKD(temperature=4.0)
    >>> loss.registered_name, loss.get_config()["temperature"]
    ('kd', 4.0)
    >>> SoftTargetKD(temperature=1.0, divergence="jsd", beta=0.9).beta
    0.9
    >>> SoftTargetKD(temperature=2.0, standardize=True).get_config()["standardize"]
    True
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
        divergence=FORWARD,
        beta=0.5,
        standardize=False,
    ):
        super().__init__(weight=weight, name=name)
        self.temperature = temperature
        for argument, kind in (
            ("teacher_outputs", teacher_outputs),
            ("student_outputs", student_outputs),
        ):
            if kind is not None:
                checks.validate_output_kind(kind, argument)
        self.teacher_outputs = teacher_outputs
        self.student_outputs = student_outputs
        self.divergence, self.beta = validate_divergence(divergence, beta)
        self.standardize = validate_standardize(standardize)

    def call(self, teacher, student, y=None):
        # `teacher.logits` is the soft target of one teacher or an ensemble.
        t = hyperparameters.value(self, "temperature")
        return _soft_target_kd(
            teacher.logits(t, self.teacher_outputs),
            student.outputs,
            t,
            teacher_kind="logits",
            student_kind=self.student_outputs or student.kind,
            divergence=self.divergence,
            beta=self.beta,
            standardize=self.standardize,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "temperature": self.temperature,
            "teacher_outputs": self.teacher_outputs,
            "student_outputs": self.student_outputs,
            "divergence": self.divergence,
            "beta": self.beta,
            "standardize": self.standardize,
        }
