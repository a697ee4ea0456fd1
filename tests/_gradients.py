"""The gradient of a loss on the current backend, for the test files that
check gradients against a NumPy or exact reference."""

import keras
import numpy as np


def gradient(function, value):
    """d sum(function(v)) / dv at `value`, on the current backend.

    Args:
        function: Backend tensor -> backend tensor (a scalar or any shape;
            its elements are summed).
        value: NumPy array, the point where the gradient is taken.

    Returns:
        NumPy array of `value`'s shape.
    """
    variable = keras.Variable(value)
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return np.asarray(jax.grad(lambda v: function(v).sum())(variable.value))
    if backend == "torch":
        function(variable.value).sum().backward()
        return keras.ops.convert_to_numpy(variable.value.grad)
    import tensorflow as tf

    with tf.GradientTape() as tape:
        total = tf.reduce_sum(function(variable.value))
    return keras.ops.convert_to_numpy(tape.gradient(total, variable.value))
