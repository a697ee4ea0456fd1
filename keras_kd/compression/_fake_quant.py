"""The two quantizers of quantization-aware training, as TFLite quantizes.

- Weights: int8, symmetric, narrow range ([-127, 127], zero point 0), the
  range taken from the kernel itself at every call: per output channel for
  Conv2D and DepthwiseConv2D, per tensor for the other kernel layers (see
  `_layers.PER_CHANNEL_LAYERS` for why; TFMOT's default scheme makes the
  same choice for Dense).
- Activations: int8, asymmetric, per tensor; the range is an exponential
  moving average of the batch minimum and maximum, tracked in training calls
  and frozen (read only) in inference calls, so an exported model uses the
  ranges it was trained with.

Both use `keras.quantizers.fake_quant_with_min_max_vars`, whose gradient is
the straight-through estimator on every backend, and which on TensorFlow
lowers to the `FakeQuantWithMinMaxVars` ops the TFLite converter turns into
int8 tensors without a representative dataset.
"""

import keras
from keras import ops

from keras_kd.compression import _registration
from keras_kd.compression._layers import assign
from keras_kd.compression._layers import value

# Below this range a channel or tensor is treated as constant zero; keeps the
# quantization scale finite (a pruned-away channel has max |w| = 0).
_MIN_RANGE = 1e-6


def fake_quantize_weights(kernel, per_channel=True):
    """`kernel` rounded to int8, symmetric, narrow range.

    Args:
        kernel: A float kernel tensor, output channels on the last axis.
        per_channel: One range per output channel (else one per tensor).

    Returns:
        The fake-quantized kernel (same shape and dtype).

    Example:

    >>> import numpy as np
    >>> k = np.array([[0.5, -2.0], [-1.0, 1.0]], "float32")
    >>> q = keras.ops.convert_to_numpy(fake_quantize_weights(k))
    >>> bool(np.allclose(q, k, atol=2.0 / 254))
    True
    """
    kernel = ops.convert_to_tensor(kernel)
    axis = len(kernel.shape) - 1 if per_channel else None
    reduce_axes = tuple(range(len(kernel.shape) - 1)) if per_channel else None
    bound = ops.stop_gradient(ops.max(ops.abs(kernel), axis=reduce_axes))
    bound = ops.maximum(bound, _MIN_RANGE)
    return keras.quantizers.fake_quant_with_min_max_vars(
        kernel, -bound, bound, num_bits=8, narrow_range=True, axis=axis
    )


@_registration.register
class ActivationQuantizer(keras.layers.Layer):
    """Fake-quantizes a tensor to int8 over a tracked range (per tensor).

    In training calls the range `[min, max]` follows an exponential moving
    average of each batch's minimum and maximum (the first batch sets it);
    in inference calls it is read, never changed (and a quantizer that has
    seen no training batch passes its input through). The range always
    holds 0, as TFLite's asymmetric int8 needs.

    Args:
        decay: Weight of the old range in the moving average.
        **kwargs: Base layer arguments (`name`, ...).

    Example:

    >>> import numpy as np
    >>> q = ActivationQuantizer(name="q")
    >>> _ = q(np.array([[-1.0, 3.0]], "float32"), training=True)
    >>> [round(float(v), 3) for v in q.range()]
    [-1.0, 3.0]
    """

    def __init__(self, decay=0.999, **kwargs):
        super().__init__(**kwargs)
        self.decay = float(decay)
        self.range_min = self.add_weight(
            shape=(), initializer="zeros", trainable=False, name="range_min"
        )
        self.range_max = self.add_weight(
            shape=(), initializer="zeros", trainable=False, name="range_max"
        )
        self.tracked = self.add_weight(
            shape=(), initializer="zeros", trainable=False, name="tracked"
        )
        self.built = True

    def call(self, inputs, training=False):
        low, high = value(self.range_min), value(self.range_max)
        if training:
            values = ops.stop_gradient(ops.cast(inputs, "float32"))
            batch_low, batch_high = ops.min(values), ops.max(values)
            seen = value(self.tracked)
            decay = self.decay * seen  # 0 on the first batch: take it whole
            low = ops.minimum(decay * low + (1.0 - decay) * batch_low, 0.0)
            high = ops.maximum(decay * high + (1.0 - decay) * batch_high, 0.0)
            assign(self.range_min, low)
            assign(self.range_max, high)
            assign(self.tracked, 1.0)
        high = ops.maximum(high, low + _MIN_RANGE)
        outputs = keras.quantizers.fake_quant_with_min_max_vars(
            ops.cast(inputs, "float32"), low, high, num_bits=8
        )
        if not training:  # before any training call: no range yet, no rounding
            outputs = ops.where(value(self.tracked) > 0, outputs, ops.cast(inputs, "float32"))
        return ops.cast(outputs, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def range(self):
        """The frozen range `(min, max)` as Python floats."""
        return (
            float(ops.convert_to_numpy(self.range_min)),
            float(ops.convert_to_numpy(self.range_max)),
        )

    def is_tracked(self):
        """Whether a training call has set the range."""
        return bool(ops.convert_to_numpy(self.tracked) > 0)

    def get_config(self):
        return {**super().get_config(), "decay": self.decay}
