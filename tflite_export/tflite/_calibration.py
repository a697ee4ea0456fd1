"""Representative (calibration) samples for post-training quantization.

The converter needs a few hundred typical inputs to choose int8 ranges. Users
hold them in many forms; this module draws a bounded number of single samples
from any of them, in this process and on any backend, and checks their shape
against the model's input before a conversion starts.
"""

import itertools
import numbers

import keras
import numpy as np

DEFAULT_NUM_CALIBRATION_SAMPLES = 300


def input_shapes(model):
    """Per-input shapes without the batch dimension, e.g. `[(28, 28, 1)]`.

    Args:
        model: A built Keras 3 or tf-keras model with known inputs.

    Returns:
        A list with one shape tuple per model input.
    """
    inputs = getattr(model, "inputs", None)
    if not inputs:
        raise ValueError(
            f"Cannot tell the input shape of {type(model).__name__}: it has no "
            "`inputs`. Build it on a `keras.Input` (a Functional or Sequential "
            "model with an input shape), or call it once on data, then convert."
        )
    return [tuple(_dim(d) for d in tensor.shape[1:]) for tensor in inputs]


def _dim(dimension):
    return None if dimension is None else int(dimension)


def draw_samples(data, shapes, limit=DEFAULT_NUM_CALIBRATION_SAMPLES):
    """Draws at most `limit` single samples from `data`, stacked per input.

    Args:
        data: A NumPy array (or a list of arrays, one per input), a
            `tf.data.Dataset`, a `keras.utils.PyDataset`, or an iterable or
            generator. Elements may be single samples or batches; `(x, y)`
            and `(x, y, sample_weight)` elements are read as `x`.
        shapes: The model's input shapes, from `input_shapes`.
        limit: The most samples to take (the first ones, in order).

    Returns:
        A list with one float32 array of shape `(n,) + shape` per input.

    Raises:
        ValueError: `data` is empty, of an unknown kind, or a sample's shape
            differs from the model's input shape (the message names both).
    """
    if isinstance(limit, bool) or not isinstance(limit, numbers.Integral) or limit < 1:
        raise ValueError(
            f"num_calibration_samples must be an integer of at least 1. Received: {limit!r}"
        )
    data = _as_arrays(data, len(shapes))
    if _is_array_like(data, len(shapes)):
        columns = _as_columns(data, shapes)
        drawn = [column[:limit] for column in columns]
    else:
        drawn = _draw_from_iterable(data, shapes, limit)
    if len(drawn[0]) == 0:
        raise ValueError("representative_data is empty: it yielded no samples.")
    columns = [np.asarray(column, dtype="float32") for column in drawn]
    for i, column in enumerate(columns):
        check_finite(column, "representative_data" + (f" (input {i})" if len(columns) > 1 else ""))
    return columns


def check_finite(array, what):
    """Raises if `array` holds NaN or infinity (they wreck the int8 ranges).

    The converter would calibrate on them silently: all-NaN data gives a
    float file labelled int8, and infinity crashes TensorFlow's calibrator.

    Example:

    >>> check_finite(np.array([1.0, np.nan]), "representative_data")
    Traceback (most recent call last):
    ...
    ValueError: representative_data holds 1 NaN and 0 infinite values ...
    """
    array = np.asarray(array)
    if array.dtype.kind not in "fc" or np.isfinite(array).all():
        return
    nans = int(np.isnan(array).sum())
    infs = int(np.isinf(array).sum())
    raise ValueError(
        f"{what} holds {nans} NaN and {infs} infinite values among {array.size}. "
        "Calibration and evaluation need finite numbers: drop or fix those "
        "samples (e.g. x[np.isfinite(x).all(axis=tuple(range(1, x.ndim)))])."
    )


def _as_arrays(data, num_inputs):
    """Nested lists of numbers become an array; a dict its list of values."""
    if isinstance(data, dict):
        if not data:
            raise ValueError("representative_data is an empty dict: it holds no samples.")
        values = [np.asarray(v) for v in data.values()]
        return values[0] if num_inputs == 1 and len(values) == 1 else values
    if isinstance(data, (list, tuple)) and data and not isinstance(data[0], np.ndarray):
        try:
            array = np.asarray(data, dtype="float32")
        except (TypeError, ValueError):
            return data  # not numbers: an iterable of (x, y) pairs, for example
        if array.ndim >= 1:
            return array
    return data


def _is_array_like(data, num_inputs):
    if isinstance(data, np.ndarray):
        return True
    if isinstance(data, (list, tuple)) and len(data) == num_inputs > 1:
        return all(isinstance(item, np.ndarray) for item in data)
    return False


def _as_columns(batch, shapes):
    """Splits one batch (or one sample) into per-input arrays with a batch axis."""
    if isinstance(batch, dict):
        batch = list(batch.values())
    if len(shapes) == 1:
        columns = [batch[0] if isinstance(batch, (list, tuple)) else batch]
    else:
        if not isinstance(batch, (list, tuple)) or len(batch) < len(shapes):
            raise ValueError(
                f"The model has {len(shapes)} inputs, so representative_data "
                "must give a list of that many arrays. Received: "
                f"{type(batch).__name__}"
            )
        columns = list(batch[: len(shapes)])
    return [_with_batch_axis(np.asarray(c), s) for c, s in zip(columns, shapes)]


def _with_batch_axis(array, shape):
    if _matches(array.shape, shape):
        return array[None]
    if array.ndim == len(shape) + 1 and _matches(array.shape[1:], shape):
        return array
    expected = "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"
    received = (
        f"batches of samples of shape {tuple(array.shape[1:])}"
        if array.ndim == len(shape) + 1
        else f"an array of shape {tuple(array.shape)}"
    )
    raise ValueError(
        f"representative_data holds {received}, but the model expects inputs "
        f"of shape {expected} (one sample) or (batch,) + {expected}. Pass "
        "samples shaped like the model's input."
    )


def _matches(actual, expected):
    return len(actual) == len(expected) and all(
        e is None or a == e for a, e in zip(actual, expected)
    )


def _elements(data):
    if isinstance(data, keras.utils.PyDataset):
        return (data[i] for i in range(len(data)))
    if hasattr(data, "as_numpy_iterator"):  # tf.data.Dataset, without importing TF
        return data.as_numpy_iterator()
    if callable(data) and not hasattr(data, "__iter__"):
        data = data()  # a generator function, as TFLite's representative_dataset
    try:
        return iter(data)
    except TypeError:
        raise ValueError(
            "representative_data must be a NumPy array, a list of arrays (one "
            "per input), a tf.data.Dataset, a keras.utils.PyDataset or an "
            f"iterable of samples or batches. Received: {type(data).__name__}"
        ) from None


def _is_labeled(element, num_inputs):
    if not isinstance(element, tuple) or len(element) not in (2, 3):
        return False
    return num_inputs == 1 or isinstance(element[0], (list, tuple, dict))


def _draw_from_iterable(data, shapes, limit):
    drawn = [[] for _ in shapes]
    count = 0
    for element in itertools.islice(_elements(data), limit):
        if _is_labeled(element, len(shapes)):
            element = element[0]  # (x, y) or (x, y, sample_weight)
        columns = _as_columns(element, shapes)
        for store, column in zip(drawn, columns):
            store.append(column)
        count += len(columns[0])
        if count >= limit:
            break
    if not drawn[0]:
        return [np.zeros((0,) + tuple(d or 1 for d in s)) for s in shapes]
    return [np.concatenate(store)[:limit] for store in drawn]
