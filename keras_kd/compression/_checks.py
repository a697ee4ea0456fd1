"""Argument checks of the compression functions: clear errors, before work."""

import math
import numbers

import keras


def check_model(model, what):
    """Raises unless `model` is a built Keras model."""
    if not isinstance(model, keras.Model):
        raise ValueError(
            f"{what} takes a Keras model (Functional, Sequential or subclassed). "
            f"Received: {type(model).__name__}"
        )
    if not model.built:
        raise ValueError(
            f"The model {model.name!r} is not built: call it once on data, or "
            "build it with an input shape, before compressing it."
        )


def check_int(value, name, minimum):
    """Raises unless `value` is an integer (not a bool) >= `minimum`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"`{name}` must be an integer. Received: {name}={value!r}")
    if value < minimum:
        raise ValueError(f"`{name}` must be at least {minimum}. Received: {name}={value!r}")
    return int(value)


def check_share(value, name, upper_open=True):
    """Raises unless `value` is a real number in [0, 1) (or [0, 1])."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
        raise ValueError(f"`{name}` must be a number in [0, 1). Received: {name}={value!r}")
    if not 0.0 <= value < 1.0:
        raise ValueError(
            f"`{name}` is a share of weights set to zero and must lie in [0, 1) "
            f"(e.g. 0.8 keeps one weight in five). Received: {name}={value!r}"
        )
    return float(value)
