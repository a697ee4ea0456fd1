"""Relational knowledge distillation, RKD (Park et al., CVPR 2019)."""

from keras import ops

from keras_kd.checks import check_non_negative
from keras_kd.losses._numerics import flatten_per_sample
from keras_kd.losses.base import DistillationLoss
from keras_kd.losses.registry import register


def _smooth_l1(a, b, weights=None):
    """Huber loss with threshold 1 (PyTorch's smooth_l1_loss), averaged.

    With `weights` (same shape, 0 or 1), the mean over the entries that
    count; 0 when none does.
    """
    diff = ops.abs(a - b)
    huber = ops.where(diff < 1.0, 0.5 * diff * diff, diff - 0.5)
    if weights is None:
        return ops.mean(huber)
    return ops.divide_no_nan(ops.sum(huber * weights), ops.sum(weights))


def _pairwise_distances(e):
    """Euclidean distances `(batch, batch)`, zero diagonal, stable gradient."""
    squared = ops.sum(e * e, axis=-1)
    d2 = (
        ops.expand_dims(squared, 1)
        + ops.expand_dims(squared, 0)
        - 2.0 * ops.matmul(e, ops.transpose(e))
    )
    off_diagonal = 1.0 - ops.eye(ops.shape(e)[0], dtype="float32")
    return ops.sqrt(ops.maximum(d2, 1e-12)) * off_diagonal


def _normalized_distances(e, pairs=None):
    d = _pairwise_distances(e)
    if pairs is not None:
        d = d * pairs  # Distances to a sample that does not count are 0.
    positive = ops.cast(d > 0, "float32")
    mean = ops.sum(d) / ops.maximum(ops.sum(positive), 1.0)
    # A batch of one (or of identical samples) has no distance to compare:
    # every `d` is 0, and dividing by 1 keeps it 0 instead of 0 / 0 = NaN.
    return d / ops.where(mean > 0, mean, 1.0)


def _angles(e):
    """`cos` of the angle at each anchor i between j and k: `(batch^3,)`."""
    diff = ops.expand_dims(e, 0) - ops.expand_dims(e, 1)
    # max(|d|, 1e-12) taken under the root: a zero difference (i == j) must
    # not send the infinite gradient of sqrt(0) into the student.
    norm = ops.sqrt(ops.maximum(ops.sum(diff * diff, axis=-1, keepdims=True), 1e-24))
    unit = diff / norm
    return ops.reshape(ops.matmul(unit, ops.transpose(unit, (0, 2, 1))), (-1,))


def _relations(present):
    """Pair `(batch, batch)` and triplet `(batch^3,)` weights of the samples
    that count (`present`, `(batch,)` of 0 and 1), or `(None, None)`."""
    if present is None:
        return None, None
    present = ops.cast(present, "float32")
    pairs = ops.expand_dims(present, 1) * ops.expand_dims(present, 0)
    triplets = ops.expand_dims(pairs, -1) * ops.reshape(present, (1, 1, -1))
    return pairs, ops.reshape(triplets, (-1,))


def rkd_distance(teacher_embeddings, student_embeddings, present=None):
    """Distance-wise RKD: Huber loss between mean-normalized distances.

    `present` (optional, `(batch,)` of 0 and 1) leaves out the samples
    that do not count (all of whose positions are padding).
    """
    pairs, _ = _relations(present)
    t = _normalized_distances(flatten_per_sample(teacher_embeddings), pairs)
    s = _normalized_distances(flatten_per_sample(student_embeddings), pairs)
    return _smooth_l1(s, t, pairs)


def rkd_angle(teacher_embeddings, student_embeddings, present=None):
    """Angle-wise RKD: Huber loss between the angles of all triplets."""
    _, triplets = _relations(present)
    return _smooth_l1(
        _angles(flatten_per_sample(student_embeddings)),
        _angles(flatten_per_sample(teacher_embeddings)),
        triplets,
    )


def rkd_loss(
    teacher_embeddings,
    student_embeddings,
    distance_weight=25.0,
    angle_weight=50.0,
    present=None,
):
    """`distance_weight * RKD-D + angle_weight * RKD-A`, one batch value.

    Args:
        teacher_embeddings: `(batch, ...)`, flattened per sample.
        student_embeddings: `(batch, ...)`; the size may differ from the
            teacher's, only relations between samples are compared.
        distance_weight: The paper's 25.
        angle_weight: The paper's 50.
        present: `None`, or `(batch,)` of 0 and 1: the samples that count.
            The others (entirely padded) are no point of the relations.

    Returns:
        A float32 scalar.

    Example:

    >>> import numpy as np
    >>> e = np.random.default_rng(0).normal(size=(4, 8)).astype("float32")
    >>> # Relations survive scaling: a scaled copy has no loss.
    >>> round(float(rkd_loss(e, 3.0 * e)), 3)
    0.0
    """
    total = ops.zeros((), "float32")
    if distance_weight:
        total = total + distance_weight * rkd_distance(
            teacher_embeddings, student_embeddings, present
        )
    if angle_weight:
        total = total + angle_weight * rkd_angle(teacher_embeddings, student_embeddings, present)
    return total


def _zero_masked(outputs, mask):
    """`outputs` `(batch, *positions, channels)` with masked positions zeroed."""
    outputs = ops.cast(outputs, "float32")
    return outputs * ops.expand_dims(ops.cast(mask, "float32"), -1)


@register("rkd")
class RKD(DistillationLoss):
    """Relational KD: transfer distances and angles between samples.

    Compares the structure of a batch, not individual outputs, so teacher
    and student embeddings may have different sizes. A batch-level loss:
    sample weights do not apply to it, but on final outputs with positions
    (sequences, per-pixel heads) the positions that do not count (a Keras
    mask, a per-position sample weight of 0) are zeroed on both sides, and
    a sample none of whose positions counts is no point of the relations,
    so padding changes nothing. Memory grows as `batch^3` for the
    angle term.

    Args:
        teacher_layer: Teacher layer giving the embeddings, or `None` for
            the final outputs.
        student_layer: Student layer, or `None` for the final outputs.
        distance_weight: Weight of the distance-wise term (paper: 25).
        angle_weight: Weight of the angle-wise term (paper: 50).
        weight: Multiplier in a weighted list of losses.
        name: Optional display name.

    Example:

    >>> loss = RKD("embedding", "embedding")
    >>> loss.teacher_layers, loss.student_layers
    (('embedding',), ('embedding',))
    """

    def __init__(
        self,
        teacher_layer=None,
        student_layer=None,
        distance_weight=25.0,
        angle_weight=50.0,
        weight=1.0,
        name=None,
    ):
        super().__init__(weight=weight, name=name)
        self.distance_weight, self.angle_weight = check_non_negative(
            "RKD", distance_weight=distance_weight, angle_weight=angle_weight
        )
        self.teacher_layer = teacher_layer
        self.student_layer = student_layer

    def call(self, teacher, student, y=None):
        teacher_embeddings = teacher.feature(self.teacher_layer)
        student_embeddings = student.feature(self.student_layer)
        present = None
        if student.mask is not None and self.student_layer is None:
            mask = ops.cast(student.mask, "float32")
            if len(mask.shape) > 1:
                # Padded positions become zeros on both sides: distances and
                # angles between samples are those of the unpadded outputs.
                teacher_embeddings = _zero_masked(teacher_embeddings, mask)
                student_embeddings = _zero_masked(student_embeddings, mask)
                mask = ops.max(ops.reshape(mask, (ops.shape(mask)[0], -1)), axis=-1)
            # A sample with nothing that counts is no point of the relations.
            present = mask
        return rkd_loss(
            teacher_embeddings,
            student_embeddings,
            self.distance_weight,
            self.angle_weight,
            present,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "teacher_layer": self.teacher_layer,
            "student_layer": self.student_layer,
            "distance_weight": self.distance_weight,
            "angle_weight": self.angle_weight,
        }
