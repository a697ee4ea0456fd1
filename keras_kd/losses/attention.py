"""Attention transfer (Zagoruyko and Komodakis, ICLR 2017)."""

from keras import ops

from keras_kd.checks import check_positive
from keras_kd.losses._numerics import flatten_per_sample
from keras_kd.losses._numerics import safe_sqrt
from keras_kd.losses.base import DistillationLoss
from keras_kd.losses.registry import register


def attention_map(features, p=2.0, size=None):
    """Spatial attention map: `normalize(flatten(mean_c |A|^p))`.

    Args:
        features: Channels-last features `(batch, H, W, C)` (or
            `(batch, L, C)`).
        p: Exponent of the activations' magnitude.
        size: Optional `(H, W)` to which a 2-D map is resized (bilinear)
            before flattening, so maps of different sizes can be compared.

    Returns:
        Float32 tensor `(batch, positions)`, each row of unit L2 norm.

    Example:

    >>> import numpy as np
    >>> tuple(attention_map(np.ones((2, 4, 4, 8))).shape)
    (2, 16)
    """
    features = ops.cast(features, "float32")
    attention = ops.mean(ops.power(ops.abs(features), p), axis=-1)
    if size is not None and tuple(attention.shape[1:]) != tuple(size):
        attention = ops.image.resize(ops.expand_dims(attention, -1), size, interpolation="bilinear")
    flat = flatten_per_sample(attention)
    norm = safe_sqrt(ops.sum(flat * flat, axis=-1, keepdims=True))
    return flat / ops.maximum(norm, 1e-12)


def attention_transfer(teacher_features, student_features, p=2.0):
    """AT loss of one layer pair, one value per sample.

    The mean over positions of the squared difference of the two attention
    maps; averaged over the batch it equals the official code's
    `(at(x) - at(y)).pow(2).mean()`. A student map whose spatial size
    differs from the teacher's is resized to it.

    Args:
        teacher_features: `(batch, H, W, C_t)`.
        student_features: `(batch, h, w, C_s)`; channels may differ.
        p: Exponent, 2 in the paper.

    Returns:
        Float32 tensor `(batch,)`.

    Example:

    >>> import numpy as np
    >>> teacher = np.ones((2, 8, 8, 16))
    >>> student = np.ones((2, 4, 4, 3))  # smaller map, fewer channels
    >>> ops.convert_to_numpy(attention_transfer(teacher, student)).tolist()
    [0.0, 0.0]
    """
    teacher_map = attention_map(teacher_features, p)
    size = tuple(teacher_features.shape[1:-1])
    student_map = attention_map(student_features, p, size=size if len(size) == 2 else None)
    return ops.mean(ops.square(teacher_map - student_map), axis=-1)


def _check_pairs(pairs):
    if not pairs or isinstance(pairs, str):
        raise ValueError(
            "AttentionTransfer needs `pairs` of (teacher layer, student "
            f"layer) names. Received: pairs={pairs!r}. Example: "
            "AttentionTransfer([('conv2', 'conv2')])."
        )
    pairs = [tuple(pair) for pair in pairs]
    for pair in pairs:
        if len(pair) != 2 or not all(isinstance(n, str) for n in pair):
            raise ValueError(
                "Each AttentionTransfer pair must be (teacher layer name, "
                f"student layer name). Received: {pair!r}."
            )
    return pairs


@register("at")
class AttentionTransfer(DistillationLoss):
    """Attention transfer: match where the teacher's feature maps are active.

    For each (teacher layer, student layer) pair, compares the L2-normalized
    spatial attention maps `mean_c |A|^p`; channel counts may differ and
    spatial sizes are matched by resizing the student's map. The pairs'
    losses are summed.

    Args:
        pairs: List of `(teacher_layer, student_layer)` name pairs, layers
            with channels-last outputs `(batch, H, W, C)`.
        p: Exponent (2 in the paper).
        weight: Multiplier. The paper's `beta = 1000` enters the official
            code as `beta / 2 = 500` times the summed pair losses.
        name: Optional display name.

    Example:

    >>> loss = AttentionTransfer(
    ...     [("block1", "conv1"), ("block2", "conv2")], weight=500.0)
    >>> loss.teacher_layers, loss.student_layers
    (('block1', 'block2'), ('conv1', 'conv2'))
    """

    def __init__(self, pairs=None, p=2.0, weight=500.0, name=None):
        super().__init__(weight=weight, name=name)
        self.pairs = _check_pairs(pairs)
        (self.p,) = check_positive("AttentionTransfer", p=p)

    @property
    def teacher_layers(self):
        return tuple(t for t, _ in self.pairs)

    @property
    def student_layers(self):
        return tuple(s for _, s in self.pairs)

    def build(self, teacher_shapes, student_shapes):
        for t_name, s_name in self.pairs:
            for role, name, shape in (
                ("teacher", t_name, teacher_shapes[t_name]),
                ("student", s_name, student_shapes[s_name]),
            ):
                if len(shape) not in (3, 4):
                    raise ValueError(
                        f"AttentionTransfer needs spatial features "
                        f"(batch, H, W, C), but the {role} layer '{name}' "
                        f"outputs shape {shape}. Pair convolutional layers."
                    )

    def call(self, teacher, student, y=None):
        total = None
        for t_name, s_name in self.pairs:
            value = attention_transfer(teacher.feature(t_name), student.feature(s_name), self.p)
            total = value if total is None else total + value
        return total

    def get_config(self):
        return {
            **super().get_config(),
            "pairs": [list(pair) for pair in self.pairs],
            "p": self.p,
        }
