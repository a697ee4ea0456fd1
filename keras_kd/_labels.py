"""Checks of class labels against the model that reads them, before any step.

Keras reads a label out of range, a fractional class or a class label given to
a one-unit head without an error on some backend (JAX clips, binary
cross-entropy goes below zero); each check here refuses it with a message
that names the reader and the fix. Re-exported by `keras_kd.checks`, the
public path of these names.

Example:

>>> import numpy as np
>>> from keras_kd import checks
>>> checks.check_classifier_labels(np.array([0, 2, 1]), 3).tolist()
[0, 2, 1]
"""

from typing import Any

import numpy as np

# The most classes a message suggests one output each for.
_MOST_CLASSES = 1_000_000


def _label_values(y: Any, owner: str) -> np.ndarray:
    """`y` (an array or a list) as an array of one label per sample, or a
    `ValueError` naming what it is instead: a ragged nested list (NumPy's
    own error names no labels) or one value of shape `()` (Keras fails
    inside on it, or a check would read it as one sample's label)."""
    try:
        values = np.asarray(y)
    except ValueError:
        raise ValueError(
            f"{owner}: the labels are a ragged nested list (its rows differ in "
            "length), not one array of labels. Give one label per sample, an "
            "array of shape (samples,) (or (samples, classes) for one-hot labels)."
        ) from None
    if values.ndim == 0:
        raise ValueError(
            f"{owner}: the labels are one value (shape ()), but one label per sample "
            "is read. Give an array of shape (samples,), e.g. np.array([label]) for "
            "one sample."
        )
    return values


def check_one_label_per_sample(y: Any, owner: str = "the labels") -> Any:
    """Returns `y` after checking an array or list of labels has a sample axis.

    A ragged nested list or a single value (shape `()`) is refused, naming
    it; anything that is not an array or a list (a dataset) is returned
    untouched. Every check here makes it first; `Distiller.fit` and
    `evaluate` make it whatever their loss.

    Args:
        y: The labels.
        owner: Who reads the labels, for the message (e.g. `"fit()"`).

    Returns:
        `y`, unchanged.

    Example:

    >>> import numpy as np
    >>> from keras_kd import checks
    >>> checks.check_one_label_per_sample(np.array(3), "fit()")
    Traceback (most recent call last):
    ...
    ValueError: fit(): the labels are one value (shape ()), but one label per sample is read. ...
    """
    if isinstance(y, (np.ndarray, list)):
        _label_values(y, owner)
    return y


def check_labels(
    y: Any, classes: int | None, owner: str = "the labels", *, positions: tuple | None = None
) -> Any:
    """Returns `y` after checking its class labels lie in `[0, classes)`.

    The one label check of keras-kd, run before any step: TensorFlow and
    PyTorch fail deep inside a step on a label out of range, and JAX
    silently clips it to the nearest class. Integer labels (or floats that
    are whole numbers) of shape `(samples, *positions)` or
    `(samples, *positions, 1)` are checked; one-hot or soft labels (the
    classes on the last axis), regression targets and anything that is not
    an array (a `tf.data.Dataset`, a generator) are returned untouched.

    Args:
        y: The labels: a NumPy array, a list, or anything else (returned).
        classes: The number of classes of the student's outputs. A
            one-unit (sigmoid or regression) head is not checked.
        owner: Who reads the labels, for the message (e.g. `"fit()"`).
        positions: The outputs' positions, `(time,)` for sequences, or
            `None` to accept labels of any rank.

    Returns:
        `y`, unchanged.

    Example:

    >>> import numpy as np
    >>> from keras_kd import checks
    >>> checks.check_labels(np.array([0, 2, 1]), 3).tolist()
    [0, 2, 1]
    >>> checks.check_labels(np.array([0, 3]), 3, "my_tool")
    Traceback (most recent call last):
    ...
    ValueError: my_tool: every class label must be in [0, 2] (the model outputs 3 classes), ...
    """
    if not isinstance(y, (np.ndarray, list)):
        return y
    values = _label_values(y, owner)
    if classes is None or classes < 2:
        return y
    if values.dtype.kind == "b" or values.dtype.kind not in "iuf" or values.size == 0:
        return y
    if positions is not None:
        sparse = values.ndim == 1 + len(positions) or (
            values.ndim == 2 + len(positions) and values.shape[-1] == 1
        )
        if not sparse:
            return y  # One-hot or soft labels.
    if values.dtype.kind == "f":
        finite = np.isfinite(values)
        if not finite.all() or np.any(values != np.round(values)):
            return y  # Not class labels (regression targets, soft labels).
    low, high = values.min().item(), values.max().item()
    if low >= 0 and high < classes:
        return y
    outside = int(np.sum((values < 0) | (values >= classes)))
    raise ValueError(
        f"{owner}: every class label must be in [0, {classes - 1}] (the "
        f"model outputs {classes} classes), but {outside} of "
        f"{values.size} labels are outside it (smallest {low:g}, largest "
        f"{high:g}). Give labels 0 to {classes - 1}, or a model with one "
        "output per class."
    )


def check_whole_labels(y: Any, owner: str = "the labels") -> Any:
    """Returns `y` after checking float labels read as class indices are whole.

    Sparse categorical cross-entropy casts each label to an integer: 1.5
    trains as class 1 without an error, and NaN fails deep inside a step
    (or, on JAX, is clipped to a class). Labels that are not real numbers
    (complex, strings) are refused too. Integer and boolean labels, and
    anything that is not an array or a list, are returned untouched.

    Args:
        y: The labels.
        owner: Who reads the labels, for the message (e.g. `"fit()"`).

    Returns:
        `y`, unchanged.

    Example:

    >>> import numpy as np
    >>> from keras_kd import checks
    >>> checks.check_whole_labels(np.array([0.0, 2.0])).tolist()
    [0.0, 2.0]
    >>> checks.check_whole_labels(np.array([0.5, 2.0]), "fit()")
    Traceback (most recent call last):
    ...
    ValueError: fit(): sparse categorical cross-entropy reads each label as a class index, ...
    """
    if not isinstance(y, (np.ndarray, list)):
        return y
    values = _label_values(y, owner)
    if values.size and values.dtype.kind not in "biuf":
        raise ValueError(
            f"{owner}: sparse categorical cross-entropy reads each label as a class "
            f"index, but the labels are of type {values.dtype}. Give integer class "
            "labels (e.g. y.astype('int32') for whole numbers)."
        )
    if values.dtype.kind != "f" or values.size == 0:
        return y
    whole = np.isfinite(values) & (values == np.round(values))
    if whole.all():
        return y
    raise ValueError(
        f"{owner}: sparse categorical cross-entropy reads each label as a class "
        f"index, but {int(np.sum(~whole))} of {values.size} labels are not whole "
        f"numbers or not finite (e.g. {values[~whole][0].item():g}): 1.5 would "
        "train as class 1. Give integer class labels, or one-hot or soft labels "
        "(one column per class) with keras.losses.CategoricalCrossentropy."
    )


def check_binary_labels(y: Any, units: int | None, owner: str = "the labels") -> Any:
    """Returns `y` after checking it holds binary labels: numbers in `[0, 1]`.

    Binary cross-entropy reads each label as the probability of the positive
    class; a label 5 gives a loss below zero and trains without an error,
    and a one-unit student given class labels 0 to 9 learns nothing of
    them. Refused before any step, like `check_labels`' labels out of range.

    Args:
        y: The labels: a NumPy array, a list, or anything else (a dataset:
            returned untouched, read batch by batch by Keras).
        units: The width of the student's output (for the message: a
            one-unit head given class labels needs one unit per class).
        owner: Who reads the labels, for the message (e.g. `"fit()"`).

    Returns:
        `y`, unchanged.

    Example:

    >>> import numpy as np
    >>> from keras_kd import checks
    >>> checks.check_binary_labels(np.array([0, 1, 1]), 1).tolist()
    [0, 1, 1]
    >>> checks.check_binary_labels(np.array([0, 3, 9]), 1, "fit()")
    Traceback (most recent call last):
    ...
    ValueError: fit(): binary cross-entropy reads labels in [0, 1] (the ...
    """
    if not isinstance(y, (np.ndarray, list)):
        return y
    values = _label_values(y, owner)
    if values.dtype.kind == "b" or values.size == 0:
        return y
    if values.dtype.kind not in "iuf":
        raise ValueError(
            f"{owner}: binary cross-entropy reads labels in [0, 1], but the "
            f"labels are of type {values.dtype}. Give numbers 0 and 1."
        )
    inside = np.isfinite(values) & (values >= 0) & (values <= 1)
    if inside.all():
        return y
    outside = int(np.sum(~inside))
    finite = values[np.isfinite(values)]
    extent = (
        f" (smallest {finite.min().item():g}, largest {finite.max().item():g})"
        if finite.size
        else ""
    )
    message = (
        f"{owner}: binary cross-entropy reads labels in [0, 1] (the "
        f"probability of the positive class), but {outside} of {values.size} "
        f"labels are outside it or not finite{extent}."
    )
    whole = finite.size == values.size and np.all(finite == np.round(finite))
    # Past a million, labels are no classes to give a layer for (2**31, a
    # sentinel or an identifier): only the binary fix is named.
    if units == 1 and whole and finite.min() >= 0 and finite.max() < _MOST_CLASSES:
        classes = int(finite.max()) + 1
        message += (
            f" Labels 0 to {classes - 1} name {classes} classes: give the student "
            f"one output per class (e.g. keras.layers.Dense({classes}) as its last "
            "layer, and a teacher with as many), or labels 0 and 1."
        )
    else:
        message += " Give labels 0 and 1 (or probabilities between them)."
    raise ValueError(message)


def check_classifier_labels(y: Any, units: int | None, owner: str = "the labels") -> Any:
    """Returns `y` after checking a classifier with `units` outputs can read it.

    Class labels in `[0, units)` (`check_labels`); for a one-unit (binary)
    head, labels 0 and 1 (`check_binary_labels`).

    Args:
        y: The labels (anything but an array or a list is returned).
        units: The width of the classifier's output, or `None` if unknown.
        owner: Who reads the labels, for the message (e.g. `"--data"`).

    Returns:
        `y`, unchanged.

    Example:

    >>> import numpy as np
    >>> from keras_kd import checks
    >>> checks.check_classifier_labels(np.array([0, 1]), 1).tolist()
    [0, 1]
    """
    if units == 1:
        return check_binary_labels(y, units, owner)
    return check_labels(y, units, owner)


def check_class_labels(y: Any, units: int | None, samples: int, owner: str = "the labels") -> Any:
    """Returns `y` after checking it holds one class label per sample.

    For a reader that takes integer classes only (the TFMOT engine, an
    accuracy): shape `(samples,)` or `(samples, 1)`, integers (or booleans,
    or floats that are whole numbers), then `check_classifier_labels`. A
    label 0.5 or NaN, which such a reader would silently truncate to a class
    or skip, is refused; so are one-hot labels.

    Args:
        y: The labels (array-like).
        units: The width of the classifier's output, or `None` if unknown.
        samples: How many inputs the labels go with.
        owner: Who reads the labels, for the message (e.g. `"--data"`).

    Returns:
        `y`, unchanged.

    Example:

    >>> import numpy as np
    >>> from keras_kd import checks
    >>> checks.check_class_labels(np.array([[0], [1]]), 1, 2).tolist()
    [[0], [1]]
    >>> checks.check_class_labels(np.array([0.5, 1.0]), 1, 2, "y")
    Traceback (most recent call last):
    ...
    ValueError: y: the labels are read as integer classes, but 1 of 2 are ...
    """
    values = _label_values(y, owner)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1 or len(values) != samples:
        raise ValueError(
            f"{owner}: one integer class label per sample is read, shape "
            f"({samples},) for {samples} inputs. Received: shape {values.shape}. "
            "One-hot labels: pass y.argmax(-1)."
        )
    if values.dtype.kind not in "biuf":
        raise ValueError(
            f"{owner}: the labels are read as integer classes, but they are of "
            f"type {values.dtype}. Give integer class labels."
        )
    if values.dtype.kind == "f":
        whole = np.isfinite(values) & (values == np.round(values))
        if not whole.all():
            raise ValueError(
                f"{owner}: the labels are read as integer classes, but "
                f"{int(np.sum(~whole))} of {values.size} are not whole numbers or "
                f"not finite (e.g. {values[~whole][0].item():g}): a label 0.5 "
                "would be read as class 0 and NaN as no label. Give integer "
                "class labels (0 and 1 for a one-unit head)."
            )
    check_classifier_labels(values, units, owner)
    return y
