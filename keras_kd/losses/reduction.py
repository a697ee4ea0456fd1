"""How per-position losses become one number: masks, padding, sample weights.

Outputs shaped `(batch, classes)` give one loss value per sample; outputs
shaped `(batch, time, classes)` (sequences) or `(batch, height, width,
classes)` (per-pixel heads) give one per position. `PositionWeights` holds,
for one step, the weight of every position and the number the weighted sum
is divided by, so that the distillation term and the hard-label loss are
reduced the same way:

- no mask and per-sample (or no) weights: Keras' `"sum_over_batch_size"`,
  `sum(w * loss) / (batch * positions)`;
- a Keras mask on the student's outputs, or a per-position `sample_weight`
  of shape `(batch, *positions)`: the mean over the positions that count,
  `sum(w * m * loss) / count(m)`, where `m` is the mask and, for a
  per-position weight, also `w != 0`. That is Keras' own reduction of a
  masked loss, it does not depend on how far a sequence is padded, and a
  per-position weight of zeros and ones reduces exactly as the same mask.

A position that does not count weighs exactly 0 whatever its weight or its
loss holds (a NaN weight on padding, a NaN loss value there), and a batch
where nothing counts reduces to 0, batch-level losses (DIST, RKD) included.
"""

import math

from keras import ops

from keras_kd.losses._numerics import reduce_per_sample


class PositionWeights:
    """The weights and divisor that reduce one step's losses.

    Args:
        outputs: The student's outputs, `(batch, *positions, classes)`.
        mask: `None`, or the Keras mask of `outputs`, `(batch, *positions)`.
        sample_weight: `None`, per-sample weights `(batch,)` or
            `(batch, 1)`, or per-position weights `(batch, *positions)`.

    Example:

    >>> import numpy as np
    >>> outputs = np.zeros((2, 3, 4), "float32")    # (batch, time, classes)
    >>> mask = np.array([[1, 1, 0], [1, 0, 0]], bool)
    >>> weights = PositionWeights(outputs, mask)
    >>> loss = np.array([[1.0, 2.0, 9.0], [3.0, 9.0, 9.0]], "float32")
    >>> round(float(weights.reduce(loss)), 4)  # (1 + 2 + 3) / 3
    2.0
    """

    def __init__(self, outputs, mask=None, sample_weight=None):
        outputs = ops.convert_to_tensor(outputs)
        shape = tuple(ops.shape(outputs))  # Dynamic sizes where unknown.
        self.positions = tuple(outputs.shape[1:-1])
        weight_kind = _weight_kind(sample_weight, tuple(outputs.shape))
        # Masks on outputs without positions (a (batch,) mask) count samples.
        self.masked = mask is not None or weight_kind == "position"
        self._plain = weight_kind is None and not self.masked
        if self._plain and all(isinstance(size, int) for size in shape[:-1]):
            # Every weight is 1 and the sizes are known (always on JAX and
            # PyTorch): the divisor is a number and the weights of ones are
            # made only if a value must be broadcast (`reduce`), not in
            # every step, which PyTorch runs eagerly.
            self.mask = None
            self._weights = None
            self._ones_shape = shape[:-1]
            self.divisor = float(math.prod(shape[:-1]))
            return
        ones = ops.ones(shape[:-1], dtype="float32")
        weights = ones
        if weight_kind == "sample":
            per_sample = ops.reshape(ops.cast(sample_weight, "float32"), (-1,))
            weights = ones * ops.reshape(per_sample, (-1,) + (1,) * len(self.positions))
        elif weight_kind == "position":
            weights = ops.reshape(ops.cast(sample_weight, "float32"), shape[:-1])
        if self.masked:
            counted = ones
            if mask is not None:
                counted = ops.reshape(ops.cast(mask, "float32"), shape[:-1])
            if weight_kind == "position":
                counted = counted * ops.cast(ops.not_equal(weights, 0), "float32")
            self.mask = counted
            # `where`, not a product: NaN * 0 is NaN (a NaN weight on padding).
            self._weights = ops.where(counted > 0, weights, 0.0)
            self.divisor = ops.sum(counted)
        else:
            self.mask = None
            self._weights = weights
            self.divisor = ops.cast(ops.size(ones), "float32")

    @property
    def weights(self):
        """The weight of every position, `(batch, *positions)`, float32."""
        if self._weights is None:
            self._weights = ops.ones(self._ones_shape, dtype="float32")
        return self._weights

    def reduce(self, values):
        """One number from per-position, per-sample or batch-level values.

        Args:
            values: A scalar (returned as is), per-sample values `(batch,)`
                (each counted once per position of its sample that
                counts), or per-position values `(batch, *positions)`.

        Returns:
            A float32 scalar.
        """
        values = ops.cast(values, "float32")
        if len(values.shape) == 0:
            # A batch-level loss: nothing to relate when nothing counts.
            return ops.where(self.divisor > 0, values, 0.0) if self.masked else values
        if len(values.shape) > 1 and tuple(values.shape[1:]) != self.positions:
            values = reduce_per_sample(values)
        if len(values.shape) == 1 and self.positions:
            values = ops.reshape(values, (-1,) + (1,) * len(self.positions))
        if self._plain and tuple(values.shape[1:]) == self.positions:
            # Every weight is 1, every position counts and `values` has one
            # per position (nothing to broadcast): the same sum and quotient,
            # without the identity `where` and product.
            if isinstance(self.divisor, float):
                # A known size: the quotient `divide_no_nan` gives, or its 0
                # for an empty batch, without its `where`.
                return ops.sum(values) / self.divisor if self.divisor else ops.sum(values)
            return ops.divide_no_nan(ops.sum(values), self.divisor)
        # Positions that do not count are left out, whatever their value.
        values = ops.where(self.weights != 0, values, 0.0)
        return ops.divide_no_nan(ops.sum(values * self.weights), self.divisor)

    def keras_sample_weight(self):
        """The `sample_weight` to give Keras' compiled loss and metrics.

        With these weights, and the outputs' mask removed, Keras'
        `"sum_over_batch_size"` reduction equals `reduce`: each weight is
        multiplied by `positions / divisor`. `None` when there is nothing
        to weigh.
        """
        if self._plain:
            return None
        if not self.masked:
            return self.weights
        total = ops.cast(ops.size(self.weights), "float32")
        return self.weights * ops.divide_no_nan(total, self.divisor)

    def metric_sample_weight(self):
        """The `sample_weight` for Keras' metrics, which are weighted means.

        The weight of every position, zero where it does not count (Keras'
        metrics multiply it by the outputs' mask, which changes nothing);
        `None` when there is nothing to weigh.
        """
        return None if self._plain else self.weights


def _weight_kind(sample_weight, outputs_shape):
    """`None`, `"sample"` or `"position"`; raises for any other shape."""
    if sample_weight is None:
        return None
    shape = tuple(ops.convert_to_tensor(sample_weight).shape)
    positions = tuple(outputs_shape[1:-1])
    if len(shape) == 1 or (shape[1:] == (1,) and positions != (1,)):
        return "sample"
    if len(shape) == 1 + len(positions) and all(
        a is None or b is None or a == b for a, b in zip(shape[1:], positions)
    ):
        return "position"
    raise ValueError(
        "`sample_weight` must weigh each sample, shape (batch,), or each "
        "position of the outputs, shape (batch, *positions) = "
        f"{(outputs_shape[0],) + positions}. Received: "
        f"sample_weight of shape {shape} for student outputs of shape "
        f"{tuple(outputs_shape)}. Give one weight per sample, or one per "
        "position (e.g. 0 for padding, 1 for a real token)."
    )
