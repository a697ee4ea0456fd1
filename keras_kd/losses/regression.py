"""Output matching for regression heads: mean squared error and Huber.

A regression head (a linear `Dense(n)`) has no distribution to soften: the
student matches the teacher's outputs value for value. Both losses read the
raw final outputs and never soft-max them, so they also fit multi-label
sigmoid heads (matching probabilities) and any head whose teacher and
student outputs are of the same kind.
"""

from keras import ops

from keras_kd.checks import check_positive
from keras_kd.losses.base import DistillationLoss
from keras_kd.losses.registry import register


def mse_distillation(teacher_outputs, student_outputs):
    """Mean squared error between the outputs, one value per position.

    `mean_j (t_j - s_j)^2` over the last axis (the outputs' units), so that
    the positions of sequences and per-pixel heads stay apart and padding
    can be left out when they are reduced.

    Args:
        teacher_outputs: Tensor `(batch, *positions, units)`.
        student_outputs: Tensor of the same shape.

    Returns:
        Float32 tensor `(batch, *positions)`: `(batch,)` for outputs
        without positions.

    Example:

    >>> import numpy as np
    >>> t = np.array([[1.0, 2.0], [0.0, 0.0]])
    >>> s = np.array([[1.0, 0.0], [3.0, 1.0]])
    >>> ops.convert_to_numpy(mse_distillation(t, s)).tolist()
    [2.0, 5.0]
    """
    t = ops.cast(teacher_outputs, "float32")
    s = ops.cast(student_outputs, "float32")
    return ops.mean(ops.square(s - t), axis=-1)


def huber_distillation(teacher_outputs, student_outputs, delta=1.0):
    """Huber loss between the outputs, one value per sample.

    Per value, with `d = s - t`: `d^2 / 2` where `|d| <= delta`, else
    `delta * (|d| - delta / 2)` (quadratic near the teacher, linear far from
    it, as `keras.losses.Huber`); averaged over the last axis (the units),
    one value per position.

    Args:
        teacher_outputs: Tensor `(batch, *positions, units)`.
        student_outputs: Tensor of the same shape.
        delta: Positive float where the loss turns from quadratic to linear.

    Returns:
        Float32 tensor `(batch, *positions)`.

    Example:

    >>> import numpy as np
    >>> t = np.array([[0.0, 0.0]])
    >>> s = np.array([[0.5, 3.0]])
    >>> ops.convert_to_numpy(huber_distillation(t, s, delta=1.0)).tolist()
    [1.3125]
    """
    t = ops.cast(teacher_outputs, "float32")
    s = ops.cast(student_outputs, "float32")
    error = ops.abs(s - t)
    quadratic = ops.minimum(error, delta)
    # = d^2 / 2 inside delta; delta * (|d| - delta / 2) beyond it.
    return ops.mean(0.5 * ops.square(quadratic) + delta * (error - quadratic), axis=-1)


def weighted_members(teacher):
    """`[(outputs, kind, weight), ...]`: the teacher's models' raw outputs.

    One entry for a single teacher; one per member for an ensemble, whose
    `outputs` hold a mixture of soft-maxed distributions that an
    output-matching loss must not read.

    Args:
        teacher: The teacher's `ModelOutputs` view.

    Returns:
        A list of tuples; the weights sum to 1.
    """
    members = getattr(teacher, "members", None)
    if members is None:
        return [(teacher.outputs, teacher.kind, 1.0)]
    return list(zip(members, teacher.kinds, teacher.weights))


class _OutputMatching(DistillationLoss):
    """Reads the raw final outputs; an ensemble's are averaged first."""

    # Compares outputs unit by unit and never soft-maxes them over classes:
    # `keras_kd.outputs.check_heads` lets such losses read multi-label heads.
    per_unit = True
    # Compares raw values: `check_heads` refuses a teacher whose outputs are
    # not of the student's kind (probabilities against logits).
    same_kind = True

    def teacher_values(self, teacher):
        members = weighted_members(teacher)
        return sum(ops.cast(z, "float32") * w for z, _, w in members)


@register("mse")
class MSEDistillation(_OutputMatching):
    """Output matching by mean squared error, for regression heads.

    The student regresses onto the teacher's outputs:
    `mean_j (t_j - s_j)^2` per sample. With an ensemble teacher the target
    is the weighted mean of the teachers' outputs.

    Args:
        weight: Multiplier in a weighted list of losses.
        name: Optional display name.

    Example:

    >>> loss = keras_kd.losses.get("mse")
    >>> type(loss).__name__, loss.get_config()
    ('MSEDistillation', {'weight': 1.0, 'name': 'mse'})
    >>> distiller = keras_kd.Distiller(teacher, student, distillation_loss="mse")
    """

    def call(self, teacher, student, y=None):
        return mse_distillation(self.teacher_values(teacher), student.outputs)


@register("huber")
class HuberDistillation(_OutputMatching):
    """Output matching by the Huber loss, for regression heads.

    Like `"mse"` near the teacher, linear beyond `delta`: a teacher's large
    errors on outliers pull the student less.

    Args:
        delta: Positive float where the loss turns from quadratic to linear,
            in the units of the outputs.
        weight: Multiplier in a weighted list of losses.
        name: Optional display name.

    Example:

    >>> loss = HuberDistillation(delta=0.5)
    >>> HuberDistillation.from_config(loss.get_config()).delta
    0.5
    """

    def __init__(self, delta=1.0, weight=1.0, name=None):
        super().__init__(weight=weight, name=name)
        (self.delta,) = check_positive("HuberDistillation", delta=delta)

    def call(self, teacher, student, y=None):
        return huber_distillation(self.teacher_values(teacher), student.outputs, self.delta)

    def get_config(self):
        return {**super().get_config(), "delta": self.delta}
