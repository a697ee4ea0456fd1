"""The numerics that the distillation losses share (their argument checks are
the public `keras_kd.checks`).

Everything here is a pure function on `keras.ops` (or plain Python for the
checks) and computes in float32 whatever the inputs' dtype. The losses, the
`ModelOutputs` views and `keras_kd.outputs` all read model outputs through
`as_logits` and `log_softmax` below, so there is one definition of "the
logits behind a softmax head" and one accurate KL divergence in the library.
"""

import math

import keras
import numpy as np
from keras import ops

from keras_kd.checks import PROBABILITIES

# Probabilities that underflowed to 0 become this before the log: the
# smallest normal float32 (about exp(-87.3)), so log-probabilities stay
# finite. A smaller (subnormal) floor such as 1e-38 is flushed to zero on
# TensorFlow and XLA, and log(0) turns the whole loss into NaN.
MIN_PROBABILITY = float(np.finfo(np.float32).tiny)
# What `log_softmax` gives instead of -inf for a probability of exactly 0 (a
# class masked with a logit of -inf). Far below any log-probability that a
# finite logit gap of a model has, yet small enough that the divergences'
# `log p_s - log p_t` times T^2 and a loss weight stays finite in the
# backward pass (the lowest float32 overflowed there: 0 * inf, NaN weights).
MIN_LOG_PROBABILITY = -1e20
_MIN_LOG_PROBABILITY = {"float16": float(np.finfo(np.float16).min)}
# The largest float32 below 1, so a one-unit sigmoid output of 1 keeps a
# finite logit.
_MAX_BINARY_PROBABILITY = 1.0 - 1e-7


# -- Reading model outputs ----------------------------------------------------


def as_logits(values, kind):
    """Maps model outputs to logits (log-probabilities up to a constant).

    A one-unit output is a binary head and becomes two-class logits
    `[0, z]`, so softmax of them is `[1 - sigmoid(z), sigmoid(z)]`.
    Probabilities that underflowed to 0 are floored at the smallest
    normal float32 (`MIN_PROBABILITY`) first, so
    their logits stay finite. Computation is in float32 whatever the
    model's dtype policy.

    Args:
        values: Tensor of shape `(batch, ..., classes)`.
        kind: `"logits"` or `"probabilities"`.

    Returns:
        A float32 tensor of shape `(batch, ..., max(classes, 2))`.

    Example:

    >>> import numpy as np
    >>> logits = as_logits(np.array([[0.5]]), "probabilities")  # sigmoid head
    >>> ops.convert_to_numpy(logits).tolist()
    [[0.0, 0.0]]
    """
    values = ops.cast(values, "float32")
    binary = values.shape[-1] == 1
    if kind == PROBABILITIES:
        if binary:
            p = ops.clip(values, MIN_PROBABILITY, _MAX_BINARY_PROBABILITY)
            values = ops.log(p) - ops.log1p(-p)
        else:
            return ops.log(ops.maximum(values, MIN_PROBABILITY))
    if binary:
        values = ops.concatenate([ops.zeros_like(values), values], axis=-1)
    return values


def log_softmax(logits, axis=-1):
    """A log-softmax that stays exact for logits as large as +-1e4.

    Args:
        logits: Float tensor.
        axis: The axis of the classes.

    Returns:
        `logits - logsumexp(logits)` along `axis`, same shape; a logit of
        -inf (a masked class) gives `MIN_LOG_PROBABILITY` (-1e20), not -inf.

    Example:

    >>> import numpy as np
    >>> values = ops.convert_to_numpy(log_softmax(np.array([[1e4, 0.0]])))
    >>> values.tolist()
    [[0.0, -10000.0]]
    """
    # Each backend's own op (tf.nn.log_softmax, jax.nn.log_softmax,
    # torch.log_softmax) shifts by the maximum, as the formula above does,
    # in one fused op with its own gradient: on PyTorch, which runs every
    # op and its autograd node eagerly, one call instead of five.
    log_p = ops.log_softmax(ops.convert_to_tensor(logits), axis=axis)
    # A class masked with a logit of -inf (a language model's forbidden
    # tokens) has log-probability -inf: the divergences' `log p_s - log p_t`
    # and `0 * log p` would make the loss and every gradient NaN. Floored at
    # MIN_LOG_PROBABILITY, its probability is still 0 and the divergences
    # stay exact; NaN stays NaN.
    dtype = keras.backend.standardize_dtype(log_p.dtype)
    return ops.maximum(log_p, _MIN_LOG_PROBABILITY.get(dtype, MIN_LOG_PROBABILITY))


# Added to the standard deviation of a row before dividing by it, as in the
# code of Sun et al. (2024), so a row of equal logits standardizes to zeros.
STANDARDIZE_EPSILON = 1e-7


# Logit standardization needs this many classes: a row of two logits
# z-scores to +-1/sqrt(2) whatever their gap, so only the argmax would remain.
MIN_STANDARDIZED_CLASSES = 3


def check_standardizable(classes, owner="Logit standardization (standardize=True)"):
    """Raises unless rows of `classes` logits can be z-scored meaningfully.

    Args:
        classes: The number of classes (after a one-unit head became two),
            or `None` when unknown (not checked).
        owner: Who standardizes, for the message.

    Example:

    >>> check_standardizable(10)
    >>> check_standardizable(2)
    Traceback (most recent call last):
    ...
    ValueError: Logit standardization (standardize=True) needs 3 or more classes, ...
    """
    if classes is not None and classes < MIN_STANDARDIZED_CLASSES:
        raise ValueError(
            f"{owner} needs {MIN_STANDARDIZED_CLASSES} or more classes, but the "
            f"outputs have {classes} (a one-unit sigmoid head counts as 2): a row "
            "of 2 logits z-scores to [-0.71, 0.71] or [0.71, -0.71] whatever "
            "the teacher's confidence, so only its argmax would be distilled. "
            "Use standardize=False for a binary head."
        )


def standardize(logits, axis=-1):
    """Z-scores each row of logits: `(z - mean) / (std + 1e-7)` along `axis`.

    Logit standardization (Sun et al., "Logit Standardization in Knowledge
    Distillation", CVPR 2024). The standard deviation is the unbiased one
    (divided by `classes - 1`), as `torch.std` in the paper's code. The
    result is unchanged by a constant added to a row (so log-probabilities
    standardize exactly as the logits behind them) and by a positive factor
    on it. The variance is floored at the smallest normal float32 before
    its square root, so a row of equal logits has a finite gradient.

    Args:
        logits: Float tensor `(..., classes)` with `classes >= 3`.
        axis: The axis of the classes.

    Returns:
        Float32 tensor of the same shape.

    Example:

    >>> import numpy as np
    >>> z = ops.convert_to_numpy(standardize(np.array([[1.0, 2.0, 3.0]])))
    >>> np.round(z, 4).tolist()
    [[-1.0, 0.0, 1.0]]
    """
    logits = ops.cast(logits, "float32")
    classes = logits.shape[axis]
    check_standardizable(classes)
    centred = logits - ops.mean(logits, axis=axis, keepdims=True)
    variance = ops.sum(ops.square(centred), axis=axis, keepdims=True) / float(max(classes - 1, 1))
    std = ops.sqrt(ops.maximum(variance, MIN_PROBABILITY))
    return centred / (std + STANDARDIZE_EPSILON)


def softmax_kl_divergence(teacher_logits, student_logits):
    """`KL(softmax(t) || softmax(s))` over the last axis, from logits.

    With `q = log p_s - log p_t` (from the two log-softmaxes), the
    divergence `-sum p_t q` is computed as `sum p_t (e^q - 1 - q)`, equal
    to it because `sum p_t e^q = sum p_s = 1`. Every term of that sum is
    non-negative, so close distributions (high temperatures), whose
    divergence is far smaller than each `q`, lose nothing to cancellation;
    and an error `c` shared by every `q` (the rounding of a log-sum-exp)
    changes the sum only by about `c^2`. Where `q > 1` the term is computed
    as `p_t (e - 1 - q) + (p_s - e p_t)`, the same value, so a teacher
    probability that underflowed to 0 under a student probability that did
    not never gives `0 * inf`. Finite for logits as large as +-1e4; the
    tests compare it with an exact (decimal) computation from logits of
    1e-3 to 1e4 and temperatures of 1 to 100.

    Args:
        teacher_logits: Float32 tensor `(..., classes)`.
        student_logits: Float32 tensor of the same shape.

    Returns:
        Float32 tensor `(...)`, one divergence per distribution.

    Example:

    >>> import numpy as np
    >>> z = np.array([[2.0, 1.0, 0.1]], "float32")
    >>> ops.convert_to_numpy(softmax_kl_divergence(z, z)).tolist()
    [0.0]
    """
    log_p_teacher = log_softmax(ops.cast(teacher_logits, "float32"))
    log_p_student = log_softmax(ops.cast(student_logits, "float32"))
    q = log_p_student - log_p_teacher
    p_teacher = ops.exp(log_p_teacher)
    # `p_t (e^min(q, 1) - 1 - q)`: expm1 of at most 1 never overflows.
    # `min(q, 1)` as `q - relu(q - 1)`: the same values and gradient, and
    # on PyTorch a quarter of the Python time of `ops.minimum(q, 1.0)`.
    above = ops.relu(q - 1.0)
    near = p_teacher * (ops.expm1(q - above) - q)
    # `p_t (e^q - e)` where q > 1, as `p_s - e p_t`; 0 elsewhere. Chosen by
    # `above > 0`, the test the relu's gradient makes, so that both terms
    # take the same side at q = 1 (their gradients must not add twice).
    far = ops.where(above > 0, ops.exp(log_p_student) - math.e * p_teacher, 0.0)
    return ops.sum(near + far, axis=-1)


def _kl_to_mixture(log_p, log_q, weight):
    """`KL(p || (1 - w) p + w q)` over the last axis, for `0 < w < 1`.

    With `r = log q - log p`, the divergence is `-sum p log(1 - w + w e^r)`.
    Where `|r|` is small the logarithm is `log1p(w expm1(r))`, which keeps
    float32 accurate for close distributions (high temperatures); elsewhere
    it is a log-add-exp, which stays finite for log-ratios of any size.
    """
    r = log_q - log_p
    near = ops.log1p(weight * ops.expm1(ops.clip(r, -0.5, 0.5)))
    far = ops.logaddexp(r + math.log(weight), ops.full_like(r, math.log1p(-weight)))
    log_ratio = ops.where(ops.abs(r) < 0.5, near, far)
    return -ops.sum(ops.exp(log_p) * log_ratio, axis=-1)


def softmax_generalized_jsd(teacher_logits, student_logits, beta):
    """Generalized Jensen-Shannon divergence of two softmaxes, from logits.

    `beta * KL(p_t || m) + (1 - beta) * KL(p_s || m)` with the mixture
    `m = beta * p_t + (1 - beta) * p_s`: the convention of GKD (Agarwal et
    al., 2024) and TRL's `GKDTrainer.generalized_jsd_loss`. `beta = 0.5` is
    the symmetric Jensen-Shannon divergence; the value tends to 0 as `beta`
    tends to 0 or 1, so, as in TRL, the end points are defined as the
    limits of the *normalized* divergence: `beta = 0` gives the forward
    `KL(p_t || p_s)` and `beta = 1` the reverse `KL(p_s || p_t)`.
    Computed in float32 from log-softmax; the mixture's logarithm never
    leaves log space, so logits of +-1e4 stay finite.

    Args:
        teacher_logits: Float tensor `(..., classes)`.
        student_logits: Float tensor of the same shape.
        beta: Python float in [0, 1].

    Returns:
        Float32 tensor `(...)`, one divergence per distribution.

    Example:

    >>> import numpy as np
    >>> t = np.array([[0.0, -1e4]], "float32")  # all mass on class 0
    >>> s = np.array([[-1e4, 0.0]], "float32")  # all mass on class 1
    >>> value = softmax_generalized_jsd(t, s, 0.5)  # disjoint: log 2
    >>> round(float(ops.convert_to_numpy(value)[0]), 4)
    0.6931
    """
    beta = float(beta)
    if beta == 0.0:
        return softmax_kl_divergence(teacher_logits, student_logits)
    if beta == 1.0:
        return softmax_kl_divergence(student_logits, teacher_logits)
    log_p_teacher = log_softmax(ops.cast(teacher_logits, "float32"))
    log_p_student = log_softmax(ops.cast(student_logits, "float32"))
    # m = (1 - w) p + w q: for KL(p_t || m) the other weight is 1 - beta.
    return beta * _kl_to_mixture(log_p_teacher, log_p_student, 1.0 - beta) + (
        1.0 - beta
    ) * _kl_to_mixture(log_p_student, log_p_teacher, beta)


def safe_sqrt(values):
    """`sqrt(values)` whose gradient at 0 is 0 instead of infinity.

    A norm or a standard deviation of zero (one counted row, a feature map
    of zeros, identical samples) is common in a batch; the plain square
    root's infinite slope at 0, multiplied by the zero that follows it,
    turns every weight into NaN.

    Args:
        values: Non-negative float tensor.

    Returns:
        Float32 tensor of the same shape.

    Example:

    >>> import numpy as np
    >>> ops.convert_to_numpy(safe_sqrt(np.array([0.0, 4.0]))).tolist()
    [0.0, 2.0]
    """
    values = ops.cast(values, "float32")
    positive = values > 0
    return ops.where(positive, ops.sqrt(ops.where(positive, values, 1.0)), 0.0)


# -- Shapes -------------------------------------------------------------------


def flatten_per_sample(values):
    """Float32 `(batch, -1)`: every axis but the first flattened.

    Example:

    >>> import numpy as np
    >>> tuple(flatten_per_sample(np.zeros((2, 3, 4))).shape)
    (2, 12)
    """
    values = ops.cast(values, "float32")
    return ops.reshape(values, (ops.shape(values)[0], -1))


def reduce_per_sample(values):
    """Averages every axis but the first, giving one value per sample.

    Args:
        values: Tensor `(batch, ...)`, or `(batch,)` / a scalar, returned
            as float32 unchanged.

    Returns:
        Float32 tensor `(batch,)` (or the scalar).

    Example:

    >>> import numpy as np
    >>> ops.convert_to_numpy(reduce_per_sample(np.ones((2, 3, 4)))).tolist()
    [1.0, 1.0]
    """
    values = ops.cast(values, "float32")
    if len(values.shape) <= 1:
        return values
    return ops.mean(flatten_per_sample(values), axis=-1)
