"""Multi-level logit distillation, MLD (Jin, Wang and Lin, CVPR 2023)."""

import numpy as np
from keras import ops

from keras_kd.checks import check_non_negative
from keras_kd.checks import validate_temperature
from keras_kd.losses import _numerics
from keras_kd.losses._numerics import softmax_kl_divergence
from keras_kd.losses.base import DistillationLoss
from keras_kd.losses.registry import register
from keras_kd.losses.soft_target import StandardizedLogitsCheck
from keras_kd.losses.soft_target import validate_standardize

# mdistiller's MLKD: its configured temperature (4) and the four it adds.
DEFAULT_TEMPERATURES = (2.0, 3.0, 4.0, 5.0, 6.0)


def validate_temperatures(temperatures, owner="MLD"):
    """Returns `temperatures` as a tuple of floats after checking them.

    Args:
        temperatures: A non-empty list or tuple of temperatures, each a
            number in [0.01, 1000].
        owner: Who takes them, for the error message.

    Returns:
        A tuple of Python floats.

    Example:

    >>> validate_temperatures([2, 4.0])
    (2.0, 4.0)
    """
    if (
        isinstance(temperatures, (str, bytes))
        or not isinstance(temperatures, (list, tuple, np.ndarray))
        or np.ndim(temperatures) != 1
    ):
        raise ValueError(
            f"{owner} `temperatures` must be a list of temperatures, e.g. "
            f"{list(DEFAULT_TEMPERATURES)} (mdistiller's). Received: "
            f"temperatures={temperatures!r} of type {type(temperatures).__name__}."
        )
    if len(temperatures) == 0:
        raise ValueError(
            f"{owner} `temperatures` must hold at least one temperature, e.g. "
            f"{list(DEFAULT_TEMPERATURES)}. Received: temperatures={temperatures!r}."
        )
    checked = []
    for value in temperatures:
        try:
            checked.append(validate_temperature(value))
        except ValueError as error:
            raise ValueError(f"{owner} `temperatures` holds a bad temperature: {error}") from None
    return tuple(checked)


def _rows(values, classes):
    # A one-unit head's logit z becomes [0, z], as every loss reads it.
    return ops.reshape(_numerics.as_logits(values, "logits"), (-1, classes))


def _check_same_shape(teacher_logits, student_logits):
    """Raises, naming both, unless every teacher tensor has the student's shape
    (where both are known: inside a traced step some axes may not be)."""
    student_shape = tuple(student_logits.shape)
    for teacher in teacher_logits:
        shape = tuple(teacher.shape)
        known = len(shape) == len(student_shape) and all(
            a is None or b is None or a == b for a, b in zip(shape, student_shape)
        )
        if not known:
            raise ValueError(
                "multi_level_kd compares the teacher's and the student's "
                "predictions row for row and class for class, so their shapes "
                f"must match. Received: teacher logits of shape {shape}, student "
                f"logits of shape {student_shape}."
            )


def multi_level_kd(
    teacher_logits,
    student_logits,
    temperatures=DEFAULT_TEMPERATURES,
    instance_weight=1.0,
    batch_weight=1.0,
    class_weight=1.0,
    standardize=False,
    mask=None,
):
    """Multi-level logit distillation, one value for the batch.

    For each temperature `T` in `temperatures`, with `P_t = softmax(z_t / T)`
    and `P_s = softmax(z_s / T)` the `(B, C)` matrices of the batch's
    softened predictions, three terms are summed over the temperatures
    (mdistiller's `kd_loss`, `bc_loss` and `cc_loss`):

    - instance level: `T^2 * mean_i KL(P_t[i] || P_s[i])`;
    - batch level: `sum((P_t P_t^T - P_s P_s^T)^2) / B`, the squared
      difference of the `(B, B)` sample-similarity Gram matrices;
    - class level: `sum((P_t^T P_t - P_s^T P_s)^2) / C`, the squared
      difference of the `(C, C)` class-correlation matrices.

    The loss is `instance_weight * instance + batch_weight * batch +
    class_weight * class`. With `standardize=True` the instance term reads
    z-scored logits, `KL(softmax(z-score(z_t) / T) || softmax(z-score(z_s) /
    T))` (logit standardization, Sun et al., CVPR 2024); the batch and class
    terms read the raw logits, as in that paper's MLKD code (its `kd_loss`
    takes `logit_stand`, its `bc_loss` and `cc_loss` do not).

    Outputs with positions, `(batch, *positions, classes)`, are read as one
    row per position; a one-unit logit `z` as the two classes `[0, z]`.
    With a `mask`, rows that do not count are left out: the instance term
    averages the counted rows, their predictions are zeroed in both Gram
    matrices, and `B` is the number of counted rows
    (a batch where none counts gives 0).

    Args:
        teacher_logits: Tensor `(batch, ..., classes)`, or a list of such
            tensors, one per temperature (an ensemble's soft-target logits
            differ with the temperature).
        student_logits: Tensor `(batch, ..., classes)`.
        temperatures: Non-empty list of temperatures.
        instance_weight: Weight of the instance-level term.
        batch_weight: Weight of the batch-level term.
        class_weight: Weight of the class-level term.
        standardize: Whether the instance term z-scores each row of
            logits first.
        mask: `None`, or `(batch, *positions)`, 1 for rows that count.

    Returns:
        A float32 scalar.

    Example:

    >>> import numpy as np
    >>> z = np.array([[2.0, 1.0, 0.1], [0.1, 0.3, 2.0]], "float32")
    >>> float(multi_level_kd(z, z))
    0.0
    >>> value = multi_level_kd(z, z[::-1], temperatures=[4.0])
    >>> round(float(value), 4)
    1.2819
    """
    temperatures = validate_temperatures(temperatures)
    standardize = validate_standardize(standardize, "MLD")
    if isinstance(teacher_logits, (list, tuple)):
        if len(teacher_logits) != len(temperatures):
            raise ValueError(
                f"multi_level_kd takes one teacher tensor, or one per temperature: "
                f"received {len(teacher_logits)} for {len(temperatures)} temperatures."
            )
    else:
        teacher_logits = [teacher_logits] * len(temperatures)
    teacher_logits = [ops.convert_to_tensor(z) for z in teacher_logits]
    student_logits = ops.convert_to_tensor(student_logits)
    _check_same_shape(teacher_logits, student_logits)
    classes = max(student_logits.shape[-1], 2)
    teachers = [_rows(z, classes) for z in teacher_logits]
    student = _rows(student_logits, classes)
    if mask is None:
        rows = ops.ones((ops.shape(student)[0],), "float32")
    else:
        rows = ops.reshape(ops.cast(mask, "float32"), (-1,))
    counted = ops.sum(rows)
    # Every temperature at once: (K, rows, classes), K the temperatures.
    scale = ops.reshape(ops.convert_to_tensor(temperatures, "float32"), (-1, 1, 1))
    if standardize:
        kl_teachers = [_numerics.standardize(z) for z in teachers]
        kl_student = _numerics.standardize(student)
    else:
        kl_teachers, kl_student = teachers, student
    kl_teacher = ops.stack(kl_teachers, axis=0) / scale
    kl_student = ops.broadcast_to(ops.expand_dims(kl_student, 0), ops.shape(kl_teacher)) / scale
    kl = softmax_kl_divergence(kl_teacher, kl_student)
    teacher = ops.stack(teachers, axis=0) / scale
    student = ops.expand_dims(student, 0) / scale
    instance = ops.divide_no_nan(ops.sum(kl * rows, axis=-1), counted)
    instance = ops.sum(ops.square(ops.reshape(scale, (-1,))) * instance)
    # Rows that do not count are zero: they add nothing to either Gram matrix.
    column = ops.reshape(rows, (1, -1, 1))
    p_t = column * ops.exp(_numerics.log_softmax(teacher))
    p_s = column * ops.exp(_numerics.log_softmax(student))
    p_t_rows, p_s_rows = ops.transpose(p_t, (0, 2, 1)), ops.transpose(p_s, (0, 2, 1))
    samples = ops.matmul(p_t, p_t_rows) - ops.matmul(p_s, p_s_rows)
    batch = ops.divide_no_nan(ops.sum(ops.square(samples)), counted)
    correlations = ops.matmul(p_t_rows, p_t) - ops.matmul(p_s_rows, p_s)
    per_class = ops.sum(ops.square(correlations)) / float(classes)
    return instance_weight * instance + batch_weight * batch + class_weight * per_class


@register("mld")
class MLD(StandardizedLogitsCheck, DistillationLoss):
    """Multi-level logit distillation (Jin et al., CVPR 2023): instance,
    batch and class relations of the softened predictions, at several
    temperatures.

    Besides soft-target KD at each temperature (the instance level), the
    student matches the teacher's sample-similarity Gram matrix over the
    batch (batch level) and its class-correlation matrix (class level); see
    `multi_level_kd`. A batch-level loss, like DIST: sample weights do not
    apply to it; positions that do not count (a Keras mask, a per-position
    sample weight of 0) are left out.

    What is and is not the paper's method: the three terms, their
    normalizations and mdistiller's five temperatures are. The paper (and
    mdistiller's `MLKD`) also computes every term a second time on a
    strongly augmented view of the batch, and masks its terms by the
    teacher's confidence on the weak view. A loss sees one view per step:
    train on augmented views (`Distiller(augmentation=...)` or a
    `TeacherCache` written with views) for the augmentation side. The
    confidence mask is not included: in mdistiller's released code the
    terms are reduced to scalars before the mask multiplies them, so it
    scales each term by about one half rather than selecting samples;
    lower `weight` to the same effect.

    Args:
        temperatures: Non-empty list of temperatures; every term is summed
            over them.
        instance_weight: Weight of the instance-level (KL) term.
        batch_weight: Weight of the batch-level (sample Gram) term.
        class_weight: Weight of the class-level (class correlation) term.
        standardize: `True` for logit standardization (Sun et al., CVPR
            2024) in the instance term, as `SoftTargetKD(standardize=True)`;
            the batch and class terms read raw logits, as in Sun et al.'s
            MLKD code. Needs 3 or more classes.
        weight: Multiplier in a weighted list of losses.
        name: Optional display name.

    Example:

    >>> loss = MLD(temperatures=[2.0, 4.0], standardize=True)
    >>> loss.registered_name, loss.get_config()["temperatures"]
    ('mld', [2.0, 4.0])
    >>> distiller = keras_kd.Distiller(
    ...     teacher, student, distillation_loss=loss)
    """

    def __init__(
        self,
        temperatures=DEFAULT_TEMPERATURES,
        instance_weight=1.0,
        batch_weight=1.0,
        class_weight=1.0,
        standardize=False,
        weight=1.0,
        name=None,
    ):
        super().__init__(weight=weight, name=name)
        self.temperatures = validate_temperatures(temperatures)
        self.instance_weight, self.batch_weight, self.class_weight = check_non_negative(
            "MLD",
            instance_weight=instance_weight,
            batch_weight=batch_weight,
            class_weight=class_weight,
        )
        self.standardize = validate_standardize(standardize, "MLD")

    def call(self, teacher, student, y=None):
        # `teacher.logits(T)`: an ensemble's soft target changes with `T`.
        return multi_level_kd(
            [teacher.logits(t) for t in self.temperatures],
            student.logits(),
            self.temperatures,
            self.instance_weight,
            self.batch_weight,
            self.class_weight,
            self.standardize,
            mask=student.mask,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "temperatures": list(self.temperatures),
            "instance_weight": self.instance_weight,
            "batch_weight": self.batch_weight,
            "class_weight": self.class_weight,
            "standardize": self.standardize,
        }
