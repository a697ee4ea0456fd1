"""Magnitude pruning: the sparsity schedule and the masks, in `keras.ops`.

The schedule is the polynomial one of Zhu & Gupta (2017), "To prune, or not
to prune": from `begin_step` to `end_step`, every `frequency` steps,

    s_t = s_f + (s_i - s_f) * (1 - (t - begin_step) / (end_step - begin_step)) ** 3

(the same as TFMOT's `PolynomialDecay` with `power=3`). A mask keeps the
largest-magnitude weights (or blocks of weights) and zeroes the rest; it is
computed from the already-masked kernel, so a pruned weight stays pruned as
the sparsity rises.
"""

import math

import numpy as np
from keras import ops


def sparsity_at(step, target_sparsity, begin_step, end_step, initial_sparsity=0.0, power=3):
    """The scheduled sparsity at `step` (a tensor or a number).

    Args:
        step: The training step (0 for the first batch).
        target_sparsity: Final sparsity `s_f`.
        begin_step: First step of the ramp.
        end_step: Step at which the final sparsity is reached.
        initial_sparsity: Sparsity `s_i` at `begin_step`.
        power: Exponent of the polynomial (3 in Zhu & Gupta).

    Returns:
        A float32 scalar tensor.

    Example:

    >>> round(float(sparsity_at(5, 0.8, begin_step=0, end_step=10)), 4)
    0.7
    """
    step = ops.cast(step, "float32")
    span = float(max(end_step - begin_step, 1))
    progress = ops.clip((step - float(begin_step)) / span, 0.0, 1.0)
    return target_sparsity + (initial_sparsity - target_sparsity) * (1.0 - progress) ** power


def is_update_step(step, begin_step, end_step, frequency):
    """Whether the masks are recomputed at `step` (a boolean tensor).

    At `begin_step`, every `frequency` steps after it up to `end_step`, and
    at `end_step` itself so the last update lands on the target.
    """
    step = ops.cast(step, "int32")
    in_ramp = ops.logical_and(step >= begin_step, step <= end_step)
    on_beat = ops.logical_or(ops.equal((step - begin_step) % frequency, 0), step == end_step)
    return ops.logical_and(in_ramp, on_beat)


def block_scores(kernel, block_size):
    """Mean |w| of each block of the kernel seen as a 2-D matrix.

    The kernel is viewed as `(prod(leading dims), output channels)`; a
    `block_size` of `(rows, cols)` must divide that matrix.

    Returns:
        `(scores, expand)`: the block scores and a function that spreads a
        block mask back over the kernel's shape.
    """
    shape = tuple(kernel.shape)
    rows, cols = int(np.prod(shape[:-1])), int(shape[-1])
    block_rows, block_cols = block_size
    blocks = (rows // block_rows, block_rows, cols // block_cols, block_cols)
    matrix = ops.reshape(ops.abs(kernel), blocks)
    scores = ops.mean(matrix, axis=(1, 3))

    def expand(block_mask):
        mask = ops.repeat(ops.repeat(block_mask, block_rows, axis=0), block_cols, axis=1)
        return ops.reshape(mask, shape)

    return scores, expand


def matrix_shape(kernel_shape):
    """The kernel seen as `(inputs, output channels)`, e.g. `(9, 4)` for 3x3x1x4."""
    return int(np.prod(tuple(kernel_shape)[:-1])), int(tuple(kernel_shape)[-1])


def tiles(block_size, kernel_shape):
    """Whether blocks of `block_size` tile the kernel's matrix view."""
    rows, cols = matrix_shape(kernel_shape)
    return rows % block_size[0] == 0 and cols % block_size[1] == 0


def magnitude_mask(kernel, sparsity, block_size=(1, 1)):
    """A 0/1 mask zeroing the `sparsity` share of smallest-magnitude weights.

    Args:
        kernel: The (already masked) kernel.
        sparsity: Share of weights (or blocks) to zero, a scalar tensor.
        block_size: `(rows, cols)` blocks pruned together; `(1, 1)` prunes
            single weights.

    Returns:
        A float mask of the kernel's shape. Ties at the threshold are pruned
        together, so the share can exceed `sparsity` by the tied weights.

    Example:

    >>> import numpy as np
    >>> k = np.array([[0.1, -0.4], [0.3, 0.2]], "float32")
    >>> ops.convert_to_numpy(magnitude_mask(k, 0.5)).tolist()
    [[0.0, 1.0], [1.0, 0.0]]
    """
    kernel = ops.convert_to_tensor(kernel)
    if tuple(block_size) == (1, 1):
        scores, expand = ops.abs(kernel), lambda m: m
    else:
        scores, expand = block_scores(kernel, block_size)
    flat = ops.reshape(scores, (-1,))
    count = int(flat.shape[0])
    pruned = ops.cast(ops.round(ops.cast(sparsity, "float32") * count), "int32")
    ordered = ops.sort(flat)
    index = ops.clip(pruned - 1, 0, count - 1)
    threshold = ops.where(pruned > 0, ops.take(ordered, index), -1.0)
    mask = ops.cast(scores > threshold, kernel.dtype)
    return expand(mask)


def zero_share(array):
    """Share of exact zeros in `array` (NumPy)."""
    array = np.asarray(array)
    return float(np.mean(array == 0)) if array.size else math.nan
