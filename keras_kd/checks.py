"""Argument checks for keras-kd and for code that extends it.

A custom loss, teacher or callback checks its constructor's arguments with
these, so that a mistake reads like keras-kd's own errors: what was received,
what was expected, and the fix. Plain Python (and NumPy scalars); no Keras.

Example:

>>> from keras_kd import checks
>>> checks.check_number("MyLoss", "temperature", 4.0, low=0, low_inclusive=False)
4.0
"""

import math
import numbers

import numpy as np

from keras_kd._labels import check_binary_labels  # noqa: F401  Public here.
from keras_kd._labels import check_class_labels  # noqa: F401  Public here.
from keras_kd._labels import check_classifier_labels  # noqa: F401  Public here.
from keras_kd._labels import check_labels  # noqa: F401  Public here.
from keras_kd._labels import check_one_label_per_sample  # noqa: F401  Public here.
from keras_kd._labels import check_whole_labels  # noqa: F401  Public here.

# What a model's (or a cache's) classification outputs hold.
LOGITS = "logits"
PROBABILITIES = "probabilities"
OUTPUT_KINDS = (LOGITS, PROBABILITIES)

# The temperatures a loss accepts: beyond them `logits / T` or `T**2`
# overflows float32, or every distribution is flat to float32 precision.
MIN_TEMPERATURE = 1e-2
MAX_TEMPERATURE = 1e3


def is_real_number(value):
    """True for a real scalar: Python or NumPy, never a boolean.

    Example:

    >>> import numpy as np
    >>> is_real_number(np.float32(4.0)), is_real_number(True)
    (True, False)
    """
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def is_integer(value):
    """True for a Python or NumPy integer, never a boolean.

    Example:

    >>> import numpy as np
    >>> is_integer(np.int64(3)), is_integer(3.0), is_integer(False)
    (True, False, False)
    """
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def check_number(
    owner,
    argument,
    value,
    low=None,
    high=None,
    *,
    low_inclusive=True,
    high_inclusive=True,
    role="",
    hint="",
):
    """Returns `value` as a float after checking it is a finite number in range.

    The one finite-number check of keras-kd: Python and NumPy scalars are
    accepted, booleans, strings, arrays, NaN and infinities are not.

    Args:
        owner: Who takes the value, for the message (e.g. `"DKD"`).
        argument: The argument's name.
        value: The value received.
        low: Lower bound, or `None`.
        high: Upper bound, or `None`.
        low_inclusive: Whether `low` itself is allowed.
        high_inclusive: Whether `high` itself is allowed.
        role: What the value does, put before "must be" in the message
            (e.g. `"is the weight of ... and"`).
        hint: A sentence appended to the message (typical values).

    Returns:
        `value` as a Python float.

    Example:

    >>> import numpy as np
    >>> check_number("DKD", "beta", np.float32(8.0), low=0)
    8.0
    """
    valid = is_real_number(value) and math.isfinite(value)
    if valid and low is not None:
        valid = value >= low if low_inclusive else value > low
    if valid and high is not None:
        valid = value <= high if high_inclusive else value < high
    if not valid:
        raise ValueError(
            f"{owner + ' ' if owner else ''}`{argument}` "
            f"{role + ' ' if role else ''}must be a number"
            f"{_describe_range(low, high, low_inclusive, high_inclusive)}"
            # A range with both ends already excludes NaN and infinities.
            f"{'' if None not in (low, high) else ', not NaN or infinite'}."
            f"{' ' + hint if hint else ''} "
            f"Received: {argument}={value!r}"
        )
    return float(value)


def _describe_range(low, high, low_inclusive, high_inclusive):
    if low is not None and high is not None:
        opening = "[" if low_inclusive else "("
        closing = "]" if high_inclusive else ")"
        return f" in {opening}{low:g}, {high:g}{closing}"
    if low is not None:
        return f" {'>=' if low_inclusive else '>'} {low:g}"
    if high is not None:
        return f" {'<=' if high_inclusive else '<'} {high:g}"
    return ""


def _check_numbers(owner, values, low, low_inclusive):
    return [
        check_number(owner, argument, value, low, low_inclusive=low_inclusive)
        for argument, value in values.items()
    ]


def check_non_negative(owner, **values):
    """Returns the keyword values as floats after checking each is >= 0.

    Args:
        owner: Name of the loss, for the error message.
        **values: The hyper-parameters to check, by argument name.

    Returns:
        A list of floats, in the order given.

    Example:

    >>> check_non_negative("DKD", alpha=1, beta=8.0)
    [1.0, 8.0]
    """
    return _check_numbers(owner, values, 0, True)


def check_positive(owner, **values):
    """Like `check_non_negative`, for values that must be > 0.

    Example:

    >>> check_positive("AttentionTransfer", p=2)
    [2.0]
    """
    return _check_numbers(owner, values, 0, False)


def check_one_of(owner, argument, value, choices):
    """Returns `value` after checking it is one of `choices`.

    Example:

    >>> check_one_of("FitNetHint", "loss", "mse", ("mse", "l1"))
    'mse'
    """
    if value not in choices:
        raise ValueError(
            f"{owner} `{argument}` must be one of {tuple(choices)}. Received: {argument}={value!r}"
        )
    return value


def validate_temperature(temperature):
    """Raises a clear error unless `temperature` is a number in [0.01, 1000].

    Args:
        temperature: The softening temperature `T`.

    Returns:
        `temperature` as a float.

    Example:

    >>> validate_temperature(4)
    4.0
    """
    valid = is_real_number(temperature) and MIN_TEMPERATURE <= temperature <= MAX_TEMPERATURE
    if not valid:
        raise ValueError(
            "The distillation temperature must be a number > 0, finite and "
            f"in [{MIN_TEMPERATURE:g}, {MAX_TEMPERATURE:g}] (typical values "
            f"are 1 to 20). Received: temperature={temperature!r}"
        )
    return float(temperature)


def validate_output_kind(kind, argument):
    """Checks an explicit `"logits"` / `"probabilities"` / `"auto"` setting.

    Args:
        kind: The setting.
        argument: The argument's name, for the error message.

    Returns:
        `kind`, unchanged.

    Example:

    >>> validate_output_kind("probabilities", "teacher_outputs")
    'probabilities'
    """
    if kind not in OUTPUT_KINDS + ("auto",):
        raise ValueError(
            f"`{argument}` must be one of 'auto', 'logits' or "
            f"'probabilities'. Received: {argument}={kind!r}"
        )
    return kind
