"""keras_kd.checks: the public argument checks, as an extension author meets
them: what passes (returned as a float), and a hostile table of what does not,
each refused with the argument's name, the range and the value received."""

import math

import numpy as np
import pytest

from keras_kd import checks


@pytest.mark.parametrize(
    "value, real, integer",
    [
        (3, True, True),
        (np.int64(3), True, True),
        (2.5, True, False),
        (np.float32(2.5), True, False),
        (True, False, False),
        (np.bool_(True), False, False),
        ("3", False, False),
        (np.array([3.0]), False, False),
        (None, False, False),
    ],
)
def test_what_counts_as_a_number(value, real, integer):
    assert checks.is_real_number(value) is real
    assert checks.is_integer(value) is integer


@pytest.mark.parametrize(
    "value, bounds, expected",
    [
        (4, {}, 4.0),
        (np.float32(0.5), {"low": 0, "high": 1}, 0.5),
        (0, {"low": 0}, 0.0),
        (1, {"low": 0, "high": 1}, 1.0),
    ],
)
def test_check_number_returns_a_python_float(value, bounds, expected):
    result = checks.check_number("MyLoss", "weight", value, **bounds)
    assert type(result) is float and result == expected


@pytest.mark.parametrize(
    "value, bounds, words",
    [
        (math.nan, {}, r"`weight` must be a number, not NaN or infinite\. Received: weight=nan"),
        (
            math.inf,
            {"low": 0},
            r"must be a number >= 0, not NaN or infinite\. Received: weight=inf",
        ),
        (-1, {"low": 0}, r"MyLoss `weight` must be a number >= 0, .*Received: weight=-1"),
        (0, {"low": 0, "low_inclusive": False}, r"must be a number > 0.*Received: weight=0"),
        (2, {"high": 1}, r"must be a number <= 1.*Received: weight=2"),
        (
            1,
            {"low": 0, "high": 1, "high_inclusive": False},
            r"must be a number in \[0, 1\)\. Received: weight=1",
        ),
        (
            0,
            {"low": 0, "high": 1, "low_inclusive": False},
            r"must be a number in \(0, 1\]\. Received: weight=0",
        ),
        (True, {}, r"Received: weight=True"),
        ("0.5", {}, r"Received: weight='0\.5'"),
        (np.array([0.5]), {}, r"Received: weight=array"),
        (
            -1,
            {"low": 0, "role": "scales the loss and", "hint": "Typical: 1."},
            r"`weight` scales the loss and must be .* Typical: 1\. Received",
        ),
    ],
)
def test_check_number_refuses_with_the_range_and_the_value(value, bounds, words):
    with pytest.raises(ValueError, match=words):
        checks.check_number("MyLoss", "weight", value, **bounds)


def test_check_non_negative_and_check_positive_name_the_argument_at_fault():
    assert checks.check_non_negative("DKD", alpha=0, beta=8) == [0.0, 8.0]
    assert checks.check_positive("AT", p=np.float64(2)) == [2.0]
    with pytest.raises(ValueError, match=r"DKD `beta` must be a number >= 0.*Received: beta=-8"):
        checks.check_non_negative("DKD", alpha=1, beta=-8)
    with pytest.raises(ValueError, match=r"AT `p` must be a number > 0.*Received: p=0"):
        checks.check_positive("AT", p=0)


def test_check_one_of_lists_the_choices():
    assert checks.check_one_of("FitNetHint", "loss", "l1", ("mse", "l1")) == "l1"
    with pytest.raises(
        ValueError, match=r"FitNetHint `loss` must be one of \('mse', 'l1'\)\. Received: loss='l2'"
    ):
        checks.check_one_of("FitNetHint", "loss", "l2", ("mse", "l1"))


@pytest.mark.parametrize(
    "temperature", [checks.MIN_TEMPERATURE, 4, np.float32(20.0), checks.MAX_TEMPERATURE]
)
def test_validate_temperature_accepts_the_documented_range(temperature):
    assert checks.validate_temperature(temperature) == pytest.approx(float(temperature))


@pytest.mark.parametrize("temperature", [0, 1e-3, -4, 1e4, math.nan, math.inf, "4", True, None])
def test_validate_temperature_refuses_the_rest(temperature):
    with pytest.raises(
        ValueError,
        match=r"temperature must be a number > 0, finite and in \[0\.01, 1000\].*Received: temperature=",
    ):
        checks.validate_temperature(temperature)


@pytest.mark.parametrize("kind", ["auto", "logits", "probabilities"])
def test_validate_output_kind_accepts_the_three_settings(kind):
    assert checks.validate_output_kind(kind, "teacher_outputs") == kind


@pytest.mark.parametrize("kind", ["softmax", "Logits", None, 1])
def test_validate_output_kind_refuses_the_rest(kind):
    with pytest.raises(
        ValueError,
        match=r"`teacher_outputs` must be one of 'auto', 'logits' or 'probabilities'\. Received: teacher_outputs=",
    ):
        checks.validate_output_kind(kind, "teacher_outputs")


# check_labels: (id, labels, classes, keywords, expected error words or None:
# the labels come back unchanged).
LABEL_CASES = [
    ("in-range", np.array([0, 2, 1]), 3, {}, None),
    ("list", [0, 1, 1], 2, {}, None),
    ("column", np.array([[0], [2]]), 3, {"positions": ()}, None),
    ("whole-floats", np.array([0.0, 2.0]), 3, {}, None),
    ("one-hot-untouched", np.eye(3)[[0, 2]] * 5, 3, {"positions": ()}, None),
    ("regression-untouched", np.array([0.5, 7.25]), 3, {}, None),
    ("nan-untouched", np.array([0.0, np.nan]), 3, {}, None),
    ("booleans-untouched", np.array([True, False]), 3, {}, None),
    ("strings-untouched", np.array(["a", "b"]), 3, {}, None),
    ("empty-untouched", np.array([], "int64"), 3, {}, None),
    ("one-unit-head-untouched", np.array([0, 5]), 1, {}, None),
    ("no-classes-untouched", np.array([0, 5]), None, {}, None),
    ("not-an-array-untouched", iter([7]), 3, {}, None),
    ("too-large", np.array([0, 3]), 3, {}, r"the labels: every class label must be in \[0, 2\]"),
    (
        "negative",
        np.array([-1, 0]),
        3,
        {},
        r"1 of 2 labels are outside it \(smallest -1, largest 0\)",
    ),
    ("float-too-large", np.array([0.0, 5.0]), 3, {}, r"largest 5"),
    ("owner-named", [0, 9], 3, {"owner": "my_tool"}, r"^my_tool: every class label"),
    (
        "sequence",
        np.array([[0, 1], [2, 3]]),
        3,
        {"positions": (2,)},
        r"1 of 4 labels are outside it.*Give labels 0 to 2, or a model with one output per class",
    ),
]


@pytest.mark.parametrize(
    "labels, classes, keywords, error",
    [c[1:] for c in LABEL_CASES],
    ids=[c[0] for c in LABEL_CASES],
)
def test_check_labels_returns_the_labels_or_names_the_ones_outside(
    labels, classes, keywords, error
):
    if error is None:
        assert checks.check_labels(labels, classes, **keywords) is labels
        return
    with pytest.raises(ValueError, match=error):
        checks.check_labels(labels, classes, **keywords)


# check_binary_labels: (id, labels, units, expected error words or None:
# the labels come back unchanged).
BINARY_LABEL_CASES = [
    ("zeros-and-ones", np.array([0, 1, 1]), 1, None),
    ("probabilities", np.array([0.0, 0.25, 1.0]), 1, None),
    ("multi-hot", np.array([[0, 1, 1], [1, 0, 0]]), 3, None),
    ("booleans", np.array([True, False]), 1, None),
    ("empty", np.array([], "int64"), 1, None),
    ("not-an-array", iter([7]), 1, None),
    (
        "classes-for-one-unit",
        np.array([0, 3, 9]),
        1,
        r"2 of 3 labels are outside it or not finite \(smallest 0, largest 9\)\. "
        r"Labels 0 to 9 name 10 classes: .*keras\.layers\.Dense\(10\)",
    ),
    (
        "classes-for-multi-label",
        np.array([[0, 2], [1, 0]]),
        2,
        r"1 of 4 labels are outside it.*Give labels 0 and 1 \(or probabilities between them\)",
    ),
    # Was: "Labels 0 to 2147483648 name 2147483649 classes: give the student
    # one output per class (e.g. keras.layers.Dense(2147483649)".
    (
        "a-label-no-class",
        np.array([0, 1, 2**31]),
        1,
        r"largest 2\.14748e\+09\)\. Give labels 0 and 1 \(or probabilities between them\)\.$",
    ),
    (
        "uint64-sentinel",
        np.array([0, 2**64 - 1], "uint64"),
        1,
        r"Give labels 0 and 1 \(or probabilities between them\)\.$",
    ),
    ("negative", np.array([-1, 0]), 1, r"smallest -1, largest 0\)\. Give labels 0 and 1"),
    ("above-one-float", np.array([0.5, 1.5]), 1, r"largest 1\.5\)\. Give labels 0 and 1"),
    ("nan", np.array([0.0, np.nan]), 1, r"1 of 2 labels are outside it or not finite"),
    ("all-nan", np.array([np.nan]), 1, r"not finite\. Give labels 0 and 1"),
    ("strings", np.array(["cat", "dog"]), 1, r"the labels are of type <U3\. Give numbers 0 and 1"),
]


@pytest.mark.parametrize(
    "labels, units, error",
    [c[1:] for c in BINARY_LABEL_CASES],
    ids=[c[0] for c in BINARY_LABEL_CASES],
)
def test_check_binary_labels_returns_the_labels_or_names_the_ones_outside(labels, units, error):
    if error is None:
        assert checks.check_binary_labels(labels, units) is labels
        return
    with pytest.raises(
        ValueError, match=r"^the labels: binary cross-entropy reads labels in \[0, 1\]"
    ):
        checks.check_binary_labels(labels, units)
    with pytest.raises(ValueError, match=error):
        checks.check_binary_labels(labels, units)


def test_check_labels_has_one_import_path():
    import keras_kd.validation

    assert not hasattr(keras_kd.validation, "check_labels")


# check_class_labels, for readers of integer classes only (the TFMOT engine,
# an accuracy): (id, labels, units, samples, expected error words or None).
CLASS_LABEL_CASES = [
    ("integers", np.array([0, 2, 1]), 3, 3, None),
    ("a-column", np.array([[0], [1]]), 1, 2, None),
    ("whole-floats", np.array([0.0, 1.0]), 1, 2, None),
    ("booleans", np.array([True, False]), 1, 2, None),
    # Were accepted (the TFMOT child read 0.5 as class 0, 1.5 as class 1,
    # NaN as "no label"), or a NumPy broadcast error (shapes).
    ("soft-binary", np.array([0.5, 1.0]), 1, 2, r"1 of 2 are not whole numbers.*e\.g\. 0\.5"),
    ("half-classes", np.array([1.5, 2.0, 0.0]), 3, 3, r"e\.g\. 1\.5\).*as class 0"),
    ("nan", np.array([np.nan, 0.0]), 3, 2, r"not whole numbers or not finite \(e\.g\. nan\)"),
    ("one-hot", np.eye(3), 3, 3, r"shape \(3,\) for 3 inputs\. Received: shape \(3, 3\)\. One-hot"),
    ("too-few", np.array([0, 1]), 3, 5, r"shape \(5,\) for 5 inputs\. Received: shape \(2,\)"),
    ("empty", np.zeros(0), 3, 4, r"Received: shape \(0,\)"),
    ("strings", np.array(["a", "b"]), 3, 2, r"they are of type <U1"),
    # Then check_classifier_labels.
    ("classes-for-one-unit", np.array([0, 7]), 1, 2, r"Labels 0 to 7 name 8 classes"),
    ("out-of-range", np.array([0, 3]), 3, 2, r"every class label must be in \[0, 2\]"),
]


@pytest.mark.parametrize(
    "labels, units, samples, error",
    [c[1:] for c in CLASS_LABEL_CASES],
    ids=[c[0] for c in CLASS_LABEL_CASES],
)
def test_check_class_labels_returns_the_labels_or_names_the_problem(labels, units, samples, error):
    if error is None:
        assert checks.check_class_labels(labels, units, samples, "y") is labels
        return
    with pytest.raises(ValueError, match=r"^y: "):
        checks.check_class_labels(labels, units, samples, "y")
    with pytest.raises(ValueError, match=error):
        checks.check_class_labels(labels, units, samples, "y")


@pytest.mark.parametrize(
    "labels, error",
    [
        (np.array([0.0, 2.0]), None),
        (np.array([0, 2]), None),
        (np.array([[0.2, 0.8]]), r"2 of 2 labels.*\(e\.g\. 0\.2\)"),  # soft labels
        (np.array([np.inf]), r"\(e\.g\. inf\)"),
        ([0.5, 1.0], r"1 of 2 labels"),
        (iter([0.5]), None),  # read batch by batch
    ],
)
def test_check_whole_labels(labels, error):
    if error is None:
        assert checks.check_whole_labels(labels, "fit()") is labels
        return
    with pytest.raises(ValueError, match=r"^fit\(\): sparse categorical cross-entropy reads"):
        checks.check_whole_labels(labels, "fit()")
    with pytest.raises(ValueError, match=error):
        checks.check_whole_labels(labels, "fit()")


@pytest.mark.parametrize(
    "check",
    [
        lambda y: checks.check_labels(y, 3, "fit()"),
        lambda y: checks.check_whole_labels(y, "fit()"),
        lambda y: checks.check_binary_labels(y, 1, "fit()"),
        lambda y: checks.check_classifier_labels(y, 3, "fit()"),
        lambda y: checks.check_class_labels(y, 3, 2, "fit()"),
    ],
    ids=["labels", "whole", "binary", "classifier", "class"],
)
@pytest.mark.parametrize(
    "labels, words",
    [
        # Was: NumPy's "setting an array element with a sequence" (a ragged list).
        ([[0], [1, 2]], r"^fit\(\): the labels are a ragged nested list .*shape \(samples,\)"),
        # Was: accepted (0.5, 7 as one sample's label), or "shape (2,) for 2 inputs".
        (np.array(7), r"^fit\(\): the labels are one value \(shape \(\)\).*one label per sample"),
        (np.array(0.5), r"^fit\(\): the labels are one value"),
    ],
    ids=["ragged", "0-d-int", "0-d-float"],
)
def test_labels_that_are_not_one_label_per_sample_are_named(check, labels, words):
    with pytest.raises(ValueError, match=words):
        check(labels)
