"""`_loaders.check_student_reads`: the one check of labels against the
student's head that `keras-kd distill`, `tune`, `qat` and `prune` make
before training; each refusal names the set as the command line does."""

import re

import keras
import numpy as np
import pytest

from keras_kd.cli import _loaders

X = np.zeros((4, 4), "float32")


class _Squeezing(keras.Model):
    """A subclassed one-unit head whose outputs are squeezed to `(samples,)`."""

    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(1)

    def call(self, x):
        return keras.ops.squeeze(self.dense(x), -1)


def _student(units):
    """A student with `units` outputs; "squeezed" is one unit reshaped to
    `(samples,)` (Functional), "subclassed squeezed" the same, subclassed."""
    if units == "squeezed":
        inputs = keras.Input((4,))
        return keras.Model(inputs, keras.layers.Reshape(())(keras.layers.Dense(1)(inputs)))
    if units == "subclassed squeezed":
        student = _Squeezing()
        student(X)
        return student
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(units)])


# (units, labelled, one_class_per_sample, expected words or None if accepted)
HOSTILE = [
    (1, {"--data": (X, np.array([0, 9, 1, 0]))}, False, r"--data: .*Labels 0 to 9 name 10"),
    (1, {"--data": (X, np.array([0, 1, 1, 0]))}, False, None),
    (1, {"--data": (X, None)}, False, None),  # unlabelled: nothing to read
    (
        3,
        {"--data": (X, np.array([0, 1, 2, 0])), "--validation": (X, np.array([0, 3, 1, 0]))},
        False,
        r"--validation: ",
    ),
    (3, {"--data": (X, np.array([0.5, 1, 2, 0]))}, True, r"--data: the labels are read as integer"),
    (3, {"--data": (X, np.eye(3)[[0, 1, 2, 0]])}, True, r"--data: one integer class label per"),
    (3, {"--data": (X, np.array([0, 1, 2]))}, True, r"shape \(4,\) for 4 inputs"),
    (3, {"--data": (X, np.array([[0], [1], [2], [0]]))}, True, None),
    # Was: a one-unit head squeezed to shape (samples,) read as of unknown
    # width, and class labels 0-9 accepted (then refused by fit() without the fix).
    (
        "squeezed",
        {"--data": (X, np.array([0, 9, 1, 0]))},
        False,
        r"--data: .*Labels 0 to 9 name 10",
    ),
    ("squeezed", {"--data": (X, np.array([0, 9, 1, 0]))}, True, r"--data: .*Labels 0 to 9 name 10"),
    ("subclassed squeezed", {"--data": (X, np.array([0, 9, 1, 0]))}, True, r"Labels 0 to 9"),
    ("squeezed", {"--data": (X, np.array([0, 1, 1, 0]))}, True, None),
    ("subclassed squeezed", {"--data": (X, np.array([0, 1, 1, 0]))}, False, None),
]


@pytest.mark.parametrize("units, labelled, one_class_per_sample, expected", HOSTILE)
def test_hostile_labels(units, labelled, one_class_per_sample, expected):
    student = _student(units)
    before = [w.copy() for w in student.get_weights()]
    if expected is None:
        _loaders.check_student_reads(student, labelled, one_class_per_sample=one_class_per_sample)
    else:
        with pytest.raises(ValueError) as error:
            _loaders.check_student_reads(
                student, labelled, one_class_per_sample=one_class_per_sample
            )
        assert re.search(expected, str(error.value)), str(error.value)
    assert all(np.array_equal(a, b) for a, b in zip(before, student.get_weights()))
