"""FitNet hints (Romero et al., ICLR 2015) with learned projectors."""

import keras
from keras import ops

from keras_kd.checks import check_one_of
from keras_kd.losses._numerics import reduce_per_sample
from keras_kd.losses._numerics import safe_sqrt
from keras_kd.losses.base import DistillationLoss
from keras_kd.losses.registry import register

HINT_DISTANCES = ("mse", "l1", "cosine")
PROJECTOR_MODES = ("auto", "always", "never")


def hint_distance(teacher_features, student_features, distance="mse"):
    """Distance between matched features, one value per sample.

    Args:
        teacher_features: Float tensor `(batch, ...)`.
        student_features: Float tensor of the same shape.
        distance: `"mse"` (mean squared error), `"l1"` (mean absolute
            error) or `"cosine"` (one minus the cosine similarity of the
            feature vectors along the last axis, e.g. the channels at each
            position, averaged over positions).

    Returns:
        Float32 tensor `(batch,)`.

    Example:

    >>> import numpy as np
    >>> t, s = np.ones((2, 4, 4, 3)), np.zeros((2, 4, 4, 3))
    >>> ops.convert_to_numpy(hint_distance(t, s, "mse")).tolist()
    [1.0, 1.0]
    """
    t = ops.cast(teacher_features, "float32")
    s = ops.cast(student_features, "float32")
    if distance == "mse":
        return reduce_per_sample(ops.square(s - t))
    if distance == "l1":
        return reduce_per_sample(ops.abs(s - t))
    norms = ops.maximum(
        safe_sqrt(ops.sum(s * s, axis=-1)) * safe_sqrt(ops.sum(t * t, axis=-1)),
        1e-12,
    )
    return reduce_per_sample(1.0 - ops.sum(s * t, axis=-1) / norms)


def per_position(distance_fn, teacher_outputs, student_outputs, *args):
    """`distance_fn` on every position of `(batch, *positions, channels)`.

    Args:
        distance_fn: A per-sample distance, `(n, channels)` -> `(n,)`.
        teacher_outputs: Tensor `(batch, *positions, channels)`.
        student_outputs: Tensor of the same shape.
        *args: Passed to `distance_fn`.

    Returns:
        Float32 tensor `(batch, *positions)`, or `(batch,)` for outputs
        without positions.

    Example:

    >>> import numpy as np
    >>> t, s = np.ones((2, 5, 3)), np.zeros((2, 5, 3))
    >>> tuple(per_position(hint_distance, t, s, "mse").shape)
    (2, 5)
    """
    shape = tuple(ops.shape(student_outputs))
    channels = shape[-1]
    flat = distance_fn(
        ops.reshape(teacher_outputs, (-1, channels)),
        ops.reshape(student_outputs, (-1, channels)),
        *args,
    )
    return ops.reshape(flat, shape[:-1])


def make_projector(student_shape, teacher_shape):
    """A small model mapping student features onto the teacher's shape.

    Image features `(H, W, C)` get a bilinear resize when the spatial sizes
    differ, then a 1x1 `Conv2D` to the teacher's channels; vectors and other
    features with the same leading sizes get a `Dense` on the last axis.

    Args:
        student_shape: Per-sample shape of the student's features.
        teacher_shape: Per-sample shape of the teacher's features.

    Returns:
        A built `keras.Sequential`.
    """
    student_shape, teacher_shape = tuple(student_shape), tuple(teacher_shape)
    layers = []
    if len(student_shape) == 3 and len(teacher_shape) == 3:
        if student_shape[:2] != teacher_shape[:2]:
            layers.append(keras.layers.Resizing(*teacher_shape[:2], interpolation="bilinear"))
        layers.append(keras.layers.Conv2D(teacher_shape[-1], 1))
    elif student_shape[:-1] == teacher_shape[:-1]:
        layers.append(keras.layers.Dense(teacher_shape[-1]))
    else:
        raise ValueError(
            f"FitNetHint cannot project student features of shape "
            f"{(None,) + student_shape} onto teacher features of shape "
            f"{(None,) + teacher_shape}: a projector handles image features "
            "(batch, H, W, C) of any size and channels, or features whose "
            "shapes differ only in the last axis. Pick layers of matching rank."
        )
    projector = keras.Sequential(layers)
    projector.build((None,) + student_shape)
    return projector


@register("fitnet")
class FitNetHint(DistillationLoss):
    """FitNet hint (Romero et al., 2015): match a student layer to a teacher's.

    When the two layers' outputs differ in shape (channels, width or spatial
    size), a learned projector maps the student's features onto the
    teacher's. The projector trains with the student, is saved with the
    `Distiller`, and is never part of `distiller.student`, so the exported
    student keeps its own parameter count.

    Args:
        teacher_layer: Name of the teacher layer (the hint), or `None` for
            the final outputs.
        student_layer: Name of the student layer (the guided layer), or
            `None` for the final outputs.
        loss: `"mse"`, `"l1"` or `"cosine"`.
        weight: Multiplier in a weighted list of losses.
        projector: `"auto"` (only when the shapes differ), `"always"` (as in
            the paper's regressor) or `"never"`.
        name: Optional display name.

    Example:

    >>> hint = FitNetHint("conv2", "conv2", weight=0.5)
    >>> hint.build({"conv2": (None, 8, 8, 32)}, {"conv2": (None, 8, 8, 8)})
    >>> [type(layer).__name__ for layer in hint.projector.layers]
    ['Conv2D']
    """

    def __init__(
        self,
        teacher_layer=None,
        student_layer=None,
        loss="mse",
        weight=1.0,
        projector="auto",
        name=None,
    ):
        super().__init__(weight=weight, name=name)
        check_one_of("FitNetHint", "loss", loss, HINT_DISTANCES)
        check_one_of("FitNetHint", "projector", projector, PROJECTOR_MODES)
        if (teacher_layer is None) != (student_layer is None):
            raise ValueError(
                "FitNetHint matches a teacher layer to a student layer, or "
                "the final outputs to the final outputs. Received: "
                f"teacher_layer={teacher_layer!r}, "
                f"student_layer={student_layer!r}. Name both layers, or "
                "neither."
            )
        self.teacher_layer = teacher_layer
        self.student_layer = student_layer
        self.loss = loss
        self.projector_mode = projector
        self.projector = None

    def build(self, teacher_shapes, student_shapes):
        if self.teacher_layer is None:
            return
        t_shape = tuple(teacher_shapes[self.teacher_layer][1:])
        s_shape = tuple(student_shapes[self.student_layer][1:])
        if self.projector_mode == "never" and t_shape != s_shape:
            raise ValueError(
                f"FitNetHint(projector='never') needs features of the same "
                f"shape, but teacher layer '{self.teacher_layer}' gives "
                f"{(None,) + t_shape} and student layer "
                f"'{self.student_layer}' gives {(None,) + s_shape}. Use "
                "projector='auto' to learn a mapping between them."
            )
        if self.projector_mode == "always" or t_shape != s_shape:
            self.projector = make_projector(s_shape, t_shape)

    @property
    def trainable_layers(self):
        return [] if self.projector is None else [self.projector]

    def call(self, teacher, student, y=None):
        features = student.feature(self.student_layer)
        if self.projector is not None:
            features = self.projector(ops.cast(features, "float32"))
        if self.student_layer is None:
            # Final outputs: one value per position (a sequence's tokens,
            # an image's pixels), so the Distiller can mask the padding.
            return per_position(hint_distance, teacher.outputs, features, self.loss)
        return hint_distance(teacher.feature(self.teacher_layer), features, self.loss)

    def get_config(self):
        return {
            **super().get_config(),
            "teacher_layer": self.teacher_layer,
            "student_layer": self.student_layer,
            "loss": self.loss,
            "projector": self.projector_mode,
        }
